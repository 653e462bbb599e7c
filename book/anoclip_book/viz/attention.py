"""Attention maps of the two paths, their locality statistics, and the figures that show them.

Inputs are the attention maps that ``model.encode_image(x, taps=True).taps`` records per block:
``qk_attention[l]`` / ``vv_attention[l]`` of shape (B, heads, 1+N, 1+N), token 0 being CLS and
tokens 1..N the patches in row-major order over the (h, w) grid. Functions here take one
image's map, (heads, 1+N, 1+N), as a tensor or an array.

Statistics (averaged over heads and over the N patch queries):

* ``self_mass``: weight a patch gives to itself;
* ``neighbourhood_mass``: weight on patches within Chebyshev distance ``radius`` (3×3 for 1),
  itself included;
* ``mean_distance``: attention-weighted Euclidean distance to the attended patches, in patch
  units (weights renormalised over the patches; CLS has no position);
* ``cls_mass``: weight on the CLS token;
* ``sink_mass``: weight on the ``sinks`` patches that receive the most attention on average in
  that head, i.e. on tokens every query looks at, whatever it is.

A local path has high neighbourhood mass, a small distance and low sink mass; CLIP's last q-k
blocks show the opposite.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .canvas import (
    OTHER_PATCH_COLOUR,
    PATCH_COLOUR,
    Grid,
    ImageLike,
    as_array,
    mark_patch,
    new_figure,
    panel_label,
    show_image,
    show_map,
)

LOCALITY_FIELDS = ("self_mass", "neighbourhood_mass", "mean_distance", "cls_mass", "sink_mass")
LOCALITY_TITLES = {
    "self_mass": "weight on itself",
    "neighbourhood_mass": "weight within the neighbourhood",
    "mean_distance": "mean attention distance (patches)",
    "cls_mass": "weight on CLS",
    "sink_mass": "weight on the top sink patches",
}


def token_index(row: int, col: int, grid: Grid) -> int:
    """Position of patch (row, col) in the token sequence (CLS is token 0)."""
    if not (0 <= row < grid[0] and 0 <= col < grid[1]):
        raise ValueError(f"Patch ({row}, {col}) is outside the {grid[0]}×{grid[1]} patch grid.")
    return 1 + row * grid[1] + col


def _check(attention: Any, grid: Grid) -> np.ndarray:
    array = as_array(attention)
    tokens = 1 + grid[0] * grid[1]
    if array.ndim != 3 or array.shape[1:] != (tokens, tokens):
        raise ValueError(
            f"Expected one image's attention of shape (heads, {tokens}, {tokens}) for a {grid[0]}×{grid[1]} "
            f"grid, got {array.shape}. Index the batch first: taps.qk_attention[layer][image]."
        )
    return array


def select_head(attention: Any, grid: Grid, head: Optional[int] = None) -> np.ndarray:
    """(1+N, 1+N) attention of one head, or the mean over heads when ``head`` is None."""
    array = _check(attention, grid)
    if head is None:
        return array.mean(axis=0)
    if not 0 <= head < array.shape[0]:
        raise ValueError(f"head={head} but this block has {array.shape[0]} heads (0..{array.shape[0] - 1}).")
    return array[head]


def attention_from_patch(attention: Any, row: int, col: int, grid: Grid, head: Optional[int] = None) -> np.ndarray:
    """(h, w) weights that patch (row, col) gives to every patch (its CLS weight is left out)."""
    weights = select_head(attention, grid, head)[token_index(row, col, grid)]
    return weights[1:].reshape(grid)


def cls_weight(attention: Any, row: int, col: int, grid: Grid, head: Optional[int] = None) -> float:
    """Weight that patch (row, col) gives to the CLS token."""
    return float(select_head(attention, grid, head)[token_index(row, col, grid), 0])


def attention_received(attention: Any, grid: Grid, head: Optional[int] = None) -> np.ndarray:
    """(h, w) mean weight each patch receives from the patch queries: bright spots are sinks."""
    return select_head(attention, grid, head)[1:, 1:].mean(axis=0).reshape(grid)


def query_similarity(attention: Any, grid: Grid, head: Optional[int] = None) -> float:
    """Mean cosine similarity between the attention rows (over patches) of all pairs of patch queries.

    Near 1: every patch looks at the same tokens wherever it is (global sinks); near the value
    for unrelated rows: each patch looks somewhere of its own.
    """
    rows = select_head(attention, grid, head)[1:, 1:].astype(np.float64)
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    count = len(rows)
    return float((similarity.sum() - np.trace(similarity)) / (count * (count - 1)))


def defect_patch(mask: np.ndarray, grid: Grid) -> Tuple[int, int]:
    """(row, col) of the patch that the mask covers most (any mask resolution)."""
    mask = np.asarray(mask, dtype=np.float64)
    rows = np.minimum((np.arange(mask.shape[0]) * grid[0]) // mask.shape[0], grid[0] - 1)
    cols = np.minimum((np.arange(mask.shape[1]) * grid[1]) // mask.shape[1], grid[1] - 1)
    cover = np.zeros(grid)
    np.add.at(cover, (rows[:, None], cols[None, :]), mask)
    row, col = np.unravel_index(int(np.argmax(cover)), grid)
    return int(row), int(col)


def _patch_geometry(grid: Grid) -> Tuple[np.ndarray, np.ndarray]:
    """(N, N) Euclidean and Chebyshev distances between patch centres, in patch units."""
    rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
    d_row = np.abs(rows[:, None] - rows[None, :])
    d_col = np.abs(cols[:, None] - cols[None, :])
    return np.sqrt(d_row ** 2 + d_col ** 2), np.maximum(d_row, d_col)


def block_locality(attention: Any, grid: Grid, radius: int = 1, sinks: int = 5) -> Dict[str, float]:
    """Locality statistics of one block for one image (see the module docstring)."""
    array = _check(attention, grid)
    euclid, chebyshev = _patch_geometry(grid)
    patch_rows = array[:, 1:, :]  # (heads, N, 1+N): queries are the patches
    to_patches = patch_rows[:, :, 1:]
    received = to_patches.mean(axis=1)  # (heads, N)
    top = np.argsort(-received, axis=1)[:, :sinks]
    sink_mass = np.take_along_axis(to_patches, top[:, None, :].repeat(to_patches.shape[1], axis=1), axis=2).sum(-1)
    patch_total = np.maximum(to_patches.sum(-1), 1e-12)
    return {
        "self_mass": float(np.diagonal(to_patches, axis1=1, axis2=2).mean()),
        "neighbourhood_mass": float((to_patches * (chebyshev <= radius)).sum(-1).mean()),
        "mean_distance": float(((to_patches * euclid).sum(-1) / patch_total).mean()),
        "cls_mass": float(patch_rows[:, :, 0].mean()),
        "sink_mass": float(sink_mass.mean()),
    }


def uniform_locality(grid: Grid, radius: int = 1, sinks: int = 5) -> Dict[str, float]:
    """The statistics of attention spread evenly over all 1+N tokens: the 'no structure' line."""
    tokens = 1 + grid[0] * grid[1]
    return block_locality(np.full((1, tokens, tokens), 1.0 / tokens), grid, radius, sinks)


@dataclass
class LocalityStats:
    """Per-block locality statistics of one path; NaN for blocks where the path is off."""

    self_mass: np.ndarray
    neighbourhood_mass: np.ndarray
    mean_distance: np.ndarray
    cls_mass: np.ndarray
    sink_mass: np.ndarray
    radius: int
    sinks: int

    def as_rows(self) -> Dict[str, list]:
        """Column name → per-block list, ready for ``pandas.DataFrame``."""
        return {name: getattr(self, name).tolist() for name in LOCALITY_FIELDS}


def layer_locality(attentions: Sequence[Optional[Any]], grid: Grid, radius: int = 1, sinks: int = 5) -> LocalityStats:
    """Statistics for every block of one path, averaged over the images of the batch.

    ``attentions`` is a taps list such as ``taps.vv_attention``: per block (B, heads, 1+N, 1+N),
    or (heads, 1+N, 1+N) for one image, or None where the path does not run.
    """
    columns: Dict[str, list] = {name: [] for name in LOCALITY_FIELDS}
    for attention in attentions:
        if attention is None:
            for name in LOCALITY_FIELDS:
                columns[name].append(np.nan)
            continue
        array = as_array(attention)
        batch = array if array.ndim == 4 else array[None]
        per_image = [block_locality(image, grid, radius, sinks) for image in batch]
        for name in LOCALITY_FIELDS:
            columns[name].append(float(np.mean([stats[name] for stats in per_image])))
    return LocalityStats(**{name: np.asarray(values) for name, values in columns.items()}, radius=radius, sinks=sinks)


# ------------------------------------------------------------------------------------- figures


def plot_patch_maps(
    image: ImageLike,
    maps: Mapping[str, Any],
    grid: Grid,
    patch: Optional[Tuple[int, int]] = None,
    notes: Optional[Mapping[str, str]] = None,
    panel_patches: Optional[Mapping[str, Optional[Tuple[int, int]]]] = None,
    cmap: str = "inferno",
    panel_size: float = 2.6,
) -> Figure:
    """The image, then one panel per (h, w) patch-grid map drawn over it.

    Each panel has its own colour range (its own min..max, with a colour bar), so compare
    shapes between panels and read values off the bars. ``patch`` is outlined in cyan on the
    image and on every panel; ``panel_patches`` gives a panel another query patch (magenta, also
    outlined on the image) or None for no outline.
    """
    panel_patches = dict(panel_patches or {})
    fig = new_figure(panel_size * (len(maps) + 1) + 0.6 * len(maps), panel_size)
    axes = fig.subplots(1, len(maps) + 1)
    shape = show_image(axes[0], image)
    axes[0].set_title("image", fontsize=10)
    if patch is not None:
        mark_patch(axes[0], patch[0], patch[1], grid, shape)
    for other in {p for p in panel_patches.values() if p is not None and p != patch}:
        mark_patch(axes[0], other[0], other[1], grid, shape, colour=OTHER_PATCH_COLOUR)
    for ax, (title, values) in zip(axes[1:], maps.items()):
        show_image(ax, image, dim=0.6)
        artist = show_map(ax, values, shape, cmap=cmap, alpha=0.75, nearest=True)
        fig.colorbar(artist, ax=ax, fraction=0.046, pad=0.02)
        query = panel_patches.get(title, patch)
        if query is not None:
            mark_patch(ax, query[0], query[1], grid, shape, colour=PATCH_COLOUR if query == patch else OTHER_PATCH_COLOUR)
        ax.set_title(title, fontsize=9)
        if notes and title in notes:
            panel_label(ax, notes[title])
    return fig


def plot_attention_layers(
    image: ImageLike,
    maps: Mapping[str, Sequence[Optional[Any]]],
    grid: Grid,
    patch: Tuple[int, int],
    layers: Sequence[int],
    cmap: str = "inferno",
    panel_size: float = 1.9,
) -> Figure:
    """Rows = paths, columns = blocks: where the query ``patch`` looks in each block.

    ``maps[path][layer]`` is an (h, w) map (e.g. from :func:`attention_from_patch`) or None
    where the path is off. Every panel is scaled to its own maximum, printed in its corner, so a
    diffuse map (small maximum) is not mistaken for a sharp one.
    """
    fig = new_figure(panel_size * len(layers), panel_size * len(maps) + 0.3)
    axes = np.atleast_2d(fig.subplots(len(maps), len(layers), squeeze=False))
    for row, (path, per_layer) in enumerate(maps.items()):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            shape = show_image(ax, image, dim=0.6)
            values = per_layer[layer]
            if values is None:
                ax.text(0.5, 0.5, "path off", ha="center", va="center", transform=ax.transAxes, color="white")
            else:
                values = as_array(values)
                show_map(ax, values, shape, cmap=cmap, alpha=0.8, vmin=0.0, nearest=True)
                panel_label(ax, f"max {values.max():.3f}")
            mark_patch(ax, patch[0], patch[1], grid, shape)
            if row == 0:
                ax.set_title(f"block {layer}", fontsize=10)
        axes[row, 0].set_ylabel(path, fontsize=10)
    fig.supxlabel(
        f"attention from the outlined patch (row {patch[0]}, col {patch[1]}), mean over heads; "
        "each panel is scaled from 0 to its own maximum",
        fontsize=9,
    )
    return fig


def plot_locality(
    stats: Mapping[str, LocalityStats],
    fields: Sequence[str] = ("neighbourhood_mass", "mean_distance", "sink_mass", "cls_mass"),
    uniform: Optional[Mapping[str, float]] = None,
    panel_size: float = 3.0,
) -> Figure:
    """One panel per statistic, one line per path, blocks on the x axis.

    ``uniform`` (from :func:`uniform_locality`) adds the value for evenly spread attention as a
    dashed reference line.
    """
    fig = new_figure(panel_size * len(fields), panel_size * 0.85)
    axes = fig.subplots(1, len(fields), squeeze=False)[0]
    first = next(iter(stats.values()))
    for ax, name in zip(axes, fields):
        for path, path_stats in stats.items():
            values = getattr(path_stats, name)
            ax.plot(np.arange(len(values)), values, marker="o", markersize=3, label=path)
        if uniform is not None:
            ax.axhline(uniform[name], color="grey", linestyle="--", linewidth=1, label="uniform")
        title = LOCALITY_TITLES[name]
        if name == "neighbourhood_mass":
            side = 2 * first.radius + 1
            title = f"weight within {side}×{side}"
        elif name == "sink_mass":
            title = f"weight on top-{first.sinks} sink patches"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("block")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig
