"""The ``meta.json`` index of a dataset, and loading one sample from it.

Every dataset this package prepares lives in one MVTec-like layout::

    <root>/<category>/train/good/<name>
    <root>/<category>/test/<defect or good>/<name>
    <root>/<category>/ground_truth/<defect>/<stem>_mask.png      (0/255 8-bit L PNG)
    <root>/meta.json

``meta.json`` follows the format of the AnoVL / APRIL-GAN / AnomalyCLIP code lineage, so files
written here can be read by those repositories too::

    {"train": {cls: [item, ...]}, "test": {cls: [item, ...]}, "info": {...}}   # "info" optional
    item = {"img_path", "mask_path" ('' if normal), "cls_name", "specie_name", "anomaly" (0/1)}

with paths relative to the root, written with forward slashes.  The category order of the file
is the order results are reported in, so :class:`Meta` keeps it.

Ignore regions: a data set whose annotation marks some pixels as "do not evaluate" (MSD's
PASCAL VOC value 255) gets a second 0/255 L PNG next to the mask,
``ground_truth/<defect>/<stem>_ignore.png``, and its item an extra key ``"ignore_path"``.  The
key is optional and written only when there is such a file, so readers that know the five keys
above (AnoVL, APRIL-GAN, AnomalyCLIP) read the file unchanged; :func:`load_ignore` reads it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..fileio import PathLike
from .errors import (
    DatasetRootError,
    MaskSizeError,
    MetaFormatError,
    MissingMaskError,
    UnknownCategoryError,
)
from ..fileio import write_text_atomic
from .images import (
    check_orientation,
    exif_transpose_of,
    image_size,
    read_mask,
    read_rgb,
    transpose_image,
    transpose_mask,
)


META_FILE = "meta.json"
SPLITS = ("train", "test")
NORMAL_SPECIE = "good"
MASK_SUFFIX = "_mask.png"
IGNORE_SUFFIX = "_ignore.png"
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
ITEM_KEYS = ("img_path", "mask_path", "cls_name", "specie_name", "anomaly")
IGNORE_KEY = "ignore_path"


@dataclass(frozen=True)
class Sample:
    """One image of a dataset, as recorded in ``meta.json`` (paths relative to the root).

    ``ignore_path`` names the optional ignore mask (pixels excluded from the metrics); ``''``
    when the data set marks none, which is the case for every item written by other tools.
    """

    img_path: str
    mask_path: str
    cls_name: str
    specie_name: str
    anomaly: int
    ignore_path: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """The ``meta.json`` item of this sample, keys in the file's conventional order.

        ``ignore_path`` is written only when set, so the item stays in the five-key format.
        """
        item = {key: getattr(self, key) for key in ITEM_KEYS}
        if self.ignore_path:
            item[IGNORE_KEY] = self.ignore_path
        return item


def _how_to_make(root: Path) -> str:
    return (
        f"Prepare a dataset there with `python data_scripts/prepare_<name>.py --out {root} "
        "[--raw PATH | --download]` (e.g. prepare_mvtec.py), or write a small synthetic one "
        f"with `anoclip.data.make_synthetic_dataset({str(root)!r})`."
    )


def _check_category(name: Any, where: str, meta_file: Path) -> str:
    """A category name becomes a file name of the results (``categories/<name>.json``): no path in it."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise MetaFormatError(
            f"{meta_file}: {where} has the category name {name!r}; a category name must be a plain, non-empty "
            "name without '/', '\\' or '..' (results are written to files named after it). Rename the category."
        )
    return name


def _check_relative(value: Any, key: str, where: str, meta_file: Path) -> str:
    """An item path must stay inside the dataset root: relative, without '..' parts."""
    text = str(value)
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":") or ".." in parts or "\0" in text:
        raise MetaFormatError(
            f"{meta_file}: {where} has {key}={text!r}; paths in meta.json must be relative to the dataset root "
            "and stay inside it (no absolute path, no '..'). Regenerate the file with anoclip.data.build_meta(root)."
        )
    return text


def _parse_item(item: Any, where: str, meta_file: Path) -> Sample:
    if not isinstance(item, dict):
        raise MetaFormatError(f"{meta_file}: {where} is {type(item).__name__}, expected an object.")
    missing = [key for key in ITEM_KEYS if key not in item]
    if missing:
        raise MetaFormatError(
            f"{meta_file}: {where} lacks the key(s) {missing}; every item needs {list(ITEM_KEYS)}. "
            "Regenerate the file with anoclip.data.build_meta(root)."
        )
    anomaly = item["anomaly"]
    if anomaly not in (0, 1) or isinstance(anomaly, bool):
        raise MetaFormatError(f"{meta_file}: {where} has anomaly={anomaly!r}; it must be 0 or 1.")
    ignore = item.get(IGNORE_KEY, "")
    if not isinstance(ignore, str):
        raise MetaFormatError(
            f"{meta_file}: {where} has {IGNORE_KEY}={ignore!r}; it must be a path relative to the root "
            "(or be left out when the image has no ignore region)."
        )
    return Sample(
        img_path=_check_relative(item["img_path"], "img_path", where, meta_file),
        mask_path=_check_relative(item["mask_path"], "mask_path", where, meta_file),
        cls_name=str(item["cls_name"]),
        specie_name=str(item["specie_name"]),
        anomaly=int(anomaly),
        ignore_path=_check_relative(ignore, IGNORE_KEY, where, meta_file),
    )


