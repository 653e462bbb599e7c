"""The dual-path visual forward: CLIP's own q-k path plus a value-wise (V-V) path.

CLIP's patch tokens are poor local descriptors: in the last blocks, q-k attention lets every
patch attend to a few global "sink" tokens, so a patch's output says more about the image than
about its own neighbourhood. AnoCLIP keeps CLIP untouched and runs, next to each block's normal
attention, a second attention whose queries and keys are the block's *values*:
``softmax(v vᵀ / sqrt(d)) v``. A value is most similar to itself and to values of similar
content, so this attention stays local. The V-V stream accumulates those outputs (projected by
the block's own ``out_proj``) on top of the stream that entered its first block, with no MLP and
no LayerNorm of its own; every block computes both attentions from the *original* stream, and
the original path is each open_clip block's own forward, so the CLS embedding is vanilla CLIP's
bit for bit (the tests check ``torch.equal``). Only with ``taps=True``, which writes attention
out explicitly to record it, do the streams agree with it up to float rounding (about 1e-6).

With ``ori_l`` the vanilla residual stream after block ``l`` and ``s`` the first V-V block::

    vv = ori_{s-1} + sum_{l >= s} out_proj_l( softmax(v_l v_lᵀ / sqrt(d)) v_l ),
    v_l = W_v,l · ln_1,l(ori_{l-1}) + b_v,l

The functions below read each block's weights (``in_proj``, ``out_proj``, ``ln_1``, ``mlp``,
``ls_*``) and never modify the open_clip model, so ``clip.encode_image`` keeps working. They
read the attention by the names that ``nn.MultiheadAttention`` (open_clip 2 and 3) and open_clip
4's own ``Attention`` share, and never call it directly (its signature differs between them).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
from torch import Tensor, nn


class UnsupportedArchitectureError(TypeError):
    """The vision tower is not a plain open_clip ViT the dual path knows how to read."""


@dataclass
class LayerTaps:
    """Per-block snapshots for figures: token streams (width W) and attention maps.

    Lists are indexed by block. Entries of the V-V path are ``None`` before the block where that
    path starts. Tokens include the CLS token at position 0: (B, 1+N, W); attention maps are
    (B, heads, 1+N, 1+N). All tensors are detached copies (the official code's in-place updates
    made every stored layer alias the last one).
    """

    qk_tokens: List[Tensor] = field(default_factory=list)
    vv_tokens: List[Optional[Tensor]] = field(default_factory=list)
    qk_attention: List[Tensor] = field(default_factory=list)
    vv_attention: List[Optional[Tensor]] = field(default_factory=list)


@dataclass
class ImageEncoding:
    """What a localizer's encoder returns, in CLIP's joint space (after ``ln_post``/``proj``).

    ``cls`` (B, D) is always vanilla CLIP's image embedding (``clip.visual(x)``, not
    normalised); ``patches`` (B, N, D) are the localizer's patch tokens, row-major over
    ``grid`` (h, w), or None for localizers that score without patch tokens (WinCLIP's windows,
    the broadcast CLS score) — those cannot be test-time adapted.
    """

    cls: Tensor
    patches: Optional[Tensor]
    grid: Tuple[int, int]
    taps: Optional[LayerTaps] = None

    def float(self) -> "ImageEncoding":
        """A copy whose floating-point tensors are float32 (autocast may have produced bf16/fp16).

        Fields holding a tensor or a list of tensors are converted (subclasses add such fields);
        integer tensors such as indices are kept as they are.
        """

        def as_float(value):
            if isinstance(value, Tensor):
                return value.float() if value.is_floating_point() else value
            if isinstance(value, list):
                return [as_float(item) for item in value]
            return value

        return replace(self, **{item.name: as_float(getattr(self, item.name)) for item in fields(self) if item.name != "taps"})


ATTENTION_ATTRIBUTES = ("in_proj_weight", "in_proj_bias", "out_proj", "num_heads")


def check_supported(visual: nn.Module) -> None:
    """Fail early, and clearly, for vision towers the dual path cannot read."""
    if not isinstance(visual, VisionTransformer):
        raise UnsupportedArchitectureError(
            f"AnoCLIP needs an open_clip VisionTransformer; this model's vision tower is "
            f"{type(visual).__name__} (ResNet and timm towers are not supported). Use a ViT such as "
            "ViT-B-16-plus-240, ViT-B-16 or ViT-L-14-336."
        )
    if visual.attn_pool is not None or visual.pool_type != "tok":
        raise UnsupportedArchitectureError(
            "AnoCLIP reads the CLS token; this ViT pools with "
            f"{'an attentional pooler' if visual.attn_pool is not None else visual.pool_type!r}."
        )
    if not getattr(visual.transformer, "batch_first", True):  # open_clip 4 is always batch-first
        raise UnsupportedArchitectureError("Sequence-first transformers are not supported; upgrade open_clip.")
    for index, block in enumerate(visual.transformer.resblocks):
        if not isinstance(block, ResidualAttentionBlock):
            raise UnsupportedArchitectureError(
                f"Block {index} is a {type(block).__name__}; the dual path reads open_clip's plain "
                "ResidualAttentionBlocks (standard CLIP ViTs, no qk-norm or scaled attention)."
            )
        problem = attention_problem(block.attn, visual.class_embedding.shape[-1])
        if problem is not None:
            raise UnsupportedArchitectureError(
                f"Block {index}'s attention ({type(block.attn).__name__}) {problem}; the dual path reads "
                f"packed batch-first self-attention exposing {', '.join(ATTENTION_ATTRIBUTES)}."
            )


def attention_problem(attn: nn.Module, width: int) -> Optional[str]:
    """Why the dual path cannot read this attention module, or None if it can.

    Duck typing, not a class check: open_clip up to 3.x builds ``nn.MultiheadAttention``,
    open_clip 4 its own ``Attention`` (no ``batch_first``, a different call signature); both keep
    the packed q/k/v projection under :data:`ATTENTION_ATTRIBUTES`, which is all that
    :func:`qkv`, :func:`value_heads` and :func:`out_project` read. Blocks are otherwise only
    ever called through their own forward, whatever the attention's signature.
    """
    missing = [name for name in ATTENTION_ATTRIBUTES if not hasattr(attn, name)]
    if missing:
        return f"has no {', '.join(missing)}"
    if not isinstance(attn.in_proj_weight, Tensor) or tuple(attn.in_proj_weight.shape) != (3 * width, width):
        return f"has no packed ({3 * width}, {width}) in_proj_weight (separate q/k/v projections?)"
    if not getattr(attn, "batch_first", True):
        return "is sequence-first (batch_first=False)"
    return None


def num_heads(block: ResidualAttentionBlock) -> int:
    return block.attn.num_heads


def positioned_tokens(visual: VisionTransformer, images: Tensor) -> Tensor:
    """Patch embedding + CLS token + positional embedding, before ``ln_pre``: (B, 1+N, W)."""
    x = visual.conv1(images)  # (B, W, h, w)
    x = x.flatten(2).transpose(1, 2)  # (B, N, W)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    return torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)


def embed(visual: VisionTransformer, images: Tensor) -> Tensor:
    """The stream entering the first block: ``ln_pre`` of :func:`positioned_tokens`, (B, 1+N, W)."""
    return visual.ln_pre(positioned_tokens(visual, images))


def qkv(block: ResidualAttentionBlock, h: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Queries, keys, values of a block from its (already ``ln_1``-normalised) input.

    Returns three (B, heads, L, head_dim) tensors, from the block's packed ``in_proj``.
    """
    batch, length, width = h.shape
    heads = num_heads(block)
    packed = F.linear(h, block.attn.in_proj_weight, block.attn.in_proj_bias)
    packed = packed.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    return packed[0], packed[1], packed[2]


