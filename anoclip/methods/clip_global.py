"""The floor: vanilla CLIP's image-level score, broadcast to a constant map (``radford2021clip``).

No localization at all: every patch of an image gets that image's abnormal probability::

    c        = clip.encode_image(x)                               (B, D)   the CLS embedding
    p        = softmax([cos(c, t_normal), cos(c, t_abnormal)] / T)[1]     (B,)
    scores   = p broadcast over the patch grid                    (B, h, w)

Single view (the un-augmented image) and the model's temperature ``T``. A constant map ranks
pixels of different images by their image score and ties all pixels inside an image, so its
pixel AUROC measures how much of a localizer's score is image-level evidence. Not token-based:
test-time adaptation does not apply.
"""
from __future__ import annotations

from dataclasses import dataclass

from open_clip.transformer import VisionTransformer
from torch import Tensor

from .. import scoring
from ..encoder import ImageEncoding, grid_size
from .base import Localizer, MethodInfo, register


@register
@dataclass(frozen=True)
class CLIPGlobalLocalizer(Localizer):
    info = MethodInfo(
        name="clip-global",
        title="CLIP image score as a constant map (Radford et al., ICML 2021)",
        paper="radford2021clip",
        changes="No localization: each image's CLS abnormal probability is copied to all its patches.",
        protocol="per-image training-free",
    )
    has_patch_tokens = False

    def encode(self, visual: VisionTransformer, images: Tensor) -> ImageEncoding:
        return ImageEncoding(cls=visual(images), patches=None, grid=grid_size(visual))

    def patch_scores(self, encoding: ImageEncoding, prototypes: Tensor, temperature: float) -> Tensor:
        probability = scoring.abnormal_probability(encoding.cls, prototypes, temperature)
        height, width = encoding.grid
        return probability[:, None, None].expand(-1, height, width).clone()
