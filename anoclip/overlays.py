"""The figures a CLI user gets: heat-map overlays, with a banner when the weights are random."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
from PIL import Image

from .fileio import PathLike, atomic_path

#: What an overlay made with random weights (``--smoke``) says across its top.
RANDOM_WEIGHTS_BANNER = "RANDOM WEIGHTS (--smoke): this map is NOT meaningful."


def colour_range(anomaly_map: np.ndarray, vmin: Optional[float] = None, vmax: Optional[float] = None) -> Tuple[float, float]:
    """The value range the colours span: by default the map's own min..max.

    With AnoCLIP's temperature 1 every probability sits close to 0.5, so a fixed [0, 1] scale
    would paint every map the same colour; stretching to the map's range shows its structure,
    and the colour bar keeps the true values.
    """
    low = float(np.min(anomaly_map)) if vmin is None else vmin
    high = float(np.max(anomaly_map)) if vmax is None else vmax
    return low, max(high, low + 1e-12)


def heatmap_overlay(
    image: Union[Image.Image, np.ndarray],
    anomaly_map: np.ndarray,
    alpha: float = 0.5,
    cmap: str = "jet",
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
) -> np.ndarray:
    """Blend a colour-mapped anomaly map over an RGB image at the image's own resolution."""
    import matplotlib

    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32) / 255.0
    height, width = rgb.shape[:2]
    scaled = np.asarray(Image.fromarray(np.asarray(anomaly_map, dtype=np.float32), mode="F").resize((width, height), Image.BILINEAR))
    low, high = colour_range(anomaly_map, vmin, vmax)
    colours = matplotlib.colormaps[cmap](np.clip((scaled - low) / (high - low), 0.0, 1.0))[..., :3]
    return (((1.0 - alpha) * rgb + alpha * colours) * 255).round().astype(np.uint8)


def save_overlay(
    path: PathLike,
    image: Union[Image.Image, np.ndarray],
    anomaly_map: np.ndarray,
    title: str = "",
    alpha: float = 0.5,
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
    outline: Optional[np.ndarray] = None,
    banner: Optional[str] = None,
    max_side: int = 1024,
) -> Path:
    """Write image | overlay side by side as a PNG, atomically; ``banner`` (e.g.
    :data:`RANDOM_WEIGHTS_BANNER`) is stamped across the top, so no random-weight map passes for a result.

    ``outline`` (a boolean mask at the image's size, e.g. the pixels above a calibrated
    threshold) is drawn in white on the overlay. Image and outline are drawn at most ``max_side``
    pixels wide or tall (the PNG is about 800 px per panel anyway), so a 12,000² photo costs a
    display-sized copy, not gigabytes. Uses matplotlib's object API (no pyplot), so it never
    touches the global backend of a notebook or a headless CLI run.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    path = Path(path)
    image = display_copy(image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image)), max_side)
    if outline is not None:  # nearest-neighbour picks: a small copy, never a second full-size mask
        rows = np.linspace(0, outline.shape[0] - 1, image.height).round().astype(int)
        cols = np.linspace(0, outline.shape[1] - 1, image.width).round().astype(int)
        outline = np.asarray(outline)[np.ix_(rows, cols)]
    fig = Figure(figsize=(8, 4.3))
    axes = fig.subplots(1, 2)
    axes[0].imshow(image)
    axes[0].set_title("image")
    low, high = colour_range(anomaly_map, vmin, vmax)
    axes[1].imshow(heatmap_overlay(image, anomaly_map, alpha, vmin=low, vmax=high))
    if outline is not None and np.any(outline) and not np.all(outline):
        axes[1].contour(np.asarray(outline, dtype=np.float32), levels=[0.5], colors="white", linewidths=1.2)
    axes[1].set_title(title or "anomaly map")
    for axis in axes:
        axis.axis("off")
    fig.colorbar(ScalarMappable(Normalize(low, high), cmap="jet"), ax=axes[1], fraction=0.046, pad=0.04, label="P(abnormal)")
    if banner:
        add_banner(fig, banner)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    return path


def add_banner(fig, text: str) -> None:
    """Stamp a red banner across the top of a matplotlib figure (random weights, smoke mode, rehearsal)."""
    fig.text(
        0.5, 0.995, text, ha="center", va="top", fontsize=10, fontweight="bold", color="white",
        bbox=dict(boxstyle="square,pad=0.3", facecolor="#c0392b", edgecolor="none"),
    )


def display_copy(image: Image.Image, max_side: int = 1024) -> Image.Image:
    """``image`` at most ``max_side`` pixels wide or tall (aspect kept), resized straight from the
    original: no full-size copy of a large photo is made on the way. A small enough image is
    returned as it is (callers only read it)."""
    scale = min(1.0, max_side / max(image.size))
    if scale >= 1.0:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