class Meta:
    """A dataset's ``meta.json``, read once; samples are grouped by split and category."""

    def __init__(self, root: PathLike, splits: Dict[str, Dict[str, List[Sample]]], info: Dict[str, Any]):
        self.root = Path(root)
        self._splits = splits
        self._info = info

    @classmethod
    def load(cls, root: PathLike) -> "Meta":
        """Read ``<root>/meta.json``; clear errors for a missing root, file, or bad content."""
        root = Path(root)
        meta_file = root / META_FILE
        if not root.is_dir():
            raise DatasetRootError(f"Dataset root {root} does not exist. {_how_to_make(root)}")
        if not meta_file.is_file():
            raise DatasetRootError(f"No meta.json in {root} (expected {meta_file}). {_how_to_make(root)}")
        try:
            raw = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise MetaFormatError(
                f"{meta_file} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). "
                "It may be truncated; re-run the prepare script, or rebuild it with "
                "anoclip.data.write_meta(root, anoclip.data.build_meta(root))."
            ) from err
        except UnicodeDecodeError as err:
            raise MetaFormatError(f"{meta_file} is not UTF-8 text ({err}); it is not a meta.json.") from err
        if not isinstance(raw, dict) or "test" not in raw:
            raise MetaFormatError(
                f"{meta_file} must be an object with at least a 'test' key "
                '({"train": {cls: [...]}, "test": {cls: [...]}}).'
            )
        splits: Dict[str, Dict[str, List[Sample]]] = {}
        for split in SPLITS:
            groups = raw.get(split, {})
            if not isinstance(groups, dict):
                raise MetaFormatError(f"{meta_file}: '{split}' must map category names to lists of items.")
            splits[split] = {}
            for category, items in groups.items():
                _check_category(category, f"{split}/{category}", meta_file)
                if not isinstance(items, list):
                    raise MetaFormatError(f"{meta_file}: {split}/{category} must be a list of items.")
                splits[split][category] = [
                    _parse_item(item, f"{split}/{category}[{index}]", meta_file) for index, item in enumerate(items)
                ]
        info = raw.get("info", {})
        if not isinstance(info, dict):
            raise MetaFormatError(f"{meta_file}: 'info' must be an object.")
        return cls(root, splits, info)

    def _split(self, split: str) -> Dict[str, List[Sample]]:
        if split not in self._splits:
            raise ValueError(f"Unknown split {split!r}; use one of {list(SPLITS)}.")
        return self._splits[split]

    def categories(self, split: str = "test") -> List[str]:
        """Category names of a split, in the order of the file."""
        return list(self._split(split))

    def samples(self, category: str, split: str = "test") -> List[Sample]:
        """All samples of one category in a split, in file order."""
        groups = self._split(split)
        if category not in groups:
            raise UnknownCategoryError(
                f"Category {category!r} is not in the {split} split of {self.root / META_FILE}; "
                f"available: {list(groups)}."
            )
        return list(groups[category])

    @property
    def info(self) -> Dict[str, Any]:
        """The optional ``"info"`` block (e.g. ``{"synthetic": true, ...}``); empty if absent."""
        return dict(self._info)

    def __repr__(self) -> str:
        counts = {split: sum(len(v) for v in groups.values()) for split, groups in self._splits.items()}
        return f"Meta(root={str(self.root)!r}, categories={self.categories()}, samples={counts})"


