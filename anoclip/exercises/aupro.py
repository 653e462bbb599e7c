"""Assignment a3: AUPRO with the MVTec definition — :func:`check_aupro`.

The reference is an independent brute-force PRO curve with switches that reproduce the usual
mistakes (no interpolation at the FPR limit, pixel instead of region averaging, 4-connectivity,
...), on masks built so that each mistake changes the value.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import numpy as np
from scipy import ndimage
from torch import Tensor

from .results import CheckResult, _call, _NotImplementedYet, _Recorder, _reference_check


def _random_maps_and_masks(seed: int, count: int = 6, shape: Tuple[int, int] = (20, 24), levels: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Masks with regions of very different sizes and detectability, two of them touching only
    diagonally, regions at the same place in consecutive images, and two defect-free images;
    maps that find some regions well and others badly. ``levels`` quantises the maps (ties)."""
    rng = np.random.default_rng(seed)
    height, width = shape
    masks = np.zeros((count, height, width), dtype=bool)
    maps = rng.normal(0.0, 1.0, size=(count, height, width))
    for index in range(count - 2):
        top, left = 2 + index % 3, 3
        masks[index, top:top + 5, left:left + 6] = True  # a big region, same place in every image
        masks[index, 12, 14] = True  # two single pixels touching diagonally
        masks[index, 13, 15] = True
        if index % 2:
            masks[index, 15:18, 4:7] = True
    for index in range(count):
        boost = rng.uniform(0.2, 3.0, size=(height, width))
        maps[index] += np.where(masks[index], boost * (1.0 + index % 3), 0.0)
    if levels:
        maps = np.round((maps - maps.min()) / (maps.max() - maps.min()) * levels) / levels
    return maps.astype(np.float32), masks


