"""The dual-path visual forward: CLIP's own q-k path plus a value-wise (V-V) path.

CLIP's patch tokens are poor local descriptors: in the last blocks, q-k attention lets every
patch attend to a few global "sink" tokens, so a patch's output says more about the image than
about its own neighbourhood. AnoCLIP keeps CLIP untouched and runs, next to each block's normal
attention, a second attention whose queries and keys are the block's *values*:
``softmax(v vᵀ / sqrt(d)) v``. A value is most similar to itself and to values of similar
content, so this attention stays local. The V-V stream accumulates those outputs (projected by
the block's own ``out_proj``) on top of the stream that entered its first block, with no MLP and
no LayerNorm of its own; every block computes both attentions from the *original* stream, so the
CLS token and the original path stay bit-for-bit vanilla CLIP.

With ``ori_l`` the vanilla residual stream after block ``l`` and ``s`` the first V-V block::

    vv = ori_{s-1} + sum_{l >= s} out_proj_l( softmax(v_l v_lᵀ / sqrt(d)) v_l ),
    v_l = W_v,l · ln_1,l(ori_{l-1}) + b_v,l

The functions below read each block's weights (``in_proj``, ``out_proj``, ``ln_1``, ``mlp``,
``ls_*``) and never modify the open_clip model, so ``clip.encode_image`` keeps working.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    """Encoder outputs in CLIP's joint space (after ``ln_post`` and ``proj``), not normalised.

    ``cls`` (B, D) equals ``clip.encode_image``; ``patches`` (B, N, D) are the final V-V patch
    tokens (or q-k tokens when the V-V path is off), row-major over the ``grid`` (h, w).
    """

    cls: Tensor
    patches: Tensor
    grid: Tuple[int, int]
    taps: Optional[LayerTaps] = None


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
    for index, block in enumerate(visual.transformer.resblocks):
        if not isinstance(block, ResidualAttentionBlock) or not isinstance(block.attn, nn.MultiheadAttention):
            raise UnsupportedArchitectureError(
                f"Block {index} is a {type(block).__name__}; the dual path reads plain "
                "ResidualAttentionBlocks with nn.MultiheadAttention (standard CLIP ViTs)."
            )
    if not visual.transformer.batch_first:
        raise UnsupportedArchitectureError("Sequence-first transformers are not supported; upgrade open_clip.")


def num_heads(block: ResidualAttentionBlock) -> int:
    return block.attn.num_heads


def embed(visual: VisionTransformer, images: Tensor) -> Tensor:
    """Patch embedding + CLS token + positional embedding + ``ln_pre``: (B, 1+N, W)."""
    x = visual.conv1(images)  # (B, W, h, w)
    x = x.flatten(2).transpose(1, 2)  # (B, N, W)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    return visual.ln_pre(x)


def qkv(block: ResidualAttentionBlock, h: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Queries, keys, values of a block from its (already ``ln_1``-normalised) input.

    Returns three (B, heads, L, head_dim) tensors, from the block's packed ``in_proj``.
    """
    batch, length, width = h.shape
    heads = num_heads(block)
    packed = F.linear(h, block.attn.in_proj_weight, block.attn.in_proj_bias)
    packed = packed.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    return packed[0], packed[1], packed[2]


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


def encode(
    visual: VisionTransformer,
    images: Tensor,
    *,
    vv: bool = True,
    vv_start: int = 0,
    taps: bool = False,
) -> ImageEncoding:
    """Run the dual-path forward over an open_clip ViT.

    Args:
        visual: ``clip.visual``, read only.
        images: (B, 3, S, S) preprocessed images at the model's input size.
        vv: when False, ``patches`` are the q-k path's own patch tokens (vanilla CLIP).
        vv_start: 0-based index of the first block with a V-V path (0 = every block, faithful).
            The V-V stream starts from the original stream entering that block.
        taps: also return per-block tokens and attention maps of both paths (slower: attention
            is then computed explicitly instead of with the fused kernel).
    """
    blocks = visual.transformer.resblocks
    if not 0 <= vv_start < len(blocks):
        raise ValueError(f"vv_start={vv_start} is outside this ViT's blocks 0..{len(blocks) - 1}.")
    record = LayerTaps() if taps else None
    original = embed(visual, images)
    value_stream: Optional[Tensor] = None
    for index, block in enumerate(blocks):
        queries, keys, values = qkv(block, block.ln_1(original))
        qk_weights = attention_weights(queries, keys) if taps else None
        attn_out = block.ls_1(out_project(block, attend(queries, keys, values, qk_weights)))
        vv_active = vv and index >= vv_start
        vv_weights = attention_weights(values, values) if taps and vv_active else None
        if vv_active:
            if value_stream is None:
                value_stream = original
            vv_out = out_project(block, attend(values, values, values, vv_weights))
            value_stream = value_stream + block.ls_1(vv_out)
        original = original + attn_out
        original = original + block.ls_2(block.mlp(block.ln_2(original)))
        if record is not None:
            record.qk_tokens.append(original.detach().clone())
            record.qk_attention.append(qk_weights.detach().clone())
            record.vv_tokens.append(value_stream.detach().clone() if vv_active else None)
            record.vv_attention.append(vv_weights.detach().clone() if vv_active else None)
    local = value_stream if vv else original
    return ImageEncoding(
        cls=project(visual, original[:, 0]),
        patches=project(visual, local[:, 1:]),
        grid=grid_size(visual),
        taps=record,
    )
