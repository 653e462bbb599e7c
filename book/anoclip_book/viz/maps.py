"""Figures of anomaly maps and of the metrics computed from them.

* :func:`plot_map_grid`: images in columns, one row per method/setting, ground truth outlined.
* :func:`plot_metric_curve`: a metric against a swept parameter (e.g. pixel AUROC vs ``vv_start``).
* :func:`plot_metric_bars`: a metric per group (category) and series (method), grouped bars.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from .canvas import ImageLike, as_array, new_figure, outline_mask, panel_label, show_image, show_map


def plot_map_grid(
    images: Sequence[ImageLike],
    maps: Mapping[str, Sequence[Any]],
    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
    column_titles: Optional[Sequence[str]] = None,
    notes: Optional[Mapping[str, Sequence[str]]] = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    panel_size: float = 2.2,
) -> Figure:
    """Row 0: the images with the ground truth outlined in green; then one row per entry of ``maps``.

    ``maps[name][i]`` is the anomaly map of image i at any resolution (tensor or array). Every
    map is coloured over its own min..max: with AnoCLIP's temperature 1 all probabilities sit
    near 0.5, and a shared [0, 1] scale would paint every map one colour. Colours therefore
    show *where* a map is high within an image, not how sure the model is; ``notes`` can print
    a number (e.g. each image's pixel AUROC) in the panel corners.
    """
    count = len(images)
    fig = new_figure(panel_size * count + 0.4, panel_size * (len(maps) + 1))
    axes = fig.subplots(len(maps) + 1, count, squeeze=False)
    for col, image in enumerate(images):
        shape = show_image(axes[0, col], image)
        if masks is not None and masks[col] is not None:
            outline_mask(axes[0, col], masks[col], shape)
        if column_titles is not None:
            axes[0, col].set_title(column_titles[col], fontsize=9)
        for row, (name, per_image) in enumerate(maps.items(), start=1):
            ax = axes[row, col]
            show_image(ax, image)
            show_map(ax, as_array(per_image[col]), shape, cmap=cmap, alpha=alpha)
            if masks is not None and masks[col] is not None:
                outline_mask(ax, masks[col], shape, width=0.8)
            if notes is not None and name in notes:
                panel_label(ax, notes[name][col])
    axes[0, 0].set_ylabel("image + mask", fontsize=10)
    for row, name in enumerate(maps, start=1):
        axes[row, 0].set_ylabel(name, fontsize=10)
    return fig


def plot_metric_curve(
    x: Sequence[Any],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    references: Optional[Mapping[str, float]] = None,
    title: str = "",
    chance: Optional[float] = 0.5,
    intervals: Optional[Mapping[str, Sequence[Sequence[float]]]] = None,
    reference_intervals: Optional[Mapping[str, Sequence[float]]] = None,
) -> Figure:
    """One line per series over the swept values ``x``; ``references`` become dashed lines.

    ``chance`` draws the value of a random ranking (0.5 for AUROC) as a dotted grey line.
    ``intervals[name]`` holds one (low, high) per value of ``x`` (e.g. a 95 % bootstrap interval),
    drawn as error bars; ``reference_intervals[name]`` one (low, high) band around a reference line.
    """
    fig = new_figure(6.6, 3.4)
    ax = fig.subplots()
    positions = np.arange(len(x))
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        if intervals and name in intervals:
            low, high = np.asarray(intervals[name], dtype=float).T
            ax.errorbar(positions, values, yerr=[values - low, high - values], marker="o", capsize=3, label=name)
        else:
            ax.plot(positions, values, marker="o", label=name)
    for (name, value), style in zip((references or {}).items(), ("--", "-.", ":")):
        ax.axhline(value, linestyle=style, color="black", linewidth=1, label=name)
        if reference_intervals and name in reference_intervals:
            ax.axhspan(*reference_intervals[name], color="black", alpha=0.08, linewidth=0)
    if chance is not None:
        ax.axhline(chance, linestyle=":", color="grey", linewidth=1, label="chance")
    ax.set_xticks(positions, [str(value) for value in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_metric_bars(
    table: Mapping[str, Mapping[str, float]],
    ylabel: str,
    title: str = "",
    chance: Optional[float] = 0.5,
    intervals: Optional[Mapping[str, Mapping[str, Sequence[float]]]] = None,
) -> Figure:
    """Grouped bars: ``table[group][series]`` (e.g. category → method → pixel AUROC).

    Bars are labelled with their values, so the figure can be read without a table.
    ``intervals[group][series]`` is a (low, high) pair (e.g. a 95 % bootstrap interval), drawn as an
    error bar on that bar.
    """
    groups = list(table)
    names = list(dict.fromkeys(name for row in table.values() for name in row))
    fig = new_figure(max(4.5, 1.2 * len(groups) * len(names) ** 0.5 + 2.0), 3.4)
    ax = fig.subplots()
    width = 0.8 / len(names)
    for index, name in enumerate(names):
        offsets = np.arange(len(groups)) - 0.4 + width * (index + 0.5)
        values = np.array([table[group].get(name, np.nan) for group in groups], dtype=float)
        bars = ax.bar(offsets, values, width, label=name)
        if not intervals:
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
            continue
        low, high = np.array([intervals.get(group, {}).get(name, (np.nan, np.nan)) for group in groups], dtype=float).T
        ax.errorbar(offsets, values, yerr=[values - low, high - values], fmt="none", ecolor="black", capsize=2, linewidth=0.8)
        for offset, value, top in zip(offsets, values, np.where(np.isfinite(high), high, values)):
            ax.annotate(f"{value:.2f}", (offset, top), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    if chance is not None:
        ax.axhline(chance, linestyle=":", color="grey", linewidth=1, label="chance")
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, ncols=min(len(names) + 1, 4), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    if title:
        ax.set_title(title, fontsize=10, pad=28)
    return fig
