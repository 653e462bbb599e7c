"""Baseline localizers against independent recomputations from the block weights (tiny model).

Each reference below is written head by head from ``in_proj``/``out_proj``/``ln_*``/``mlp`` of the
open_clip blocks, without the package's encoder helpers, and compared with what
``AnoCLIP.predict(method=...)`` (or the method's tokens) returns.
"""
import itertools
from dataclasses import astuple
from pathlib import Path

import pytest
import torch

from anoclip import AnoCLIP, TTAConfig
from anoclip.methods import METHOD_TABLE_COLUMNS, MethodInfo, available_methods, get_method, method_table
from anoclip.methods.last_block import encode_last_block
from anoclip.methods.vv import surgery_start
from anoclip.methods.winclip import WinCLIPLocalizer, harmonic_aggregation, window_indices
from anoclip.prompts import build_sentences
from anoclip.config import PROTOCOLS
from test_encoder import PackedAttention, with_attention

EXPECTED_METHODS = ["anoclip", "clip-global", "clip-patch", "maskclip", "vv", "sclip", "clearclip", "winclip"]
REFERENCES_BIB = Path(__file__).resolve().parents[1] / "references.bib"


# ------------------------------------------------------------------ references from block weights
def heads(block, h):
    """Per-head queries, keys, values (lists of (B, L, d)) straight from the packed in_proj."""
    width = h.shape[-1]  # not attn.embed_dim: open_clip 4's Attention has none
    count = block.attn.num_heads
    d = width // count
    w, b = block.attn.in_proj_weight, block.attn.in_proj_bias
    q, k, v = (h @ w[i * width:(i + 1) * width].T + b[i * width:(i + 1) * width] for i in range(3))
    split = lambda t: [t[..., j * d:(j + 1) * d] for j in range(count)]  # noqa: E731
    return split(q), split(k), split(v), d


def softmax_rows(a, b, d):
    return torch.softmax(a @ b.transpose(-2, -1) / d ** 0.5, dim=-1)


def attention_output(block, h, rule):
    """out_proj(concat_h A_h v_h) with A_h chosen by ``rule``, head by head."""
    qs, ks, vs, d = heads(block, h)
    outputs = []
    for q, k, v in zip(qs, ks, vs):
        if rule == "q-k":
            mixed = softmax_rows(q, k, d) @ v
        elif rule == "identity":
            mixed = v
        elif rule == "q-q":
            mixed = softmax_rows(q, q, d) @ v
        elif rule == "q-q+k-k":
            mixed = (softmax_rows(q, q, d) + softmax_rows(k, k, d)) @ v
        elif rule == "v-v":
            mixed = softmax_rows(v, v, d) @ v
        outputs.append(mixed)
    return torch.cat(outputs, dim=-1) @ block.attn.out_proj.weight.T + block.attn.out_proj.bias


def vanilla_block(block, x):
    x = x + attention_output(block, block.ln_1(x), "q-k")
    return x + block.mlp(block.ln_2(x))


def tokens_before_ln_pre(visual, images):
    patches = visual.conv1(images).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.expand(images.shape[0], 1, -1)
    return torch.cat([cls, patches], dim=1) + visual.positional_embedding


def vanilla_streams(visual, images):
    """[ln_pre output, stream after block 0, ..., after the last block]."""
    x = visual.ln_pre(tokens_before_ln_pre(visual, images))
    streams = [x]
    for block in visual.transformer.resblocks:
        x = vanilla_block(block, x)
        streams.append(x)
    return streams


def to_joint(visual, tokens):
    return visual.ln_post(tokens) @ visual.proj


def reference_last_block(visual, images, rule, residual, ffn):
    x = vanilla_streams(visual, images)[-2]
    last = visual.transformer.resblocks[-1]
    y = attention_output(last, last.ln_1(x), rule)
    if residual:
        y = x + y
    if ffn:
        y = y + last.mlp(last.ln_2(y))
    return to_joint(visual, y[:, 1:])


def reference_vv(visual, images, start):
    streams = vanilla_streams(visual, images)
    vv = streams[start]
    for index in range(start, len(visual.transformer.resblocks)):
        block = visual.transformer.resblocks[index]
        vv = vv + attention_output(block, block.ln_1(streams[index]), "v-v")
    return to_joint(visual, vv[:, 1:])


def probability(features, prototypes, temperature):
    """P(abnormal) = sigmoid((cos_abnormal - cos_normal) / T)."""
    unit = features / features.norm(dim=-1, keepdim=True)
    cosines = unit @ prototypes.T
    return torch.sigmoid((cosines[..., 1] - cosines[..., 0]) / temperature)


