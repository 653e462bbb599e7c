"""MSD: mobile phone screen surface defects (oil, scratch, stain), PASCAL VOC segmentation.

Raw layout (``MSD.zip``): ``<raw>/{JPEGImages, SegmentationClass, ImageSets/Segmentation/<split>.txt}``
+ ``good.zip``'s images in ``<raw>/good/`` (or passed as ``good=``).
Split: the images of the official ``test`` list (``split="all"``: all 1200) as anomalies, typed
by the mask's majority class, + the 20 ``good.zip`` images as ``test/good``.
Mask value 255 is VOC "void", which the authors' loader ignores; so with ``void="ignore"`` it
goes to an ignore mask that the metrics leave out, except where 255 is an image's only label
(then it is its defect).  How 255 is used is measured and reported (``info["void"]``).
Details, sources and what is assumed: data_scripts/README.md, MSD.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage
from tqdm.auto import tqdm

from ..errors import MetaFormatError, MissingMaskError, MissingSplitFileError
from ..meta import NORMAL_SPECIE
from .common import (
    DatasetWriter,
    PathLike,
    index_by_stem,
    list_images,
    locate_root,
    name_list,
    plural,
    run_conversion,
)

CATEGORY = "phone_screen"
CLASS_NAMES = {1: "oil", 2: "scratch", 3: "stain"}
VOID = 255
VOID_MODES = ("ignore", "defect")
EXPECTED = "JPEGImages/ and SegmentationClass/ (PASCAL VOC layout)"
REVISION = 2  # 1 counted void (255) pixels as defect
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _is_root(folder: Path) -> bool:
    return (folder / "JPEGImages").is_dir() and (folder / "SegmentationClass").is_dir()


def read_labels(mask_file: Path) -> np.ndarray:
    """The class-index array of an MSD mask, checked to hold only 0-3 and 255."""
    with Image.open(mask_file) as image:
        if image.mode not in ("P", "L"):
            raise MetaFormatError(
                f"{mask_file} is a {image.mode} image; MSD.zip's SegmentationClass masks are palette (or "
                "grey) images of class indices 0-3 and 255. Use the masks of the original MSD.zip."
            )
        labels = np.asarray(image)
    unknown = sorted(set(np.unique(labels).tolist()) - {0, VOID, *CLASS_NAMES})
    if unknown:
        raise MetaFormatError(
            f"{mask_file} has class index(es) {unknown}; MSD uses 0 (background), 1 oil, 2 scratch, "
            "3 stain and 255 (void)."
        )
    return labels


def _specie(labels: np.ndarray) -> str:
    """Majority defect class of a label array; ``"defect"`` when it has no class index."""
    counts = {name: int((labels == index).sum()) for index, name in CLASS_NAMES.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else "defect"


def _free_void_pixels(void: np.ndarray, classes: np.ndarray) -> int:
    """Pixels of the 255 areas that touch no class pixel (VOC borders always touch one)."""
    regions, _ = ndimage.label(void, structure=_EIGHT_CONNECTED)
    touching = np.unique(regions[ndimage.binary_dilation(classes, structure=_EIGHT_CONNECTED) & void])
    return int((void & ~np.isin(regions, touching)).sum())


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


class _VoidCensus:
    """What 255 was in each mask, for the report."""

    def __init__(self) -> None:
        self.images = 0
        self.pixels = 0
        self.free: Dict[str, int] = {}
        self.only_annotation: List[str] = []

    def split(self, name: str, labels: np.ndarray, mode: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """``(defect mask, ignore mask or None)`` of one label array."""
        void = labels == VOID
        classes = (labels > 0) & ~void
        if not void.any():
            return classes, None
        self.images += 1
        self.pixels += int(void.sum())
        if mode == "defect":
            return classes | void, None
        if not classes.any():
            self.only_annotation.append(name)
            return void, None
        free = _free_void_pixels(void, classes)
        if free:
            self.free[name] = free
        return classes, void

    def report(self, writer: DatasetWriter, mode: str) -> None:
        if not self.images:
            return
        value = {
            "value": VOID,
            "treated_as": mode,
            "images_with_void": self.images,
            "void_pixels": self.pixels,
            "free_region_images": dict(sorted(self.free.items())),
            "void_only_images": sorted(self.only_annotation),
        }
        if mode == "defect":
            message = (
                f"label 255 (VOC void) counted as defect (void='defect'): {plural(self.images, 'mask')}, "
                f"{plural(self.pixels, 'pixel')}."
            )
        else:
            message = (
                f"label 255 (VOC void; the authors' loader ignores it) written as ignore masks, left out of "
                f"the metrics: {plural(self.images, 'mask')}, {plural(self.pixels, 'pixel')}. "
            )
            borders = self.images - len(self.free) - len(self.only_annotation)
            message += f"In {borders} of them 255 only borders the defect labels (the VOC convention)."
            if self.free:
                message += f" Free-standing 255 regions (ignored too) in {name_list(sorted(self.free))}."
            if self.only_annotation:
                message += (
                    f" In {name_list(sorted(self.only_annotation))} 255 is the only label, so it was read "
                    "as the defect there."
                )
        writer.report("void", value, message)


def _fill(root: Path, writer: DatasetWriter, split: str, good: Optional[Path], void_mode: str) -> List[str]:
    images = index_by_stem(root / "JPEGImages")
    masks = index_by_stem(root / "SegmentationClass")
    census = _VoidCensus()
    for name in tqdm(_names(root, split), desc="msd", unit="img", leave=False):
        image = images.get(name.lower())
        mask_file = masks.get(name.lower())
        if image is None:
            raise MissingMaskError(f"MSD list names {name!r} but {root / 'JPEGImages' / name}.jpg does not exist.")
        if mask_file is None:
            raise MissingMaskError(f"MSD image {image} has no mask: expected {root / 'SegmentationClass' / name}.png.")
        labels = read_labels(mask_file)
        mask, ignore = census.split(mask_file.name, labels, void_mode)
        if not mask.any():
            writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
            continue
        specie = _specie(labels)
        relative = writer.add_image(image, CATEGORY, "test", specie)
        writer.add_mask(mask, CATEGORY, specie, relative)
        if ignore is not None:
            writer.add_ignore(ignore, CATEGORY, specie, relative)
    census.report(writer, void_mode)
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
    void: str = "ignore",
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert an MSD download (archive or folder) into ``out``; return ``out`` (``void``: module docstring)."""
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split={split!r}: use 'test' (official test list), 'train', 'val' or 'all'.")
    if void not in VOID_MODES:
        raise ValueError(f"void={void!r} is not one of {list(VOID_MODES)}.")
    good_dir = Path(good).expanduser() if good is not None else None
    return run_conversion(
        raw,
        out,
        dataset="msd",
        options={"split": split, "extra_good": good_dir is not None, "void": void},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "MSD (phone screen defects)"),
        fill=lambda root, writer: _fill(root, writer, split, good_dir, void),
        overwrite=overwrite,
        cache=cache,
        revision=REVISION,
    )
