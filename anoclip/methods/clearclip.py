"""ClearCLIP (Lan et al., ECCV 2024; ``lan2024clearclip``): last block without residual and FFN.

ClearCLIP decomposes the last block and finds that the residual connection carries most of the
noise in CLIP's patch tokens. It keeps only the attention output of the last block, with
self-self (q-q) attention, and skips the block's FFN::

    x        = vanilla stream entering the last block            (B, 1+N, W)
    q, k, v  = split_heads(in_proj(ln_1(x)))                      (B, H, 1+N, d)
    A        = softmax(q qᵀ / √d)                                 (B, H, 1+N, 1+N)
    y        = out_proj(merge_heads(A v))                         no residual, no FFN
    patches  = ln_post(y[:, 1:]) @ proj                           (B, N, D)

What changes relative to vanilla CLIP: the last block's attention (q-q instead of q-k), its
residual connection and its FFN. Confirmed in the official code (``mc-lan/ClearCLIP``,
``open_clip/transformer.py``: ``custom_attn`` with ``model_type='ClearCLIP'`` on the last block,
``ignore_residual=True`` by default, so neither ``x +`` nor the MLP is applied; then ``ln_post`` and
``proj``). ClearCLIP's segmentation post-processing (sliding windows, logit scale) is not part
of this baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import MethodInfo, register
from .last_block import LastBlockLocalizer


@register
@dataclass(frozen=True)
class ClearCLIPLocalizer(LastBlockLocalizer):
    info = MethodInfo(
        name="clearclip",
        title="ClearCLIP (Lan et al., ECCV 2024)",
        paper="lan2024clearclip",
        changes="In the last block, q-q attention replaces q-k attention, and the residual "
        "connection and the FFN are dropped.",
        protocol="per-image training-free",
    )
    attention = "q-q"
    residual: bool = False
    ffn: bool = False
