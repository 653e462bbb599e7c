"""BSD (BSData): ball screw drive spindles with "pitting" wear; LabelMe polygons filled to masks.

Raw layout: ``<raw>/data/<name>.jpg`` + ``<raw>/label/<name>.json`` (LabelMe) + ``<raw>/image_data.json``.
Split: ``test`` = the annotated images of the authors' test split (``split="auto"``/``"authors"``;
every annotated image with ``"all"``) + as many unannotated images drawn with ``seed``
(``normals="balanced"``); the other unannotated images -> ``train/good``.
Details, sources and what is assumed: data_scripts/README.md, BSD.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..errors import MetaFormatError, MissingSplitFileError
from .common import (
    DatasetWriter,
    PathLike,
    image_size,
    list_images,
    locate_root,
    plural,
    run_conversion,
    split_normals,
    write_samples,
)

CATEGORY = "ball_screw"
EXPECTED = "data/ with the JPEG images and label/ with the LabelMe .json files"
SPLIT_FILE = "image_data.json"
SPLIT_MODES = ("auto", "authors", "all")
REVISION = 2  # 1 ignored image_data.json


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


def read_image_data(path: Path) -> Dict[str, Dict[str, Any]]:
    """The entries of BSData's ``image_data.json`` keyed by lower-cased image file name, checked."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["images"]
        by_name = {str(entry["filename"]).lower(): entry for entry in entries}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise MetaFormatError(
            f"{path} is not BSData's image_data.json (expected {{\"images\": [{{\"filename\", "
            f"\"train_test_split\", \"annotations\", ...}}]}}): {err!r}. Restore it from "
            "https://github.com/2Obe/BSData, or pass split='all' to ignore it."
        ) from err
    for name, entry in by_name.items():
        if entry.get("train_test_split") not in ("train", "test", None):
            raise MetaFormatError(
                f"{path}: {name} has train_test_split={entry.get('train_test_split')!r}; expected "
                "'train', 'test' or null."
            )
    return by_name


def _authors_split(
    root: Path, images: List[Path], annotated: List[Tuple[Path, Path]]
) -> Tuple[List[Tuple[Path, Path]], int]:
    """(annotated images the authors put in test, number of annotated images left unused)."""
    path = root / SPLIT_FILE
    entries = read_image_data(path)
    annotated_names = {image.name.lower() for image, _ in annotated}
    for image in images:
        entry = entries.get(image.name.lower())
        if entry is None:
            raise MetaFormatError(
                f"{path} has no entry for {image}; the file and data/ do not belong to the same "
                "BSData release. Pass split='all' to ignore the file."
            )
        if bool(entry.get("annotations")) != (image.name.lower() in annotated_names):
            raise MetaFormatError(
                f"{path} says {image.name} has annotations={entry.get('annotations')!r}, but label/ "
                f"{'lacks a LabelMe file with shapes' if entry.get('annotations') else 'has one'} for it. "
                "The file and label/ disagree; pass split='all' to ignore the file."
            )
    test = [(image, label) for image, label in annotated if entries[image.name.lower()]["train_test_split"] == "test"]
    return test, len(annotated) - len(test)


def _fill(root: Path, writer: DatasetWriter, normals_mode: str, seed: int, split: str) -> List[str]:
    has_file = (root / SPLIT_FILE).is_file()
    if split == "authors" and not has_file:
        raise MissingSplitFileError(
            f"BSData split file {root / SPLIT_FILE} not found. It is in the repository "
            "(https://github.com/2Obe/BSData); clone it again, or pass split='all'."
        )
    labels = {p.stem.lower(): p for p in (root / "label").glob("*.json")}
    images = list_images(root / "data")
    normals, annotated = [], []
    for image in tqdm(images, desc="bsd", unit="img", leave=False):
        label = labels.get(image.stem.lower())
        if label is not None and labelme_mask(label, image_size(image)).any():
            annotated.append((image, label))
        else:
            normals.append(image)
    use_file = split == "authors" or (split == "auto" and has_file)
    test_anomalies, unused = _authors_split(root, images, annotated) if use_file else (annotated, 0)
    chosen, rest = split_normals(normals, len(test_anomalies), normals_mode, seed)
    write_samples(writer, CATEGORY, "train", normals=rest)
    anomalies = ((image, _specie(label), labelme_mask(label, image_size(image))) for image, label in test_anomalies)
    write_samples(writer, CATEGORY, "test", normals=chosen, anomalies=anomalies)
    source = f"{SPLIT_FILE} (the authors' train_test_split)" if use_file else "every annotated image"
    draw = f"drawn with seed {seed}" if normals_mode == "balanced" else "all of them (normals='all')"
    message = (
        f"split: test anomalies = {source}: {plural(len(test_anomalies), 'image')}"
        + (f"; the {unused} annotated images outside the authors' test split are not used" if use_file else "")
        + f". Unannotated images ({len(normals)}) have no split there: {len(chosen)} {draw} "
        f"went to test/good, {len(rest)} to train/good."
    )
    if split == "auto" and not has_file:
        message += f" ({SPLIT_FILE} was not found, so the authors' split could not be used.)"
    writer.report(
        "split",
        {
            "anomalies": SPLIT_FILE if use_file else "all annotated",
            "normals": f"seeded draw (seed {seed})" if normals_mode == "balanced" else "all",
            "test_anomalous": len(test_anomalies),
            "test_normal": len(chosen),
            "train_normal": len(rest),
            "annotated_unused": unused,
        },
        message,
    )
    return [CATEGORY]


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    normals: str = "balanced",
    seed: int = 0,
    split: str = "auto",
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a BSData checkout or archive into ``out``; return ``out`` (``split``: module docstring)."""
    split_normals([], 0, normals, seed)
    if split not in SPLIT_MODES:
        raise ValueError(f"split={split!r} is not one of {list(SPLIT_MODES)}.")
    return run_conversion(
        raw,
        out,
        dataset="bsd",
        options={"normals": normals, "seed": seed, "split": split},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "BSData"),
        fill=lambda root, writer: _fill(root, writer, normals, seed, split),
        overwrite=overwrite,
        cache=cache,
        revision=REVISION,
    )
