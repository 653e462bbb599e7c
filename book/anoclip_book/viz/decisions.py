"""Figures of calibrated decisions: where the thresholds sit, and what they flag on each image.

* :func:`plot_calibration`: the normal pixel and image scores the thresholds were read from, the
  thresholds, and (optionally) the scores of other images for comparison.
* :func:`plot_decisions`: one column per image, the anomaly map with the pixels above the pixel
  threshold outlined in white, the decision in the title.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from anoclip.calibration import ANOMALOUS, NORMAL, Thresholds
from .canvas import ImageLike, as_array, new_figure, outline_mask, show_image, show_map

DECISION_COLOURS = {ANOMALOUS: "#c0392b", NORMAL: "#1e8449"}


def plot_calibration(
    thresholds: Thresholds,
    normal_maps: Any,
    normal_scores: Any,
    others: Optional[Mapping[str, Any]] = None,
    label: str = "normal images",
) -> Figure:
    """Two histograms: normal pixels (left) and normal image scores (right), each with its threshold.

    ``normal_maps`` / ``normal_scores`` are those of normal images (``label`` says which, e.g.
    held-out ones the thresholds were not read from). ``others`` maps a label to the image scores of other images (e.g. "test: anomalous"), drawn
    as ticks under the right histogram so a reader sees which side of the threshold they fall.
    """
    fig = new_figure(10.5, 3.2)
    left, right = fig.subplots(1, 2)
    pixels = as_array(normal_maps).ravel()
    left.hist(pixels, bins=80, color="tab:blue", alpha=0.75)
    left.axvline(thresholds.pixel_threshold, color="black", linestyle="--",
                 label=f"pixel threshold {thresholds.pixel_threshold:.4f}")
    left.set_xlabel(f"anomaly-map value, pixels of the {label}")
    left.set_ylabel("pixels")
    left.legend(fontsize=8)
    scores = as_array(normal_scores).ravel()
    right.hist(scores, bins=min(40, max(5, scores.size // 3)), color="tab:blue", alpha=0.75, label=label)
    right.axvline(thresholds.image_threshold, color="black", linestyle="--",
                  label=f"image threshold {thresholds.image_threshold:.4f}")
    for offset, (name, values) in enumerate((others or {}).items()):
        values = as_array(values).ravel()
        right.plot(values, np.full(values.shape, -0.4 - 0.6 * offset), "|", markersize=12, label=name)
    right.set_xlabel("image score")
    right.set_ylabel("images")
    right.legend(fontsize=7, loc="upper left")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.ticklabel_format(axis="x", useOffset=False)
    left.set_title(f"{thresholds.class_name}: pixels (threshold at {thresholds.fpr:.0%} false positives)", fontsize=9)
    right.set_title(f"images (threshold from {thresholds.n_images} normal images)", fontsize=9)
    return fig


def plot_decisions(
    images: Sequence[ImageLike],
    maps: Sequence[Any],
    scores: Sequence[float],
    thresholds: Thresholds,
    names: Optional[Sequence[str]] = None,
    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
    panel_size: float = 2.6,
) -> Figure:
    """Row 0: the images (ground truth in green when known); row 1: map, flagged pixels, decision.

    Maps are coloured over their own range (as everywhere in the book); the white outline is the
    set of pixels above ``thresholds.pixel_threshold``, and the title compares the image score
    with ``thresholds.image_threshold``.
    """
    count = len(images)
    fig = new_figure(panel_size * count + 0.4, 2 * panel_size + 0.5)
    axes = fig.subplots(2, count, squeeze=False)
    decisions = thresholds.decisions(np.asarray(scores, dtype=np.float64))
    for col, (image, anomaly_map, score, decision) in enumerate(zip(images, maps, scores, decisions)):
        shape = show_image(axes[0, col], image)
        truth = None if masks is None else masks[col]
        if truth is not None:
            outline_mask(axes[0, col], truth, shape)
        if names is not None:
            axes[0, col].set_title(names[col], fontsize=10)
        values = as_array(anomaly_map)
        show_image(axes[1, col], image)
        show_map(axes[1, col], values, shape)
        outline_mask(axes[1, col], thresholds.pixel_masks(values), shape, colour="white", width=1.0)
        if truth is not None:
            outline_mask(axes[1, col], truth, shape, width=0.8)
        sign = ">" if decision == ANOMALOUS else "≤"
        axes[1, col].set_title(f"{score:.4f} {sign} {thresholds.image_threshold:.4f}\n{decision}", fontsize=10,
                               color=DECISION_COLOURS[decision])
    axes[0, 0].set_ylabel("image (+ ground truth)", fontsize=9)
    axes[1, 0].set_ylabel("map, flagged pixels in white", fontsize=9)
    return fig