def value_heads(block: ResidualAttentionBlock, h: Tensor) -> Tensor:
    """The values alone, (B, heads, L, head_dim): the V-V path needs no queries or keys."""
    batch, length, width = h.shape
    heads = num_heads(block)
    bias = block.attn.in_proj_bias
    return F.linear(h, block.attn.in_proj_weight[2 * width:], None if bias is None else bias[2 * width:]).view(batch, length, heads, width // heads).transpose(1, 2)


def attention_weights(queries: Tensor, keys: Tensor) -> Tensor:
    """softmax(q kᵀ / sqrt(d)) over the last axis: (B, heads, L, L). Numerically stable."""
    scale = queries.shape[-1] ** -0.5
    return torch.softmax((queries @ keys.transpose(-2, -1)) * scale, dim=-1)


def attend(queries: Tensor, keys: Tensor, values: Tensor, weights: Optional[Tensor] = None) -> Tensor:
    """Attention output (B, heads, L, head_dim); fused kernel unless explicit weights are given."""
    if weights is not None:
        return weights @ values
    return F.scaled_dot_product_attention(queries, keys, values)


def out_project(block: ResidualAttentionBlock, heads_out: Tensor) -> Tensor:
    """Merge heads and apply the block's attention output projection: (B, L, W)."""
    batch, heads, length, head_dim = heads_out.shape
    merged = heads_out.transpose(1, 2).reshape(batch, length, heads * head_dim)
    return F.linear(merged, block.attn.out_proj.weight, block.attn.out_proj.bias)


def project(visual: VisionTransformer, tokens: Tensor) -> Tensor:
    """Map width-W tokens into the joint image-text space: ``ln_post`` then ``@ proj``."""
    return visual.ln_post(tokens) @ visual.proj


def grid_size(visual: VisionTransformer) -> Tuple[int, int]:
    return tuple(visual.grid_size)


def check_vv_start(visual: VisionTransformer, vv_start: Optional[int]) -> None:
    """The one check of a V-V start block: None (no V-V path) or a block index of this ViT."""
    blocks = len(visual.transformer.resblocks)
    if vv_start is not None and not (isinstance(vv_start, int) and 0 <= vv_start < blocks):
        raise ValueError(
            f"V-V start block {vv_start!r} is outside this ViT's blocks 0..{blocks - 1} "
            "(0 = every block, as AnoCLIP; None = no V-V path)."
        )


def encode(
    visual: VisionTransformer,
    images: Tensor,
    *,
    vv_start: Optional[int] = 0,
    taps: bool = False,
) -> ImageEncoding:
    """Run the dual-path forward over an open_clip ViT.

    Args:
        visual: ``clip.visual``, read only.
        images: (B, 3, S, S) preprocessed images at the model's input size.
        vv_start: 0-based index of the first block with a V-V path (0 = every block, faithful);
            the V-V stream starts from the original stream entering that block. ``None``: no
            V-V path, ``patches`` are the q-k path's own patch tokens (vanilla CLIP).
        taps: also return per-block tokens and attention maps of both paths (slower: attention
            is then computed explicitly instead of with the fused kernels).

    Without taps the q-k path *is* each open_clip block's own forward (so the CLS embedding is
    vanilla CLIP's, with its fused attention kernel), and the V-V path adds, per block, only
    the value projection, one attention and the output projection.
    """
    check_vv_start(visual, vv_start)
    record = LayerTaps() if taps else None
    original = embed(visual, images)
    value_stream: Optional[Tensor] = None
    for index, block in enumerate(visual.transformer.resblocks):
        vv_active = vv_start is not None and index >= vv_start
        if record is not None:
            original, value_stream = _tapped_block(block, original, value_stream, vv_active, record)
            continue
        if vv_active:
            values = value_heads(block, block.ln_1(original))
            vv_out = block.ls_1(out_project(block, attend(values, values, values)))
            value_stream = (original if value_stream is None else value_stream) + vv_out
        original = block(original)  # the q-k path is open_clip's own block, run as vanilla CLIP runs it
    local = original if value_stream is None else value_stream
    return ImageEncoding(
        cls=project(visual, original[:, 0]),
        patches=project(visual, local[:, 1:]),
        grid=grid_size(visual),
        taps=record,
    )


def _tapped_block(
    block: ResidualAttentionBlock, original: Tensor, value_stream: Optional[Tensor], vv_active: bool, record: LayerTaps
) -> Tuple[Tensor, Optional[Tensor]]:
    """One block of both paths with explicit attention weights, recorded (the ``taps=True`` path).

    The same computation as the fast path, written out so that both attention maps exist; the
    streams agree with it up to float rounding (the fused kernels round differently).
    """
    queries, keys, values = qkv(block, block.ln_1(original))
    qk_weights = attention_weights(queries, keys)
    attn_out = block.ls_1(out_project(block, attend(queries, keys, values, qk_weights)))
    vv_weights = attention_weights(values, values) if vv_active else None
    if vv_active:
        vv_out = block.ls_1(out_project(block, attend(values, values, values, vv_weights)))
        value_stream = (original if value_stream is None else value_stream) + vv_out
    original = original + attn_out
    original = original + block.ls_2(block.mlp(block.ln_2(original)))
    record.qk_tokens.append(original.detach().clone())
    record.qk_attention.append(qk_weights.detach().clone())
    record.vv_tokens.append(value_stream.detach().clone() if vv_active else None)
    record.vv_attention.append(vv_weights.detach().clone() if vv_active else None)
    return original, value_stream
