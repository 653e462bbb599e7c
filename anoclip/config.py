"""Every setting of the pipeline, and the words each setting may take.

Two frozen dataclasses, so that a result can record exactly what produced it (``to_dict``) and
two settings compare by value:

* :class:`AnoCLIPConfig` — the text and scoring side: prompts, ensembling, temperature,
  smoothing, image-score views, precision. Which *encoder* produces the patch tokens is not a
  config field: it is the method (:mod:`anoclip.methods`), chosen per call.
* :class:`TTAConfig` — test-time adaptation (AnoCLIP+).

The vocabularies below are the single list of allowed values for each setting; the modules that
implement them (:mod:`.prompts`, :mod:`.scoring`, :mod:`.tta`, :mod:`.protocol`) import them
from here. This module imports nothing heavy, so the data layer and the registry can hold
configs without loading torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Dict, FrozenSet, Optional, Tuple

PROMPT_FAMILIES: Tuple[str, ...] = ("anoclip", "anoclip-generic", "plain", "winclip")
ENSEMBLE_ORDERS: Tuple[str, ...] = ("mean-then-normalize", "normalize-then-mean")
SMOOTHING_KINDS: Tuple[str, ...] = ("mean3", "gaussian", "none")
IMAGE_VIEWS: Tuple[int, ...] = (1, 22)
AMP_DTYPES: Tuple[Optional[str], ...] = (None, "bf16", "fp16")
ADAPTER_KINDS: Tuple[str, ...] = ("text", "linear")
TTA_DRAWS: Tuple[str, ...] = ("per-image", "shared")
TILE_LOSSES: Tuple[str, ...] = ("merged-pixels", "tokens")
RESIZE_MODES: Tuple[str, ...] = ("square", "tiles")
RESOLUTIONS: Tuple[str, ...] = ("official", "native")
#: How a memory's score joins the zero-shot one (:mod:`anoclip.memory`): WinCLIP+'s mean, or the memory alone.
FUSIONS: Tuple[str, ...] = ("mean", "memory")
#: What a method saw besides the test image: the protocol every table of numbers is labelled with
#: (method cards, benchmark results, the published numbers of the book).
PROTOCOLS: Tuple[str, ...] = ("per-image training-free", "few-normal-shot", "transductive", "auxiliary-trained")

#: The five MVTec AD categories whose prompts use the texture/surface domain words.
MVTEC_TEXTURES: FrozenSet[str] = frozenset({"carpet", "grid", "leather", "tile", "wood"})


def check_choice(owner: str, name: str, value: Any, allowed: Tuple[Any, ...]) -> None:
    """Raise a ValueError naming the setting, the value and the allowed values."""
    if value not in allowed:
        raise ValueError(f"{owner}.{name}={value!r} is not one of {allowed}.")


class _Settings:
    """``replace`` / ``to_dict`` / ``from_dict`` shared by the two config dataclasses."""

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated like a new config)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"Unknown {type(self).__name__} fields {sorted(unknown)}.")
        return replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict (sets become sorted lists)."""
        return {key: sorted(value) if isinstance(value, frozenset) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]):
        return cls(**data)


