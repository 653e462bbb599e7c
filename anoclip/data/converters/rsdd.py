"""RSDDs: rail surface defects, two subsets (categories ``rail_type1``, ``rail_type2``), pixel masks.

Raw layout: ``<raw>/Type-{I,II} RSDDs dataset/{Rail surface images, GroundTruth}/<name>.jpg``.
Split: every image in ``test``.  The JPEG masks carry faint noise, hence ``threshold`` (127), not 0.
Details, sources and what is assumed: data_scripts/README.md, RSDD.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional, Tuple

from tqdm.auto import tqdm

from ..errors import DatasetRootError, MissingMaskError
from ..meta import NORMAL_SPECIE
from .common import (
    DatasetWriter,
    PathLike,
    child_dirs,
    index_by_stem,
    list_images,
    locate_root,
    read_binary_mask,
    run_conversion,
)

ANOMALY_SPECIE = "anomaly"
EXPECTED = "folders 'Type-I RSDDs dataset' / 'Type-II RSDDs dataset', each with 'Rail surface images' and 'GroundTruth'"


def _subset_number(folder: Path) -> Optional[int]:
    match = re.match(r"type[-_ ]?(ii|i)\b", folder.name.lower())
    return {"i": 1, "ii": 2}[match.group(1)] if match else None


def _subsets(folder: Path) -> List[Tuple[int, Path]]:
    return sorted((n, c) for c in child_dirs(folder) if (n := _subset_number(c)) is not None)


def _image_and_truth_dirs(subset: Path) -> Tuple[Path, Path]:
    children = child_dirs(subset)
    images = [c for c in children if "image" in c.name.lower()]
    truth = [c for c in children if re.sub(r"[^a-z]", "", c.name.lower()) in ("groundtruth", "gt", "masks", "mask")]
    if len(images) != 1 or len(truth) != 1:
        raise DatasetRootError(
            f"{subset} should hold one image folder ('Rail surface images') and one mask folder "
            f"('GroundTruth'); found {[c.name for c in children]}."
        )
    return images[0], truth[0]


def _fill(root: Path, writer: DatasetWriter, threshold: int) -> List[str]:
    categories = []
    for number, subset in _subsets(root):
        category = f"rail_type{number}"
        categories.append(category)
        image_dir, truth_dir = _image_and_truth_dirs(subset)
        masks = index_by_stem(truth_dir)
        for image in tqdm(list_images(image_dir), desc=f"rsdd {category}", unit="img", leave=False):
            mask_file = masks.get(image.stem.lower())
            if mask_file is None:
                raise MissingMaskError(f"RSDD image {image} has no mask: expected {truth_dir / image.name}.")
            mask = read_binary_mask(mask_file, threshold)
            if not mask.any():
                writer.add_image(image, category, "test", NORMAL_SPECIE)
                continue
            relative = writer.add_image(image, category, "test", ANOMALY_SPECIE)
            writer.add_mask(mask, category, ANOMALY_SPECIE, relative)
    return categories


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    threshold: int = 127,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert an RSDDs download (archive or folder) into ``out``; return ``out``."""
    return run_conversion(
        raw,
        out,
        dataset="rsdd",
        options={"threshold": threshold},
        find_root=lambda folder: locate_root(folder, lambda f: bool(_subsets(f)), EXPECTED, "RSDDs"),
        fill=lambda root, writer: _fill(root, writer, threshold),
        overwrite=overwrite,
        cache=cache,
    )
