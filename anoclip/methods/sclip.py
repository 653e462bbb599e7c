"""SCLIP (Wang, Mei & Yuille, ECCV 2024; ``wang2024sclip``): correlative self-attention.

SCLIP replaces the last block's q-k attention by *correlative self-attention* (CSA): a token
attends to tokens whose queries resemble its query, and to tokens whose keys resemble its key.
Both maps are diagonal-dominant, so a patch keeps its own content while pooling from look-alike
patches::

    x        = vanilla stream entering the last block            (B, 1+N, W)
    q, k, v  = split_heads(in_proj(ln_1(x)))                      (B, H, 1+N, d)
    A        = softmax(q qᵀ / √d) + softmax(k kᵀ / √d)            (B, H, 1+N, 1+N), rows sum to 2
    y        = x + out_proj(merge_heads(A v))                     residual kept
    y        = y + mlp(ln_2(y))                                   FFN kept
    patches  = ln_post(y[:, 1:]) @ proj                           (B, N, D)

What changes relative to vanilla CLIP: only the attention matrix of the last block. Confirmed in
the official code (``wangf3014/SCLIP``, ``clip/model.py``: ``custom_attn`` with ``csa=True`` in the
last block only, scale ``head_dim ** -0.5``, the two softmaxes summed without renormalising, the
block's residual and MLP kept). SCLIP's sliding-window inference, logit scale and PAMR
refinement are segmentation post-processing and are not part of this baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import MethodInfo, register
from .last_block import LastBlockLocalizer


@register
@dataclass(frozen=True)
class SCLIPLocalizer(LastBlockLocalizer):
    info = MethodInfo(
        name="sclip",
        title="SCLIP (Wang et al., ECCV 2024)",
        paper="wang2024sclip",
        changes="In the last block, q-k attention is replaced by correlative self-attention "
        "softmax(q qᵀ/√d) + softmax(k kᵀ/√d); residual and FFN kept.",
        protocol="per-image training-free",
    )
    attention = "q-q+k-k"
    residual: bool = True
    ffn: bool = True