@dataclass(frozen=True)
class AnoCLIPConfig(_Settings):
    """How patch tokens and text prototypes become maps and scores (faithful defaults).

    Attributes:
        temperature: softmax temperature over (cos normal, cos abnormal). Faithful: 1.0 (the
            official code applies no logit scale); 0.01 reproduces APRIL-GAN's ×100.
        ensemble: "mean-then-normalize" (faithful; also what WinCLIP re-implementations do) or
            "normalize-then-mean" (APRIL-GAN, AnoCLIP's parent code).
        prompts: prompt family: "anoclip" (faithful), "anoclip-generic" (generic domain phrases),
            "plain" or "winclip".
        clean_names: spell out class names (pcb1 → printed circuit board); faithful: False.
        texture_classes: categories that get the texture/surface prompt domains.
        smoothing: "mean3" (faithful 3×3 mean on the patch grid), "gaussian" or "none".
        sigma: Gaussian σ in output pixels, used when smoothing == "gaussian".
        image_views: 22 (faithful test-time views for the image score) or 1.
        amp: None (fp32, faithful) or "bf16"/"fp16" autocast on CUDA devices.
    """

    temperature: float = 1.0
    ensemble: str = "mean-then-normalize"
    prompts: str = "anoclip"
    clean_names: bool = False
    texture_classes: FrozenSet[str] = field(default=MVTEC_TEXTURES)
    smoothing: str = "mean3"
    sigma: float = 4.0
    image_views: int = 22
    amp: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "texture_classes", frozenset(self.texture_classes))
        for name, allowed in (
            ("ensemble", ENSEMBLE_ORDERS), ("prompts", PROMPT_FAMILIES), ("smoothing", SMOOTHING_KINDS),
            ("image_views", IMAGE_VIEWS), ("amp", AMP_DTYPES),
        ):
            check_choice("AnoCLIPConfig", name, getattr(self, name), allowed)
        if not self.temperature > 0:
            raise ValueError(f"AnoCLIPConfig.temperature must be > 0, got {self.temperature}.")
        if not self.sigma > 0:
            raise ValueError(f"AnoCLIPConfig.sigma must be > 0, got {self.sigma}.")

    def text_setting(self, class_name: str) -> Dict[str, Any]:
        """Everything that determines ``class_name``'s text prototypes: the one list of it.

        The in-memory and on-disk text caches and the image-score store key their entries by it,
        so a setting added here invalidates all of them at once.
        """
        return {
            "class_name": class_name, "prompts": self.prompts, "ensemble": self.ensemble,
            "clean_names": self.clean_names, "texture": class_name in self.texture_classes,
        }


@dataclass(frozen=True)
class TTAConfig(_Settings):
    """Hyper-parameters of test-time adaptation; defaults are the official MVTec settings.

    The official per-dataset choice (VisA: linear adapter, seed 42) is a dataset default:
    ``anoclip.data.registry.dataset_defaults("visa").tta``.

    Attributes:
        steps: AdamW steps per image (official: 5).
        lr: learning rate (official: 1e-3).
        noise_std: σ of the Gaussian corruption added to the un-normalised tokens (0.05·1.1).
        adapter: "text" (prompt-affinity adapter, official MVTec) or "linear" (official VisA).
        entropy_weight: weight of the entropy of clean predictions.
        contrast_weight: weight of the clean→normal plus noisy→abnormal cross-entropies.
        residual: share of the original token kept in the output (official: 0.5).
        weight_decay: AdamW's decoupled weight decay (PyTorch default 0.01, as official).
        seed: seeds the adapter initialisation and the noise draws.
        draws: "per-image" (faithful: every image its own initialisation and noise, seeded by
            ``seed`` and the image's content) or "shared" (one draw for all images).
        tile_loss: for tiled images (VisA), "merged-pixels" (faithful: the loss over the pixels
            of the merged, upsampled logit map) or "tokens" (over the tiles' patch tokens).
    """

    steps: int = 5
    lr: float = 1e-3
    noise_std: float = 0.055
    adapter: str = "text"
    entropy_weight: float = 1.0
    contrast_weight: float = 0.5
    residual: float = 0.5
    weight_decay: float = 0.01
    seed: int = 111
    draws: str = "per-image"
    tile_loss: str = "merged-pixels"

    def __post_init__(self) -> None:
        check_choice("TTAConfig", "adapter", self.adapter, ADAPTER_KINDS)
        check_choice("TTAConfig", "draws", self.draws, TTA_DRAWS)
        check_choice("TTAConfig", "tile_loss", self.tile_loss, TILE_LOSSES)
        if self.steps < 0:
            raise ValueError(f"TTAConfig.steps must be >= 0, got {self.steps}.")
        if not 0.0 <= self.residual <= 1.0:
            raise ValueError(f"TTAConfig.residual must lie in [0, 1], got {self.residual}.")
        if self.lr <= 0 or self.noise_std < 0:
            raise ValueError("TTAConfig.lr must be > 0 and noise_std >= 0.")