def _pro_curve(maps: np.ndarray, masks: np.ndarray, *, connectivity: int = 8, per_region: bool = True,
               stack_3d: bool = False, fpr_over_all: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Exact (FPR, PRO) points at every distinct threshold, from the top, starting at (0, 0).

    Switches reproduce typical mistakes: 4-connectivity, pixel-level TPR instead of the
    per-region mean, labelling the (N, H, W) stack as one volume, FPR over all pixels.
    """
    structure = np.ones((3, 3), dtype=bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    if stack_3d:
        labels, regions = ndimage.label(masks)
    else:
        labels = np.zeros(masks.shape, dtype=np.int64)
        regions = 0
        for index, mask in enumerate(masks):
            image_labels, found = ndimage.label(mask, structure=structure)
            labels[index] = np.where(image_labels > 0, image_labels + regions, 0)
            regions += found
    scores = maps.ravel().astype(np.float64)
    region_of = labels.ravel()
    anomalous = region_of > 0
    if per_region:
        sizes = np.bincount(region_of, minlength=regions + 1)
        weight = np.where(anomalous, 1.0 / (regions * sizes[region_of].clip(min=1)), 0.0)
    else:
        weight = anomalous / anomalous.sum()
    negatives = np.ones_like(anomalous) if fpr_over_all else ~anomalous
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    fpr = np.cumsum(negatives[order]) / negatives.sum()
    pro = np.cumsum(weight[order])
    last_of_value = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    return np.concatenate([[0.0], fpr[last_of_value]]), np.concatenate([[0.0], pro[last_of_value]])


def _area(fpr: np.ndarray, pro: np.ndarray, limit: float, *, cut: str = "interpolate", divide: bool = True) -> float:
    """Trapezoidal area under PRO(FPR) up to ``limit`` (divided by ``limit`` unless ``divide=False``).

    ``cut``: "interpolate" (correct: end at FPR = limit, PRO interpolated linearly on the
    segment that crosses it), "below" (stop at the last point ≤ limit) or "above" (include the
    first point past it uncut).
    """
    kept = int(np.searchsorted(fpr, limit, side="right"))  # fpr is non-decreasing: points ≤ limit
    x, y = fpr[:kept], pro[:kept]
    if kept < fpr.size and cut == "interpolate" and x[-1] < limit:
        x0, y0, x1, y1 = fpr[kept - 1], pro[kept - 1], fpr[kept], pro[kept]
        x, y = np.append(x, limit), np.append(y, y0 + (y1 - y0) * (limit - x0) / (x1 - x0))
    elif kept < fpr.size and cut == "above":
        x, y = fpr[:kept + 1], pro[:kept + 1]
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    return area / limit if divide else area


def _exact_aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    return _area(*_pro_curve(maps, masks), fpr_limit)


def _aupro_mistakes(maps: np.ndarray, masks: np.ndarray, limit: float) -> List[Tuple[float, str]]:
    import warnings

    from .. import metrics

    curve = _pro_curve(maps, masks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        cflow = metrics.aupro_cflow(maps, masks, fpr_limit=limit)
    return [
        (cflow, "Your value equals the 'cflow' AUPRO most zero-shot repositories report (200 thresholds, kept FPRs min-max rescaled); "
                f"the MVTec definition uses every distinct score as a threshold and divides the area up to FPR {limit} by {limit}."),
        (_area(*curve, limit, divide=False), f"You forgot to divide the area by fpr_limit: the MVTec AUPRO is normalised to [0, 1] by dividing by {limit}."),
        (_area(*curve, limit, cut="below"), f"You are off by the interpolation at FPR {limit}: end the curve exactly at FPR = {limit}, interpolating PRO "
                                            "linearly between the last point below and the first point above; you stopped at the last point below."),
        (_area(*curve, limit, cut="above"), f"You included the first curve point beyond FPR {limit} without cutting it; interpolate PRO at exactly "
                                            f"FPR = {limit} and stop there."),
        (_area(*curve, 1.0), "You integrated the whole curve (up to FPR 1); stop at fpr_limit."),
        (_area(*_pro_curve(maps, masks, per_region=False), limit), "You averaged over pixels, not regions: PRO is the mean over connected regions "
                                                                    "of each region's covered fraction, so a small defect counts as much as a large one."),
        (_area(*_pro_curve(maps, masks, connectivity=4), limit), "You labelled regions with 4-connectivity; the MVTec definition joins diagonal "
                                                                  "neighbours (8-connectivity): scipy.ndimage.label(mask, structure=np.ones((3, 3)))."),
        (_area(*_pro_curve(maps, masks, stack_3d=True), limit), "You labelled the whole (N, H, W) stack at once, so regions at the same place in "
                                                                 "consecutive images merged; label each image's mask on its own."),
        (_area(*_pro_curve(maps, masks, fpr_over_all=True), limit), "Your FPR counts all pixels; it is the fraction of NORMAL pixels (mask == 0) "
                                                                     "scoring at or above the threshold."),
    ]


def _scalar(value: Any) -> Optional[float]:
    """The single number a metric returned (float, 0-d array or tensor), else None."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array.reshape(()))


_TIE_MESSAGE = ("Right for distinct scores, wrong when pixels share a score: evaluate the curve only at DISTINCT thresholds "
                "(every pixel with score ≥ t counts together), e.g. with np.unique; otherwise the result depends on the sort order.")


def _aupro_case(recorder: _Recorder, fn: Callable, maps: np.ndarray, masks: np.ndarray, limit: Optional[float],
                name: str, points: float, mistakes: Callable[[float], Optional[str]]) -> bool:
    """Run ``fn`` (``limit=None``: with its default fpr_limit), record the comparison, return if it passed."""
    kwargs = {} if limit is None else {"fpr_limit": limit}
    limit = 0.3 if limit is None else limit
    output, error = _call(fn, maps.copy(), masks.copy(), **kwargs)
    value = _scalar(output) if error is None else None
    expected = _exact_aupro(maps, masks, limit)
    if error:
        message = f"Your function {error}."
    elif value is None:
        message = f"Return one number (a float); got {type(output).__name__} {getattr(output, 'shape', '')}."
    elif abs(value - expected) <= 1e-6:
        message = ""
    else:
        message = mistakes(value) or f"Your value {value:.6f} differs from the MVTec AUPRO {expected:.6f} (no typical mistake matches; plot your PRO curve)."
    return recorder.add(name, not message, message, points)


def check_aupro(student_fn: Callable, forbid_reference: bool = False) -> CheckResult:
    """Check ``student_fn(maps, masks, fpr_limit=0.3) -> float`` against the MVTec AUPRO (assignment a3).

    ``maps`` is an (N, H, W) float32 array, ``masks`` an (N, H, W) bool array. The reference is
    the MVTec definition, :func:`anoclip.metrics.aupro` (here an independent brute-force curve,
    tested to agree with it).
    """
    recorder = _Recorder(
        "a3", "AUPRO (MVTec definition)",
        "Replace `raise NotImplementedError` in aupro(maps, masks, fpr_limit=0.3) with your code, then run this cell again.",
        total=7.0 + forbid_reference,
    )
    maps, masks = _random_maps_and_masks(seed=3)
    small_maps, small_masks = _random_maps_and_masks(seed=4, count=4, shape=(16, 16))
    tie_maps, tie_masks = _random_maps_and_masks(seed=5, levels=12)

    def typical(maps_: np.ndarray, masks_: np.ndarray, limit: float) -> Callable[[float], Optional[str]]:
        return lambda value: next((text for candidate, text in _aupro_mistakes(maps_, masks_, limit) if abs(value - candidate) <= 1e-6), None)

    def ignores_limit(value: float) -> Optional[str]:
        if abs(value - _exact_aupro(small_maps, small_masks, 0.3)) <= 1e-6:
            return "Your function ignores fpr_limit (it returned the value for 0.3)."
        return typical(small_maps, small_masks, 0.1)(value)

    try:
        output, error = _call(student_fn, maps.copy(), masks.copy())
        recorder.add("runs on random maps and masks (6 images, 20×24)", error is None, f"Your function {error}.")
        value = _scalar(output) if error is None else None
        recorder.add("returns one float in [0, 1]", value is not None and 0.0 <= value <= 1.0,
                     "Not checked: the function raised an error." if error else f"Expected one number in [0, 1]; got {str(output)[:80]}.")
        right = _aupro_case(recorder, student_fn, maps, masks, None, "matches the MVTec AUPRO (fpr_limit 0.3)", 3.0, typical(maps, masks, 0.3))
        _aupro_case(recorder, student_fn, small_maps, small_masks, 0.1, "respects fpr_limit (0.1; 4 images, 16×16)", 1.0, ignores_limit)
        _aupro_case(recorder, student_fn, tie_maps, tie_masks, None, "handles tied scores (maps with 13 grey levels)", 1.0,
                    lambda value: typical(tie_maps, tie_masks, 0.3)(value) or (_TIE_MESSAGE if right else None))
        if forbid_reference:
            _reference_check(recorder, student_fn, "anoclip.metrics", ("aupro", "aupro_cflow", "PixelScores", "_exact_aupro"),
                             ("anoclip.metrics", "metrics.aupro", "PixelScores", "exercises."))
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