# ------------------------------------------------------------------ registry and identity cards
def test_registry_lists_every_method_in_table_order():
    assert list(available_methods()) == EXPECTED_METHODS


def test_unknown_method_is_refused_with_the_list(tiny, images):
    with pytest.raises(ValueError, match="available"):
        get_method("patchcore")
    with pytest.raises(ValueError, match="Unknown method"):
        tiny.predict(images, "bottle", method="patchcore")


def test_every_method_has_an_identity_card():
    bib = REFERENCES_BIB.read_text()
    rows = method_table()
    assert [row[0] for row in rows] == EXPECTED_METHODS
    assert METHOD_TABLE_COLUMNS == ("name", "title", "paper", "changes", "protocol")
    for row, (name, info) in zip(rows, available_methods().items()):
        assert isinstance(info, MethodInfo) and info.name == name
        assert row == astuple(info)
        assert info.protocol in PROTOCOLS and info.protocol == "per-image training-free"
        assert f"{{{info.paper}," in bib, f"{name}: citation key {info.paper} missing from references.bib"
        assert info.title and len(info.changes) > 20


# ------------------------------------------------------------------ token methods
def test_clip_global_broadcasts_the_cls_probability(tiny, images):
    prediction = tiny.predict(images, "bottle", method="clip-global")
    with torch.no_grad():
        cls = tiny.clip.encode_image(images)
    expected = probability(cls, tiny.text_prototypes("bottle"), tiny.config.temperature)
    assert torch.allclose(prediction.patch_scores, expected[:, None, None].expand(-1, 8, 8), atol=1e-5)
    flat = prediction.anomaly_maps.flatten(1)
    assert torch.allclose(flat, flat[:, :1].expand_as(flat), atol=1e-6)


def test_clip_patch_is_the_vanilla_last_block(tiny, images):
    visual = tiny.clip.visual
    with torch.no_grad():
        expected = to_joint(visual, vanilla_streams(visual, images)[-1][:, 1:])
    encoding = tiny.encode_image(images, get_method("clip-patch"))
    assert torch.allclose(encoding.patches, expected, atol=1e-5)
    prediction = tiny.predict(images, "bottle", method="clip-patch")
    scores = probability(expected, tiny.text_prototypes("bottle"), tiny.config.temperature).view(3, 8, 8)
    assert torch.allclose(prediction.patch_scores, scores, atol=1e-5)


@pytest.mark.parametrize(
    "name, rule, residual, ffn",
    [("maskclip", "identity", True, True), ("sclip", "q-q+k-k", True, True), ("clearclip", "q-q", False, False)],
)
def test_last_block_methods_match_their_definition(tiny, images, name, rule, residual, ffn):
    visual = tiny.clip.visual
    with torch.no_grad():
        expected = reference_last_block(visual, images, rule, residual, ffn)
        cls = tiny.clip.encode_image(images)
    encoding = tiny.encode_image(images, get_method(name))
    assert torch.allclose(encoding.patches, expected, atol=1e-5)
    assert torch.allclose(encoding.cls, cls, atol=1e-5), "the CLS embedding must stay vanilla CLIP's"
    prediction = tiny.predict(images, "bottle", method=name)
    scores = probability(expected, tiny.text_prototypes("bottle"), tiny.config.temperature).view(3, 8, 8)
    assert torch.allclose(prediction.patch_scores, scores, atol=1e-5)


def test_residual_and_ffn_can_be_switched_off(tiny, images):
    visual = tiny.clip.visual
    with torch.no_grad():
        value_only = reference_last_block(visual, images, "identity", False, False)
    stripped = tiny.encode_image(images, get_method("maskclip", residual=False, ffn=False))
    assert torch.allclose(stripped.patches, value_only, atol=1e-5)
    assert get_method("maskclip").residual is True, "overrides must not leak into the class default"
    with torch.no_grad():
        vanilla = encode_last_block(visual, images, "q-k", residual=True, ffn=True)
    clip_patch = tiny.encode_image(images, get_method("clip-patch"))
    assert torch.allclose(vanilla.patches, clip_patch.patches, atol=1e-5)
    with pytest.raises(ValueError, match="attention"):
        encode_last_block(visual, images, "k-q", residual=True, ffn=True)


