"""Assignment a3's reference: an independent brute-force PRO curve, with switches that
reproduce the usual mistakes (no interpolation at the FPR limit, pixel instead of region
averaging, 4-connectivity, ...). Not part of the pip package: the autograder bundle carries it
for the hidden tests, and ``fingerprints.py`` turns it into the public checker's stored values.
"""
from __future__ import annotations

import warnings
from typing import Dict, Tuple

import numpy as np
from scipy import ndimage


def pro_curve(maps: np.ndarray, masks: np.ndarray, *, connectivity: int = 8, per_region: bool = True,
              stack_3d: bool = False, fpr_over_all: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Exact (FPR, PRO) points at every distinct threshold, from the top, starting at (0, 0)."""
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


def area(fpr: np.ndarray, pro: np.ndarray, limit: float, *, cut: str = "interpolate", divide: bool = True) -> float:
    """Trapezoidal area under PRO(FPR) up to ``limit`` (divided by ``limit`` unless ``divide=False``).

    ``cut``: "interpolate" (correct), "below" (stop at the last point ≤ limit) or "above"
    (include the first point past it uncut).
    """
    kept = int(np.searchsorted(fpr, limit, side="right"))
    x, y = fpr[:kept], pro[:kept]
    if kept < fpr.size and cut == "interpolate" and x[-1] < limit:
        x0, y0, x1, y1 = fpr[kept - 1], pro[kept - 1], fpr[kept], pro[kept]
        x, y = np.append(x, limit), np.append(y, y0 + (y1 - y0) * (limit - x0) / (x1 - x0))
    elif kept < fpr.size and cut == "above":
        x, y = fpr[:kept + 1], pro[:kept + 1]
    value = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    return value / limit if divide else value


def exact_aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    """The reference answer: the MVTec AD AUPRO."""
    return area(*pro_curve(maps, masks), fpr_limit)


def mistakes(maps: np.ndarray, masks: np.ndarray, limit: float) -> Dict[str, float]:
    """What each typical mistake returns on these maps, by the ids the public checker's messages use."""
    from anoclip import metrics

    curve = pro_curve(maps, masks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        cflow = metrics.aupro_cflow(maps, masks, fpr_limit=limit)
    return {
        "cflow": cflow,
        "no-divide": area(*curve, limit, divide=False),
        "below": area(*curve, limit, cut="below"),
        "above": area(*curve, limit, cut="above"),
        "whole-curve": area(*curve, 1.0),
        "pixels": area(*pro_curve(maps, masks, per_region=False), limit),
        "4-connectivity": area(*pro_curve(maps, masks, connectivity=4), limit),
        "stack-3d": area(*pro_curve(maps, masks, stack_3d=True), limit),
        "fpr-all-pixels": area(*pro_curve(maps, masks, fpr_over_all=True), limit),
    }
