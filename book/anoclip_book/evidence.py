"""Findings stated with their uncertainty: bootstrap intervals over test images, and the sentences.

A chapter's claim is a sentence built from its own numbers (:func:`change_sentence`,
:func:`value_sentence`, :func:`gap_sentence`): the exact metric as the point estimate and a 95 %
interval from a bootstrap over the test images, so that the page decides "raises", "lowers" or
"no difference within ±…" from what it measured, whatever the weights and the data.

**Which uncertainty.** The images are the sample: a resample draws, within every category,
as many anomalous images as the category has, with replacement, from its anomalous images, and
likewise its normal ones (a stratified bootstrap: every resample keeps both kinds of image, so
every metric stays defined). A mean over categories resamples each category independently; a
difference between two methods (:func:`estimate` with ``baseline``) uses the same resample for
both (paired), which is what makes small differences on the same images measurable. The interval
is the percentile interval of the resampled values. It says how much the number could move with
other test images of the same kind; it does not cover other weights, prompts or data sets.

**How the pixel metrics are resampled.** Pixel AUROC, AP and F1-max pool every pixel of a
category (:class:`anoclip.metrics.PixelScores`), millions of them, so recomputing them exactly a
thousand times is far too slow. Instead each image is reduced to two histograms over one shared,
ordered set of score bins: its normal and its anomalous pixel counts. A resample is then a
weighted sum of the images' histograms (the weights count how often each image was drawn), and
the metrics follow from the summed histograms in O(bins), with the pixels of one bin counted as
tied (half a win for AUROC, one threshold for AP and F1-max). The bins are built in two steps:
:func:`anoclip.metrics.score_bins` (2^-16 of a score's magnitude wide; ``anoclip bench`` stores
per-image counts over them), merged into at most :data:`BINS` groups, cut at equal shares of the
category's normal pixels and at equal shares of its anomalous pixels (so the few anomalous pixels,
which decide AP and F1-max, get as many bins as the many normal ones), never splitting a fine bin.
Binning only adds ties: a resample's AUROC differs from the exact AUROC of the same pixels by at
most half the share of (normal, anomalous) pixel pairs that share a bin: about 1/BINS or less,
unless one fine bin alone holds more pixels (a map constant over large areas), and in practice far
less (:meth:`Histograms.tie_bound` computes it for the data at hand); AP and F1-max have no such bound, and
the tests check them against the exact metrics. The point estimates are never binned: they are the
exact metrics of all pixels (``PixelScores``). Image metrics use one bin per distinct image
score, so their resamples are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from anoclip import metrics

#: The interval's coverage, resamples, seed and the most score bins per category (see the module doc).
LEVEL = 0.95
RESAMPLES = 1000
SEED = 0
BINS = 8192
METRICS = ("auroc", "ap", "f1_max")
_CHUNK = 250  # resamples evaluated at once: bounds the (resamples, bins) temporaries


@dataclass(frozen=True)
class Histograms:
    """One category's evidence for one method: per-image counts over shared, ascending score bins.

    ``normal`` and ``anomalous`` are (images, bins) counts of normal and anomalous pixels (for
    image-level metrics: one count per image, in the bin of its score); ``labels`` (images,) say
    which images are anomalous (the bootstrap's strata); ``exact`` holds the metrics of all the
    data, computed without bins, which :func:`estimate` reports as the point estimate.
    """

    normal: np.ndarray
    anomalous: np.ndarray
    labels: np.ndarray
    exact: Mapping[str, float]

    def __post_init__(self) -> None:
        if self.normal.shape != self.anomalous.shape or self.normal.shape[0] != len(self.labels):
            raise ValueError(f"Histograms: normal {self.normal.shape}, anomalous {self.anomalous.shape} and "
                             f"{len(self.labels)} labels do not describe the same images.")

    @property
    def images(self) -> int:
        return len(self.labels)

    @classmethod
    def from_image_scores(cls, scores: Any, labels: Any) -> "Histograms":
        """Image-level evidence: one bin per distinct score, so the metrics are exact (ties included)."""
        scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
        _, column = np.unique(scores, return_inverse=True)
        counts = np.zeros((len(scores), column.max() + 1 if len(scores) else 0))
        counts[np.arange(len(scores)), column] = 1.0
        histograms = cls(counts * ~labels[:, None], counts * labels[:, None], labels, {})
        exact = {name: float(histograms.resampled(name, np.ones((1, len(scores))))[0]) for name in METRICS}
        return replace(histograms, exact=exact)

    @classmethod
    def from_bins(cls, image: Any, bins: Any, normal: Any, anomalous: Any, labels: Any, exact: Mapping[str, float],
                  max_bins: int = BINS) -> "Histograms":
        """From per-image counts over :func:`anoclip.metrics.score_bins` (rows of image, bin, counts; the
        layout ``anoclip bench`` writes to ``scores/<category>.npz``), merged into at most ``max_bins`` bins."""
        image, bins = np.asarray(image, dtype=np.int64), np.asarray(bins, dtype=np.int64)
        normal, anomalous = np.asarray(normal, dtype=np.float64), np.asarray(anomalous, dtype=np.float64)
        labels = np.asarray(labels, dtype=bool)
        fine, column = np.unique(bins, return_inverse=True)
        group = np.zeros(fine.size, dtype=np.int64)
        for counts in (normal, anomalous):  # half the bins at equal shares of each kind of pixel
            pooled = np.bincount(column, weights=counts, minlength=fine.size)
            before = np.concatenate([[0.0], np.cumsum(pooled)[:-1]])
            group += np.floor(before / max(pooled.sum(), 1.0) * (max_bins // 2)).astype(np.int64)
        _, group = np.unique(group, return_inverse=True)  # fine bins stay whole; ascending groups
        cells = image * (group.max() + 1) + group[column]
        shape = (len(labels), group.max() + 1)
        dense = [np.bincount(cells, weights=counts, minlength=shape[0] * shape[1]).reshape(shape)
                 for counts in (normal, anomalous)]
        return cls(dense[0], dense[1], labels, dict(exact))

    def resampled(self, metric: str, weights: np.ndarray) -> np.ndarray:
        """The metric of each weighted resample: ``weights`` (resamples, images) counts how often each
        image was drawn; returns (resamples,). Pixels of one bin count as tied."""
        if metric not in METRICS:
            raise ValueError(f"Unknown metric {metric!r}; choose one of {METRICS}.")
        values = []
        for chunk in np.array_split(np.asarray(weights, dtype=np.float64), max(1, math.ceil(len(weights) / _CHUNK))):
            values.append(_from_counts(metric, chunk @ self.normal, chunk @ self.anomalous))
        return np.concatenate(values)

    def tie_bound(self) -> float:
        """The most binning can move this sample's AUROC: half the share of (normal, anomalous) pixel
        pairs that share a bin."""
        normal, anomalous = self.normal.sum(0), self.anomalous.sum(0)
        return float(np.dot(normal, anomalous) / (2.0 * normal.sum() * anomalous.sum()))


def _from_counts(metric: str, normal: np.ndarray, anomalous: np.ndarray) -> np.ndarray:
    """AUROC (ties half), step-wise AP or F1-max of (resamples, bins) counts in ascending score order."""
    negatives, positives = normal.sum(1), anomalous.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "auroc":
            below = np.cumsum(normal, axis=1) - normal
            return (anomalous * (below + 0.5 * normal)).sum(1) / (negatives * positives)
        flagged_true = np.cumsum(anomalous[:, ::-1], axis=1)[:, ::-1]  # pixels at or above each bin
        flagged = flagged_true + np.cumsum(normal[:, ::-1], axis=1)[:, ::-1]
        if metric == "ap":
            precision = np.where(flagged > 0, flagged_true / flagged, 0.0)
            return (anomalous * precision).sum(1) / positives
        return np.max(2.0 * flagged_true / (flagged + positives[:, None]), axis=1)


class PixelEvidence:
    """Collects one category's maps image by image: the exact pixel metrics (:class:`~anoclip.metrics.PixelScores`)
    and each image's counts over fine score bins, for :meth:`histograms`.

    Memory: that of ``PixelScores`` (4 bytes per pixel) plus the occupied bins of each image.
    """

    def __init__(self) -> None:
        self.scores = metrics.PixelScores()
        self._rows: List[tuple] = []
        self._labels: List[bool] = []

    def add(self, anomaly_map: Any, mask: Any, label: Optional[bool] = None, ignore: Any = None) -> None:
        """Add one image; ``label`` (is the image anomalous) defaults to "its mask has an anomalous pixel"."""
        anomaly_map, mask = np.asarray(anomaly_map), np.asarray(mask)
        self.scores.add(anomaly_map, mask, ignore)
        bins, normal, anomalous = metrics.image_histogram(anomaly_map, mask, ignore)
        self._rows.append((np.full(bins.size, len(self._labels)), bins, normal, anomalous))
        self._labels.append(bool(mask.any()) if label is None else bool(label))

    def histograms(self, max_bins: int = BINS) -> Histograms:
        """The images added so far as :class:`Histograms`, with the exact metrics of all their pixels."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
            exact = {"auroc": self.scores.pixel_auroc(), "ap": self.scores.pixel_ap(), "f1_max": self.scores.pixel_f1_max()}
        image, bins, normal, anomalous = (np.concatenate(parts) for parts in zip(*self._rows))
        return Histograms.from_bins(image, bins, normal, anomalous, self._labels, exact, max_bins)


#: The metrics of ``anoclip.metrics.METRICS`` this module resamples: (evidence kind, metric of :class:`Histograms`).
RESAMPLED = {
    "pixel_auroc": ("pixel", "auroc"), "pixel_ap": ("pixel", "ap"), "pixel_f1_max": ("pixel", "f1_max"),
    "image_auroc": ("image", "auroc"), "image_ap": ("image", "ap"), "image_f1_max": ("image", "f1_max"),
}


def bench_histograms(folder: Any, category: str) -> Optional[Dict[str, Histograms]]:
    """What ``anoclip bench`` stored for one category of its output ``folder``, as ``{"pixel": …, "image": …}``.

    Pixel counts come from ``scores/<category>.npz``, image scores and labels from
    ``scores/<category>.csv``, the exact metrics (the point estimates) from
    ``categories/<category>.json``. None when a file is missing (e.g. a run made before the
    histograms were stored).
    """
    import csv
    import json
    from pathlib import Path

    folder = Path(folder)
    stored, rows, result = (folder / "scores" / f"{category}.npz", folder / "scores" / f"{category}.csv",
                            folder / "categories" / f"{category}.json")
    if not (stored.is_file() and rows.is_file() and result.is_file()):
        return None
    with open(rows, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    labels = np.array([row["anomaly"] in ("1", "True", "true") for row in table])
    exact = json.loads(result.read_text(encoding="utf-8"))["metrics"]
    image = Histograms.from_image_scores([float(row["image_score"]) for row in table], labels)
    with np.load(stored) as data:
        pixel = Histograms.from_bins(data["image"], data["bin"], data["normal"], data["anomalous"], labels,
                                     {name: exact[f"pixel_{name}"] for name in METRICS})
    return {"pixel": pixel, "image": replace(image, exact={name: exact[f"image_{name}"] for name in METRICS})}


def resample_weights(labels: Any, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, images) draw counts of a bootstrap stratified by label: each resample draws as many
    anomalous (normal) images as there are, with replacement, from the anomalous (normal) ones."""
    labels = np.asarray(labels, dtype=bool)
    weights = np.zeros((resamples, len(labels)))
    for stratum in (labels, ~labels):
        members = np.flatnonzero(stratum)
        if members.size:
            weights[:, members] = rng.multinomial(members.size, np.full(members.size, 1.0 / members.size), size=resamples)
    return weights


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its bootstrap interval (fractions, e.g. 0.912 for 91.2 % AUROC)."""

    value: float
    low: float
    high: float
    level: float = LEVEL
    resamples: int = RESAMPLES
    images: int = 0
    categories: int = 0
    unit: str = "images"  # what was resampled, for the sentences
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def shifted(self, offset: float) -> "Estimate":
        """The same estimate plus a constant, e.g. minus a published value: the gap to it."""
        return replace(self, value=self.value + offset, low=self.low + offset, high=self.high + offset,
                       draws=self.draws + offset)

    def as_dict(self) -> Dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def estimate(
    metric: str,
    samples: Sequence[Histograms],
    baseline: Optional[Sequence[Histograms]] = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Estimate:
    """The mean over categories of ``metric`` (minus ``baseline``'s, category by category, on the same
    images: a paired difference) and its percentile interval from a stratified bootstrap over images.

    ``samples[i]`` and ``baseline[i]`` must describe the same images of category ``i`` (same labels).
    Seeded: the same inputs give the same interval.
    """
    if not samples:
        raise ValueError("estimate() needs at least one category.")
    if baseline is not None and len(baseline) != len(samples):
        raise ValueError(f"{len(samples)} categories against {len(baseline)} baseline categories.")
    rng = np.random.default_rng(seed)
    exact, draws = [], []
    for index, sample in enumerate(samples):
        other = baseline[index] if baseline is not None else None
        if other is not None and not np.array_equal(other.labels, sample.labels):
            raise ValueError(f"Category {index}: the baseline was measured on other images (labels differ).")
        weights = resample_weights(sample.labels, resamples, rng)
        value, drawn = sample.exact[metric], sample.resampled(metric, weights)
        if other is not None:
            value, drawn = value - other.exact[metric], drawn - other.resampled(metric, weights)
        exact.append(value)
        draws.append(drawn)
    mean_draws = np.mean(draws, axis=0)
    tail = (1.0 - level) / 2.0
    finite = mean_draws[np.isfinite(mean_draws)]
    low, high = (np.quantile(finite, [tail, 1.0 - tail]) if finite.size else (math.nan, math.nan))
    return Estimate(float(np.mean(exact)), float(low), float(high), level, resamples,
                    images=sum(sample.images for sample in samples), categories=len(samples), draws=mean_draws)


def mean_estimate(values: Any, baseline: Any = None, *, unit: str = "images", resamples: int = RESAMPLES,
                  seed: int = SEED, level: float = LEVEL) -> Estimate:
    """The mean of per-unit values (e.g. each image's change in pixel AUROC, or 1/0 for each defect region
    found), minus the mean of an independent ``baseline`` group when given, with a percentile interval
    from resampling the units (each group on its own); ``unit`` names them in the sentences."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(values, dtype=np.float64)] + ([np.asarray(baseline, dtype=np.float64)] if baseline is not None else [])
    if any(group.size == 0 for group in groups):
        return Estimate(math.nan, math.nan, math.nan, level, resamples, unit=unit)
    draws = [group[rng.integers(0, group.size, (resamples, group.size))].mean(1) for group in groups]
    drawn = draws[0] - (draws[1] if baseline is not None else 0.0)
    value = groups[0].mean() - (groups[1].mean() if baseline is not None else 0.0)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(drawn, [tail, 1.0 - tail])
    return Estimate(float(value), float(low), float(high), level, resamples, images=sum(g.size for g in groups),
                    unit=unit, draws=drawn)


# ----------------------------------------------------------------------------------------------
# Sentences: the wording follows the numbers


def _number(value: float, digits: int) -> str:
    """``value`` rounded to ``digits``, with a true minus sign, and never "−0.0"."""
    rounded = round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = f"{rounded:,.{digits}f}"
    return "−" + text[1:] if text.startswith("-") else text


def _interval(estimate: Estimate, scale: float, digits: int, magnitude: bool = False) -> str:
    low, high = estimate.low * scale, estimate.high * scale
    if magnitude:  # a decrease: the interval of its size
        low, high = -high, -low
    where = f", bootstrap over {estimate.images:,} {estimate.unit}" if estimate.images else ""
    return f"{round(100 * estimate.level)} % CI {_number(low, digits)} to {_number(high, digits)}{where}"


def direction(estimate: Estimate) -> str:
    """"up" when the whole interval lies above 0, "down" below it, "none" when it contains 0 (or is undefined)."""
    if estimate.low > 0:
        return "up"
    if estimate.high < 0:
        return "down"
    return "none"


def change_sentence(estimate: Estimate, subject: str, metric: str, *, unit: str = "points", scale: float = 100.0,
                    digits: int = 1) -> str:
    """"{subject} raises / lowers {metric} by X {unit} (95 % CI a to b …)" or, when the interval
    contains 0, "{subject} makes no difference to {metric} within ±m {unit} (…)"."""
    if not math.isfinite(estimate.value):
        return f"{subject} has no measurable effect on {metric} here: the metric is undefined on these images"
    way = direction(estimate)
    if way == "none":
        margin = max(abs(estimate.low), abs(estimate.high)) * scale
        return (f"{subject} makes no difference to {metric} within ±{_number(margin, digits)} {unit} "
                f"({_interval(estimate, scale, digits)})")
    verb = "raises" if way == "up" else "lowers"
    size = abs(estimate.value) * scale
    return f"{subject} {verb} {metric} by {_number(size, digits)} {unit} ({_interval(estimate, scale, digits, way == 'down')})"


def value_sentence(estimate: Estimate, metric: str, *, unit: str = "%", scale: float = 100.0, digits: int = 1) -> str:
    """"{metric} is X {unit} (95 % CI a to b …)"."""
    if not math.isfinite(estimate.value):
        return f"{metric} is undefined on these images"
    return f"{metric} is {_number(estimate.value * scale, digits)} {unit} ({_interval(estimate, scale, digits)})"


def gap_sentence(gap: Estimate, subject: str, reference: str, *, unit: str = "points", scale: float = 100.0,
                 digits: int = 1) -> str:
    """``gap`` is ours minus a reference value (:meth:`Estimate.shifted`): "{subject} is X {unit} above /
    below {reference} (95 % CI …)", or "{subject} matches {reference} within ±m {unit} (…)"."""
    if not math.isfinite(gap.value):
        return f"{subject} is undefined here, so it cannot be compared with {reference}"
    way = direction(gap)
    if way == "none":
        margin = max(abs(gap.low), abs(gap.high)) * scale
        return f"{subject} matches {reference} within ±{_number(margin, digits)} {unit} ({_interval(gap, scale, digits)})"
    where = "above" if way == "up" else "below"
    return (f"{subject} is {_number(abs(gap.value) * scale, digits)} {unit} {where} {reference} "
            f"({_interval(gap, scale, digits, way == 'down')})")
