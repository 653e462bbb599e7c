"""Vanilla CLIP's own patch tokens, scored like AnoCLIP's (``radford2021clip``).

The starting point of chapter 1: take the last block's q-k patch tokens through the same
``ln_post`` and ``proj`` as the CLS token and compare them with the text prototypes::

    x_L      = vanilla residual stream after the last block       (B, 1+N, W)
    patches  = ln_post(x_L[:, 1:]) @ proj                         (B, N, D)

Nothing changes relative to vanilla CLIP. These maps are often *inverted* (normal background
scores higher than the defect) because q-k attention in the last blocks makes every patch token
a copy of a few global "sink" tokens; the other methods are ways around that.
"""
from __future__ import annotations

from dataclasses import dataclass

from open_clip.transformer import VisionTransformer

from .base import MethodInfo, register
from .dual_path import DualPathLocalizer


@register
@dataclass(frozen=True)
class CLIPPatchLocalizer(DualPathLocalizer):
    info = MethodInfo(
        name="clip-patch",
        title="CLIP patch tokens (Radford et al., ICML 2021)",
        paper="radford2021clip",
        changes="Nothing: the last block's q-k patch tokens through ln_post and proj.",
        protocol="per-image training-free",
    )

    def vv_start(self, visual: VisionTransformer) -> None:
        return None
