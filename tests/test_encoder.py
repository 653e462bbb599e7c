"""The dual-path encoder against independent recomputations from each block's weights."""
import copy

import open_clip
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anoclip import AnoCLIP
from anoclip.methods import get_method
from anoclip.encoder import UnsupportedArchitectureError, check_supported, encode


def make_clip(layers=3, width=48, head_width=16, patch=8, image=48, ls=None, embed=24):
    """A small open_clip CLIP built directly (no registry), with optional LayerScale."""
    torch.manual_seed(layers * 100 + width)
    vision = dict(image_size=image, layers=layers, width=width, head_width=head_width, patch_size=patch)
    if ls is not None:
        vision["ls_init_value"] = ls
    text = dict(context_length=77, vocab_size=49408, width=32, heads=4, layers=1)
    clip = open_clip.CLIP(embed_dim=embed, vision_cfg=vision, text_cfg=text).eval()
    if ls is not None:  # make LayerScale matter: random per-channel gains
        for block in clip.visual.transformer.resblocks:
            block.ls_1.gamma.data.uniform_(0.5, 1.5)
            block.ls_2.gamma.data.uniform_(0.5, 1.5)
    return clip


def original_streams(visual, images):
    """Vanilla residual stream after each block, from open_clip's own modules."""
    stream = visual._embeds(images)
    streams = [stream]
    for block in visual.transformer.resblocks:
        stream = block(stream)
        streams.append(stream)
    return streams


def reference_vv_patches(visual, images, start=0):
    """vv = ori_{start} + sum_{l>=start} ls_1(out_proj(concat_h softmax(v_h v_hᵀ/√d) v_h)), head by head."""
    streams = original_streams(visual, images)
    vv = streams[start]
    for index in range(start, len(visual.transformer.resblocks)):
        block = visual.transformer.resblocks[index]
        h = block.ln_1(streams[index])
        width = h.shape[-1]  # not attn.embed_dim: open_clip 4's Attention has none
        heads = block.attn.num_heads
        head_dim = width // heads
        values = h @ block.attn.in_proj_weight[2 * width:].T + block.attn.in_proj_bias[2 * width:]
        outputs = []
        for head in range(heads):
            v = values[..., head * head_dim:(head + 1) * head_dim]
            weights = torch.softmax(v @ v.transpose(1, 2) / head_dim ** 0.5, dim=-1)
            outputs.append(weights @ v)
        out = torch.cat(outputs, dim=-1) @ block.attn.out_proj.weight.T + block.attn.out_proj.bias
        vv = vv + block.ls_1(out)
    return visual.ln_post(vv[:, 1:]) @ visual.proj


def test_cls_equals_vanilla_clip(tiny, images):
    with torch.no_grad():
        expected = tiny.clip.encode_image(images)
    encoding = tiny.encode_image(images)
    assert encoding.cls.shape == expected.shape
    assert torch.equal(encoding.cls, expected)  # the q-k path is open_clip's own blocks
    tapped = tiny.encode_image(images, taps=True)  # explicit attention: equal to float rounding
    assert torch.allclose(tapped.cls, expected, atol=1e-5)
    assert torch.allclose(tapped.patches, encoding.patches, atol=1e-5)


def test_vv_patches_equal_recomputation_from_block_weights(tiny, images):
    with torch.no_grad():
        expected = reference_vv_patches(tiny.clip.visual, images)
    encoding = tiny.encode_image(images)
    assert encoding.patches.shape == (3, 64, 32) and encoding.grid == (8, 8)
    assert torch.allclose(encoding.patches, expected, atol=1e-5)


@pytest.mark.parametrize("start", [1, 3])
def test_vv_start_block(tiny, images, start):
    with torch.no_grad():
        expected = reference_vv_patches(tiny.clip.visual, images, start=start)
    encoding = tiny.encode_image(images, get_method("vv", start=start))
    assert torch.allclose(encoding.patches, expected, atol=1e-5)


def test_vv_off_gives_vanilla_patch_tokens(tiny, images):
    with torch.no_grad():
        last = original_streams(tiny.clip.visual, images)[-1]
        expected = tiny.clip.visual.ln_post(last[:, 1:]) @ tiny.clip.visual.proj
    encoding = tiny.encode_image(images, "clip-patch")
    assert torch.allclose(encoding.patches, expected, atol=1e-5)
    assert torch.allclose(encode(tiny.clip.visual, images, vv_start=None).patches, expected, atol=1e-5)


