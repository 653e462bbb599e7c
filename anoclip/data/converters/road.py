"""Road: a road-crack segmentation set (CrackForest by default), image folder + mask folder.

Raw layout: ``<raw>/image/<n>.jpg`` + ``<raw>/groundTruth/<n>.mat`` (CrackForest), or
``<raw>/<images>/<name>.<ext>`` + ``<raw>/<masks>/<name>[_mask|_gt|_label].<ext>`` (other sets).
Split: every labelled image in ``test`` (``crack``, or ``good`` when its mask is empty); images
without ground truth are left out and reported (CrackForest has 37).  CrackForest's segment map
has crack labels 2 *and* 4 (3 is road enclosed by cracks), so crack is not "label > 1".
Details, sources and what is assumed (which set "Road" is): data_scripts/README.md, Road.
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
    name_list,
    plural,
    read_binary_mask,
    run_conversion,
)

CATEGORY = "road"
SPECIE = "crack"
IMAGE_DIRS = ("image", "images", "img", "imgs", "jpegimages")
MASK_DIRS = ("groundtruth", "gt", "mask", "masks", "label", "labels", "annotation", "annotations", "segmentationclass")
EXPECTED = "an image folder (image/, images/, JPEGImages/) next to a mask folder (groundTruth/, masks/, gt/)"
# CrackForest segment labels (how they were established: data_scripts/README.md, Road).
CRACKFOREST_ROAD, CRACKFOREST_CRACK, CRACKFOREST_ENCLOSED, CRACKFOREST_THIN_CRACK = 1, 2, 3, 4
CRACKFOREST_CRACK_LABELS = (CRACKFOREST_CRACK, CRACKFOREST_THIN_CRACK)
CRACKFOREST_LABELS = (CRACKFOREST_ROAD, CRACKFOREST_CRACK, CRACKFOREST_ENCLOSED, CRACKFOREST_THIN_CRACK)
REVISION = 2  # 1 counted every label > 1 as crack and stopped at the first image without ground truth


def _pick(folder: Path, names) -> Optional[Path]:
    matches = [c for c in child_dirs(folder) if c.name.lower() in names]
    return matches[0] if len(matches) == 1 else None


def _dirs(folder: Path) -> Tuple[Optional[Path], Optional[Path]]:
    return _pick(folder, IMAGE_DIRS), _pick(folder, MASK_DIRS)


def _is_root(folder: Path) -> bool:
    images, masks = _dirs(folder)
    return images is not None and masks is not None and bool(list_images(images))


def read_crackforest_segmentation(path: Path) -> np.ndarray:
    """The ``groundTruth.Segmentation`` label map of a CrackForest .mat file, checked for known labels."""
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
    unknown = sorted(set(np.unique(segmentation).tolist()) - set(CRACKFOREST_LABELS))
    if unknown:
        raise MetaFormatError(
            f"{path}: Segmentation has label(s) {unknown}; CrackForest files use {list(CRACKFOREST_LABELS)} "
            "(1 road, 2 crack, 3 road enclosed by cracks, 4 thin crack). This is not the CrackForest "
            "release the converter knows; convert its masks to image files (0 = road) in a masks/ folder."
        )
    return segmentation


def _mask_index(mask_dir: Path) -> Dict[str, Path]:
    """Mask files keyed by the image stem they belong to (suffixes _mask/_gt/_label removed)."""
    files = list_images(mask_dir) + sorted(mask_dir.glob("*.mat"))
    return {re.sub(r"(_mask|_gt|_label)$", "", path.stem.lower()): path for path in files}


def _crackforest_mask(mask_file: Path, enclosed: Dict[str, int]) -> np.ndarray:
    """Crack pixels of a .mat file; counts its enclosed-road pixels into ``enclosed`` for the report."""
    segmentation = read_crackforest_segmentation(mask_file)
    pocket = int((segmentation == CRACKFOREST_ENCLOSED).sum())
    if pocket:
        enclosed[mask_file.name] = pocket
    return np.isin(segmentation, CRACKFOREST_CRACK_LABELS)


def _fill(root: Path, writer: DatasetWriter, threshold: int) -> List[str]:
    image_dir, mask_dir = _dirs(root)
    masks = _mask_index(mask_dir)
    images = list_images(image_dir)
    unlabelled = [image for image in images if image.stem.lower() not in masks]
    if len(unlabelled) == len(images):
        raise MissingMaskError(
            f"None of the {len(images)} images in {image_dir} has a mask in {mask_dir} (looked for "
            f"<stem>[_mask|_gt|_label] with an image extension or .mat, e.g. {images[0].stem}.mat). "
            "Point --raw at the folder whose image and mask files share their names."
        )
    enclosed: Dict[str, int] = {}
    for image in tqdm([i for i in images if i not in unlabelled], desc="road", unit="img", leave=False):
        mask_file = masks[image.stem.lower()]
        if mask_file.suffix.lower() == ".mat":
            mask = _crackforest_mask(mask_file, enclosed)
        else:
            mask = read_binary_mask(mask_file, threshold)
        if not mask.any():
            writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
            continue
        relative = writer.add_image(image, CATEGORY, "test", SPECIE)
        writer.add_mask(mask, CATEGORY, SPECIE, relative)
    if unlabelled:
        names = [image.relative_to(root).as_posix() for image in unlabelled]
        writer.report(
            "unlabelled_images",
            {"count": len(names), "files": names},
            f"{len(names)} of {plural(len(images), 'image')} have no ground truth in {mask_dir.name}/ and "
            f"were left out: {name_list(names)}.",
        )
    if enclosed:
        writer.report(
            "mask_labels",
            {
                "crack": list(CRACKFOREST_CRACK_LABELS),
                "not_crack": [CRACKFOREST_ROAD, CRACKFOREST_ENCLOSED],
                "files_with_enclosed_road": len(enclosed),
                "enclosed_road_pixels": sum(enclosed.values()),
            },
            f"crack = Segmentation labels 2 and 4; label 3 (road enclosed by cracks) in "
            f"{plural(len(enclosed), 'file')} ({plural(sum(enclosed.values()), 'pixel')}) counts as road.",
        )
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
        revision=REVISION,
    )
