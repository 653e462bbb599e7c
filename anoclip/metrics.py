"""Anomaly detection and localization metrics: arrays in, floats out.

Pixel metrics pool all pixels of a category (every test image, normal images included), which is
how MVTec AD, VisA and the zero-shot literature report them.  A category at 240x240 has about
10^8 pixels, so the naive recipe -- stack every map as float64 and hand it to scikit-learn, which
then argsorts it with int64 indices -- needs several GB.  :class:`PixelScores` avoids that: it
keeps normal-pixel scores as float32, anomalous-pixel scores as float32 plus an int32 region id,
and computes every metric *exactly* from sorted arrays with ``np.searchsorted``.  Extra memory
beyond the float32 scores is O(anomalous pixels), and anomalous pixels are a few percent.

Pixel scores are stored and compared at float32 precision: two float64 scores that round to the
same float32 count as a tie.  Anomaly maps come out of a float32 network, so nothing is lost in
practice.  Image scores (a few thousand at most) keep float64.

Conventions (scikit-learn style): every metric returns a Python ``float`` in [0, 1]; when a
metric is undefined for the data (no anomalous or no normal pixel/image, or scores that are all
equal), it returns ``nan`` and emits :class:`UndefinedMetricWarning` saying what is missing.
Bad input (mismatched shapes, NaN/inf scores, non-binary masks) raises :class:`MetricInputError`,
a ``ValueError`` that names the image index.

Ignored pixels: a data set may mark pixels as "do not evaluate" (MSD's PASCAL VOC void label).
Every pixel metric takes an optional ignore mask per image; ignored pixels are removed before
anything is computed, exactly as if they were not in the image: they are neither anomalous nor
normal, do not count towards any FPR, precision or recall, are not part of any AUPRO region
(regions are the connected components of ``mask & ~ignore``), and their scores do not enter the
thresholds or the min/max of the cflow AUPRO.

Two AUPRO definitions are provided because the literature uses two:

* :func:`aupro` is the MVTec AD definition (Bergmann et al.): every threshold, FPR limit 0.3,
  area divided by 0.3.  Use it for our own numbers.
* :func:`aupro_cflow` is the approximation carried by CFlow, APRIL-GAN, AnomalyCLIP, MuSc and the
  official AnoVL code (200 thresholds, FPRs min-max rescaled).  It is *not* the MVTec definition
  and exists only so that our numbers can be put next to theirs.
"""
from __future__ import annotations

import warnings
from itertools import zip_longest
from typing import Any, Callable, Iterable, Optional

import numpy as np
from scipy import ndimage

__all__ = [
    "METRICS",
    "METRIC_TITLES",
    "MetricInputError",
    "UndefinedMetricWarning",
    "PixelScores",
    "pixel_auroc",
    "pixel_ap",
    "pixel_f1_max",
    "aupro",
    "aupro_cflow",
    "image_auroc",
    "image_ap",
    "image_f1_max",
    "image_aupr_trapezoid",
    "score_bins",
    "image_histogram",
]

#: The metric names, in report order: the columns of ``anoclip bench`` and of published.csv.
#: Two image-level precision-recall areas are reported side by side: ``image_ap`` (step-wise
#: average precision, scikit-learn's) and ``image_aupr_trapezoid`` (the official AnoVL code's
#: ``pr_sp``, trapezoidal); likewise the MVTec ``aupro`` and the 200-threshold ``aupro_cflow``.
METRICS = (
    "pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro", "aupro_cflow",
    "image_auroc", "image_ap", "image_aupr_trapezoid", "image_f1_max",
)
#: Short column titles for tables, each naming its variant.
METRIC_TITLES = {
    "pixel_auroc": "px AUROC", "pixel_ap": "px AP", "pixel_f1_max": "px F1-max",
    "aupro": "AUPRO", "aupro_cflow": "AUPRO (cflow)", "image_auroc": "img AUROC",
    "image_ap": "img AP (step)", "image_aupr_trapezoid": "img AUPR (trapz)", "image_f1_max": "img F1-max",
}

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class MetricInputError(ValueError):
    """Maps, masks, scores or labels that cannot be evaluated (shape, value or type problem)."""


class UndefinedMetricWarning(UserWarning):
    """The metric is undefined for the given data (e.g. no anomalous pixel); ``nan`` is returned."""


# --------------------------------------------------------------------------------------------
# Rank statistics on sorted score arrays (shared by pixel and image metrics)
#
# Everything below walks the runs of equal values of the sorted positive (anomalous) scores in
# blocks of about _BLOCK elements, so temporaries stay a few MB however many anomalous pixels a
# category has.  For the run of value u starting at index s with c copies (ascending order):
# TP(u) = #pos >= u = n_pos - s, and the next higher value has TP = n_pos - s - c.
# --------------------------------------------------------------------------------------------

_BLOCK = 1 << 18