def test_vv_defaults_to_clip_surgery_and_start_zero_is_anoclip(tiny, images):
    assert surgery_start(12) == 6 and surgery_start(24) == 18 and surgery_start(4) == 0
    anoclip_tokens = tiny.encode_image(images, get_method("anoclip")).patches
    assert torch.equal(tiny.encode_image(images, get_method("vv", start=0)).patches, anoclip_tokens)
    assert torch.equal(tiny.encode_image(images, get_method("vv")).patches, anoclip_tokens)  # 4 blocks → 0


def test_vv_start_matches_dual_path_and_is_checked_against_the_vit(tiny, images):
    with torch.no_grad():
        expected = reference_vv(tiny.clip.visual, images, start=2)
    assert torch.allclose(tiny.encode_image(images, get_method("vv", start=2)).patches, expected, atol=1e-5)
    for start in (4, -1):
        with pytest.raises(ValueError, match=r"outside this ViT's blocks 0\.\.3"):
            get_method("vv", start=start).check(tiny.clip.visual)
        with pytest.raises(ValueError, match="outside"):
            tiny.predict(images, "bottle", get_method("vv", start=start))


def test_options_are_fields_recorded_by_value_and_unknown_ones_are_refused():
    assert get_method("vv", start=3).options == {"start": 3}
    assert get_method("vv", start=3) == get_method("vv", start=3)
    assert get_method("clearclip").options == {"residual": False, "ffn": False}
    with pytest.raises(ValueError, match=r"no option\(s\) \['begin'\]; its options: \['start'\]"):
        get_method("vv", begin=3)
    with pytest.raises(ValueError, match="options: none"):
        get_method("anoclip", start=0)
    localizer = get_method("maskclip", ffn=False)
    assert get_method(localizer) is localizer


def test_every_method_scores_each_image_on_its_own(tiny, images):
    """No leakage between images: an image's map is the same alone as in a batch, for every method
    (a method that normalised or pooled over the batch would fail here)."""
    for name in EXPECTED_METHODS:
        batch = tiny.predict(images, "bottle", method=name, image_scores=False).patch_scores
        for index in range(len(images)):
            alone = tiny.predict(images[index:index + 1], "bottle", method=name, image_scores=False).patch_scores
            assert torch.allclose(batch[index], alone[0], atol=1e-5), (name, index)


def test_no_two_method_names_are_the_same_computation(tiny, images):
    """Each name is its own encoder: the registry cannot alias two of them (anoclip and vv coincide
    only because the tiny model's 4 blocks clip CLIP Surgery's start to 0, pinned above)."""
    maps = {name: tiny.predict(images, "bottle", method=name, image_scores=False).patch_scores for name in EXPECTED_METHODS}
    for a, b in itertools.combinations(EXPECTED_METHODS, 2):
        gap = float((maps[a] - maps[b]).abs().max())
        if {a, b} == {"anoclip", "vv"}:
            assert gap == 0.0
        else:
            assert gap > 1e-3, f"{a} and {b} differ by only {gap:.2e}"


# ------------------------------------------------------------------ TTA compatibility
def test_tta_runs_on_token_methods_and_is_refused_otherwise(tiny, images):
    config = TTAConfig(steps=2)
    for name in ("maskclip", "clearclip"):
        prediction = tiny.predict(images, "bottle", tta=config, method=name)
        assert prediction.tta_losses.shape == (3, 2)
        zero_shot = tiny.predict(images, "bottle", method=name).patch_scores
        assert torch.allclose(prediction.patch_scores_before_tta, zero_shot, atol=1e-6)
        assert not torch.allclose(prediction.patch_scores, zero_shot, atol=1e-6)
    for name in ("clip-global", "winclip"):
        with pytest.raises(ValueError, match="token-based"):
            tiny.predict(images, "bottle", tta=config, method=name)


# ------------------------------------------------------------------ WinCLIP
def test_window_counts_and_layout():
    assert window_indices((15, 15), 2).shape == (196, 4)
    assert window_indices((15, 15), 3).shape == (169, 9)
    assert window_indices((15, 15), 2).shape[0] + window_indices((15, 15), 3).shape[0] == 365
    assert window_indices((15, 15), 2)[0].tolist() == [0, 1, 15, 16]
    assert window_indices((3, 4), 2)[-1].tolist() == [6, 7, 10, 11]
    with pytest.raises(ValueError, match="does not fit"):
        window_indices((2, 5), 3)


