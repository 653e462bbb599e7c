"""The zero-shot pipeline's configuration: faithful defaults plus the switches ablations need.

A frozen dataclass, so a result can record exactly the config that produced it
(:meth:`AnoCLIPConfig.to_dict`) and two configs compare by value.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Dict, FrozenSet, Optional

from .prompts import ENSEMBLE_ORDERS, MVTEC_TEXTURES, PROMPT_FAMILIES
from .scoring import SMOOTHING_KINDS

AMP_DTYPES = (None, "bf16", "fp16")


@dataclass(frozen=True)
class AnoCLIPConfig:
    """How patch tokens and text prototypes become maps and scores.

    Attributes:
        vv: use the value-wise (V-V) patch tokens; False uses CLIP's own q-k patch tokens.
        vv_start: 0-based block where the V-V path starts (faithful: 0, every block).
        temperature: softmax temperature over (cos normal, cos abnormal). Faithful: 1.0 (the
            official code applies no logit scale); 0.01 reproduces APRIL-GAN's ×100.
        ensemble: "mean-then-normalize" (faithful; also what WinCLIP re-implementations do) or
            "normalize-then-mean" (APRIL-GAN, AnoCLIP's parent code).
        prompts: prompt family: "anoclip" (faithful), "plain" or "winclip".
        clean_names: spell out class names (pcb1 → printed circuit board); faithful: False.
        texture_classes: categories that get the texture/surface prompt domains.
        smoothing: "mean3" (faithful 3×3 mean on the patch grid), "gaussian" or "none".
        sigma: Gaussian σ in output pixels, used when smoothing == "gaussian".
        image_views: 22 (faithful test-time views for the image score) or 1.
        amp: None (fp32, faithful) or "bf16"/"fp16" autocast on CUDA devices.
    """

    vv: bool = True
    vv_start: int = 0
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
        checks = {
            "ensemble": (self.ensemble, ENSEMBLE_ORDERS),
            "prompts": (self.prompts, PROMPT_FAMILIES),
            "smoothing": (self.smoothing, SMOOTHING_KINDS),
            "image_views": (self.image_views, (1, 22)),
            "amp": (self.amp, AMP_DTYPES),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"AnoCLIPConfig.{name}={value!r} is not one of {allowed}.")
        if not self.temperature > 0:
            raise ValueError(f"AnoCLIPConfig.temperature must be > 0, got {self.temperature}.")
        if self.vv_start < 0:
            raise ValueError(f"AnoCLIPConfig.vv_start must be >= 0, got {self.vv_start}.")
        if not self.sigma > 0:
            raise ValueError(f"AnoCLIPConfig.sigma must be > 0, got {self.sigma}.")

    def replace(self, **changes: Any) -> "AnoCLIPConfig":
        """A copy with some fields changed (validated like a new config)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"Unknown AnoCLIPConfig fields {sorted(unknown)}.")
        return replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict (sets become sorted lists)."""
        data = asdict(self)
        data["texture_classes"] = sorted(self.texture_classes)
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "AnoCLIPConfig":
        return cls(**data)