def test_layer_scale_and_other_geometry_are_read_from_the_model():
    clip = make_clip(layers=5, width=48, head_width=12, patch=6, image=42, ls=1e-1)
    images = torch.randn(2, 3, 42, 42)
    with torch.no_grad():
        expected_cls = clip.encode_image(images)
        expected = reference_vv_patches(clip.visual, images)
        encoding = encode(clip.visual, images)
    assert encoding.grid == (7, 7) and encoding.patches.shape == (2, 49, 24)
    assert torch.allclose(encoding.cls, expected_cls, atol=1e-5)
    assert torch.allclose(encoding.patches, expected, atol=1e-5)


def test_non_native_image_size_interpolates_positions():
    model = AnoCLIP.from_pretrained("anoclip-tiny", None, image_size=96, device="cpu")
    images = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = model.clip.encode_image(images)
    encoding = model.encode_image(images)
    assert encoding.grid == (12, 12) and encoding.patches.shape[1] == 144
    assert torch.allclose(encoding.cls, expected, atol=1e-5)


def test_taps_are_per_layer_copies_matching_the_streams(tiny, images):
    encoding = tiny.encode_image(images, get_method("vv", start=1), taps=True)
    taps = encoding.taps
    blocks = len(tiny.clip.visual.transformer.resblocks)
    assert len(taps.qk_tokens) == len(taps.vv_tokens) == len(taps.qk_attention) == blocks
    with torch.no_grad():
        streams = original_streams(tiny.clip.visual, images)
    for index in range(blocks):
        assert torch.allclose(taps.qk_tokens[index], streams[index + 1], atol=1e-5)
        attention = taps.qk_attention[index]
        assert attention.shape == (3, 4, 65, 65)
        assert torch.allclose(attention.sum(-1), torch.ones(3, 4, 65), atol=1e-5)
    assert taps.vv_tokens[0] is None and taps.vv_attention[0] is None
    # No aliasing: successive V-V layers are different tensors with different values.
    assert not torch.allclose(taps.vv_tokens[1], taps.vv_tokens[2])
    assert taps.vv_tokens[1].data_ptr() != taps.vv_tokens[-1].data_ptr()
    # The last tapped V-V stream is what the patches were projected from.
    visual = tiny.clip.visual
    with torch.no_grad():
        projected = visual.ln_post(taps.vv_tokens[-1][:, 1:]) @ visual.proj
    assert torch.allclose(projected, encoding.patches, atol=1e-5)


def test_vv_attention_taps_are_value_self_attention(tiny, images):
    encoding = tiny.encode_image(images, taps=True)
    block = tiny.clip.visual.transformer.resblocks[2]
    with torch.no_grad():
        h = block.ln_1(encoding.taps.qk_tokens[1])
        width = h.shape[-1]
        values = h @ block.attn.in_proj_weight[2 * width:].T + block.attn.in_proj_bias[2 * width:]
        v = values[..., 16:32]  # head 1
        expected = torch.softmax(v @ v.transpose(1, 2) / 4.0, dim=-1)
    assert torch.allclose(encoding.taps.vv_attention[2][:, 1], expected, atol=1e-5)


def test_clip_model_is_left_untouched(tiny, images):
    before = {name: p.clone() for name, p in tiny.clip.state_dict().items()}
    tiny.predict(images, "bottle")
    after = tiny.clip.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert not any(p.requires_grad for p in tiny.clip.parameters())


def test_resnet_towers_are_rejected_with_a_clear_error():
    torch.manual_seed(0)
    vision = dict(image_size=64, layers=(1, 1, 1, 1), width=16, patch_size=None)
    clip = open_clip.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=dict(width=32, heads=4, layers=1)).eval()
    with pytest.raises(UnsupportedArchitectureError, match="VisionTransformer"):
        AnoCLIP(clip, open_clip.tokenizer.SimpleTokenizer(), 64)


def test_vv_start_outside_the_blocks_is_rejected_by_the_one_check(tiny, images):
    for start in (4, -1):
        with pytest.raises(ValueError, match=r"outside this ViT's blocks 0\.\.3"):
            tiny.encode_image(images, get_method("vv", start=start))
        with pytest.raises(ValueError, match="outside"):
            encode(tiny.clip.visual, images, vv_start=start)


def test_taps_come_only_from_dual_path_methods(tiny, images):
    assert tiny.encode_image(images, "clip-patch", taps=True).taps.vv_attention == [None] * 4
    with pytest.raises(ValueError, match="records no taps"):
        tiny.encode_image(images, "maskclip", taps=True)


