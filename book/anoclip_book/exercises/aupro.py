"""Assignment a3: AUPRO with the MVTec definition — :func:`check_aupro`.

The seeded masks make each usual mistake (no interpolation at the FPR limit, pixel instead of
region averaging, 4-connectivity, the cflow variant, ...) change the value. The checker compares
the student's number with the stored value of the MVTec AUPRO and of each mistake on the same
data (``expected.json``), so it names the mistake without carrying an implementation.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from torch import Tensor

from .results import CheckResult, _call, _NotImplementedYet, _Recorder, expected

# the three seeded cases: (seed, images, (height, width), grey levels or None, fpr_limit)
CASES: Dict[str, Tuple[int, int, Tuple[int, int], Optional[int], float]] = {
    "main": (3, 6, (20, 24), None, 0.3),
    "small": (4, 4, (16, 16), None, 0.1),
    "ties": (5, 6, (20, 24), 12, 0.3),
}
ATOL = 1e-6


def random_maps_and_masks(seed: int, count: int = 6, shape: Tuple[int, int] = (20, 24), levels: Optional[int] = None
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Masks with regions of very different sizes and detectability, two of them touching only
    diagonally, regions at the same place in consecutive images, and two defect-free images;
    maps that find some regions well and others badly. ``levels`` quantises the maps (ties).
    numpy's legacy RandomState draws them, so they are the same with every numpy version."""
    rng = np.random.RandomState(seed)
    height, width = shape
    masks = np.zeros((count, height, width), dtype=bool)
    maps = rng.standard_normal((count, height, width))
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


def case_inputs(name: str) -> Tuple[np.ndarray, np.ndarray, float]:
    """Maps, masks and fpr_limit of case ``name`` (what the checker and ``expected.json`` use)."""
    seed, count, shape, levels, limit = CASES[name]
    maps, masks = random_maps_and_masks(seed, count, shape, levels)
    return maps, masks, limit


def mistake_messages(limit: float) -> Dict[str, str]:
    """What each stored mistake means, at this fpr_limit."""
    return {
        "cflow": "Your value equals the 'cflow' AUPRO most zero-shot repositories report (200 thresholds, kept FPRs min-max rescaled); "
                 f"the MVTec definition uses every distinct score as a threshold and divides the area up to FPR {limit} by {limit}.",
        "no-divide": f"You forgot to divide the area by fpr_limit: the MVTec AUPRO is normalised to [0, 1] by dividing by {limit}.",
        "below": f"You are off by the interpolation at FPR {limit}: end the curve exactly at FPR = {limit}, interpolating PRO "
                 "linearly between the last point below and the first point above; you stopped at the last point below.",
        "above": f"You included the first curve point beyond FPR {limit} without cutting it; interpolate PRO at exactly "
                 f"FPR = {limit} and stop there.",
        "whole-curve": "You integrated the whole curve (up to FPR 1); stop at fpr_limit.",
        "pixels": "You averaged over pixels, not regions: PRO is the mean over connected regions of each region's covered fraction, "
                  "so a small defect counts as much as a large one.",
        "4-connectivity": "You labelled regions with 4-connectivity; the MVTec definition joins diagonal neighbours (8-connectivity): "
                          "scipy.ndimage.label(mask, structure=np.ones((3, 3))).",
        "stack-3d": "You labelled the whole (N, H, W) stack at once, so regions at the same place in consecutive images merged; "
                    "label each image's mask on its own.",
        "fpr-all-pixels": "Your FPR counts all pixels; it is the fraction of NORMAL pixels (mask == 0) scoring at or above the threshold.",
        "ignores-limit": "Your function ignores fpr_limit (it returned the value for 0.3).",
    }


_TIE_MESSAGE = ("Right for distinct scores, wrong when pixels share a score: evaluate the curve only at DISTINCT thresholds "
                "(every pixel with score ≥ t counts together), e.g. with np.unique; otherwise the result depends on the sort order.")


def _scalar(value: Any) -> Optional[float]:
    """The single number a metric returned (float, 0-d array or tensor), else None."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array.reshape(()))


def _aupro_case(recorder: _Recorder, fn: Callable, case: str, name: str, points: float, fallback: Optional[str] = None) -> bool:
    """Run ``fn`` on a case (the main case with its default fpr_limit), record the comparison, return if it passed."""
    maps, masks, limit = case_inputs(case)
    stored = expected("a3")[case]
    kwargs = {} if case == "main" else {"fpr_limit": limit}
    output, error = _call(fn, maps.copy(), masks.copy(), **kwargs)
    value = _scalar(output) if error is None else None
    if error:
        message = f"Your function {error}."
    elif value is None:
        message = f"Return one number (a float); got {type(output).__name__} {getattr(output, 'shape', '')}."
    elif abs(value - stored["expected"]) <= ATOL:
        message = ""
    else:
        messages = mistake_messages(limit)
        known = next((messages[key] for key, candidate in stored["mistakes"].items() if abs(value - candidate) <= ATOL), None)
        message = known or fallback or (f"Your value {value:.6f} is not the MVTec AUPRO, and matches none of the typical mistakes; "
                                        "plot your PRO curve and check it against the definition step by step.")
    return recorder.add(name, not message, message, points)


def check_aupro(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(maps, masks, fpr_limit=0.3) -> float`` against the MVTec AUPRO (assignment a3).

    ``maps`` is an (N, H, W) float32 array, ``masks`` an (N, H, W) bool array; the expected
    values are the MVTec AD definition's.
    """
    recorder = _Recorder(
        "a3", "AUPRO (MVTec definition)",
        "Replace `raise NotImplementedError` in aupro(maps, masks, fpr_limit=0.3) with your code, then run this cell again.",
        total=7.0,
    )
    maps, masks, _ = case_inputs("main")
    try:
        output, error = _call(student_fn, maps.copy(), masks.copy())
        recorder.add("runs on random maps and masks (6 images, 20×24)", error is None, f"Your function {error}.")
        value = _scalar(output) if error is None else None
        recorder.add("returns one float in [0, 1]", value is not None and 0.0 <= value <= 1.0,
                     "Not checked: the function raised an error." if error else f"Expected one number in [0, 1]; got {str(output)[:80]}.")
        right = _aupro_case(recorder, student_fn, "main", "matches the MVTec AUPRO (fpr_limit 0.3)", 3.0)
        _aupro_case(recorder, student_fn, "small", "respects fpr_limit (0.1; 4 images, 16×16)", 1.0)
        _aupro_case(recorder, student_fn, "ties", "handles tied scores (maps with 13 grey levels)", 1.0,
                    fallback=_TIE_MESSAGE if right else None)
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
