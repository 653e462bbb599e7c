"""Thresholds from a few normal images: a yes/no decision at a chosen false-positive rate.

Zero-shot maps and image scores *rank* pixels and images; an inspection needs a decision. With
AnoCLIP's temperature 1 every probability sits in a narrow band around 0.5 whose position moves
from class to class (chapter 3), so no fixed number such as 0.5 can serve as a threshold. What a
user can supply without labelling anything is a handful of **normal** images of the class; the
thresholds are read off their scores so that, on normal images, a chosen share ``fpr`` is
flagged.

The rule (a conformal quantile). Sort the ``n`` calibration scores, ``s(1) <= ... <= s(n)``, and
take the threshold ``t = s(k)`` with ``k = ceil((1 - fpr) * (n + 1))``. A score **above** ``t`` is
anomalous; a score equal to ``t`` is normal (ties go to "normal", so repeated values never flag
more than the rule allows). For scores of normal samples that are exchangeable with the
calibration ones (same class, same camera, drawn alike), a new normal sample exceeds ``t`` with
probability ``(n + 1 - k) / (n + 1)``: at most ``fpr``, and less than ``1 / (n + 1)`` below it.

* **Image threshold**: the rule over the ``n`` image scores. It needs ``k <= n``, i.e.
  ``n >= (1 - fpr) / fpr`` normal images: :func:`minimum_images` is 99 at 1 %, 19 at 5 % and 9
  at 10 %. Fewer is a :class:`TooFewNormalImagesError` that names the rate the images allow.
* **Pixel threshold**: the same rule over every pixel of the ``n`` calibration maps, pooled.
  It flags about ``fpr`` of the pixels of a new normal image *on average*; pixels of one image
  are not independent, so how close a given set of images comes is governed by the number of
  images, not of pixels.

How far the achieved rate on held-out normal images may fall from the target is derived, not
chosen (Beta-binomial for images, a standard error over images for pixels): chapter 7 and the
tests check it with ``anoclip_book.calibration_checks``.

A :class:`Thresholds` records the model, config, method, TTA setting and class that produced it
and is saved as a small JSON file (atomically); loading it for another setting is refused,
because a threshold does not carry across models, settings or classes.
"""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from .fileio import PathLike
from .fileio import write_json_atomic


FORMAT = "anoclip-thresholds"
FORMAT_VERSION = 1
NORMAL, ANOMALOUS = "normal", "anomalous"


class TooFewNormalImagesError(ValueError):
    """Fewer normal images than the false-positive rate needs for an image threshold."""


class ThresholdsFileError(ValueError):
    """A thresholds file that cannot be read, or that was made for another setting."""


def check_rate(fpr: Any, name: str = "fpr") -> float:
    """``fpr`` as a float strictly between 0 and 1, else a ValueError naming ``name`` and the fix."""
    try:
        value = float(fpr)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fpr, bool) or not 0.0 < value < 1.0:
        raise ValueError(f"{name}={fpr!r} is not a false-positive rate; pass a number between 0 and 1, e.g. 0.01.")
    return value


def _rate(fpr: float) -> Fraction:
    """``fpr`` as an exact fraction (``0.01`` is 1/100, not the nearest binary float)."""
    return Fraction(repr(check_rate(fpr)))


def rank(n: int, fpr: float) -> int:
    """``k = ceil((1 - fpr)(n + 1))``: the 1-based position of the threshold among ``n`` sorted scores."""
    return math.ceil((1 - _rate(fpr)) * (n + 1))


def minimum_images(fpr: float) -> int:
    """The fewest normal images whose scores can calibrate ``fpr``: ``ceil((1 - fpr) / fpr)``."""
    alpha = _rate(fpr)
    return math.ceil((1 - alpha) / alpha)


def smallest_rate(n: int) -> float:
    """The smallest false-positive rate ``n`` normal images can calibrate: ``1 / (n + 1)``."""
    return 1.0 / (n + 1)


