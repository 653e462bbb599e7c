"""Shared drawing helpers: smoke-stamped figures, images, grid maps and mask outlines.

Every figure function in :mod:`anoclip_book.viz` builds its figure here with matplotlib's object API
(no pyplot), so it never touches a notebook's backend and is displayed exactly once when a cell
returns it. Because pyplot's figure hooks do not run for such figures, :func:`new_figure`
stamps the smoke-mode (or rehearsal) banner itself and leaves room for it above the plots.
"""
from __future__ import annotations

import io

from typing import Any, Optional, Tuple, Union

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from ..pages import REHEARSAL_BANNER, SMOKE_BANNER, add_smoke_banner, figure_banner

ImageLike = Union[Image.Image, np.ndarray]
Grid = Tuple[int, int]

MASK_COLOUR = "lime"
PATCH_COLOUR = "cyan"
OTHER_PATCH_COLOUR = "magenta"
FLAT_RANGE = 1e-6  # value ranges narrower than this are drawn as a constant map


def as_array(values: Any) -> np.ndarray:
    """A float32 numpy copy of a tensor (any device) or array-like."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float32)


def has_smoke_banner(fig: Figure) -> bool:
    return any(text.get_text() in (SMOKE_BANNER, REHEARSAL_BANNER) for text in fig.texts)


def stamp_smoke(fig: Figure) -> Figure:
    """Add the smoke (or rehearsal) banner once (pyplot figures may already carry it from the figure hook)."""
    banner = figure_banner()
    if banner is not None and not has_smoke_banner(fig):
        add_smoke_banner(fig, banner)
    return fig


class NotebookFigure(Figure):
    """A Figure that Jupyter displays as a PNG when a cell returns it.

    IPython only knows how to show plain ``Figure`` objects once pyplot's inline backend has
    been activated, which happens lazily; a ``_repr_png_`` makes the display independent of
    that, and figures outside pyplot are never shown twice.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure; in smoke mode or a rehearsal it is a little taller and carries the banner."""
    banner = figure_banner() is not None
    fig = NotebookFigure(figsize=(width, height + (0.35 if banner else 0.0)), layout="constrained")
    if banner:
        fig.get_layout_engine().set(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / (height + 0.35)))
        stamp_smoke(fig)
    return fig


def to_rgb_array(image: ImageLike) -> np.ndarray:
    """(H, W, 3) array for imshow from a PIL image or an (H, W[, C]) array."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return array[..., :3]


def show_image(ax: Axes, image: ImageLike, dim: float = 0.0) -> Tuple[int, int]:
    """Draw an image in pixel coordinates; ``dim`` > 0 greys it out under an overlay.

    Returns its (height, width), the extent every overlay on this axis uses.
    """
    rgb = to_rgb_array(image)
    height, width = rgb.shape[:2]
    if dim > 0:
        grey = rgb.astype(np.float32).mean(axis=-1, keepdims=True) / (255.0 if rgb.dtype == np.uint8 else 1.0)
        rgb = np.repeat((1.0 - dim) * grey + dim * 0.5, 3, axis=-1)
    ax.imshow(rgb, extent=(0, width, height, 0))
    ax.set_xticks([])
    ax.set_yticks([])
    return height, width


def show_map(
    ax: Axes,
    values: np.ndarray,
    shape: Tuple[int, int],
    cmap: str = "jet",
    alpha: float = 0.5,
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
    nearest: bool = False,
):
    """Overlay a map (any resolution) on an image of ``shape`` = (H, W); returns the AxesImage.

    ``nearest=True`` keeps patch-grid maps blocky, so one square is one patch token.
    """
    values = as_array(values)
    low = float(values.min()) if vmin is None else vmin
    high = float(values.max()) if vmax is None else vmax
    if high - low < FLAT_RANGE:  # a constant map: one mid colour, not amplified rounding noise
        low, high = low - FLAT_RANGE, high + FLAT_RANGE
    return ax.imshow(
        values, extent=(0, shape[1], shape[0], 0), cmap=cmap, alpha=alpha,
        vmin=low, vmax=high, interpolation="nearest" if nearest else "bilinear",
    )


def outline_mask(ax: Axes, mask: np.ndarray, shape: Tuple[int, int], colour: str = MASK_COLOUR, width: float = 1.2) -> None:
    """Draw the outline of a boolean mask (any resolution) on an image of ``shape`` = (H, W)."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.max() <= 0 or mask.min() >= 1:
        return
    rows, cols = mask.shape
    xs = (np.arange(cols) + 0.5) * shape[1] / cols
    ys = (np.arange(rows) + 0.5) * shape[0] / rows
    ax.contour(xs, ys, mask, levels=[0.5], colors=colour, linewidths=width)


def mark_patch(ax: Axes, row: int, col: int, grid: Grid, shape: Tuple[int, int], colour: str = PATCH_COLOUR) -> Rectangle:
    """Outline one patch of the ``grid`` on an image of ``shape``; returns the rectangle."""
    height, width = shape[0] / grid[0], shape[1] / grid[1]
    rectangle = Rectangle((col * width, row * height), width, height, fill=False, edgecolor=colour, linewidth=2)
    ax.add_patch(rectangle)
    return rectangle


def panel_label(ax: Axes, text: str) -> None:
    """Small white-on-black note in the lower-left corner of a panel (e.g. a metric)."""
    ax.text(
        0.02, 0.03, text, transform=ax.transAxes, fontsize=8, color="white", va="bottom",
        bbox=dict(boxstyle="round,pad=0.2", facecolor="black", alpha=0.6, edgecolor="none"),
    )
