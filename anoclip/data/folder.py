"""``from_folder(root, out)``: your own images in the ``meta.json`` layout, for ``anoclip bench``.

Every benchmark here reads the MVTec-like layout of :mod:`anoclip.data.meta`; a user's own
images usually sit in one folder per kind instead. This converter reads::

    ROOT/good/                 normal images (required)
    ROOT/<defect>/             anomalous images, one folder per defect type (any names)
    ROOT/masks/<defect>/       optional: one mask per anomalous image, named after it:
                               <stem>.<ext> or <stem>_mask.<ext>, any image format,
                               white (grey level above 127) = defective

or several categories side by side, ``ROOT/<category>/good``, ``ROOT/<category>/<defect>``,
``ROOT/<category>/masks/<defect>``. The category is the word the prompts use: the folder's name,
or ``class_name`` for a single-category folder. Everything lands in the test split (zero-shot
needs no training images); ``anoclip calibrate ROOT/good`` reads normal images directly.

Masks are all or nothing per category. With a ``masks/`` folder every anomalous image needs its
mask and every mask its image: a missing or unmatched mask, a mask of another size than its
image, or two candidates for one image is a :class:`~anoclip.data.errors.DataError` that names
the files. Without ``masks/`` the pixels of the anomalous images are unlabelled: each gets an
empty mask and an ignore mask covering the whole image, so ``anoclip bench`` leaves those pixels
out of the pixel metrics (which are then undefined) and still scores every image.

The output is published atomically by :class:`~anoclip.data.converters.common.DatasetWriter`
with ``info["dataset"] = "custom"`` (the MVTec-style defaults of
:func:`anoclip.data.registry.dataset_defaults`). Its identity includes a fingerprint of the
input files, so running again on an unchanged folder returns at once, and on a changed one
asks for ``overwrite``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .converters.common import (
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
from .errors import DatasetRootError, MaskSizeError, MissingMaskError
from .images import image_size
from .meta import MASK_SUFFIX, NORMAL_SPECIE

MASKS_FOLDER = "masks"
MASK_THRESHOLD = 127  # grey levels above it are defective: 0/255 masks and JPEG-compressed ones alike
EXPECTED = (
    "good/ (normal images) and one folder per defect type, optionally masks/<defect>/ "
    "(e.g. ROOT/good/001.png, ROOT/scratch/002.png, ROOT/masks/scratch/002.png), or one such folder per category"
)


def _is_category(folder: Path) -> bool:
    return (folder / NORMAL_SPECIE).is_dir()


def _is_root(folder: Path) -> bool:
    return _is_category(folder) or any(_is_category(child) for child in child_dirs(folder))


def _categories(root: Path, class_name: Optional[str]) -> Dict[str, Path]:
    """Category name → folder: ROOT itself when it holds good/, else its sub-folders that do."""
    if _is_category(root):
        return {class_name or root.name: root}
    found = {child.name: child for child in child_dirs(root) if _is_category(child)}
    if class_name is not None:
        raise DatasetRootError(
            f"{root} holds several categories ({', '.join(found)}); their folder names are the class names. "
            "Drop class_name (--class-name), or point at one category folder."
        )
    return found


def _mask_index(folder: Path) -> Dict[str, List[Path]]:
    """Masks of one defect folder by the image stem they name (``x.png`` and ``x_mask.png`` → "x")."""
    index: Dict[str, List[Path]] = {}
    for mask in list_images(folder):
        stem = mask.stem[: -len("_mask")] if mask.stem.endswith("_mask") else mask.stem
        index.setdefault(stem, []).append(mask)
    return index


def _pair_masks(category: Path, defects: Dict[str, List[Path]]) -> Dict[Path, Path]:
    """image → mask for every anomalous image of a category with masks/; errors name the files."""
    masks_dir = category / MASKS_FOLDER
    strays = [folder.name for folder in child_dirs(masks_dir) if folder.name not in defects]
    loose = list_images(masks_dir)
    if strays or loose:
        names = [f"{MASKS_FOLDER}/{name}/" for name in strays] + [f"{MASKS_FOLDER}/{p.name}" for p in loose]
        raise MissingMaskError(
            f"{category}: {name_list(names)} match(es) no defect folder (defect folders: {', '.join(defects) or 'none'}). "
            f"Masks go into {MASKS_FOLDER}/<defect>/ named after their image; normal images have none."
        )
    pairs: Dict[Path, Path] = {}
    missing: List[str] = []
    for defect, images in defects.items():
        index = _mask_index(masks_dir / defect)
        stems: Dict[str, List[Path]] = {}
        for image in images:
            stems.setdefault(image.stem, []).append(image)
        for stem, same in stems.items():
            if len(same) > 1:
                raise MissingMaskError(
                    f"{category / defect}: {', '.join(p.name for p in same)} share the name {stem!r}, so a mask cannot "
                    "tell which it belongs to. Rename one of them."
                )
            candidates = index.pop(stem, [])
            if len(candidates) > 1:
                raise MissingMaskError(
                    f"{same[0]} has two masks, {' and '.join(str(p) for p in candidates)}; keep one."
                )
            if candidates:
                pairs[same[0]] = candidates[0]
            else:
                missing.append(f"{defect}/{same[0].name}")
        if index:
            unmatched = [f"{MASKS_FOLDER}/{defect}/{p.name}" for masks in index.values() for p in masks]
            raise MissingMaskError(
                f"{category}: {name_list(unmatched)} name(s) no image in {defect}/ (a mask is <image stem>.<ext> or "
                f"<image stem>{MASK_SUFFIX}). Rename the mask(s) after their images, or remove them."
            )
    if missing:
        raise MissingMaskError(
            f"{category}: {plural(len(missing), 'anomalous image')} without a mask in {masks_dir}: {name_list(missing)}. "
            f"With a {MASKS_FOLDER}/ folder every anomalous image needs one ({MASKS_FOLDER}/<defect>/<image stem>.png); "
            f"without {MASKS_FOLDER}/ at all, the images are scored at image level only."
        )
    return pairs


def _read_mask(image: Path, mask_path: Path) -> np.ndarray:
    mask = read_binary_mask(mask_path, MASK_THRESHOLD)
    width, height = image_size(image)
    if mask.shape != (height, width):
        raise MaskSizeError(
            f"Mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image {image} is {width}x{height}; "
            "a mask must have its image's size."
        )
    return mask


def _check_flat(folder: Path) -> None:
    """Images are read from ``folder`` itself: a sub-folder or a link leading nowhere would be left out unseen."""
    strays = sorted(p.name + ("/" if p.is_dir() else " (a broken or looping link)")
                    for p in folder.iterdir() if not p.name.startswith(".") and (p.is_dir() or not p.exists()))
    if strays:
        raise DatasetRootError(
            f"{folder} holds {name_list(strays)}, which would be left out: images are read from the folder itself. "
            "Move nested images up into it (or make them a category of their own) and remove broken links."
        )


def _fill_category(name: str, folder: Path, writer: DatasetWriter) -> None:
    defect_folders = [child for child in child_dirs(folder) if child.name not in (NORMAL_SPECIE, MASKS_FOLDER)]
    for kind in [folder / NORMAL_SPECIE, *defect_folders]:
        _check_flat(kind)
    normals = list_images(folder / NORMAL_SPECIE)
    if not normals:
        raise DatasetRootError(f"{folder / NORMAL_SPECIE} holds no images; the normal images of {name!r} go there.")
    defects = {child.name: list_images(child) for child in defect_folders}
    empty = [defect for defect, images in defects.items() if not images]
    if empty:
        raise DatasetRootError(f"{folder}: the defect folder(s) {', '.join(empty)} hold no images; fill or remove them.")
    labelled = (folder / MASKS_FOLDER).is_dir()
    pairs = _pair_masks(folder, defects) if labelled else {}
    for image in normals:
        image_size(image)  # an unreadable file is named now, not skipped later
        writer.add_image(image, name, "test", NORMAL_SPECIE)
    anomalous = 0
    for defect, images in defects.items():
        for image in images:
            width, height = image_size(image)
            relative = writer.add_image(image, name, "test", defect)
            if labelled:
                writer.add_mask(_read_mask(image, pairs[image]), name, defect, relative)
            else:
                writer.add_mask(np.zeros((height, width), dtype=bool), name, defect, relative)
                writer.add_ignore(np.ones((height, width), dtype=bool), name, defect, relative)
            anomalous += 1
    summary = (
        f"{name}: {plural(len(normals), 'normal image')} and {plural(anomalous, 'anomalous image')} in "
        f"{plural(len(defects), 'defect type')}" + (f" ({', '.join(defects)})" if defects else "")
    )
    if not labelled and anomalous:
        summary += (
            f"; no {MASKS_FOLDER}/ folder, so their pixels are unlabelled: they are left out of the pixel "
            "metrics (undefined without labelled pixels), the image metrics use every image"
        )
    writer.report(f"{name}/pixel_labels", labelled, summary)


def _fingerprint(source: Path) -> str:
    """A short digest of the input's files (relative path and size; an archive: its name and size)."""
    digest = hashlib.sha256()
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")) if source.is_dir() else [source]
    for path in files:
        name = path.relative_to(source).as_posix() if source.is_dir() else path.name
        digest.update(f"{name}\0{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def from_folder(
    root: PathLike,
    out: PathLike,
    *,
    class_name: Optional[str] = None,
    overwrite: bool = False,
) -> Path:
    """Convert a folder (or an archive of one) laid out as in the module docstring; return ``out``.

    ``class_name`` names a single-category folder's category (default: the folder's name), the
    word the prompts will use, e.g. ``"metal nut"``. ``out`` must lie outside ``root``.
    """

    def find_root(folder: Path) -> Path:
        return locate_root(folder, _is_root, EXPECTED, "a folder of your own images", depth=2,
                           hint="Pass as ROOT the folder that holds good/ (or an archive of it).")

    def fill(found: Path, writer: DatasetWriter) -> Sequence[str]:
        categories = _categories(found, class_name)
        for name, folder in categories.items():
            _fill_category(name, folder, writer)
        return list(categories)

    source = Path(root).expanduser()
    options: Dict[str, object] = {"class_name": class_name}
    if source.exists():  # a missing input is reported by run_conversion
        options["fingerprint"] = _fingerprint(source)
    return run_conversion(source, out, dataset="custom", options=options, find_root=find_root, fill=fill, overwrite=overwrite)

