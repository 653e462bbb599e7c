"""What a zero-shot localizer is, and the registry that names them.

A localizer is an *encoder variant* over an open_clip ViT: it reads the ViT's blocks (never
modifies them) and returns an :class:`~anoclip.encoder.ImageEncoding`. It knows nothing of
:class:`anoclip.AnoCLIP`, which calls it; calls run one way::

    AnoCLIP.predict ─▶ localizer.encode(visual, images) ─▶ encoder / open_clip blocks
                    ─▶ localizer.patch_scores(encoding, prototypes, T) ─▶ scoring

Most localizers return patch tokens in CLIP's joint space and inherit the shared scoring
(cosine to the text prototypes, softmax at temperature T); they can be test-time adapted. The few
that score another way (a broadcast image score, WinCLIP's windows) return no patch tokens and
override :meth:`Localizer.patch_scores`.

Localizers are frozen dataclasses: their fields are their options (``get_method("vv",
start=6)``), validated once in ``__post_init__`` (or against the ViT in :meth:`check`), and
recorded by value in results (:attr:`Localizer.options`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, ClassVar, Dict, Mapping, Type, Union

from open_clip.transformer import VisionTransformer
from torch import Tensor

from .. import scoring
from ..encoder import ImageEncoding
from ..config import PROTOCOLS


@dataclass(frozen=True)
class MethodInfo:
    """Identity card shown in the book's tables.

    Attributes:
        name: registry name (``AnoCLIP.predict(method=name)``, ``anoclip bench --method``).
        title: human-readable name with venue.
        paper: citation key / reference.
        changes: one sentence on exactly what the method changes relative to vanilla CLIP.
        protocol: one of :data:`anoclip.config.PROTOCOLS` — "per-image training-free",
            "few-normal-shot" (normal images of the class), "transductive" (the other unlabelled
            test images) or "auxiliary-trained" (trained on other labelled data).
    """

    name: str
    title: str
    paper: str
    changes: str
    protocol: str = "per-image training-free"

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol={self.protocol!r} is not one of {PROTOCOLS}.")


@dataclass(frozen=True)
class Localizer:
    """Base class: subclasses set ``info`` and implement :meth:`encode`.

    ``paper_config`` lists the :class:`~anoclip.config.AnoCLIPConfig` fields (text and scoring
    settings only) that the method's paper fixes — WinCLIP's own prompts, temperature and
    single-view image score; :meth:`anoclip.AnoCLIP.predict` applies them on top of the model's
    config and records the result in the prediction.
    """

    info: ClassVar[MethodInfo]
    paper_config: ClassVar[Mapping[str, Any]] = {}
    #: Whether :meth:`encode` returns patch tokens (only then can TTA adapt them).
    has_patch_tokens: ClassVar[bool] = True

    @property
    def options(self) -> Dict[str, Any]:
        """The constructor options, as recorded in results."""
        return asdict(self)

    def check(self, visual: VisionTransformer) -> None:
        """Validate the options against this ViT before any image is read (default: nothing)."""

    def encode(self, visual: VisionTransformer, images: Tensor) -> ImageEncoding:
        """(B, 3, S, S) preprocessed images → vanilla CLS (B, D) and this method's patch tokens."""
        raise NotImplementedError(f"{type(self).__name__} must implement encode().")

    def patch_scores(self, encoding: ImageEncoding, prototypes: Tensor, temperature: float) -> Tensor:
        """(B, h, w) abnormal probability per patch: the shared token scoring."""
        return scoring.patch_scores(encoding.patches, prototypes, temperature, encoding.grid)


_REGISTRY: Dict[str, Type[Localizer]] = {}


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


def get_method(method: Union[str, Localizer], **options: Any) -> Localizer:
    """The localizer named ``method`` with ``options``, or ``method`` itself if it already is one.

    Unknown names and unknown options are refused with the lists of known ones.
    """
    if isinstance(method, Localizer):
        if options:
            raise TypeError("Pass options either to get_method(name, **options) or to the localizer, not both.")
        return method
    if method not in _REGISTRY:
        raise ValueError(f"Unknown method {method!r}; available: {sorted(_REGISTRY)}.")
    factory: Callable[..., Localizer] = _REGISTRY[method]
    known = [item.name for item in fields(factory)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"Method {method!r} has no option(s) {unknown}; its options: {known or 'none'}.")
    return factory(**options)
