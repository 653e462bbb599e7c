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
rule, not an encoder change. This method ignores ``config.vv_start``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from torch import Tensor

from ..encoder import ImageEncoding
from .base import Localizer, MethodInfo, register

if TYPE_CHECKING:
    from ..model import AnoCLIP

SURGERY_BLOCKS = 6


def surgery_start(num_blocks: int) -> int:
    """First modified block of CLIP Surgery for a ViT with ``num_blocks`` blocks (last six)."""
    return max(0, num_blocks - SURGERY_BLOCKS)


@register
class VVLocalizer(Localizer):
    info = MethodInfo(
        name="vv",
        title="V-V dual path from a chosen block (CLIP Surgery, Li et al., 2023)",
        paper="li2023clipsurgery",
        changes="Adds a parallel value-value attention path (no FFN) to the blocks from `start` on "
        "(default: the last six) and takes its patch tokens; the original path is untouched.",
        supervision="training-free",
    )

    def __init__(self, start: Optional[int] = None) -> None:
        if start is not None and start < 0:
            raise ValueError(f"vv start must be a 0-based block index >= 0, got {start}.")
        self.start = start

    def local_tokens(self, model: "AnoCLIP", images: Tensor) -> ImageEncoding:
        blocks = len(model.clip.visual.transformer.resblocks)
        start = surgery_start(blocks) if self.start is None else self.start
        if start >= blocks:
            raise ValueError(f"vv start={start} but {model.name} has only {blocks} blocks (0..{blocks - 1}).")
        return model.with_config(vv=True, vv_start=start).encode_image(images)
