"""Figures (and probe images) for the limits of the method, chapter 7.

* :func:`method_atlas`: the same images through every registered localizer and AnoCLIP+.
* :func:`plot_detection_by_size`: share of defect regions a threshold finds, by region size in
  patches.
* :func:`plot_cross_class_rates`: the false-positive rate one class's threshold gives on another.
* :func:`plot_before_after`: a per-image metric before and after a change (e.g. TTA).
* :func:`plot_score_strips`: image scores of groups of images against a threshold.
* :func:`shuffle_blocks`, :func:`tile_copies`: *logical* anomalies built from a normal image:
  every local patch stays normal, only the arrangement or the count changes.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from anoclip import metrics
from ..calibration_checks import RegionDetection
from anoclip.config import TTAConfig
from .canvas import ImageLike, as_array, new_figure, to_rgb_array
from .maps import plot_map_grid

TTA_ROW = "anoclip + TTA"


def method_atlas(
    model: Any,
    images: Sequence[ImageLike],
    class_names: Sequence[str],
    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
    methods: Optional[Sequence[str]] = None,
    tta: bool = True,
    column_titles: Optional[Sequence[str]] = None,
    panel_size: float = 2.0,
) -> Figure:
    """One row per localizer (default: every registered one) plus AnoCLIP+ (``tta``), one column per image.

    ``class_names[i]`` is image i's prompt class. Maps are computed at the model's resolution
    with one image view (maps do not use the image score); with ``masks`` each panel carries
    that image's pixel AUROC, or "constant map" where a method gives one value per image.
    """
    from anoclip.methods import available_methods
    from anoclip.protocol import resize_mask

    names = list(methods or available_methods())
    fast = model.with_config(image_views=1)
    side = model.image_size
    resized = [Image.fromarray(to_rgb_array(image)).resize((side, side), Image.BILINEAR) for image in images]
    rows: Dict[str, list] = {name: [None] * len(images) for name in names + ([TTA_ROW] if tta else [])}
    for class_name in dict.fromkeys(class_names):
        indices = [i for i, name in enumerate(class_names) if name == class_name]
        x = fast.preprocess([resized[i] for i in indices])
        for name in rows:
            method, adapt = ("anoclip", TTAConfig()) if name == TTA_ROW else (name, False)
            maps = fast.predict(x, class_name, method, tta=adapt, image_scores=False).anomaly_maps.float().cpu().numpy()
            for index, anomaly_map in zip(indices, maps):
                rows[name][index] = anomaly_map
    notes = None
    if masks is not None:
        small = [None if mask is None else resize_mask(mask, (side, side)) for mask in masks]

        def note(anomaly_map: np.ndarray, mask: Optional[np.ndarray]) -> str:
            if mask is None or not mask.any():
                return ""
            if np.ptp(anomaly_map) == 0:
                return "constant map"
            return f"px AUROC {metrics.pixel_auroc(anomaly_map[None], mask[None]):.2f}"

        notes = {name: [note(m, k) for m, k in zip(per_image, small)] for name, per_image in rows.items()}
    return plot_map_grid(resized, rows, masks=masks, column_titles=column_titles, notes=notes, panel_size=panel_size)


def size_bins(areas: np.ndarray) -> np.ndarray:
    """Bin edges at powers of two covering ``areas`` (at least one bin)."""
    low = int(np.floor(np.log2(max(float(np.min(areas)), 1e-3))))
    high = max(int(np.ceil(np.log2(float(np.max(areas))))), low + 1)
    return 2.0 ** np.arange(low, high + 1)


def _power_of_two(value: float) -> str:
    """1/8, 1/2, 1, 4, ...: short tick labels for powers of two."""
    return f"1/{round(1 / value)}" if value < 1 else f"{value:g}"


def plot_detection_by_size(
    series: Mapping[str, Sequence[RegionDetection]],
    patch_area: float,
    title: str = "",
) -> Figure:
    """Share of defect regions found (at least one pixel above the threshold) against region area.

    Areas are in patches (``area / patch_area``), binned at powers of two; each bar is labelled
    with the number of regions it holds. The dotted line marks one patch: defects smaller than
    a patch are at most a part of one token's content.
    """
    every = np.concatenate([[r.area for r in regions] for regions in series.values()]) / patch_area
    edges = size_bins(every)
    bins = len(edges) - 1
    fig = new_figure(7.5, 3.4)
    ax = fig.subplots()
    width = 0.8 / max(len(series), 1)
    positions = np.arange(bins)
    for index, (name, regions) in enumerate(series.items()):
        areas = np.array([r.area for r in regions], dtype=float) / patch_area
        found = np.array([r.detected for r in regions], dtype=bool)
        which = np.clip(np.digitize(areas, edges) - 1, 0, bins - 1)
        counts = np.bincount(which, minlength=bins)
        hits = np.bincount(which, weights=found, minlength=bins)
        rates = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
        bars = ax.bar(positions - 0.4 + width * (index + 0.5), rates, width, label=name)
        ax.bar_label(bars, labels=[f"n={c}" if c else "" for c in counts], fontsize=7, padding=1)
    ax.axvline(-np.log2(edges[0]) - 0.5, color="grey", linestyle=":", label="one patch")  # bin i spans i ± 0.5
    ax.set_xticks(np.arange(bins + 1) - 0.5, [_power_of_two(edge) for edge in edges], fontsize=8)
    ax.set_xlabel("defect region area (patches), bins between the ticks")
    ax.set_ylabel("share of regions found")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_cross_class_rates(rates: Any, classes: Sequence[str], target: float) -> Figure:
    """``rates[i, j]``: the share of class j's normal pixels above class i's threshold, in percent.

    The diagonal is each class on its own threshold (near ``target``); off the diagonal a
    threshold borrowed from another class.
    """
    values = 100 * as_array(rates)
    fig = new_figure(1.3 * len(classes) + 2.6, 1.0 * len(classes) + 1.4)
    ax = fig.subplots()
    shown = ax.imshow(values, cmap="magma_r", vmin=0, vmax=max(float(values.max()), 100 * target * 2))
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, f"{value:.1f} %", ha="center", va="center", fontsize=9,
                color="white" if value > 0.6 * values.max() else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("applied to the normal pixels of")
    ax.set_ylabel("threshold calibrated on")
    ax.set_title(f"false-positive rate (target {100 * target:g} %)", fontsize=10)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="%")
    return fig


def plot_before_after(
    before: Sequence[float],
    after: Sequence[float],
    colour: Optional[Sequence[float]] = None,
    colour_label: str = "",
    label: str = "",
    title: str = "",
) -> Figure:
    """Scatter of one number per item before (x) and after (y) a change, with the diagonal."""
    x, y = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    fig = new_figure(5.2, 4.2)
    ax = fig.subplots()
    low, high = float(np.nanmin([x.min(), y.min()])), float(np.nanmax([x.max(), y.max()]))
    margin = 0.03 * (high - low + 1e-9)
    ax.plot([low - margin, high + margin], [low - margin, high + margin], color="grey", linestyle="--", linewidth=1)
    points = ax.scatter(x, y, c=colour, cmap="viridis", s=18, edgecolors="black", linewidths=0.3)
    if colour is not None:
        fig.colorbar(points, ax=ax, fraction=0.046, pad=0.04, label=colour_label)
    worse = int(np.sum(y < x))
    ax.set_xlabel(f"{label} before")
    ax.set_ylabel(f"{label} after")
    ax.set_title(title or f"{worse} of {x.size} below the diagonal (worse after)", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def plot_score_strips(groups: Mapping[str, Sequence[float]], threshold: Optional[float] = None, ylabel: str = "image score") -> Figure:
    """One jittered column of points per group, its median as a bar, and the threshold as a line."""
    fig = new_figure(max(4.5, 1.5 * len(groups) + 1.5), 3.4)
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for index, (name, values) in enumerate(groups.items()):
        values = np.asarray(values, dtype=float)
        ax.scatter(index + rng.uniform(-0.18, 0.18, values.size), values, s=14, alpha=0.7)
        ax.hlines(np.median(values), index - 0.3, index + 0.3, color="black", linewidth=2)
    if threshold is not None:
        ax.axhline(threshold, color="#c0392b", linestyle="--", linewidth=1, label=f"image threshold {threshold:.4f}")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return fig


def shuffle_blocks(image: ImageLike, blocks: int = 3, seed: int = 0) -> Image.Image:
    """The image cut into ``blocks`` × ``blocks`` tiles, put back in a seeded order (never the original).

    Tiles several patches wide keep their content intact, so every patch token still shows
    something normal: only the arrangement is wrong.
    """
    rgb = to_rgb_array(image)
    height, width = (rgb.shape[0] // blocks) * blocks, (rgb.shape[1] // blocks) * blocks
    tiles = [rgb[r * height // blocks:(r + 1) * height // blocks, c * width // blocks:(c + 1) * width // blocks]
             for r in range(blocks) for c in range(blocks)]
    order = np.random.default_rng(seed).permutation(len(tiles))
    if np.array_equal(order, np.arange(len(tiles))):
        order = np.roll(order, 1)
    rows = [np.concatenate([tiles[order[r * blocks + c]] for c in range(blocks)], axis=1) for r in range(blocks)]
    return Image.fromarray(np.concatenate(rows, axis=0))


def tile_copies(image: ImageLike, copies: int = 2) -> Image.Image:
    """``copies`` × ``copies`` smaller copies of the image in its own frame: the count is wrong."""
    rgb = Image.fromarray(to_rgb_array(image))
    small = rgb.resize((rgb.width // copies, rgb.height // copies), Image.BILINEAR)
    canvas = Image.new("RGB", (small.width * copies, small.height * copies))
    for row in range(copies):
        for col in range(copies):
            canvas.paste(small, (col * small.width, row * small.height))
    return canvas.resize(rgb.size, Image.BILINEAR)
