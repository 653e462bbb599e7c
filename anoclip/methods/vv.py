"""The dual V-V path from a chosen block: CLIP Surgery's architecture surgery (``li2023clipsurgery``).

CLIP Surgery runs, next to each of the last blocks, a second attention whose queries and keys
are the block's values, and sums those outputs (no FFN) into a separate stream; AnoCLIP adopted
the same path for *all* blocks. With ``ori_l`` the vanilla stream after block ``l`` (``ori_{-1}``
the ``ln_pre`` output) and ``s`` the first modified block::

    vv       = ori_{s-1} + Σ_{l=s}^{L-1} out_proj_l( softmax(v_l v_lᵀ / √d) v_l )     (B, 1+N, W)
    v_l      = W_v,l · ln_1,l(ori_{l-1}) + b_v,l, per head                            (B, H, 1+N, d)
    patches  = ln_post(vv[:, 1:]) @ proj                                              (B, N, D)

What changes relative to vanilla CLIP: nothing in the original stream (the CLS token is
vanilla); the patch tokens come from the extra V-V stream. ``start`` is the 0-based ``s``.
Default: the official CLIP Surgery code modifies the *last six* blocks (``xmed-lab/CLIP_Surgery``,
``clip/clip_surgery_model.py``: ``for i in range(1, 7)`` over ``resblocks[-i]``, commented
"surgery 7, maskclip 2"), so ``s = L - 6`` (block 6 of ViT-B's 12), clipped at 0 for shallower
models. ``start=0`` is exactly AnoCLIP's encoder (``anoclip`` is the faithful configuration).
CLIP Surgery's second ingredient, "feature surgery" (subtracting the features shared by all
class prompts from the similarity), is not included: with two prompts it is a different scoring
rule, not an encoder change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from open_clip.transformer import VisionTransformer

from .base import MethodInfo, register
from .dual_path import DualPathLocalizer

SURGERY_BLOCKS = 6


def surgery_start(num_blocks: int) -> int:
    """First modified block of CLIP Surgery for a ViT with ``num_blocks`` blocks (last six)."""
    return max(0, num_blocks - SURGERY_BLOCKS)


@register
@dataclass(frozen=True)
class VVLocalizer(DualPathLocalizer):
    """``start``: 0-based first V-V block; None = CLIP Surgery's last six blocks."""

    info = MethodInfo(
        name="vv",
        title="V-V dual path from a chosen block (CLIP Surgery, Li et al., 2023)",
        paper="li2023clipsurgery",
        changes="Adds a parallel value-value attention path (no FFN) to the blocks from `start` on "
        "(default: the last six) and takes its patch tokens; the original path is untouched.",
        protocol="per-image training-free",
    )
    start: Optional[int] = None

    def vv_start(self, visual: VisionTransformer) -> int:
        return surgery_start(len(visual.transformer.resblocks)) if self.start is None else self.start