# ------------------------------------------------------------------ attention read by duck typing
class PackedAttention(nn.Module):
    """Self-attention that is no ``nn.MultiheadAttention`` yet keeps its four attributes, as
    open_clip 4's own ``Attention`` does; a copy of ``source``'s weights."""

    def __init__(self, source):
        super().__init__()
        self.num_heads = source.num_heads
        self.in_proj_weight = nn.Parameter(source.in_proj_weight.detach().clone())
        self.in_proj_bias = nn.Parameter(source.in_proj_bias.detach().clone())
        self.out_proj = copy.deepcopy(source.out_proj)

    def forward(self, x, k_x=None, v_x=None, need_weights=None, attn_mask=None):
        """Both ways open_clip's block calls its attention (a vision block: k_x, v_x are x or None):
        ``nn.MultiheadAttention``'s ``(q, k, v, need_weights=False)`` returning ``(out, weights)``
        (open_clip <= 3) and ``Attention``'s ``(x, k_x=..., v_x=...)`` returning ``out`` (4)."""
        batch, length, width = x.shape
        packed = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = packed.view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.out_proj(mixed.transpose(1, 2).reshape(batch, length, width))
        return out if need_weights is None else (out, None)


class SplitAttention(nn.Module):
    """Attention with separate q/k/v projections (as Hugging Face ViTs): nothing packed to read."""

    def __init__(self, width, heads):
        super().__init__()
        self.num_heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))


def with_attention(clip, make):
    """A deep copy of ``clip`` whose every vision block's attention is ``make(block.attn)``."""
    clip = copy.deepcopy(clip)
    for block in clip.visual.transformer.resblocks:
        block.attn = make(block.attn)
    return clip


def test_attention_is_read_by_its_attributes_not_its_class():
    clip = make_clip(layers=3, width=48, head_width=12, ls=1e-1)
    swapped = with_attention(clip, PackedAttention)
    assert not any(isinstance(block.attn, nn.MultiheadAttention) for block in swapped.visual.transformer.resblocks)
    AnoCLIP(swapped, open_clip.tokenizer.SimpleTokenizer(), 48)  # accepted: check_supported passes
    images = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = encode(clip.visual, images)
        encoding = encode(swapped.visual, images)
        tapped = encode(swapped.visual, images, vv_start=1, taps=True)
        assert torch.equal(encoding.cls, swapped.encode_image(images))  # still the block's own forward
        reference = reference_vv_patches(swapped.visual, images, start=1)
    assert torch.allclose(encoding.cls, expected.cls, atol=1e-5)
    assert torch.allclose(encoding.patches, expected.patches, atol=1e-5)
    assert torch.allclose(tapped.patches, reference, atol=1e-5)
    assert torch.allclose(tapped.cls, expected.cls, atol=1e-5)


@pytest.mark.parametrize("make, problem", [
    (lambda attn: SplitAttention(48, attn.num_heads), r"\(SplitAttention\) has no in_proj_weight, in_proj_bias;"),
    (lambda attn: nn.MultiheadAttention(48, attn.num_heads, kdim=24, vdim=24, batch_first=True),
     r"\(MultiheadAttention\) has no packed \(144, 48\) in_proj_weight"),
    (lambda attn: nn.MultiheadAttention(48, attn.num_heads), r"\(MultiheadAttention\) is sequence-first"),
])
def test_attention_without_the_packed_projection_is_refused_with_one_line(make, problem):
    clip = with_attention(make_clip(layers=2), make)
    with pytest.raises(UnsupportedArchitectureError, match=r"^Block 0's attention " + problem) as err:
        AnoCLIP(clip, open_clip.tokenizer.SimpleTokenizer(), 48)
    assert "\n" not in str(err.value) and "in_proj_weight, in_proj_bias, out_proj, num_heads" in str(err.value)


def test_custom_blocks_are_refused_even_though_their_attention_has_the_attributes():
    vision = dict(image_size=48, layers=2, width=48, head_width=16, patch_size=8, qk_norm=True)
    clip = open_clip.CLIP(embed_dim=24, vision_cfg=vision, text_cfg=dict(width=32, heads=4, layers=1)).eval()
    block = clip.visual.transformer.resblocks[0]
    assert all(hasattr(block.attn, name) for name in ("in_proj_weight", "in_proj_bias", "out_proj", "num_heads"))
    with pytest.raises(UnsupportedArchitectureError, match=r"^Block 0 is a CustomResidualAttentionBlock; .*ResidualAttentionBlocks"):
        check_supported(clip.visual)
