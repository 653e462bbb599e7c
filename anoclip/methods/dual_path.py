"""Localizers that read AnoCLIP's dual-path encoder: which block the V-V path starts at.

``anoclip`` (from block 0), ``vv`` (from a chosen block; CLIP Surgery's last six by default) and
``clip-patch`` (no V-V path) differ only in the start block they hand to
:func:`anoclip.encoder.encode`, which is also the one place that validates it. They are the
localizers that can record per-block taps (token streams and attention maps of both paths).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from open_clip.transformer import VisionTransformer
from torch import Tensor

from .. import encoder
from ..encoder import ImageEncoding
from .base import Localizer


@dataclass(frozen=True)
class DualPathLocalizer(Localizer):
    """Patch tokens of the dual-path forward with the V-V path from :meth:`vv_start` on."""

    def vv_start(self, visual: VisionTransformer) -> Optional[int]:
        """First V-V block for this ViT, or None for CLIP's own q-k patch tokens."""
        raise NotImplementedError

    def check(self, visual: VisionTransformer) -> None:
        encoder.check_vv_start(visual, self.vv_start(visual))

    def encode(self, visual: VisionTransformer, images: Tensor, taps: bool = False) -> ImageEncoding:
        """Dual-path encoding; ``taps=True`` also records every block (see :class:`~anoclip.encoder.LayerTaps`)."""
        return encoder.encode(visual, images, vv_start=self.vv_start(visual), taps=taps)