def write_meta(root: PathLike, meta: Dict[str, Any]) -> Path:
    """Write ``<root>/meta.json`` atomically (temp file in the same folder, then ``os.replace``).

    A crash mid-write therefore leaves either the old file or the new one, never half a file
    that would later fail to parse.
    """
    root = Path(root)
    if not isinstance(meta, dict) or "test" not in meta:
        raise MetaFormatError('meta must be a dict with at least a "test" key mapping categories to items.')
    if not root.is_dir():
        raise DatasetRootError(f"Cannot write meta.json: dataset root {root} does not exist.")
    return write_text_atomic(root / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def _sorted_dirs(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def build_meta(root: PathLike, categories: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Scan an MVTec-like tree and return its ``meta.json`` dict (without writing it).

    Categories are the sub-folders holding ``train/`` or ``test/`` (sorted), unless given.
    Defect folders and images are sorted by name, and each anomalous image is paired with
    ``ground_truth/<defect>/<stem>_mask.png`` **by name**: the original AnoVL script paired
    them by sorted index, which silently mismatches when a mask is missing or names sort
    differently (``10_mask.png`` sorts before ``1_mask.png``).  An ignore mask
    ``ground_truth/<defect>/<stem>_ignore.png`` next to it is recorded as ``ignore_path``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetRootError(f"Dataset root {root} does not exist; nothing to index.")
    if categories is None:
        categories = [d.name for d in _sorted_dirs(root) if (d / "train").is_dir() or (d / "test").is_dir()]
        if not categories:
            raise DatasetRootError(
                f"{root} holds no category folders: expected e.g. {root}/<category>/test/good/. "
                "Point at the folder that contains the category folders."
            )
    meta: Dict[str, Any] = {split: {} for split in SPLITS}
    for category in categories:
        category_dir = root / category
        if not category_dir.is_dir():
            raise DatasetRootError(f"Category folder {category_dir} does not exist.")
        for split in SPLITS:
            items: List[Dict[str, Any]] = []
            split_dir = category_dir / split
            for specie_dir in _sorted_dirs(split_dir) if split_dir.is_dir() else []:
                anomalous = specie_dir.name != NORMAL_SPECIE
                truth_dir = category_dir / "ground_truth" / specie_dir.name
                for image in sorted(p for p in specie_dir.iterdir() if _is_image(p)):
                    mask_rel = ignore_rel = ""
                    if anomalous:
                        mask = truth_dir / (image.stem + MASK_SUFFIX)
                        if not mask.is_file():
                            raise MissingMaskError(
                                f"Anomalous image {image} has no mask: expected {mask} "
                                f"(masks are paired by name, <image stem>{MASK_SUFFIX})."
                            )
                        mask_rel = mask.relative_to(root).as_posix()
                        ignore = truth_dir / (image.stem + IGNORE_SUFFIX)
                        ignore_rel = ignore.relative_to(root).as_posix() if ignore.is_file() else ""
                    items.append(
                        Sample(
                            img_path=image.relative_to(root).as_posix(),
                            mask_path=mask_rel,
                            cls_name=category,
                            specie_name=specie_dir.name,
                            anomaly=int(anomalous),
                            ignore_path=ignore_rel,
                        ).to_dict()
                    )
            meta[split][category] = items
    return meta


def load_sample(root: PathLike, sample: Sample, orientation: str = "none") -> Tuple[Image.Image, np.ndarray]:
    """Read one sample: the 8-bit RGB image and its boolean ``(H, W)`` ground-truth mask.

    Normal samples get an all-False mask of the image's ``(H, W)`` (PIL's ``size`` is
    ``(W, H)``; the original MVTec loader built ``(W, H)``, harmless only for square images).

    ``orientation="none"`` (default, as the official code) uses the stored pixels;
    ``orientation="exif"`` applies the image's EXIF Orientation transform to the image **and**
    the mask, so the two stay aligned either way.  The mask must match the stored image size.
    """
    root = Path(root)
    check_orientation(orientation)
    image = read_rgb(root / sample.img_path)
    shape = (image.height, image.width)
    if sample.mask_path:
        mask = _read_aligned(root, sample.mask_path, sample, shape, "Mask")
    elif sample.anomaly:
        raise MissingMaskError(
            f"Sample {sample.img_path} is marked anomalous but has no mask_path in "
            f"{root / META_FILE}; rebuild the file with anoclip.data.build_meta(root)."
        )
    else:
        mask = np.zeros(shape, dtype=bool)
    if orientation == "exif":
        method = exif_transpose_of(root / sample.img_path)
        image, mask = transpose_image(image, method), transpose_mask(mask, method)
    return image, mask


def load_ignore(root: PathLike, sample: Sample, orientation: str = "none") -> Optional[np.ndarray]:
    """The boolean ``(H, W)`` ignore mask of a sample (True = leave out of the metrics), or ``None``.

    ``None`` when the sample has no ``ignore_path`` (all data sets but MSD).  ``orientation``
    must be the one given to :func:`load_sample` for the same sample, so that image, mask and
    ignore mask get the same transform.  Pass the result as ``ignore=`` to
    :meth:`anoclip.metrics.PixelScores.add`.
    """
    root = Path(root)
    check_orientation(orientation)
    if not sample.ignore_path:
        return None
    width, height = image_size(root / sample.img_path)
    ignore = _read_aligned(root, sample.ignore_path, sample, (height, width), "Ignore mask")
    if orientation == "exif":
        ignore = transpose_mask(ignore, exif_transpose_of(root / sample.img_path))
    return ignore


def _read_aligned(root: Path, relative: str, sample: Sample, shape: Tuple[int, int], what: str) -> np.ndarray:
    """Read a mask file of ``sample`` and check it has the stored image's ``(H, W)``."""
    mask = read_mask(root / relative)
    if mask.shape != shape:
        raise MaskSizeError(
            f"{what} {root / relative} is {mask.shape[1]}x{mask.shape[0]} (WxH) but image "
            f"{root / sample.img_path} is {shape[1]}x{shape[0]}; re-run the dataset's prepare script."
        )
    return mask