def check_count(n: int, fpr: float, where: str = "the calibration set") -> None:
    """Raise :class:`TooFewNormalImagesError` naming ``where``, the counts and the two fixes."""
    needed = minimum_images(fpr)
    if n < needed:
        raise TooFewNormalImagesError(
            f"{where} has {n} normal image(s); an image-level false-positive rate of {float(fpr):.3g} needs at "
            f"least {needed} (the threshold is the ceil((1 - fpr)(n + 1))-th smallest score). Add normal "
            f"images, or ask for fpr >= {smallest_rate(n):.3g} (1 / (n + 1), the smallest rate {n} images allow)."
        )


def quantile_threshold(scores: Any, fpr: float) -> float:
    """The conformal threshold of the module docstring over ``scores`` (any shape, pooled)."""
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("Calibration scores must be a non-empty set of finite numbers.")
    check_count(values.size, fpr, "the score set")
    k = rank(values.size, fpr)
    return float(np.partition(values, k - 1)[k - 1])


def exceeds(scores: Any, threshold: float) -> np.ndarray:
    """The decision rule: True where a score is strictly above the threshold."""
    return np.asarray(scores) > threshold


@dataclass(frozen=True)
class Thresholds:
    """Pixel and image thresholds at ``fpr`` on ``n_images`` normal images, and what produced them.

    Attributes:
        pixel_threshold: anomaly-map values above it are anomalous pixels.
        image_threshold: image scores above it are anomalous images.
        fpr: the target false-positive rate on normal images.
        n_images: how many normal images were used.
        class_name: the prompt class the maps were computed for.
        method: the localizer's name.
        tta: the TTA config as a dict, or None for zero-shot.
        model: :meth:`anoclip.AnoCLIP.describe` of the model (architecture, weights, size, config).
        memory: the memory the maps were made with (its kind, images, setting and the fusion), or None.
    """

    pixel_threshold: float
    image_threshold: float
    fpr: float
    n_images: int
    class_name: str
    method: str
    tta: Optional[Dict[str, Any]]
    model: Dict[str, Any]
    memory: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        """Every value is checked where it enters (a hand-edited file, the API), before any decision."""
        for name in ("pixel_threshold", "image_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value!r} is not a probability threshold: it must be a finite number in [0, 1].")
        check_rate(self.fpr, "fpr")
        if isinstance(self.n_images, bool) or not isinstance(self.n_images, int) or self.n_images < 1:
            raise ValueError(f"n_images={self.n_images!r} must be a positive whole number of calibration images.")
        check_count(self.n_images, self.fpr, "the calibration")
        for name in ("class_name", "method"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name}={getattr(self, name)!r} must be a non-empty string.")
        if self.tta is not None and not isinstance(self.tta, dict):
            raise ValueError(f"tta={self.tta!r} must be the TTA setting as an object, or null for zero-shot.")
        if not isinstance(self.model, dict) or not isinstance(self.memory, (dict, type(None))):
            raise ValueError(f"model={self.model!r} and memory={self.memory!r} must be objects (memory: or null).")

    @classmethod
    def from_scores(
        cls, maps: Any, image_scores: Any, fpr: float, *, class_name: str, method: str,
        tta: Optional[Mapping[str, Any]], model: Mapping[str, Any], memory: Optional[Mapping[str, Any]] = None,
    ) -> "Thresholds":
        """Calibrate on the anomaly maps (B, ...) and image scores (B,) of B normal images."""
        maps, scores = np.asarray(maps, dtype=np.float32), np.asarray(image_scores, dtype=np.float64).ravel()
        if maps.shape[0] != scores.size:
            raise ValueError(f"{maps.shape[0]} maps but {scores.size} image scores: they must come from the same images.")
        check_count(scores.size, fpr)
        return cls(
            pixel_threshold=quantile_threshold(maps, fpr), image_threshold=quantile_threshold(scores, fpr),
            fpr=float(fpr), n_images=int(scores.size), class_name=class_name, method=method,
            tta=None if tta is None else dict(tta), model=json.loads(json.dumps(dict(model))),
            memory=None if memory is None else json.loads(json.dumps(dict(memory))),
        )

    # ------------------------------------------------------------------ decisions
    def pixel_masks(self, maps: Any) -> np.ndarray:
        """Boolean masks: True where a map is above the pixel threshold."""
        return exceeds(maps, self.pixel_threshold)

    def decisions(self, image_scores: Any) -> List[str]:
        """"normal" / "anomalous" per image score."""
        return [ANOMALOUS if flag else NORMAL for flag in np.atleast_1d(exceeds(image_scores, self.image_threshold))]

    # ------------------------------------------------------------------ files
    def setting(self) -> Dict[str, Any]:
        """The fields a use of the thresholds must match: class, method, TTA and the model."""
        return {"class_name": self.class_name, "method": self.method, "tta": self.tta, "model": self.model,
                "memory": self.memory}

    def to_dict(self) -> Dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, **asdict(self)}

    def save(self, path: PathLike) -> Path:
        """Write the thresholds and their setting as JSON, atomically."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: PathLike, expected: Optional[Mapping[str, Any]] = None) -> "Thresholds":
        """Read a file written by :meth:`save`; refuse it if its setting differs from ``expected``.

        ``expected`` is a :meth:`setting`-shaped dict (see :func:`setting_of`); every key it
        holds must match, and the error names the file, the fields that differ and how to
        calibrate again.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ThresholdsFileError(f"No thresholds file {path}. Make one with `anoclip calibrate NORMAL_DIR --class-name C --out {path}`.") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ThresholdsFileError(f"{path} is not a thresholds JSON file ({err}); make it again with `anoclip calibrate`.") from err
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ThresholdsFileError(f"{path} is not a thresholds file written by anoclip (no \"format\": \"{FORMAT}\").")
        if raw.get("version") != FORMAT_VERSION:
            raise ThresholdsFileError(f"{path} has thresholds format version {raw.get('version')!r}; this anoclip reads {FORMAT_VERSION}.")
        names = [name for name, spec in cls.__dataclass_fields__.items() if name not in raw and spec.default is MISSING]
        if names:
            raise ThresholdsFileError(f"{path} lacks {names}; make it again with `anoclip calibrate`.")
        try:
            thresholds = cls(**{name: raw[name] for name in cls.__dataclass_fields__ if name in raw})
        except ValueError as err:
            raise ThresholdsFileError(f"{path}: {err} Make the file again with `anoclip calibrate`.") from err
        if expected is not None:
            thresholds.check(expected, path)
        return thresholds

    def check(self, expected: Mapping[str, Any], where: Union[str, Path] = "the thresholds") -> None:
        """Raise :class:`ThresholdsFileError` if any field of ``expected`` differs from this setting."""
        own = json.loads(json.dumps(self.setting()))
        wanted = json.loads(json.dumps(dict(expected)))
        differences = [_difference(key, own.get(key), value) for key, value in wanted.items() if own.get(key) != value]
        if differences:
            raise ThresholdsFileError(
                f"{where} was calibrated for another setting: {'; '.join(differences)}. A threshold does not carry "
                f"across classes, models or settings; calibrate again, e.g. `anoclip calibrate NORMAL_DIR "
                f"--class-name {wanted.get('class_name', self.class_name)} --out FILE` with this run's model options."
            )


def _difference(key: str, theirs: Any, ours: Any) -> str:
    """One readable line per differing field (the config is compared field by field)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        fields = sorted(name for name in set(theirs) | set(ours) if theirs.get(name) != ours.get(name))
        return ", ".join(_difference(f"{key}.{name}", theirs.get(name), ours.get(name)) for name in fields)
    return f"{key} is {theirs!r} in the file, {ours!r} here"


def setting_of(model: Any, class_name: str, method: str = "anoclip", tta: Optional[Mapping[str, Any]] = None,
               memory: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The setting a :class:`Thresholds` must match to be used with ``model`` (see :meth:`Thresholds.load`)."""
    return {"class_name": class_name, "method": method, "tta": None if tta is None else dict(tta), "model": model.describe(),
            "memory": None if memory is None else json.loads(json.dumps(dict(memory)))}