def _distinct(sorted_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index of each run of equal values in an ascending array, and the run lengths."""
    n = sorted_scores.size
    is_start = np.empty(n, dtype=bool)
    is_start[:1] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)
    counts = np.diff(np.append(starts, n))
    return starts, counts


def _blocks(pos: np.ndarray, descending: bool = False) -> list[tuple[int, int]]:
    """[start, stop) slices of the ascending array, about _BLOCK long, never splitting a run."""
    bounds = [0]
    while bounds[-1] < pos.size:
        stop = min(bounds[-1] + _BLOCK, pos.size)
        if stop < pos.size:
            stop = int(np.searchsorted(pos, pos[stop - 1], side="right"))
        bounds.append(stop)
    pairs = list(zip(bounds[:-1], bounds[1:]))
    return pairs[::-1] if descending else pairs


def _runs(pos: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of pos[start:stop] (ascending), their global first index and their count."""
    chunk = pos[start:stop]
    starts, counts = _distinct(chunk)
    return chunk[starts], start + starts, counts


def _count_at_least(neg: np.ndarray, values: np.ndarray) -> np.ndarray:
    """#neg >= v for each v (neg ascending)."""
    return neg.size - np.searchsorted(neg, values, side="left")


def _count_above(neg: np.ndarray, values: np.ndarray) -> np.ndarray:
    """#neg > v for each v (neg ascending)."""
    return neg.size - np.searchsorted(neg, values, side="right")


def _auroc_sorted(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(s_pos > s_neg) + 0.5 P(s_pos == s_neg): the area under the ROC curve, ties included.

    This equals the trapezoidal area under the full ROC curve (scikit-learn's ``roc_auc_score``):
    a group of tied positive and negative scores is one diagonal ROC segment, worth half.
    Integer arithmetic keeps the sum exact for any realistic pixel count.
    """
    twice_wins = 0
    for start, stop in _blocks(pos):
        values, _, counts = _runs(pos, start, stop)
        below = np.searchsorted(neg, values, side="left").astype(np.int64)
        below_or_tied = np.searchsorted(neg, values, side="right").astype(np.int64)
        twice_wins += int(np.dot(counts, below + below_or_tied))
    return twice_wins / (2.0 * pos.size * neg.size)


def _precision_recall_sorted(neg: np.ndarray, pos: np.ndarray) -> tuple[float, float]:
    """Step-wise average precision and maximum F1, from the distinct positive scores only.

    Precision-recall quantities only change where recall changes, i.e. at the positive scores;
    between two of them only FP grows, which lowers precision and F1.  So AP = sum over distinct
    positive scores of (recall step) x precision, and F1 = 2TP / (TP + FP + P) peaks at one of them.
    """
    ap_sum, f1_max = 0.0, 0.0
    for start, stop in _blocks(pos):
        values, first, counts = _runs(pos, start, stop)
        tp = (pos.size - first).astype(np.float64)
        fp = _count_at_least(neg, values).astype(np.float64)
        ap_sum += float(np.sum(counts * (tp / (tp + fp))))
        f1_max = max(f1_max, float(np.max(2.0 * tp / (tp + fp + pos.size))))
    return ap_sum / pos.size, f1_max


def _aupr_trapezoid_sorted(neg: np.ndarray, pos: np.ndarray) -> float:
    """Trapezoidal area under scikit-learn's precision-recall curve, ``auc(recall, precision)``.

    scikit-learn's curve visits every distinct score from the top down to the first one reaching
    full recall, then adds (recall 0, precision 1).  Only segments across which recall grows have
    width: the one ending at positive score u starts at the recall of the next higher positive
    score with the precision of the lowest threshold above u, TP_before / (TP_before + #neg > u)
    (0/0 read as 1, scikit-learn's start point).
    """
    area = 0.0
    for start, stop in _blocks(pos):
        values, first, counts = _runs(pos, start, stop)
        tp = (pos.size - first).astype(np.float64)
        tp_before = tp - counts
        fp = _count_at_least(neg, values).astype(np.float64)
        fp_above = _count_above(neg, values).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision_left = np.where(tp_before + fp_above > 0, tp_before / (tp_before + fp_above), 1.0)
        precision_right = tp / (tp + fp)
        area += float(np.sum(counts * (precision_left + precision_right) / 2.0))
    return area / pos.size


def _area_up_to(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoidal area under the polyline (x, y), x non-decreasing, clipped at x_max.

    The segment crossing x_max is cut there with linear interpolation.  Vertical segments
    (equal x) have no width, so which of their y values "holds" at x_max does not matter.
    """
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    right = np.minimum(x1, x_max)
    width = np.clip(right - x0, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(x1 > x0, (y1 - y0) / (x1 - x0), 0.0)
    y_right = np.where(x1 <= x_max, y1, y0 + slope * (right - x0))
    return float(np.sum(width * (y0 + y_right) / 2.0))


def _aupro_sorted(
    neg: np.ndarray, pos: np.ndarray, weights: Callable[[int, int], np.ndarray], fpr_limit: float
) -> float:
    """MVTec AUPRO from sorted scores; ``weights(start, stop)`` gives pos[start:stop]'s PRO weights.

    Walks the distinct anomalous scores u from the top.  Each adds two vertices: (#neg > u, PRO
    of the next higher score) -- the end of a horizontal run over normal-only thresholds -- and
    (#neg >= u, PRO(u)).  The walk stops once FPR passes ``fpr_limit``.
    """
    n_neg = float(neg.size)
    area, last_x, last_y, pro_above = 0.0, 0.0, 0.0, 0.0
    for start, stop in _blocks(pos, descending=True):
        values, first, _ = _runs(pos, start, stop)
        group = np.add.reduceat(weights(start, stop), first - start)
        pro = (np.cumsum(group[::-1]) + pro_above)[::-1]  # PRO(u) = weight of pixels >= u
        pro_before = pro - group
        pro_above = float(pro[0])
        x = np.empty(2 * values.size + 1)
        y = np.empty_like(x)
        x[0], y[0] = last_x, last_y
        x[1::2] = (_count_above(neg, values) / n_neg)[::-1]
        x[2::2] = (_count_at_least(neg, values) / n_neg)[::-1]
        y[1::2], y[2::2] = pro_before[::-1], pro[::-1]
        area += _area_up_to(x, y, fpr_limit)
        last_x, last_y = float(x[-1]), float(y[-1])
        if last_x >= fpr_limit:
            return area / fpr_limit
    return (area + _area_up_to(np.array([last_x, 1.0]), np.array([last_y, last_y]), fpr_limit)) / fpr_limit


# --------------------------------------------------------------------------------------------
# Pixel scores of a category
# --------------------------------------------------------------------------------------------


class _GrowingArray:
    """A 1-D array that grows in place by 1/8 steps, so appending needs no second copy.

    ``ndarray.resize`` reallocates; for large blocks glibc's ``realloc`` remaps pages instead of
    copying, so on Linux the peak stays near the final size (plus at most 1/8 slack, trimmed by
    :meth:`trim`).  Where ``realloc`` must copy, or numpy refuses to resize in place because a
    view of the buffer exists (then the data are copied here), growing briefly holds old and new
    buffers -- the peak of a list-of-chunks design.
    """

    def __init__(self, dtype: type) -> None:
        self._data = np.empty(1 << 16, dtype=dtype)
        self.size = 0

    def _resize(self, capacity: int) -> None:
        try:
            self._data.resize(capacity, refcheck=True)
        except ValueError:
            grown = np.empty(capacity, dtype=self._data.dtype)
            kept = min(capacity, self.size)
            grown[:kept] = self._data[:kept]
            self._data = grown

    def append(self, values: np.ndarray) -> None:
        needed = self.size + values.size
        if needed > self._data.size:
            self._resize(max(needed, self._data.size + self._data.size // 8))
        self._data[self.size:needed] = values
        self.size = needed

    def trim(self) -> None:
        """Give the unused tail back to the allocator."""
        if self._data.size > max(self.size, 1):
            self._resize(max(self.size, 1))

    def view(self) -> np.ndarray:
        return self._data[: self.size]


def _check_map_and_mask(anomaly_map: Any, mask: Any, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one (map, mask) pair; return the map as float32 and the mask as bool."""
    scores = np.asarray(anomaly_map)
    truth = np.asarray(mask)
    if scores.ndim != 2 or truth.ndim != 2:
        raise MetricInputError(
            f"Image {index}: expected a 2-D (H, W) map and mask, got map shape {scores.shape} "
            f"and mask shape {truth.shape}. Squeeze channel axes (e.g. map[0]) before evaluating."
        )
    if scores.shape != truth.shape:
        raise MetricInputError(
            f"Image {index}: map shape {scores.shape} does not match mask shape {truth.shape}. "
            "Resize the map to the mask resolution (or the mask to the map's) before evaluating."
        )
    if not (np.issubdtype(scores.dtype, np.number) or scores.dtype == bool):
        raise MetricInputError(f"Image {index}: map has non-numeric dtype {scores.dtype}.")
    scores32 = scores.astype(np.float32, copy=False)
    if not np.isfinite(scores32).all():
        raise MetricInputError(
            f"Image {index}: the map contains NaN or inf (or values beyond the float32 range). "
            "Check the model output for this image; replace or clip non-finite scores."
        )
    if truth.dtype != bool:
        binary = (truth == 0) | (truth == 1)
        if not binary.all():
            bad = truth[~binary].flat[0].item()
            raise MetricInputError(
                f"Image {index}: the mask has values other than 0/1 (e.g. {bad!r}). "
                "Binarise it first, e.g. mask > 0 for 0/255 PNG masks."
            )
        truth = truth.astype(bool)
    return scores32, truth


def _check_ignore(ignore: Any, shape: tuple, index: int) -> Optional[np.ndarray]:
    """Validate an optional ignore mask; return the pixels to keep (``None``: keep all)."""
    if ignore is None:
        return None
    skip = np.asarray(ignore)
    if skip.shape != shape:
        raise MetricInputError(
            f"Image {index}: ignore mask shape {skip.shape} does not match map shape {shape}. "
            "Resize it with the mask (nearest neighbour), or pass ignore=None."
        )
    if skip.dtype != bool:
        binary = (skip == 0) | (skip == 1)
        if not binary.all():
            bad = skip[~binary].flat[0].item()
            raise MetricInputError(
                f"Image {index}: the ignore mask has values other than 0/1 (e.g. {bad!r}). "
                "Binarise it first, e.g. ignore > 0 for 0/255 PNG masks."
            )
        skip = skip.astype(bool)
    return ~skip


def _warn_nan(message: str) -> float:
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)
    return float("nan")


class PixelScores:
    """Pixel scores of one category, accumulated image by image, for memory-lean exact metrics.

    Call :meth:`add` once per test image (normal images too: their pixels are the bulk of the
    negatives), then any of the metric methods or :meth:`all`.  The metrics equal scikit-learn's
    ``roc_auc_score`` / ``average_precision_score`` / ``precision_recall_curve`` on all pixels
    (at float32 precision) and the MVTec AD AUPRO, without a float64 copy or int64 argsort over all
    pixels.

    Memory: 4 bytes per normal pixel (float32) and 8 per anomalous pixel (float32 score + int32
    region id), each in one buffer that grows in place by 1/8 steps.  On Linux (glibc remaps
    large blocks on ``realloc``) the peak is about 1.125x these scores; where ``realloc`` must copy,
    about 2.1x transiently while a buffer grows -- the same as concatenating a list of chunks.
    The first metric call sorts the buffers in place (``ndarray.sort`` for the normal scores, an
    argsort of the anomalous scores only: 8 more bytes per anomalous pixel, transiently); the
    metrics then walk the sorted anomalous scores in blocks, so their temporaries stay a few MB.

    Regions are connected components of each mask with 8-connectivity (``scipy.ndimage.label``
    with a 3x3 structure, as skimage's default ``label`` for 2-D masks), labelled per image,
    after the image's ignored pixels (see :meth:`add`) are removed from the mask.
    """

    def __init__(self) -> None:
        self._normal = _GrowingArray(np.float32)
        self._anomalous = _GrowingArray(np.float32)
        self._region_of = _GrowingArray(np.int32)
        self._region_sizes: list[np.ndarray] = []
        self.n_images = 0
        self.n_regions = 0
        self._sorted: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._sizes = np.zeros(0, dtype=np.int64)

    @property
    def n_normal(self) -> int:
        """Number of normal (mask == 0, not ignored) pixels added so far."""
        return self._normal.size

    @property
    def n_anomalous(self) -> int:
        """Number of anomalous (mask == 1, not ignored) pixels added so far."""
        return self._anomalous.size

    def add(self, anomaly_map: Any, mask: Any, ignore: Any = None) -> None:
        """Add one image's anomaly map and ground truth, leaving out its ignored pixels.

        Parameters
        ----------
        anomaly_map : array-like of shape (H, W)
            Finite anomaly scores (any numeric dtype; stored as float32).
        mask : array-like of shape (H, W)
            Ground truth, bool or 0/1; True / 1 marks an anomalous pixel.
        ignore : array-like of shape (H, W) or None, default=None
            Pixels to leave out of every metric, bool or 0/1 (e.g. from
            :func:`anoclip.data.load_ignore`).  An ignored pixel is removed as if it were not
            in the image: it is neither anomalous nor normal, adds nothing to any count or
            threshold, and is not part of any AUPRO region; a region split by ignored pixels
            becomes two.  ``None`` ignores nothing.

        Raises
        ------
        MetricInputError
            Naming the image's index (the number of images added before it) for non-2-D
            input, mismatched shapes, NaN/inf scores, or a mask or ignore mask that is not
            binary; nothing is added in that case.
        """
        scores, truth = _check_map_and_mask(anomaly_map, mask, self.n_images)
        kept = _check_ignore(ignore, scores.shape, self.n_images)
        normal = ~truth
        if kept is not None:
            truth, normal = truth & kept, normal & kept
        labels, n_new = ndimage.label(truth, structure=_EIGHT_CONNECTED)
        self._sorted = None
        self._normal.append(scores[normal])
        if n_new:
            self._anomalous.append(scores[truth])
            self._region_of.append((labels[truth] - 1 + self.n_regions).astype(np.int32))
            self._region_sizes.append(np.bincount(labels.ravel(), minlength=n_new + 1)[1:])
            self.n_regions += n_new
        self.n_images += 1

    def _finalized(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normal scores, anomalous scores and their region ids, all sorted by score in place."""
        if self._sorted is None:
            for buffer in (self._normal, self._anomalous, self._region_of):
                buffer.trim()
            neg = self._normal.view()
            neg.sort()
            pos, region_of = self._anomalous.view(), self._region_of.view()
            order = np.argsort(pos, kind="stable")
            pos[:] = pos[order]
            region_of[:] = region_of[order]
            del order
            self._sizes = (np.concatenate(self._region_sizes) if self._region_sizes
                           else np.zeros(0, dtype=np.int64))
            self._sorted = (neg, pos, region_of)
        return self._sorted

    def _pro_weights(self, start: int, stop: int) -> np.ndarray:
        """PRO weight of sorted anomalous pixels [start, stop): 1 / (n_regions x region size).

        Summing the weights of the anomalous pixels above a threshold gives the mean per-region
        overlap (PRO) directly.
        """
        _, _, region_of = self._finalized()
        return 1.0 / (self.n_regions * self._sizes[region_of[start:stop]].astype(np.float64))

    def _undefined(self) -> Optional[str]:
        """Why pixel metrics are undefined for the data added so far (None if they are defined)."""
        n = self.n_images
        if n == 0:
            return "no image was added, so there is nothing to evaluate"
        if self.n_anomalous == 0:
            return f"none of the {n} masks has an anomalous pixel; the metric needs at least one"
        if self.n_normal == 0:
            return f"every pixel of the {n} masks is anomalous; the metric needs normal pixels"
        neg, pos, _ = self._finalized()
        low, high = min(neg[0], pos[0]), max(neg[-1], pos[-1])
        if low == high:
            return (f"all pixels of the {n} maps have the same score {float(low)!r}; "
                    "a constant map cannot rank pixels")
        return None

    def pixel_auroc(self) -> float:
        """Pixel-level area under the ROC curve (ties count half), as ``roc_auc_score``.

        ``nan`` with :class:`UndefinedMetricWarning` if there is no anomalous pixel, no normal
        pixel, or all scores are equal (scikit-learn would return 0.5 for the last case).
        """
        reason = self._undefined()
        if reason:
            return _warn_nan(f"pixel AUROC is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        return _auroc_sorted(neg, pos)

    def pixel_ap(self) -> float:
        """Pixel-level step-wise average precision, as ``average_precision_score``.

        ``nan`` with :class:`UndefinedMetricWarning` if there is no anomalous pixel, no normal
        pixel (AP would be trivially 1), or all scores are equal.
        """
        reason = self._undefined()
        if reason:
            return _warn_nan(f"pixel AP is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        return _precision_recall_sorted(neg, pos)[0]

    def pixel_f1_max(self) -> float:
        """Pixel-level maximum of 2PR/(P+R) over all thresholds (the distinct scores).

        Equals the max over scikit-learn's ``precision_recall_curve`` points.  ``nan`` with
        :class:`UndefinedMetricWarning` under the same conditions as :meth:`pixel_ap`.
        """
        reason = self._undefined()
        if reason:
            return _warn_nan(f"pixel F1-max is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        return _precision_recall_sorted(neg, pos)[1]

    def aupro(self, fpr_limit: float = 0.3) -> float:
        """Area under the per-region-overlap curve up to ``fpr_limit``, divided by ``fpr_limit``.

        The MVTec AD definition.  For a threshold t, PRO(t) is the mean over all regions of all
        images of the fraction of the region's pixels with score >= t, and FPR(t) the fraction of
        all normal pixels (normal images included) with score >= t.  The curve over all distinct
        thresholds, started at (0, 0), is integrated with the trapezoid rule and cut at
        ``fpr_limit`` by linear interpolation.

        Only the distinct anomalous scores u need to be visited: between two of them PRO is
        constant while FPR grows (a horizontal run), and at u itself the curve goes from
        (#neg > u, PRO before u) to (#neg >= u, PRO(u)) -- a diagonal when normal pixels share
        the score u, a vertical step otherwise.  Beyond the lowest anomalous score the curve runs
        horizontally to FPR 1.

        ``nan`` with :class:`UndefinedMetricWarning` if there is no anomalous pixel, no normal
        pixel, or all scores are equal.
        """
        _check_fpr_limit(fpr_limit)
        reason = self._undefined()
        if reason:
            return _warn_nan(f"AUPRO is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        return _aupro_sorted(neg, pos, self._pro_weights, fpr_limit)

    def pro_at(self, thresholds: Any) -> tuple[np.ndarray, np.ndarray]:
        """FPR and PRO at each of ``thresholds`` (a pixel counts when its score is >= the threshold).

        For drawing the PRO curve (a dense grid of thresholds traces the curve :meth:`aupro`
        integrates exactly; the cflow variant's 200 thresholds give the points it uses): FPR is
        the share of normal pixels, PRO the mean over regions of each region's share, at or
        above each threshold. Both are float64 arrays shaped like ``thresholds``.
        """
        reason = self._undefined()
        if reason:
            raise MetricInputError(f"the PRO curve is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        # float32 thresholds: a float32 score s >= t exactly when s >= ceil32(t), and searchsorted
        # then never copies the (float32) scores to float64.
        at = _float32_ceil(np.asarray(thresholds, dtype=np.float64))
        fpr = _count_at_least(neg, at) / neg.size
        weight_below = np.concatenate([[0.0], np.cumsum(self._pro_weights(0, pos.size))])
        pro = weight_below[-1] - weight_below[np.searchsorted(pos, at, side="left")]
        return fpr, pro

    def aupro_cflow(self, fpr_limit: float = 0.3, steps: int = 200) -> float:
        """The AUPRO variant of CFlow / APRIL-GAN / AnomalyCLIP / MuSc / AnoVL (``cal_pro_score``).

        **Not the MVTec definition** (see :meth:`aupro`); provided so that our numbers can be
        compared with the numbers those repositories report.  Recipe:

        1. thresholds th_k = min + k (max - min) / steps, k = 0..steps-1, with min/max over all
           maps of the category (computed in float64);
        2. a pixel is "above" th when its score is strictly greater than th;
        3. PRO(th) = mean over all connected regions (8-connectivity, per image) of the region's
           fraction of pixels above th; FPR(th) = normal pixels above th / all normal pixels;
        4. keep the thresholds with FPR < ``fpr_limit``; min-max rescale their FPRs to [0, 1];
        5. trapezoidal area of PRO over the rescaled FPR (scikit-learn ``auc``).

        Because of step 4 the curve is stretched from its lowest kept FPR, not cut at
        ``fpr_limit``, and 200 thresholds make the result resolution-dependent.

        ``nan`` with :class:`UndefinedMetricWarning` if there is no anomalous pixel, no normal
        pixel, all scores are equal, fewer than two thresholds are kept, or all kept FPRs are
        equal (the rescaling divides by zero).
        """
        _check_fpr_limit(fpr_limit)
        if not isinstance(steps, (int, np.integer)) or steps < 2:
            raise MetricInputError(f"steps must be an integer >= 2, got {steps!r}.")
        reason = self._undefined()
        if reason:
            return _warn_nan(f"cflow AUPRO is undefined: {reason}.")
        neg, pos, _ = self._finalized()
        low = float(min(neg[0], pos[0]))
        high = float(max(neg[-1], pos[-1]))
        thresholds = low + np.arange(steps) * ((high - low) / steps)
        # For a float32 score s, s > th  <=>  s > (largest float32 <= th).  Comparing in float32
        # keeps searchsorted from upcasting the normal scores to a float64 copy.
        below32 = _float32_floor(thresholds)
        # A pixel passing the first j thresholds adds its PRO weight to PRO(th_0..th_{j-1}).
        passed_weight = np.zeros(steps + 1)
        for start, stop in _blocks(pos):
            passed = np.searchsorted(below32, pos[start:stop], side="left")
            passed_weight += np.bincount(passed, self._pro_weights(start, stop), minlength=steps + 1)
        pro = np.cumsum(passed_weight[::-1])[::-1][1:]
        fpr = (neg.size - np.searchsorted(neg, below32, side="right")) / float(neg.size)
        kept = fpr < fpr_limit
        if kept.sum() < 2:
            return _warn_nan(
                f"cflow AUPRO is undefined: only {int(kept.sum())} of the {steps} thresholds have "
                f"FPR < {fpr_limit}; at least two are needed to draw a curve."
            )
        fpr, pro = fpr[kept], pro[kept]
        if fpr.max() == fpr.min():
            return _warn_nan(
                f"cflow AUPRO is undefined: all {fpr.size} kept thresholds have the same FPR "
                f"{fpr.max():.6g}, so the FPR rescaling divides by zero."
            )
        # FPR and PRO fall as the threshold rises; walk the curve from the highest threshold so
        # that points sharing an FPR are joined in the same order as scikit-learn's ``auc``.
        scaled = ((fpr - fpr.min()) / (fpr.max() - fpr.min()))[::-1]
        pro = pro[::-1]
        return float(np.sum(np.diff(scaled) * (pro[1:] + pro[:-1]) / 2.0))

    def all(self, fpr_limit: float = 0.3, steps: int = 200) -> dict[str, float]:
        """All five pixel metrics: pixel_auroc, pixel_ap, pixel_f1_max, aupro, aupro_cflow.

        The precision-recall curve is walked once for both AP and F1-max.
        """
        reason = self._undefined()
        if reason:
            ap = f1 = _warn_nan(f"pixel AP and F1-max are undefined: {reason}.")
        else:
            ap, f1 = _precision_recall_sorted(*self._finalized()[:2])
        return {
            "pixel_auroc": self.pixel_auroc(),
            "pixel_ap": ap,
            "pixel_f1_max": f1,
            "aupro": self.aupro(fpr_limit),
            "aupro_cflow": self.aupro_cflow(fpr_limit, steps),
        }


#: Mantissa bits :func:`score_bins` keeps: a bin spans 2^-16 of its scores' magnitude.
SCORE_BIN_BITS = 16


def score_bins(scores: Any) -> np.ndarray:
    """A fine int64 bin per score, the same grid for every data set: ``a <= b`` gives ``bin(a) <= bin(b)``.

    Scores are rounded to float32 (as :class:`PixelScores` stores them) and cut to their sign,
    exponent and top :data:`SCORE_BIN_BITS` mantissa bits, so a bin is 2^-16 of its scores'
    magnitude wide (about 8e-6 near 0.5) wherever the scores lie. Per-image pixel counts over
    these bins (:func:`image_histogram`, written by ``anoclip bench``) let a caller resample
    images and recompute ranking metrics from counts alone, e.g. for a bootstrap interval.
    """
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.int32).astype(np.int64)
    ordered = np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)  # sign and magnitude -> one ascending integer
    return ordered >> (23 - SCORE_BIN_BITS)


def image_histogram(anomaly_map: Any, mask: Any, ignore: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's pixels counted per :func:`score_bins` bin: (bins, normal counts, anomalous counts).

    Only occupied bins are listed, ascending; ignored pixels are left out as in :meth:`PixelScores.add`.
    """
    scores, truth = _check_map_and_mask(anomaly_map, mask, 0)
    kept = _check_ignore(ignore, scores.shape, 0)
    if kept is not None:
        scores, truth = scores[kept], truth[kept]
    bins, inverse = np.unique(score_bins(scores.ravel()), return_inverse=True)
    anomalous = np.bincount(inverse, weights=truth.ravel(), minlength=bins.size).astype(np.int64)
    return bins, np.bincount(inverse, minlength=bins.size) - anomalous, anomalous


def _float32_floor(values: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 value."""
    rounded = values.astype(np.float32)
    too_big = rounded.astype(np.float64) > values
    rounded[too_big] = np.nextafter(rounded[too_big], np.float32(-np.inf))
    return rounded


def _float32_ceil(values: np.ndarray) -> np.ndarray:
    """The smallest float32 not below each float64 value."""
    with np.errstate(over="ignore"):  # beyond float32's range the cast gives +-inf, which is then nudged up
        rounded = np.atleast_1d(values.astype(np.float32))
    too_small = rounded.astype(np.float64) < np.atleast_1d(values)
    rounded[too_small] = np.nextafter(rounded[too_small], np.float32(np.inf))
    return rounded.reshape(values.shape)


def _check_fpr_limit(fpr_limit: float) -> None:
    if not 0.0 < fpr_limit <= 1.0:
        raise MetricInputError(f"fpr_limit must be in (0, 1], got {fpr_limit!r} (the usual is 0.3).")


def _pixel_scores(maps: Iterable[Any], masks: Iterable[Any], ignore: Optional[Iterable[Any]] = None) -> PixelScores:
    """Build a :class:`PixelScores` from maps, masks and optional ignore masks, checking their counts."""
    named = [("maps", maps), ("masks", masks)] + ([("ignore", ignore)] if ignore is not None else [])
    for name, value in named:
        if isinstance(value, np.ndarray) and value.ndim != 3:
            raise MetricInputError(
                f"{name} must be an (N, H, W) array or a sequence of (H, W) arrays, got an array "
                f"of shape {value.shape}. For a single image pass {name}[None]."
            )
    scores = PixelScores()
    missing = object()
    columns = [maps, masks] + ([ignore] if ignore is not None else [])
    for index, row in enumerate(zip_longest(*columns, fillvalue=missing)):
        absent = [name for (name, _), value in zip(named, row) if value is missing]
        if absent:
            raise MetricInputError(
                f"Image {index} has no {' / '.join(absent)} entry: "
                f"{', '.join(name for name, _ in named)} must have the same number of images."
            )
        scores.add(row[0], row[1], row[2] if ignore is not None else None)
    return scores


def pixel_auroc(maps: Iterable[Any], masks: Iterable[Any], ignore: Optional[Iterable[Any]] = None) -> float:
    """Area under the ROC curve over all pixels of all images (see :meth:`PixelScores.pixel_auroc`).

    Parameters
    ----------
    maps : array-like of shape (N, H, W), or a sequence of N arrays of shape (H, W)
        Anomaly maps; sizes may differ between images.
    masks : same shapes as ``maps``
        Ground truth, bool or 0/1 (1 = anomalous).
    ignore : same shapes as ``maps``, or None, default=None
        Pixels to leave out, bool or 0/1; entries may be ``None`` (nothing ignored in that
        image).  Ignored pixels are removed as if absent (see :meth:`PixelScores.add`).

    Mismatched shapes or counts raise :class:`MetricInputError`.  The other pixel metric
    functions take the same ``maps``, ``masks`` and ``ignore``.
    """
    return _pixel_scores(maps, masks, ignore).pixel_auroc()


def pixel_ap(maps: Iterable[Any], masks: Iterable[Any], ignore: Optional[Iterable[Any]] = None) -> float:
    """Step-wise average precision over all pixels (see :meth:`PixelScores.pixel_ap`)."""
    return _pixel_scores(maps, masks, ignore).pixel_ap()


def pixel_f1_max(maps: Iterable[Any], masks: Iterable[Any], ignore: Optional[Iterable[Any]] = None) -> float:
    """Maximum F1 over all thresholds, over all pixels (see :meth:`PixelScores.pixel_f1_max`)."""
    return _pixel_scores(maps, masks, ignore).pixel_f1_max()


def aupro(
    maps: Iterable[Any], masks: Iterable[Any], fpr_limit: float = 0.3, ignore: Optional[Iterable[Any]] = None
) -> float:
    """MVTec AD AUPRO: normalised area under PRO(FPR) up to ``fpr_limit`` (see :meth:`PixelScores.aupro`)."""
    return _pixel_scores(maps, masks, ignore).aupro(fpr_limit)


def aupro_cflow(
    maps: Iterable[Any],
    masks: Iterable[Any],
    fpr_limit: float = 0.3,
    steps: int = 200,
    ignore: Optional[Iterable[Any]] = None,
) -> float:
    """The cflow-style AUPRO of the zero-shot repositories -- NOT the MVTec definition.

    See :meth:`PixelScores.aupro_cflow` for the exact recipe; use it only to compare with numbers
    computed by ``cal_pro_score`` (CFlow, APRIL-GAN, AnomalyCLIP, MuSc, AnoVL).
    """
    return _pixel_scores(maps, masks, ignore).aupro_cflow(fpr_limit, steps)


# --------------------------------------------------------------------------------------------
# Image-level metrics
# --------------------------------------------------------------------------------------------


def _split_image_scores(
    scores: Any, labels: Any, metric: str
) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Validate image scores/labels; return sorted (normal, anomalous) scores, or warn and (None, None)."""
    values = np.asarray(scores)
    truth = np.asarray(labels)
    if values.ndim != 1 or truth.ndim != 1 or values.shape != truth.shape:
        raise MetricInputError(
            f"scores and labels must be 1-D arrays of equal length, got shapes {values.shape} "
            f"and {truth.shape}."
        )
    if not np.issubdtype(values.dtype, np.number):
        raise MetricInputError(f"scores have non-numeric dtype {values.dtype}.")
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise MetricInputError(
            f"The score of image {index} is {float(values[index])!r}; scores must be finite. "
            "Check the model output for this image."
        )
    if truth.dtype != bool:
        binary = (truth == 0) | (truth == 1)
        if not binary.all():
            index = int(np.flatnonzero(~binary)[0])
            raise MetricInputError(
                f"The label of image {index} is {truth[index].item()!r}; labels must be 0/1 or bool "
                "(1 = anomalous)."
            )
        truth = truth.astype(bool)
    n = values.size
    if truth.sum() == 0:
        _warn_nan(f"image {metric} is undefined: none of the {n} images is anomalous.")
        return None, None
    if truth.all():
        _warn_nan(f"image {metric} is undefined: all {n} images are anomalous, none is normal.")
        return None, None
    if values.min() == values.max():
        _warn_nan(f"image {metric} is undefined: all {n} images have the same score "
                  f"{float(values[0])!r}; a constant score cannot rank images.")
        return None, None
    return np.sort(values[~truth]), np.sort(values[truth])


def image_auroc(scores: Any, labels: Any) -> float:
    """Image-level AUROC, as ``roc_auc_score(labels, scores)``.

    ``scores``: (N,) finite floats; ``labels``: (N,) bool or 0/1 (1 = anomalous).  ``nan`` with
    :class:`UndefinedMetricWarning` if all labels are equal or all scores are equal.
    """
    neg, pos = _split_image_scores(scores, labels, "AUROC")
    return float("nan") if pos is None else _auroc_sorted(neg, pos)


def image_ap(scores: Any, labels: Any) -> float:
    """Image-level step-wise average precision, as ``average_precision_score(labels, scores)``.

    Edge cases as :func:`image_auroc`.
    """
    neg, pos = _split_image_scores(scores, labels, "AP")
    return float("nan") if pos is None else _precision_recall_sorted(neg, pos)[0]


def image_f1_max(scores: Any, labels: Any) -> float:
    """Image-level maximum F1 over all thresholds.  Edge cases as :func:`image_auroc`."""
    neg, pos = _split_image_scores(scores, labels, "F1-max")
    return float("nan") if pos is None else _precision_recall_sorted(neg, pos)[1]


def image_aupr_trapezoid(scores: Any, labels: Any) -> float:
    """Trapezoidal AUPR, ``auc(recall, precision)`` over ``precision_recall_curve``.

    This is the official AnoVL code's ``pr_sp`` (image "AP" in its tables).  It differs from the
    step-wise :func:`image_ap` (linear interpolation of precision is optimistic); report it only
    to compare with that code.  Edge cases as :func:`image_auroc`.
    """
    neg, pos = _split_image_scores(scores, labels, "trapezoidal AUPR")
    return float("nan") if pos is None else _aupr_trapezoid_sorted(neg, pos)
