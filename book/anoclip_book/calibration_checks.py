"""How calibrated thresholds behave on held-out images: the checks chapter 7 and the tests make.

:mod:`anoclip.calibration` reads thresholds off normal images; how far the rate they achieve on
new normal images may fall from the target is derived here, not chosen (the tests allow three
standard deviations):

* images: the exceedance probability of the threshold ``s(k)`` is Beta(n + 1 - k, k) distributed,
  so the number of ``m`` held-out images above it is Beta-binomial; :func:`expected_fpr` and
  :func:`image_fpr_spread` give its mean and standard deviation as a rate;
* pixels: the images are the independent units; :func:`pixel_fpr_spread` is the standard error
  of the mean per-image exceedance rate, from the calibration and the held-out side.

:func:`region_detections` asks an inspector's question of a pixel threshold: was each defect
region touched at all?
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Sequence

import numpy as np

from anoclip.calibration import exceeds, rank


def achieved_fpr(scores: Any, threshold: float) -> float:
    """Share of (normal) scores the threshold flags."""
    return float(np.mean(exceeds(scores, threshold)))


def expected_fpr(n: int, fpr: float) -> float:
    """Mean rate at which new normal samples exceed a threshold calibrated on ``n``: ``(n + 1 - k) / (n + 1)``."""
    return (n + 1 - rank(n, fpr)) / (n + 1)


def image_fpr_spread(n: int, m: int, fpr: float) -> float:
    """Standard deviation of the rate achieved on ``m`` held-out normal images (Beta-binomial).

    The threshold's exceedance probability is ``p ~ Beta(a, b)`` with ``a = n + 1 - k``,
    ``b = k``; given ``p`` the held-out count is Binomial(m, p). The count's variance is
    ``m a b (a + b + m) / ((a + b)^2 (a + b + 1))``; divided by ``m^2`` it is the rate's.
    """
    b = rank(n, fpr)
    a = n + 1 - b
    variance = m * a * b * (a + b + m) / ((a + b) ** 2 * (a + b + 1))
    return math.sqrt(variance) / m


def pixel_fpr_spread(per_image_rates: Sequence[float], n_calibration: int) -> float:
    """Standard error of the pixel rate achieved on held-out images, with images as the units.

    ``per_image_rates`` are the held-out images' shares of pixels above the threshold; their
    spread ``sd`` enters once for the ``m`` held-out images and once for the ``n_calibration``
    images the threshold was read from: ``sd * sqrt(1/m + 1/n)``.
    """
    rates = np.asarray(per_image_rates, dtype=np.float64)
    if rates.size < 2:
        raise ValueError("The spread needs at least two held-out images.")
    return float(rates.std(ddof=1) * math.sqrt(1.0 / rates.size + 1.0 / n_calibration))


@dataclass(frozen=True)
class RegionDetection:
    """One connected ground-truth region and whether a threshold finds it."""

    image: int
    area: int  # pixels, at the resolution of the masks given
    max_score: float
    detected: bool


def region_detections(maps: Any, masks: Any, threshold: float) -> List[RegionDetection]:
    """Every 8-connected defect region of ``masks`` (B, H, W) and whether any of its pixels is above ``threshold``.

    A region counts as found when at least one of its pixels is flagged: the question an
    inspector asks ("did the mask touch the defect?"), not how much of it was covered.
    """
    from scipy import ndimage

    found = []
    for index, (anomaly_map, mask) in enumerate(zip(np.asarray(maps), np.asarray(masks, dtype=bool))):
        labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
        if count == 0:
            continue
        regions = np.arange(1, count + 1)
        areas = ndimage.sum_labels(mask, labels, regions)
        peaks = ndimage.maximum(anomaly_map, labels, regions)
        for area, peak in zip(np.atleast_1d(areas), np.atleast_1d(peaks)):
            found.append(RegionDetection(index, int(area), float(peak), bool(peak > threshold)))
    return found
