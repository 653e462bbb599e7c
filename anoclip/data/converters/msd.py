"""MSD: mobile phone screen surface defects (oil, scratch, stain), PASCAL VOC segmentation.

Raw layout (``MSD.zip`` from https://github.com/jianzhang96/MSD, a OneDrive/Baidu link)::

    <raw>/JPEGImages/<name>.jpg                      (1200 images, 1920x1080)
    <raw>/SegmentationClass/<name>.png               (palette indices 0 bg, 1 oil, 2 scratch, 3 stain)
    <raw>/ImageSets/Segmentation/{train,val,test}.txt
    <raw>/good/*.jpg                                 (optional: the 20 extra defect-free images of good.zip)

Every MSD image shows a defect.  Split built here: the official ``test`` list (20 %, 240
images) as anomalies, the defect type read from the mask's class indices (majority class);
``split="all"`` takes all 1200.  The 20 defect-free images of ``good.zip`` (unpacked into
``<raw>/good`` or passed as ``good=``) become ``test/good``; without them image-level metrics
are undefined.  How VCP-CLIP sampled MSD could not be established.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..errors import MissingMaskError, MissingSplitFileError
from ..images import read_mask
from ..meta import NORMAL_SPECIE
from .common import DatasetWriter, PathLike, index_by_stem, list_images, locate_root, run_conversion

CATEGORY = "phone_screen"
CLASS_NAMES = {1: "oil", 2: "scratch", 3: "stain"}
EXPECTED = "JPEGImages/ and SegmentationClass/ (PASCAL VOC layout)"


def _is_root(folder: Path) -> bool:
    return (folder / "JPEGImages").is_dir() and (folder / "SegmentationClass").is_dir()


def _specie(mask_file: Path) -> str:
    """Majority defect class of a palette mask; ``"defect"`` when the mask has no class indices."""
    with Image.open(mask_file) as image:
        values = np.asarray(image) if image.mode in ("P", "L") else None
    if values is None:
        return "defect"
    counts = {name: int((values == index).sum()) for index, name in CLASS_NAMES.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else "defect"


def _names(root: Path, split: str) -> List[str]:
    if split == "all":
        return [p.stem for p in list_images(root / "JPEGImages")]
    list_file = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise MissingSplitFileError(
            f"MSD split list {list_file} not found. Use the full MSD.zip (it has ImageSets/Segmentation/), "
            "or pass split='all' (--split all) to use every image."
        )
    return [line.strip() for line in list_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fill(root: Path, writer: DatasetWriter, split: str, good: Optional[Path]) -> List[str]:
    images = index_by_stem(root / "JPEGImages")
    masks = index_by_stem(root / "SegmentationClass")
    for name in tqdm(_names(root, split), desc="msd", unit="img", leave=False):
        image = images.get(name.lower())
        mask_file = masks.get(name.lower())
        if image is None:
            raise MissingMaskError(f"MSD list names {name!r} but {root / 'JPEGImages' / name}.jpg does not exist.")
        if mask_file is None:
            raise MissingMaskError(f"MSD image {image} has no mask: expected {root / 'SegmentationClass' / name}.png.")
        mask = read_mask(mask_file)
        if not mask.any():
            writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
            continue
        specie = _specie(mask_file)
        relative = writer.add_image(image, CATEGORY, "test", specie)
        writer.add_mask(mask, CATEGORY, specie, relative)
    good_dir = good if good is not None else root / "good"
    for image in list_images(good_dir):
        writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
    return [CATEGORY]


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    split: str = "test",
    good: Optional[PathLike] = None,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert an MSD download (archive or folder) into ``out``; return ``out``."""
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split={split!r}: use 'test' (official test list), 'train', 'val' or 'all'.")
    good_dir = Path(good).expanduser() if good is not None else None
    return run_conversion(
        raw,
        out,
        dataset="msd",
        options={"split": split, "extra_good": good_dir is not None},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "MSD (phone screen defects)"),
        fill=lambda root, writer: _fill(root, writer, split, good_dir),
        overwrite=overwrite,
        cache=cache,
    )
