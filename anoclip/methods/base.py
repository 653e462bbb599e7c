"""What a zero-shot localizer is, and the registry that names them.

A localizer turns preprocessed images into patch scores (B, h, w) for one class. Most methods do
it by producing patch tokens in CLIP's joint space and comparing them with the class's text
prototypes; those implement :meth:`Localizer.local_tokens` and inherit the scoring (and can be
test-time adapted). Methods that score patches another way (a broadcast image score, WinCLIP's
windows) override :meth:`Localizer.score_patches` instead. Preprocessing, prompts, smoothing,
upsampling and image scores are shared by :meth:`anoclip.AnoCLIP.predict`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Optional, Type

from torch import Tensor

from .. import scoring
from ..encoder import ImageEncoding

if TYPE_CHECKING:
    from ..model import AnoCLIP

SUPERVISION_KINDS = ("training-free", "auxiliary-data", "test-batch")


@dataclass(frozen=True)
class MethodInfo:
    """Identity card shown in the book's tables.

    Attributes:
        name: registry name (``AnoCLIP.predict(method=name)``, ``anoclip bench --method``).
        title: human-readable name with venue.
        paper: citation key / reference.
        changes: one sentence on exactly what the method changes relative to vanilla CLIP.
        supervision: "training-free", "auxiliary-data" (trained on other labelled data) or
            "test-batch" (uses the other unlabeled test images).
    """

    name: str
    title: str
    paper: str
    changes: str
    supervision: str = "training-free"

    def __post_init__(self) -> None:
        if self.supervision not in SUPERVISION_KINDS:
            raise ValueError(f"supervision={self.supervision!r} is not one of {SUPERVISION_KINDS}.")


@dataclass
class LocalScores:
    """Patch scores (B, h, w) and the CLS embedding (B, D) computed on the way, if any."""

    patch_scores: Tensor
    cls: Optional[Tensor] = None


class Localizer:
    """Base class: subclasses set ``info`` and implement ``local_tokens`` or ``score_patches``."""

    info: ClassVar[MethodInfo]
    #: AnoCLIPConfig fields this method fixes (e.g. WinCLIP's own prompts and temperature).
    config_overrides: ClassVar[Dict[str, Any]] = {}

    def local_tokens(self, model: "AnoCLIP", images: Tensor) -> Optional[ImageEncoding]:
        """Patch tokens (B, N, D) in the joint space, or None for non-token methods."""
        return None

    def score_patches(self, model: "AnoCLIP", images: Tensor, prototypes: Tensor) -> LocalScores:
        """Abnormal probability per patch from the tokens and the text prototypes."""
        encoding = self.local_tokens(model, images)
        if encoding is None:
            raise NotImplementedError(f"{type(self).__name__} must implement local_tokens or score_patches.")
        probabilities = scoring.abnormal_probability(encoding.patches, prototypes, model.config.temperature)
        return LocalScores(scoring.to_grid(probabilities, encoding.grid), encoding.cls)


_REGISTRY: Dict[str, Callable[..., Localizer]] = {}


def register(cls: Type[Localizer]) -> Type[Localizer]:
    """Class decorator: make a localizer available under ``cls.info.name``."""
    name = cls.info.name
    if name in _REGISTRY:
        raise ValueError(f"A method named {name!r} is already registered.")
    _REGISTRY[name] = cls
    return cls


def available_methods() -> Dict[str, MethodInfo]:
    """Registered methods by name, with their identity cards."""
    return {name: factory.info for name, factory in _REGISTRY.items()}


def get_method(name: str, **options: Any) -> Localizer:
    """Instantiate a registered localizer; unknown names get the list of known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown method {name!r}; available: {sorted(_REGISTRY)}.")
    return _REGISTRY[name](**options)
