"""MaskCLIP (Zhou, Loy & Dai, ECCV 2022; ``zhou2022maskclip``): value embeddings of the last block.

MaskCLIP's observation: in CLIP's last block the q-k attention mixes every patch with a few
global tokens, but the *value* embedding of a patch still describes that patch. So it drops the
queries and keys of the last attention and lets each token keep its own value::

    x        = vanilla stream entering the last block            (B, 1+N, W)
    v        = W_v · ln_1(x) + b_v, split into H heads            (B, H, 1+N, d)
    a        = out_proj(merge_heads(v))                           (B, 1+N, W)   [A = identity]
    y        = x + a                                              residual kept
    y        = y + mlp(ln_2(y))                                   FFN kept
    patches  = ln_post(y[:, 1:]) @ proj                           (B, N, D)

What changes relative to vanilla CLIP: only the attention matrix of the last block, replaced by
the identity. The residual and FFN are kept because the official ViT code keeps them
(``volgachen/MaskCLIP``, the public fork of ``chongzhou96/MaskCLIP``,
``mmseg/models/backbones/vit.py``: the last layer adds the block input to ``out_proj(v)`` and
then runs the FFN on it before the final norm; ReCLIP's authors describe the same code in
``dogehhh/ReCLIP`` issue #3). The paper's own wording ("take the value embeddings, then the last
linear layer") and ClearCLIP's re-implementation drop the residual and the FFN instead: pass
``get_method("maskclip", residual=False, ffn=False)`` for that reading. MaskCLIP's key
smoothing and prompt denoising are segmentation post-processing for many classes and are not
part of this baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import MethodInfo, register
from .last_block import LastBlockLocalizer


@register
@dataclass(frozen=True)
class MaskCLIPLocalizer(LastBlockLocalizer):
    info = MethodInfo(
        name="maskclip",
        title="MaskCLIP (Zhou et al., ECCV 2022)",
        paper="zhou2022maskclip",
        changes="In the last block, each token attends only to itself (q-k attention replaced by "
        "the identity, so the value embeddings go straight through out_proj); residual and FFN kept.",
        protocol="per-image training-free",
    )
    attention = "identity"
    residual: bool = True
    ffn: bool = True