def test_harmonic_aggregation_against_brute_force():
    generator = torch.Generator().manual_seed(0)
    height, width, size = 5, 7, 3
    windows = window_indices((height, width), size)
    scores = torch.rand(2, len(windows), generator=generator) * 0.9 + 0.05
    expected = torch.zeros(2, height, width)
    for row, col in itertools.product(range(height), range(width)):
        corners = itertools.product(range(height - size + 1), range(width - size + 1))
        covering = [
            index for index, (top, left) in enumerate(corners)
            if top <= row < top + size and left <= col < left + size
        ]
        expected[:, row, col] = len(covering) / (1.0 / scores[:, covering]).sum(dim=1)
    assert torch.allclose(harmonic_aggregation(scores, windows, (height, width)), expected, atol=1e-6)


def reference_winclip(model, images, prototypes, temperature):
    """Brute force: loop over windows, encode each [CLS; window] with per-head vanilla blocks."""
    visual = model.clip.visual
    height, width = model.grid
    tokens = tokens_before_ln_pre(visual, images)

    def encode(sequence):
        x = visual.ln_pre(sequence)
        for block in visual.transformer.resblocks:
            x = vanilla_block(block, x)
        return to_joint(visual, x[:, 0])

    image = probability(encode(tokens), prototypes, temperature)
    maps = [image[:, None, None].expand(-1, height, width)]
    for size in (2, 3):
        total = torch.zeros(images.shape[0], height, width)
        count = torch.zeros(height, width)
        for top, left in itertools.product(range(height - size + 1), range(width - size + 1)):
            picked = [1 + (top + i) * width + (left + j) for i in range(size) for j in range(size)]
            score = probability(encode(tokens[:, [0] + picked]), prototypes, temperature)
            total[:, top:top + size, left:left + size] += 1.0 / score[:, None, None]
            count[top:top + size, left:left + size] += 1
        maps.append(count / total)
    return 3.0 / sum(1.0 / m for m in maps)


def test_winclip_matches_brute_force_recomputation(tiny, images):
    overrides = WinCLIPLocalizer.paper_config
    assert overrides["temperature"] == 0.07 and overrides["prompts"] == "winclip"
    assert overrides["image_views"] == 1  # WinCLIP's image score is a single-view CLS score
    model = tiny.with_config(**overrides)
    prototypes = model.text_prototypes("bottle")
    with torch.no_grad():
        expected = reference_winclip(model, images, prototypes, 0.07)
        cls = tiny.clip.encode_image(images)
    prediction = model.predict(images, "bottle", method="winclip")
    assert torch.allclose(prediction.patch_scores, expected, atol=1e-5)
    assert torch.allclose(prediction.image_scores, probability(cls, prototypes, 0.07), atol=1e-5)
    # predict applies the overrides itself, whatever the model's own prompts and temperature
    assert torch.allclose(tiny.predict(images, "bottle", method="winclip").patch_scores, expected, atol=1e-5)


def test_winclip_text_side_is_its_own_ensemble(tiny):
    normal, abnormal = build_sentences("bottle", family="winclip")
    with torch.no_grad():
        raw = tiny.clip.encode_text(tiny.tokenizer(normal + abnormal))
    means = torch.stack([raw[: len(normal)].mean(0), raw[len(normal):].mean(0)])
    expected = means / means.norm(dim=-1, keepdim=True)
    model = tiny.with_config(**WinCLIPLocalizer.paper_config)
    assert torch.allclose(model.text_prototypes("bottle"), expected, atol=1e-5)


def test_winclip_chunking_does_not_change_scores(tiny, images):
    model = tiny.with_config(**WinCLIPLocalizer.paper_config)
    prototypes = model.text_prototypes("bottle")

    def scores(localizer):
        return localizer.patch_scores(model.encode_image(images, localizer), prototypes, 0.07)

    assert torch.allclose(scores(get_method("winclip")), scores(get_method("winclip", chunk_size=7)), atol=1e-6)
    with pytest.raises(ValueError, match="scales"):
        get_method("winclip", scales=())


def test_every_method_reads_the_attention_only_by_its_four_attributes(tiny, images):
    """Maps and scores are unchanged when each block's attention is a module with nothing but
    in_proj_weight, in_proj_bias, out_proj and num_heads, as open_clip 4's Attention (which has
    no embed_dim, head_dim or batch_first, and another call signature than nn.MultiheadAttention)."""
    swapped = AnoCLIP(with_attention(tiny.clip, PackedAttention), tiny.tokenizer, tiny.image_size, tiny.config)
    for name in available_methods():
        expected = tiny.predict(images, "bottle", method=name)
        prediction = swapped.predict(images, "bottle", method=name)
        assert torch.allclose(prediction.patch_scores, expected.patch_scores, atol=1e-5), name
        assert torch.allclose(prediction.image_scores, expected.image_scores, atol=1e-5), name
