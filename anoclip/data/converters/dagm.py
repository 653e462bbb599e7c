"""DAGM 2007: ten synthetic texture classes with coarse elliptical defect labels.

Raw layout: ``<raw>/Class<N>/{Train,Test}/<id>.PNG`` + ``.../Label/<id>_label.PNG`` (defective only).
Split: ``train/good`` = Train's defect-free images; ``test`` = every defective Test image + as
many defect-free Test images drawn with ``seed`` (``normals="balanced"``; ``"all"`` keeps all).
Details, sources and what is assumed: data_scripts/README.md, DAGM 2007.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..errors import DatasetRootError
from ..images import read_mask
from .common import (
    DatasetWriter,
    PathLike,
    child_dirs,
    index_by_stem,
    list_images,
    locate_root,
    run_conversion,
    split_normals,
    write_samples,
)

ANOMALY_SPECIE = "anomaly"
EXPECTED = "folders Class1 ... Class10, each with Train/ and Test/ (e.g. <raw>/Class1/Train/Label)"


def _class_number(folder: Path) -> int:
    return int(re.search(r"\d+", folder.name).group())


def _classes(folder: Path) -> List[Path]:
    found = [c for c in child_dirs(folder) if re.fullmatch(r"class\d+", c.name.lower()) and (c / "Train").is_dir()]
    return sorted(found, key=_class_number)


def _partition(folder: Path) -> Tuple[List[Path], List[Tuple[Path, Path]]]:
    """(defect-free images, [(defective image, label image)]) of one Train/Test folder."""
    labels = index_by_stem(folder / "Label")
    normals, defective = [], []
    for image in list_images(folder):
        label = labels.get(f"{image.stem}_label".lower())
        if label is None:
            normals.append(image)
        else:
            defective.append((image, label))
    return normals, defective


def _fill(root: Path, writer: DatasetWriter, normals_mode: str, seed: int, classes: Optional[List[int]]) -> List[str]:
    available = _classes(root)
    if classes is not None:
        missing = sorted(set(classes) - {_class_number(c) for c in available})
        if missing:
            raise DatasetRootError(
                f"DAGM classes {missing} are not in {root} (found {[c.name for c in available]})."
            )
        available = [c for c in available if _class_number(c) in classes]
    categories = []
    for class_dir in available:
        category = class_dir.name.lower()
        categories.append(category)
        train_normals, _ = _partition(class_dir / "Train")
        test_normals, defective = _partition(class_dir / "Test")
        chosen, _ = split_normals(test_normals, len(defective), normals_mode, seed, salt=category)
        write_samples(writer, category, "train", normals=train_normals)
        write_samples(
            writer,
            category,
            "test",
            normals=chosen,
            anomalies=((image, ANOMALY_SPECIE, read_mask(label)) for image, label in defective),
        )
    return categories


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    normals: str = "balanced",
    seed: int = 0,
    classes: Optional[Sequence[int]] = None,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a DAGM 2007 download (archive or folder) into ``out``; return ``out``."""
    split_normals([], 0, normals, seed)  # validate the mode before any work
    chosen = sorted({int(c) for c in classes}) if classes is not None else None
    options = {"normals": normals, "seed": seed}
    if chosen is not None:
        options["classes"] = chosen
    return run_conversion(
        raw,
        out,
        dataset="dagm",
        options=options,
        find_root=lambda folder: locate_root(folder, lambda f: bool(_classes(f)), EXPECTED, "DAGM 2007"),
        fill=lambda root, writer: _fill(root, writer, normals, seed, chosen),
        overwrite=overwrite,
        cache=cache,
    )
