"""BSD (BSData): ball screw drive spindles with "pitting" wear, polygon annotations.

Raw layout (https://github.com/2Obe/BSData, clone or ZIP; DOI 10.5445/IR/1000129520)::

    <raw>/data/<name>.jpg       (1104 images)
    <raw>/label/<name>.json     (394 LabelMe files with "Pitting" polygons)

An image is anomalous when a LabelMe file with at least one shape exists for it; the polygons
(rectangles, circles) are filled into a pixel mask.  The data set has no official anomaly
split, so the one built here follows the Bayes-PFL recipe: ``test`` = every annotated image
plus as many unannotated ones drawn with ``seed`` (``normals="balanced"``), and the remaining
unannotated images go to ``train/good``; ``normals="all"`` puts every unannotated image in
``test``.  Caveat: "unannotated" means nobody drew pitting on it, not that it was verified
defect-free.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..errors import MetaFormatError
from .common import (
    DatasetWriter,
    PathLike,
    image_size,
    list_images,
    locate_root,
    run_conversion,
    split_normals,
    write_samples,
)

CATEGORY = "ball_screw"
EXPECTED = "data/ with the JPEG images and label/ with the LabelMe .json files"


def _is_root(folder: Path) -> bool:
    return bool(list_images(folder / "data")) and (folder / "label").is_dir()


def labelme_mask(label_file: Path, size) -> np.ndarray:
    """Rasterise a LabelMe file's shapes into a bool ``(H, W)`` mask for an image of ``size`` (W, H)."""
    try:
        shapes = json.loads(label_file.read_text(encoding="utf-8")).get("shapes", [])
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise MetaFormatError(f"{label_file} is not a LabelMe JSON file ({err}).") from err
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    for shape in shapes:
        points = [tuple(map(float, p)) for p in shape.get("points", [])]
        kind = shape.get("shape_type") or "polygon"
        if kind == "rectangle" and len(points) == 2:
            (x0, y0), (x1, y1) = points
            draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=255)
        elif kind == "circle" and len(points) == 2:
            (cx, cy), (px, py) = points
            radius = float(np.hypot(px - cx, py - cy))
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
        elif len(points) >= 3:
            draw.polygon(points, fill=255, outline=255)
        elif points:
            draw.line(points if len(points) > 1 else points * 2, fill=255, width=1)
    return np.asarray(canvas) > 0


def _specie(label_file: Path) -> str:
    shapes = json.loads(label_file.read_text(encoding="utf-8")).get("shapes", [])
    labels = sorted({str(s.get("label", "")).strip().lower() for s in shapes} - {""})
    return labels[0] if len(labels) == 1 else "anomaly"


def _fill(root: Path, writer: DatasetWriter, normals_mode: str, seed: int) -> List[str]:
    labels = {p.stem.lower(): p for p in (root / "label").glob("*.json")}
    normals, annotated = [], []
    for image in tqdm(list_images(root / "data"), desc="bsd", unit="img", leave=False):
        label = labels.get(image.stem.lower())
        if label is not None and labelme_mask(label, image_size(image)).any():
            annotated.append((image, label))
        else:
            normals.append(image)
    chosen, rest = split_normals(normals, len(annotated), normals_mode, seed)
    write_samples(writer, CATEGORY, "train", normals=rest)
    anomalies = ((image, _specie(label), labelme_mask(label, image_size(image))) for image, label in annotated)
    write_samples(writer, CATEGORY, "test", normals=chosen, anomalies=anomalies)
    return [CATEGORY]


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    normals: str = "balanced",
    seed: int = 0,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a BSData checkout or archive into ``out``; return ``out``."""
    split_normals([], 0, normals, seed)
    return run_conversion(
        raw,
        out,
        dataset="bsd",
        options={"normals": normals, "seed": seed},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "BSData"),
        fill=lambda root, writer: _fill(root, writer, normals, seed),
        overwrite=overwrite,
        cache=cache,
    )
