"""AnoCLIP itself: the V-V patch tokens of the dual-path encoder, as configured."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from ..encoder import ImageEncoding
from .base import Localizer, MethodInfo, register

if TYPE_CHECKING:
    from ..model import AnoCLIP


@register
class AnoCLIPLocalizer(Localizer):
    info = MethodInfo(
        name="anoclip",
        title="AnoCLIP (Deng et al., 2023; first titled AnoVL)",
        paper="deng2023anovl",
        changes="Adds a value-wise (v-v) attention path from the first block (no MLP on it) and "
        "compares its final patch tokens with domain-aware state-prompt prototypes.",
    )

    def local_tokens(self, model: "AnoCLIP", images: Tensor) -> ImageEncoding:
        return model.encode_image(images)
