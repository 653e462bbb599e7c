"""A tiny synthetic anomaly dataset with exact masks, for tests, CI and offline book builds.

Four categories mimic MVTec's two families: textures ``carpet`` (procedural fibrous noise) and
``grid`` (a regular mesh), objects ``bottle`` (top view: a circular rim on a background) and
``pill`` (an ellipse with speckles).  Defects are planted on a clean rendering: ``scratch``
(a thin curved line), ``hole`` (a dark disk), ``stain`` (a blended irregular blob) and
``missing`` (part of the object or mesh replaced by the background behind it).

The mask of a defective image is exactly the set of pixels where it differs from its clean
rendering, so tests and figures can rely on it.  Everything derives from ``seed`` through
per-image random generators keyed by (seed, category, split, index): the same arguments give
byte-identical files (with the same numpy, whose Generator streams are stable in practice but
not promised across releases), and a category's images do not depend on which other
categories are requested.  Only numpy and PIL are used; the default set takes well under a second.
"""
from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..fileio import PathLike
from .errors import OutputExistsError
from .meta import META_FILE, NORMAL_SPECIE, build_meta, write_meta


GENERATOR = "anoclip.data.make_synthetic_dataset"
DEFAULT_CATEGORIES = ("carpet", "grid", "bottle", "pill")
TEXTURES = frozenset({"carpet", "grid"})
DEFECTS: Dict[str, Tuple[str, ...]] = {
    "carpet": ("hole", "scratch", "stain"),
    "grid": ("missing", "scratch", "stain"),
    "bottle": ("missing", "scratch", "stain"),
    "pill": ("hole", "missing", "scratch", "stain"),
}
_SPLIT_CODES = {"train": 0, "good": 1, "defect": 2}


@dataclass
class Scene:
    """A clean rendering (float H x W x 3), the background behind it, where the foreground is
    (what "missing" removes) and where scratches, holes and stains may land (bool H x W)."""

    image: np.ndarray
    background: np.ndarray
    foreground: np.ndarray
    surface: np.ndarray


