"""Road: a road-crack segmentation set, read from an image folder and a mask folder.

Which road data set VCP-CLIP's "Road" is could not be established from the released code (see
data_scripts/README.md); the converter therefore reads the two layouts public road-crack sets
come in, with CrackForest (CFD, 118 images, 480x320) as the documented default:

    <raw>/image/001.jpg + <raw>/groundTruth/001.mat      (CrackForest: MATLAB struct groundTruth.Segmentation,
                                                           label 1 = background, 2 = crack)
    <raw>/<images>/<name>.<ext> + <raw>/<masks>/<name>[_mask|_gt|_label].<ext>
                                                         (CRACK500, DeepCrack, ... as image files)

with ``<images>`` one of image(s)/img(s)/JPEGImages and ``<masks>`` one of groundTruth/gt/
mask(s)/label(s)/annotation(s)/SegmentationClass.  Mask files are thresholded at ``threshold``
(JPEG-compressed masks are not exactly 0/255).  All images go to ``test`` (``crack``, or
``good`` when the mask is empty); crack sets have (almost) no crack-free images, so image-level
metrics are usually undefined.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from tqdm.auto import tqdm

from ..errors import MetaFormatError, MissingMaskError
from ..meta import NORMAL_SPECIE
from .common import (
    DatasetWriter,
    PathLike,
    child_dirs,
    list_images,
    locate_root,
    read_binary_mask,
    run_conversion,
)

CATEGORY = "road"
SPECIE = "crack"
IMAGE_DIRS = ("image", "images", "img", "imgs", "jpegimages")
MASK_DIRS = ("groundtruth", "gt", "mask", "masks", "label", "labels", "annotation", "annotations", "segmentationclass")
EXPECTED = "an image folder (image/, images/, JPEGImages/) next to a mask folder (groundTruth/, masks/, gt/)"


def _pick(folder: Path, names) -> Optional[Path]:
    matches = [c for c in child_dirs(folder) if c.name.lower() in names]
    return matches[0] if len(matches) == 1 else None


def _dirs(folder: Path) -> Tuple[Optional[Path], Optional[Path]]:
    return _pick(folder, IMAGE_DIRS), _pick(folder, MASK_DIRS)


def _is_root(folder: Path) -> bool:
    images, masks = _dirs(folder)
    return images is not None and masks is not None and bool(list_images(images))


def read_crackforest_mat(path: Path) -> np.ndarray:
    """Crack pixels (``Segmentation > 1``) of a CrackForest ``groundTruth`` .mat file."""
    from scipy.io import loadmat  # only this layout needs scipy

    try:
        truth = loadmat(path, squeeze_me=True, struct_as_record=False)["groundTruth"]
        if isinstance(truth, np.ndarray):
            truth = truth.flat[0]
        segmentation = np.asarray(truth.Segmentation)
    except (KeyError, AttributeError, ValueError, OSError) as err:
        raise MetaFormatError(
            f"{path} is not a CrackForest ground-truth file (expected a struct groundTruth with a "
            f"Segmentation field): {err}."
        ) from err
    return segmentation > 1


def _mask_index(mask_dir: Path) -> Dict[str, Path]:
    """Mask files keyed by the image stem they belong to (suffixes _mask/_gt/_label removed)."""
    files = list_images(mask_dir) + sorted(mask_dir.glob("*.mat"))
    return {re.sub(r"(_mask|_gt|_label)$", "", path.stem.lower()): path for path in files}


def _fill(root: Path, writer: DatasetWriter, threshold: int) -> List[str]:
    image_dir, mask_dir = _dirs(root)
    masks = _mask_index(mask_dir)
    for image in tqdm(list_images(image_dir), desc="road", unit="img", leave=False):
        mask_file = masks.get(image.stem.lower())
        if mask_file is None:
            raise MissingMaskError(
                f"Road image {image} has no mask in {mask_dir} (looked for {image.stem}[_mask|_gt|_label] "
                "with an image extension or .mat)."
            )
        if mask_file.suffix.lower() == ".mat":
            mask = read_crackforest_mat(mask_file)
        else:
            mask = read_binary_mask(mask_file, threshold)
        if not mask.any():
            writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
            continue
        relative = writer.add_image(image, CATEGORY, "test", SPECIE)
        writer.add_mask(mask, CATEGORY, SPECIE, relative)
    return [CATEGORY]


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    threshold: int = 127,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a road-crack download (archive or folder) into ``out``; return ``out``."""
    return run_conversion(
        raw,
        out,
        dataset="road",
        options={"threshold": threshold},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "a road-crack data set"),
        fill=lambda root, writer: _fill(root, writer, threshold),
        overwrite=overwrite,
        cache=cache,
    )