def _blur(array: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Moving average of odd ``size`` along ``axis`` with wrap-around (seamless texture)."""
    pad = size // 2
    widths = [(0, 0)] * array.ndim
    widths[axis] = (pad + 1, pad)
    padded = np.cumsum(np.pad(array, widths, mode="wrap"), axis=axis)
    upper = np.take(padded, range(size, padded.shape[axis]), axis=axis)
    lower = np.take(padded, range(0, padded.shape[axis] - size), axis=axis)
    return (upper - lower) / size


def _grid_coords(size: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:size, 0:size].astype(np.float64)


def _noise_background(size: int, rng: np.random.Generator, colour: Sequence[float], amount: float) -> np.ndarray:
    noise = _blur(_blur(rng.normal(size=(size, size)), 3, 0), 3, 1)
    return np.asarray(colour, dtype=np.float64) + amount * noise[..., None]


def _render_carpet(size: int, rng: np.random.Generator) -> Scene:
    weft = _blur(rng.normal(size=(size, size)), 9, axis=1)
    warp = _blur(rng.normal(size=(size, size)), 9, axis=0)
    fibres = 1.6 * weft + 1.0 * warp + 0.3 * rng.normal(size=(size, size))
    colour = np.array([150.0, 82.0, 60.0]) + rng.uniform(-10, 10, size=3)
    image = colour + 28.0 * fibres[..., None]
    everywhere = np.ones((size, size), dtype=bool)
    return Scene(image, image.copy(), everywhere, everywhere)


def _render_grid(size: int, rng: np.random.Generator) -> Scene:
    y, x = _grid_coords(size)
    period = max(size // 8, 6)
    width = max(period // 5, 2)
    phase_y, phase_x = rng.integers(0, period, size=2)
    bars = ((y + phase_y) % period < width) | ((x + phase_x) % period < width)
    background = _noise_background(size, rng, (38, 40, 46), 10.0)
    bar_colour = _noise_background(size, rng, (205, 200, 185), 8.0)
    image = np.where(bars[..., None], bar_colour, background)
    return Scene(image, background, bars, np.ones((size, size), dtype=bool))


def _render_bottle(size: int, rng: np.random.Generator) -> Scene:
    y, x = _grid_coords(size)
    cy, cx = size / 2 + rng.uniform(-2, 2, size=2)
    radius = np.hypot(y - cy, x - cx)
    outer, rim = 0.42 * size, 0.09 * size
    background = _noise_background(size, rng, (32, 32, 34), 6.0)
    inside = radius < outer
    rim_zone = inside & (radius >= outer - rim)
    shade = 1.0 - 0.25 * np.abs(radius - (outer - rim / 2)) / rim
    glass = np.array([190.0, 192.0, 182.0]) * shade[..., None]
    body = _noise_background(size, rng, (88, 104, 92), 8.0) * (1.0 - 0.3 * radius / outer)[..., None]
    image = np.where(rim_zone[..., None], glass, np.where(inside[..., None], body, background))
    image = np.where((radius < 0.08 * size)[..., None], np.array([18.0, 18.0, 20.0]), image)
    return Scene(image, background, inside, inside)


def _render_pill(size: int, rng: np.random.Generator) -> Scene:
    y, x = _grid_coords(size)
    cy, cx = size / 2 + rng.uniform(-2, 2, size=2)
    ry, rx = 0.21 * size, 0.39 * size
    ellipse = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
    inside = ellipse < 1.0
    background = _noise_background(size, rng, (44, 48, 54), 5.0)
    body = np.array([232.0, 226.0, 212.0]) * (1.0 - 0.18 * ellipse)[..., None]
    image = np.where(inside[..., None], body, background)
    candidates = np.flatnonzero(ellipse.ravel() < 0.8)
    for index in rng.choice(candidates, size=min(40, candidates.size), replace=False):
        py, px = divmod(int(index), size)
        image[max(py - 1, 0) : py + 1, max(px - 1, 0) : px + 1] = (172.0, 64.0, 52.0)
    return Scene(image, background, inside, inside)


RENDERERS: Dict[str, Callable[[int, np.random.Generator], Scene]] = {
    "carpet": _render_carpet,
    "grid": _render_grid,
    "bottle": _render_bottle,
    "pill": _render_pill,
}


def _centre(area: np.ndarray, rng: np.random.Generator, margin: int) -> Tuple[float, float]:
    """A random pixel of ``area`` at least ``margin`` pixels from the border."""
    size = area.shape[0]
    allowed = area.copy()
    allowed[:margin], allowed[-margin:], allowed[:, :margin], allowed[:, -margin:] = False, False, False, False
    index = int(rng.choice(np.flatnonzero(allowed.ravel())))
    return float(index // size), float(index % size)


def _scratch_region(scene: Scene, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    size = scene.surface.shape[0]
    cy, cx = _centre(scene.surface, rng, size // 6)
    angle, length, bend = rng.uniform(0, np.pi), rng.uniform(0.25, 0.45) * size, rng.uniform(-0.15, 0.15) * size
    t = np.linspace(-0.5, 0.5, int(4 * length))
    py = cy + t * length * np.sin(angle) + bend * (1 - 4 * t**2) * np.cos(angle)
    px = cx + t * length * np.cos(angle) - bend * (1 - 4 * t**2) * np.sin(angle)
    region = np.zeros((size, size), dtype=bool)
    for dy in (0, 1):
        rows, cols = np.round(py).astype(int) + dy, np.round(px).astype(int)
        keep = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
        region[rows[keep], cols[keep]] = True
    region &= scene.surface
    tone = 245.0 if scene.image[region].mean() < 128 else 12.0
    return region, np.full(3, tone)


def _hole_region(scene: Scene, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    size = scene.surface.shape[0]
    cy, cx = _centre(scene.surface, rng, size // 6)
    y, x = _grid_coords(size)
    region = np.hypot(y - cy, x - cx) < rng.uniform(0.04, 0.08) * size
    return region & scene.surface, np.array([10.0, 9.0, 8.0])


def _stain_region(scene: Scene, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    size = scene.surface.shape[0]
    cy, cx = _centre(scene.surface, rng, size // 6)
    y, x = _grid_coords(size)
    angle = np.arctan2(y - cy, x - cx)
    wobble = 1.0 + 0.25 * np.sin(3 * angle + rng.uniform(0, 2 * np.pi)) + 0.1 * np.sin(5 * angle)
    region = np.hypot((y - cy) * rng.uniform(0.8, 1.3), x - cx) < rng.uniform(0.06, 0.11) * size * wobble
    return region & scene.surface, np.array([112.0, 72.0, 22.0])


def _missing_region(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    size = scene.foreground.shape[0]
    if scene.foreground.all():  # a plain texture has nothing behind it; carpet never uses "missing"
        raise ValueError("'missing' needs a scene with a foreground")
    y, x = _grid_coords(size)
    cy, cx = _centre(scene.foreground, rng, size // 8)
    half = rng.uniform(0.06, 0.12) * size
    edge = scene.foreground & ~np.roll(scene.foreground, 3, axis=1)
    if edge.any() and rng.uniform() < 0.5:  # bite off a piece at the object's edge
        cy, cx = map(float, np.argwhere(edge)[rng.integers(edge.sum())])
    return (np.abs(y - cy) < half) & (np.abs(x - cx) < half) & scene.foreground


def plant_defect(scene: Scene, defect: str, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Return ``(defective image, mask)``; the mask is exactly where the image changed."""
    clean = np.clip(np.round(scene.image), 0, 255).astype(np.uint8)
    for _ in range(20):
        image = scene.image.copy()
        if defect == "missing":
            region = _missing_region(scene, rng)
            image[region] = scene.background[region]
        else:
            region, colour = {"scratch": _scratch_region, "hole": _hole_region, "stain": _stain_region}[defect](
                scene, rng
            )
            alpha = 0.65 if defect == "stain" else 1.0
            image[region] = (1 - alpha) * image[region] + alpha * colour
        result = np.clip(np.round(image), 0, 255).astype(np.uint8)
        mask = (result != clean).any(axis=-1)
        if mask.sum() >= 4:
            return result, mask
    raise RuntimeError(f"could not plant a visible {defect!r} defect")  # pragma: no cover


def render_synthetic(
    category: str, kind: str, index: int, *, image_size: int = 128, seed: int = 0
) -> Tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Render one synthetic sample: ``(specie, clean, image, mask)`` as uint8 ``(H, W, 3)`` / bool ``(H, W)``.

    ``kind`` is ``"train"`` or ``"good"`` (normal: ``image`` is ``clean``, the mask is empty) or
    ``"defect"`` (the defect type cycles through the category's types by ``index``).  This is
    exactly what :func:`make_synthetic_dataset` writes, so tests can compare against it.
    """
    if category not in RENDERERS:
        raise ValueError(f"Unknown synthetic category {category!r}; choose from {list(RENDERERS)}.")
    if kind not in _SPLIT_CODES:
        raise ValueError(f"kind={kind!r}: use one of {list(_SPLIT_CODES)}.")
    if image_size < 32:
        raise ValueError(f"image_size={image_size} is too small to draw defects; use at least 32.")
    rng = np.random.default_rng([seed, zlib.crc32(category.encode()), _SPLIT_CODES[kind], index])
    scene = RENDERERS[category](image_size, rng)
    clean = np.clip(np.round(scene.image), 0, 255).astype(np.uint8)
    if kind != "defect":
        return NORMAL_SPECIE, clean, clean, np.zeros((image_size, image_size), dtype=bool)
    defect = DEFECTS[category][index % len(DEFECTS[category])]
    image, mask = plant_defect(scene, defect, rng)
    return defect, clean, image, mask


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=1)  # noisy images: speed over size


def _check_target(root: Path) -> None:
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return
    meta_file = root / META_FILE
    try:
        generator = json.loads(meta_file.read_text(encoding="utf-8")).get("info", {}).get("generator")
    except (OSError, ValueError, AttributeError):
        generator = None
    if generator != GENERATOR:
        raise OutputExistsError(
            f"{root} exists and is not a synthetic dataset made by {GENERATOR}; refusing to replace it. "
            "Choose an empty or new folder."
        )


def make_synthetic_dataset(
    root: PathLike,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    n_train: int = 8,
    n_test_good: int = 4,
    n_test_defect: int = 4,
    image_size: int = 128,
    seed: int = 0,
) -> Path:
    """Write a small MVTec-like dataset with planted defects and exact masks; return its root.

    Layout and ``meta.json`` are those of every prepared dataset, plus
    ``"info": {"dataset": "synthetic", "synthetic": true, "seed": seed, "generator": "anoclip.data.make_synthetic_dataset"}``.
    The folder is built aside and renamed into place; an existing synthetic dataset at
    ``root`` is replaced, any other non-empty folder is refused.
    """
    root = Path(root).expanduser()
    categories = list(categories)
    unknown = [c for c in categories if c not in RENDERERS]
    if unknown or not categories:
        raise ValueError(f"Unknown synthetic categories {unknown}; choose from {list(RENDERERS)}.")
    if min(n_train, n_test_good, n_test_defect) < 0:
        raise ValueError("n_train, n_test_good and n_test_defect must be >= 0.")
    _check_target(root)
    staging = root.with_name(f".{root.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        for category in categories:
            base = staging / category
            (base / "train" / NORMAL_SPECIE).mkdir(parents=True)
            (base / "test" / NORMAL_SPECIE).mkdir(parents=True)
            for index in range(n_train):
                _, _, image, _ = render_synthetic(category, "train", index, image_size=image_size, seed=seed)
                _save_png(image, base / "train" / NORMAL_SPECIE / f"{index:03d}.png")
            for index in range(n_test_good):
                _, _, image, _ = render_synthetic(category, "good", index, image_size=image_size, seed=seed)
                _save_png(image, base / "test" / NORMAL_SPECIE / f"{index:03d}.png")
            for index in range(n_test_defect):
                defect, _, image, mask = render_synthetic(category, "defect", index, image_size=image_size, seed=seed)
                _save_png(image, base / "test" / defect / f"{index:03d}.png")
                mask_file = base / "ground_truth" / defect / f"{index:03d}_mask.png"
                _save_png(np.where(mask, 255, 0).astype(np.uint8), mask_file)
        meta = build_meta(staging, categories)
        meta["info"] = {"dataset": "synthetic", "synthetic": True, "seed": seed, "generator": GENERATOR}
        write_meta(staging, meta)
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def convert(raw: Optional[PathLike], out: PathLike, **options) -> Path:
    """Registry entry point: the synthetic dataset needs no raw download (``raw`` is ignored)."""
    options.pop("overwrite", None)
    options.pop("cache", None)
    return make_synthetic_dataset(out, **options)
