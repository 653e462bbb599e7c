"""Stand-ins for the raw downloads of the benchmark data sets: tiny, synthetic, laid out like the real ones.

Each function writes into ``folder`` what one real download holds once extracted - folder and
file names, file formats, split files and the quirks a new user meets (CrackForest's images
without ground truth, GC10-DET's file names in two class folders, MSD's 255 borders, an image
with an EXIF Orientation tag) - and returns the folder to pass as ``--raw``.  The pixels come
from :func:`anoclip.data.synthetic.render_synthetic` (cropped to each set's aspect ratio), so
every converted sample has a planted defect whose mask is known exactly.  Counts and sizes are
parameters with small defaults: the whole set converts in a few seconds.

They exist so that the converters can be tested on the real layouts and the download path
rehearsed without the real data: a mirror packs each stand-in into an archive named like the
real file (each docstring names it) and serves it.  Nothing here packs or serves anything.
Where a layout detail could not be checked against the real download, the docstring says
"assumed"; data_scripts/README.md lists what was verified against which source.
"""
from __future__ import annotations

import base64
import json
import shutil
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from anoclip.data.converters.gc import CLASS_NAMES as GC10_CLASS_NAMES
from anoclip.data.errors import OutputExistsError
from anoclip.data.synthetic import DEFECTS, render_synthetic

from anoclip.fileio import PathLike
Shape = Tuple[int, int]

EXIF_ORIENTATION_TAG = 0x0112
ROTATED = 6  # "rotate 90 degrees clockwise to display": what a phone held upright writes
_TYPE_PERIOD = 12  # a multiple of every category's number of defect types: index + k * 12 keeps the type


# ----------------------------------------------------------------------------------------------
# pixels


def _sample(category: str, kind: str, index: int, shape: Shape, seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(clean, image, mask)`` of one synthetic sample cropped (centred) to ``shape`` = (H, W).

    The renderer draws squares; the crop keeps the real sets' aspect ratios.  A defect that the
    crop would cut away is re-drawn with the next index of the same defect type.
    """
    height, width = shape
    side = max(32, height, width)
    top, left = (side - height) // 2, (side - width) // 2
    window = (slice(top, top + height), slice(left, left + width))
    for attempt in range(64):
        _, clean, image, mask = render_synthetic(category, kind, index + attempt * _TYPE_PERIOD, image_size=side, seed=seed)
        if kind != "defect" or mask[window].sum() >= 4:
            return clean[window], image[window], mask[window]
    raise ValueError(f"shape {shape} is too narrow to keep a {category} defect in view; make it wider.")


def _defect_index(category: str, defect: str, k: int) -> int:
    """The ``k``-th renderer index whose planted defect is ``defect``."""
    return DEFECTS[category].index(defect) + k * len(DEFECTS[category])


def _rng(seed: int, *keys: Union[int, str]) -> np.random.Generator:
    return np.random.default_rng([seed] + [zlib.crc32(str(key).encode()) for key in keys])


def _box(shape: Shape, rng: np.random.Generator) -> Tuple[int, int, int, int]:
    """A random box ``(x0, y0, x1, y1)``, inclusive, inside an image of ``shape``, at least 3x3."""
    height, width = shape
    x0 = int(rng.integers(0, width - 4))
    y0 = int(rng.integers(0, height - 4))
    x1 = int(rng.integers(x0 + 2, min(width, x0 + max(3, width // 2))))
    y1 = int(rng.integers(y0 + 2, min(height, y0 + max(3, height // 2))))
    return x0, y0, x1, y1


def _paint(clean: np.ndarray, mask: np.ndarray, colour: Sequence[int]) -> np.ndarray:
    image = clean.copy()
    image[mask] = colour
    return image


def _box_mask(shape: Shape, box: Tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, dtype=bool)
    mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


# ----------------------------------------------------------------------------------------------
# files


def _save(path: Path, array: np.ndarray, *, grey: bool = False, exif_orientation: Optional[int] = None, **options) -> Path:
    """Write an image (format from the suffix); JPEGs at quality 95, optionally EXIF-tagged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if grey and image.mode != "L":
        image = image.convert("L")
    if path.suffix.lower() in (".jpg", ".jpeg"):
        options.setdefault("quality", 95)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = exif_orientation
        options["exif"] = exif
    image.save(path, **options)
    return path


def _save_binary(path: Path, mask: np.ndarray, **options) -> Path:
    return _save(path, np.where(mask, 255, 0).astype(np.uint8), **options)


def _text(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline=newline) as handle:
        handle.write(text)
    return path


def _fresh(folder: PathLike, name: str = "") -> Path:
    """``folder/name``, created; it must not hold anything yet (a stand-in never mixes with other files)."""
    target = Path(folder).expanduser() / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputExistsError(
            f"{target} already exists and is not empty; a stand-in is written into a new or empty folder. "
            "Choose another folder, or delete that one yourself."
        )
    target.mkdir(parents=True, exist_ok=True)
    return target


def _orientation(tag: bool, first: bool) -> Optional[int]:
    return ROTATED if tag and first else None


# ----------------------------------------------------------------------------------------------
# the data sets


def mvtec(
    folder: PathLike,
    categories: Sequence[str] = ("bottle", "carpet", "grid", "pill"),
    n_train: int = 3,
    n_test_good: int = 1,
    n_test_defect: int = 2,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """Stand-in for ``mvtec_anomaly_detection.tar.xz`` (MVTec AD, the full archive).

    The archive has no wrapper folder (anomalib extracts it into its data root and reads
    ``<root>/<category>``): one folder per category plus ``license.txt`` and ``readme.txt``.
    Per category ``train/good/000.png``, ``test/good/000.png``, ``test/<defect>/000.png``
    (numbered per defect folder) and ``ground_truth/<defect>/000_mask.png`` (0/255).  ``grid`` is
    stored grey, as in the real set.  Returns ``folder``.
    """
    root = _fresh(folder)
    for category in categories:
        _mvtec_category(root / category, category, n_train, n_test_good, n_test_defect, size, seed)
    _text(root / "license.txt", "Stand-in for MVTec AD's license.txt (CC BY-NC-SA 4.0).\n")
    _text(root / "readme.txt", "Stand-in for MVTec AD's readme.txt.\n")
    return root


def mvtec_category(
    folder: PathLike,
    category: str = "bottle",
    n_train: int = 3,
    n_test_good: int = 1,
    n_test_defect: int = 2,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """Stand-in for one MVTec AD per-category archive, e.g. ``bottle.tar.xz``.

    It extracts to ``<category>/`` with the layout of :func:`mvtec`; ``license.txt`` and
    ``readme.txt`` next to it are assumed (the per-category archives were not inspected).
    Returns ``folder`` (the category folder is ``folder/<category>``).
    """
    return mvtec(folder, (category,), n_train, n_test_good, n_test_defect, size, seed)


def _mvtec_category(base: Path, category: str, n_train: int, n_good: int, n_defect: int, size: int, seed: int) -> None:
    grey = category == "grid"
    for index in range(n_train):
        _, image, _ = _sample(category, "train", index, (size, size), seed)
        _save(base / "train" / "good" / f"{index:03d}.png", image, grey=grey)
    for index in range(n_good):
        _, image, _ = _sample(category, "good", index, (size, size), seed)
        _save(base / "test" / "good" / f"{index:03d}.png", image, grey=grey)
    numbers: Dict[str, int] = {}
    for index in range(n_defect):
        defect = DEFECTS[category][index % len(DEFECTS[category])]
        number = numbers[defect] = numbers.get(defect, -1) + 1
        _, image, mask = _sample(category, "defect", index, (size, size), seed)
        _save(base / "test" / defect / f"{number:03d}.png", image, grey=grey)
        _save_binary(base / "ground_truth" / defect / f"{number:03d}_mask.png", mask)


def visa(
    folder: PathLike,
    objects: Sequence[str] = ("candle", "pcb1"),
    n_train: int = 3,
    n_test_good: int = 1,
    n_anomaly: int = 2,
    shape: Shape = (32, 40),
    seed: int = 0,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for ``VisA_20220922.tar`` (VisA, the Amazon S3 release).

    No wrapper folder, and the tar carries the split file (anomalib extracts it and reads
    ``<root>/split_csv/1cls.csv`` without fetching it separately).  Per object
    ``Data/Images/Normal/0000.JPG``, ``Data/Images/Anomaly/000.JPG``, ``Data/Masks/Anomaly/000.png``
    (multi-class index PNGs: 0 background, 1.. defect classes) and ``image_anno.csv`` (columns
    assumed); ``split_csv/1cls.csv`` has the real columns ``object,split,label,image,mask`` and
    CRLF line ends, like the one in amazon-science/spot-diff.  With ``exif_tag`` the first
    anomalous JPEG carries an EXIF Orientation tag.  Returns ``folder``.
    """
    root = _fresh(folder)
    rows = ["object,split,label,image,mask"]
    for number, name in enumerate(objects):
        base = root / name / "Data"
        annotations = ["image,label,mask"]
        for index in range(n_train + n_test_good):
            _, image, _ = _sample("pill", "train" if index < n_train else "good", 100 * number + index, shape, seed)
            relative = f"{name}/Data/Images/Normal/{index:04d}.JPG"
            _save(root / relative, image)
            rows.append(f"{name},{'train' if index < n_train else 'test'},normal,{relative},")
            annotations.append(f"{relative},normal,")
        for index in range(n_anomaly):
            _, image, mask = _sample("pill", "defect", 100 * number + index, shape, seed)
            relative = f"{name}/Data/Images/Anomaly/{index:03d}.JPG"
            mask_relative = f"{name}/Data/Masks/Anomaly/{index:03d}.png"
            _save(root / relative, image, exif_orientation=_orientation(exif_tag, number == 0 and index == 0))
            _save(root / mask_relative, mask.astype(np.uint8) * (1 + index % 2))  # class ids, not 0/255
            rows.append(f"{name},test,anomaly,{relative},{mask_relative}")
            annotations.append(f"{relative},anomaly,{mask_relative}")
        _text(base.parent / "image_anno.csv", "\n".join(annotations) + "\n")
    _text(root / "split_csv" / "1cls.csv", "\n".join(rows) + "\n", newline="\r\n")
    return root


def ksdd2(
    folder: PathLike,
    n_train: Tuple[int, int] = (3, 1),
    n_test: Tuple[int, int] = (3, 2),
    shape: Shape = (64, 24),
    seed: int = 0,
) -> Path:
    """Stand-in for ``KolektorSDD2.zip`` (KolektorSDD2, ViCoS).

    No wrapper folder (the ViCoS training code reads ``<root>/train/<id>.png``): ``train/`` and
    ``test/`` with five-digit ids, each image ``<id>.png`` next to ``<id>_GT.png`` (0/255; black
    for defect-free images).  ``n_train`` / ``n_test`` are (defect-free, defective) counts;
    images are tall and narrow like the real ~230x630 ones.  Returns ``folder``.
    """
    root = _fresh(folder)
    ident = 10000
    for split, (n_normal, n_defective) in (("train", n_train), ("test", n_test)):
        for index in range(n_normal + n_defective):
            defective = index >= n_normal
            _, image, mask = _sample("carpet", "defect" if defective else "good", ident, shape, seed)
            _save(root / split / f"{ident}.png", image)
            _save_binary(root / split / f"{ident}_GT.png", mask)
            ident += 1
    return root


def btech(
    folder: PathLike,
    products: Sequence[str] = ("01", "02", "03"),
    n_train: int = 2,
    n_test_ok: int = 1,
    n_test_ko: int = 2,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """Stand-in for ``btad.zip`` (BTech / BTAD).

    It extracts to ``BTech_Dataset_transformed/`` (the folder anomalib renames) with
    ``<product>/train/ok``, ``test/{ok,ko}`` and ``ground_truth/ko/<image stem>.<ext>``.  Product
    01: BMP images, PNG masks; 02: PNG images and masks; 03: BMP images and masks (as
    Bayes-PFL's BTAD script expects).  Returns ``folder/BTech_Dataset_transformed``.
    """
    root = _fresh(folder, "BTech_Dataset_transformed")
    formats = {"01": ("bmp", "png"), "02": ("png", "png"), "03": ("bmp", "bmp")}
    for number, product in enumerate(products):
        image_ext, mask_ext = formats.get(product, ("bmp", "png"))
        category = ("bottle", "carpet", "grid")[number % 3]
        for index in range(n_train):
            _, image, _ = _sample(category, "train", index, (size, size), seed)
            _save(root / product / "train" / "ok" / f"{index:03d}.{image_ext}", image)
        for index in range(n_test_ok):
            _, image, _ = _sample(category, "good", index, (size, size), seed)
            _save(root / product / "test" / "ok" / f"{index:03d}.{image_ext}", image)
        for index in range(n_test_ko):
            _, image, mask = _sample(category, "defect", index, (size, size), seed)
            _save(root / product / "test" / "ko" / f"{index:03d}.{image_ext}", image)
            _save_binary(root / product / "ground_truth" / "ko" / f"{index:03d}.{mask_ext}", mask)
    return root


def rsdd(
    folder: PathLike,
    counts: Tuple[int, int] = (2, 2),
    shapes: Tuple[Shape, Shape] = ((64, 16), (80, 12)),
    seed: int = 0,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for the RSDDs download (IEEE DataPort), which extracts to ``RSDDs dataset/``.

    ``Type-I RSDDs dataset`` and ``Type-II RSDDs dataset``, each with ``Rail surface images/``
    and ``GroundTruth/`` holding JPEGs of the same names (``rail_<n>.jpg``; the names are
    assumed).  The masks are JPEGs too, so their black is not exactly 0.  Every image shows a
    defect; the strips are tall and narrow like the real 160x1000 / 55x1250 ones.  Returns
    ``folder/RSDDs dataset``.
    """
    root = _fresh(folder, "RSDDs dataset")
    for subset, count, shape in zip(("Type-I RSDDs dataset", "Type-II RSDDs dataset"), counts, shapes):
        for index in range(1, count + 1):
            _, image, mask = _sample("grid", "defect", index + 50 * len(subset), shape, seed)
            first = subset.startswith("Type-I ") and index == 1
            _save(root / subset / "Rail surface images" / f"rail_{index}.jpg", image, exif_orientation=_orientation(exif_tag, first))
            _save_binary(root / subset / "GroundTruth" / f"rail_{index}.jpg", mask, grey=True, quality=75)
    return root


def dagm(
    folder: PathLike,
    classes: Sequence[int] = (1, 2),
    n_train: Tuple[int, int] = (3, 1),
    n_test: Tuple[int, int] = (3, 2),
    size: int = 32,
    seed: int = 0,
) -> Path:
    """Stand-in for the DAGM 2007 Kaggle mirror's archive, which extracts to ``DAGM_KaggleUpload/``.

    ``Class<N>/{Train,Test}/<nnnn>.PNG`` (grey) and ``Label/<nnnn>_label.PNG`` for the defective
    ones, as the ViCoS training code reads them, plus ``Label/Labels.txt`` (line format assumed).
    The labels are what makes DAGM coarse: an ellipse drawn around the defect, not its pixels.
    ``n_train`` / ``n_test`` are (defect-free, defective) counts.  Returns
    ``folder/DAGM_KaggleUpload``.
    """
    root = _fresh(folder, "DAGM_KaggleUpload")
    for number in classes:
        for split, (n_normal, n_defective) in (("Train", n_train), ("Test", n_test)):
            base = root / f"Class{number}" / split
            lines = ["1"]
            for index in range(n_normal + n_defective):
                name = f"{index + 1:04d}"
                defective = index >= n_normal
                _, image, mask = _sample("carpet", "defect" if defective else "good", 1000 * number + index, (size, size), seed)
                _save(base / f"{name}.PNG", image, grey=True)
                if defective:
                    _save_binary(base / "Label" / f"{name}_label.PNG", ellipse_around(mask))
                lines.append(f"{index + 1}\t{int(defective)}\t{name}.PNG\t0\t{name + '_label.PNG' if defective else '0'}")
            _text(base / "Label" / "Labels.txt", "\n".join(lines) + "\n")
    return root


def ellipse_around(mask: np.ndarray) -> np.ndarray:
    """The filled ellipse inscribed in the bounding box of ``mask`` (grown by one pixel), as DAGM draws."""
    rows, cols = np.nonzero(mask)
    canvas = Image.new("L", (mask.shape[1], mask.shape[0]), 0)
    ImageDraw.Draw(canvas).ellipse([cols.min() - 1, rows.min() - 1, cols.max() + 1, rows.max() + 1], fill=255)
    return np.asarray(canvas) > 0


def crackforest(
    folder: PathLike,
    n_labelled: int = 4,
    n_unlabelled: Tuple[int, int] = (2, 3),
    shape: Shape = (32, 48),
    seed: int = 0,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for ``CrackForest-dataset-master.zip`` (GitHub's ZIP of cuilimeng/CrackForest-dataset).

    It extracts to ``CrackForest-dataset-master/`` (a clone has the same content):
    ``image/<nnn>.jpg``, ``groundTruth/<nnn>.mat`` (struct ``groundTruth`` with uint8
    ``Segmentation``, 1 road / 2 crack, and ``Boundaries``), ``seg/<nnn>.seg`` (the BSDS text
    format), ``image/image.rar`` (a placeholder for the repository's archive of the images) and
    ``README.md``.  The real quirks: only 001.. have ground truth, while the images numbered
    201.. and 301.. (``n_unlabelled``) have none, the last of them in portrait orientation; the
    last labelled file also uses labels 3 (road enclosed by cracks) and 4 (a further crack).
    Real images are 480x320.  With ``exif_tag`` image 001 carries an EXIF Orientation tag.
    Returns ``folder/CrackForest-dataset-master``.
    """
    root = _fresh(folder, "CrackForest-dataset-master")
    for index in range(1, n_labelled + 1):
        name = f"{index:03d}"
        _, image, crack = _sample("carpet", "defect", _defect_index("carpet", "scratch", index), shape, seed)
        segmentation = np.where(crack, 2, 1).astype(np.uint8)
        if index == n_labelled and n_labelled > 1:
            _add_extra_segments(segmentation, crack)
        _save(root / "image" / f"{name}.jpg", image, exif_orientation=_orientation(exif_tag, index == 1))
        _crackforest_truth(root, name, segmentation)
    first, second = n_unlabelled
    names = [f"{201 + i}" for i in range(first)] + [f"{301 + i}" for i in range(second)]
    for index, name in enumerate(names):
        portrait = index == len(names) - 1
        _, image, _ = _sample("carpet", "good", 500 + index, shape[::-1] if portrait else shape, seed)
        _save(root / "image" / f"{name}.jpg", image)
    (root / "image" / "image.rar").write_bytes(b"Rar!\x1a\x07\x00")
    _text(root / "README.md", "CrackForest Dataset (stand-in). Non-commercial research use only.\n")
    return root


def _add_extra_segments(segmentation: np.ndarray, crack: np.ndarray) -> None:
    """Relabel the right half of the crack 4 and a 3x3 patch of road far from it 3, in place."""
    from scipy import ndimage

    columns = np.nonzero(crack.any(axis=0))[0]
    right = crack.copy()
    right[:, : (columns.min() + columns.max() + 1) // 2] = False
    segmentation[right] = 4
    distance = ndimage.distance_transform_edt(~crack)
    distance[[0, -1], :] = distance[:, [0, -1]] = 0  # keep the patch inside the image
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    segmentation[row - 1 : row + 2, col - 1 : col + 2] = 3


def _crackforest_truth(root: Path, name: str, segmentation: np.ndarray) -> None:
    from scipy.io import savemat  # only this stand-in needs scipy

    edges = np.zeros_like(segmentation)
    edges[1:] |= segmentation[1:] != segmentation[:-1]
    edges[:, 1:] |= segmentation[:, 1:] != segmentation[:, :-1]
    (root / "groundTruth").mkdir(parents=True, exist_ok=True)
    savemat(root / "groundTruth" / f"{name}.mat", {"groundTruth": {"Segmentation": segmentation, "Boundaries": edges}})
    height, width = segmentation.shape
    runs = []
    for row in range(height):
        values = segmentation[row]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        stops = np.r_[starts[1:], width] - 1
        runs += [f"{values[s] - 1} {row} {s} {e}" for s, e in zip(starts, stops)]
    header = [
        f"image {name}.jpg", f"width {width}", f"height {height}",
        f"segments {int(segmentation.max())}", "gray 1", "invert 0", "flipflop 0", "format ascii cr", "data",
    ]  # fmt: skip
    _text(root / "seg" / f"{name}.seg", "\n".join(header + runs) + "\n")


def bsdata(
    folder: PathLike,
    n_annotated: Tuple[int, int] = (3, 2),
    n_unannotated: int = 6,
    shape: Shape = (24, 48),
    seed: int = 0,
    with_split_file: bool = True,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for ``BSData-main.zip`` (GitHub's ZIP of 2Obe/BSData).

    It extracts to ``BSData-main/`` (a clone has the same content): ``data/<name>.jpg``,
    ``label/<name>.json`` (LabelMe 4.5.6: ``Pitting`` polygons, ``imagePath``, embedded
    ``imageData``, ``imageHeight``/``imageWidth``), ``image_data.json`` (``{"images": [{"filename",
    "train_test_split", "type", "wear_dev", "annotations"}]}``; the authors' split covers the
    annotated images only, ``null`` for the others) and ``README.md``.  Quirks kept: both name
    styles (``01_<yymmddhhmmss>_<pos>_<angle>_crop_<k>.jpg`` and ``KGT1-...``) and the stray
    copy of one test image in ``data/BSD/test/``.  ``n_annotated`` is (authors' train, authors'
    test); the polygons are axis-aligned rectangles so their pixels are known exactly.  With
    ``exif_tag`` the first authors' test image carries an EXIF Orientation tag.  The
    repository's ``demo/``, ``saved_model/`` and ``split_dataset.py`` are left out.  Returns
    ``folder/BSData-main``.
    """
    root = _fresh(folder, "BSData-main")
    n_train, n_test = n_annotated
    total = n_train + n_test + n_unannotated
    entries = []
    for index in range(total):
        name = f"KGT1-S-{index:03d}-A03_crop_0" if index % 4 == 3 else f"01_2009{index:02d}161814_560000_000_crop_2"
        clean, _, _ = _sample("grid", "train", 300 + index, shape, seed)
        annotated = index < n_train + n_test
        split = ("train" if index < n_train else "test") if annotated else None
        image = clean
        if annotated:
            box = _box(shape, _rng(seed, "bsd", index))
            image = _paint(clean, _box_mask(shape, box), (92, 60, 40))
        jpeg = _save(root / "data" / f"{name}.jpg", image, exif_orientation=_orientation(exif_tag, index == n_train))
        if annotated:
            _labelme(root / "label" / f"{name}.json", jpeg, box, shape)
            if split == "test" and not (root / "data" / "BSD").exists():
                (root / "data" / "BSD" / "test").mkdir(parents=True)
                shutil.copyfile(jpeg, root / "data" / "BSD" / "test" / jpeg.name)
        entries.append(
            {
                "filename": f"{name}.jpg",
                "train_test_split": split,
                "type": 1 if name.startswith("KGT") else 2,
                "wear_dev": [] if name.startswith("KGT") else [name.rsplit("_", 1)[0]],
                "annotations": f"{name}.json" if annotated else None,
            }
        )
    if with_split_file:
        _text(root / "image_data.json", json.dumps({"images": entries}, indent=4) + "\n")
    _text(root / "README.md", "# BSData - dataset for Instance Segmentation and industrial Wear Forecasting (stand-in)\n")
    return root


def _labelme(path: Path, jpeg: Path, box: Tuple[int, int, int, int], shape: Shape) -> None:
    x0, y0, x1, y1 = box
    shape_entry = {
        "label": "Pitting",
        "points": [[float(x0), float(y0)], [float(x1), float(y0)], [float(x1), float(y1)], [float(x0), float(y1)]],
        "group_id": None,
        "shape_type": "polygon",
        "flags": {},
    }
    document = {
        "version": "4.5.6",
        "flags": {},
        "shapes": [shape_entry],
        "imagePath": jpeg.name,
        "imageData": base64.b64encode(jpeg.read_bytes()).decode("ascii"),
        "imageHeight": shape[0],
        "imageWidth": shape[1],
    }
    _text(path, json.dumps(document, indent=2) + "\n")


def gc10det(
    folder: PathLike,
    n_per_class: int = 2,
    shape: Shape = (20, 40),
    seed: int = 0,
    duplicates: int = 1,
    without_xml: int = 1,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for the Kaggle download of ``alex000kim/gc10det`` (``archive.zip``).

    No wrapper folder (Dataset Ninja's converter reads ``archive/<class>/*.jpg`` and
    ``archive/lable/*.xml``): class folders ``1`` ... ``10`` of grey JPEGs ``img_<cc>_<nine
    digits>_<five digits>.jpg`` and ``lable/<same stem>.xml`` (PASCAL VOC: ``folder``, ``size``,
    ``object/name`` such as ``1_chongkong``, ``bndbox``).  Quirks kept: ``duplicates`` images of
    class folder 1 appear again, byte-identical, in folder 6 (the real copy de-duplicates to
    2,300 images), and the last ``without_xml`` images of folder 10 have no XML and no defect
    (2,294 XML files for 2,300 images).  Real images are 2048x1000.  Returns ``folder``.
    """
    root = _fresh(folder)
    classes = list(GC10_CLASS_NAMES)  # "1_chongkong", ... "10_yaozhe"
    first_of_class_1: List[Path] = []
    for number, class_name in enumerate(classes, start=1):
        for index in range(n_per_class):
            stem = f"img_{number:02d}_4250056{index:02d}_{number * 100 + index:05d}"
            unlabelled = number == len(classes) and index >= n_per_class - without_xml
            clean, _, _ = _sample("grid", "good", 10 * number + index, shape, seed)
            box = _box(shape, _rng(seed, "gc", number, index))
            image = clean if unlabelled else _paint(clean, _box_mask(shape, box), (20, 20, 20))
            tagged = _orientation(exif_tag, number == 1 and index == 0)
            path = _save(root / str(number) / f"{stem}.jpg", image, grey=True, exif_orientation=tagged)
            if number == 1 and index < duplicates:
                first_of_class_1.append(path)
            if not unlabelled:
                _voc_xml(root / "lable" / f"{stem}.xml", f"{stem}.jpg", str(number), shape, class_name, box)
    for path in first_of_class_1:
        shutil.copyfile(path, root / "6" / path.name)
    return root


def _voc_xml(path: Path, filename: str, folder: str, shape: Shape, name: str, box: Tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = (value + 1 for value in box)  # VOC corners are 1-based and inclusive
    height, width = shape
    _text(
        path,
        f"<annotation>\n\t<folder>{folder}</folder>\n\t<filename>{filename}</filename>\n"
        f"\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n"
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>1</depth>\n\t</size>\n"
        f"\t<segmented>0</segmented>\n\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n"
        f"\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n"
        f"\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n\t\t\t<xmax>{x1}</xmax>\n"
        f"\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n",
    )


MSD_CLASSES = (("Oil", 1), ("Scr", 2), ("Sta", 3))
VOC_VOID = 255


def msd(
    folder: PathLike,
    n_per_class: int = 2,
    shape: Shape = (36, 64),
    seed: int = 0,
    border: int = 2,
    exif_tag: bool = True,
) -> Path:
    """Stand-in for ``MSD.zip`` (MSD / PKU_MSSDD, PASCAL VOC layout).

    It extracts to ``PKU_MSSDD/`` (assumed: the name the authors' loader in jianzhang96/fdsnet
    uses; the archive itself was not inspected) with ``JPEGImages/{Oil,Scr,Sta}_<nnnn>.jpg``,
    ``SegmentationClass/<same>.png`` (palette PNGs, VOC colour map: 0 background, 1 oil,
    2 scratch, 3 stain, and 255 "void" drawn as a ``border``-pixel ring around each defect,
    the VOC convention) and ``ImageSets/Segmentation/{train,val,test,trainval}.txt``.  Real images
    are 1920x1080.  With ``exif_tag`` the first image carries an EXIF Orientation tag.  The
    extra defect-free images are a separate download (:func:`msd_good`).  Returns
    ``folder/PKU_MSSDD``.
    """
    from scipy import ndimage  # only this stand-in needs scipy

    root = _fresh(folder, "PKU_MSSDD")
    lists: Dict[str, List[str]] = {"train": [], "val": [], "test": []}
    palette = _voc_palette()
    for prefix, label in MSD_CLASSES:
        for index in range(n_per_class):
            name = f"{prefix}_{index + 1:04d}"
            _, image, mask = _sample("carpet", "defect", _defect_index("carpet", "stain", 10 * label + index), shape, seed)
            ring = ndimage.binary_dilation(mask, iterations=border) & ~mask
            labels = np.where(mask, label, np.where(ring, VOC_VOID, 0)).astype(np.uint8)
            _save(root / "JPEGImages" / f"{name}.jpg", image, exif_orientation=_orientation(exif_tag, label == 1 and index == 0))
            png = Image.fromarray(labels, mode="P")
            png.putpalette(palette)
            (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
            png.save(root / "SegmentationClass" / f"{name}.png")
            lists[("test", "train", "val")[index % 3]].append(name)
    for split, names in {**lists, "trainval": lists["train"] + lists["val"]}.items():
        _text(root / "ImageSets" / "Segmentation" / f"{split}.txt", "".join(f"{n}\n" for n in names))
    return root


def msd_good(folder: PathLike, n: int = 2, shape: Shape = (36, 64), seed: int = 0) -> Path:
    """Stand-in for MSD's ``good.zip`` (20 defect-free images); assumed to extract to ``good/``.

    The converter reads it from ``<MSD folder>/good`` (or ``--good``).  Returns ``folder/good``.
    """
    root = _fresh(folder, "good")
    for index in range(n):
        _, image, _ = _sample("carpet", "good", 700 + index, shape, seed)
        _save(root / f"good_{index + 1:02d}.jpg", image)
    return root


def _voc_palette() -> List[int]:
    """The PASCAL VOC colour map (index i -> the bit-interleaved RGB of i); 255 is (224, 224, 192)."""
    palette = []
    for index in range(256):
        red = green = blue = 0
        value = index
        for shift in range(7, -1, -1):
            red |= (value & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        palette += [red, green, blue]
    return palette


STANDINS: Dict[str, Callable[..., Path]] = {
    "mvtec": mvtec,
    "visa": visa,
    "dagm": dagm,
    "rsdd": rsdd,
    "ksdd2": ksdd2,
    "bsd": bsdata,
    "gc": gc10det,
    "msd": msd,
    "road": crackforest,
    "btech": btech,
}
"""Registry name -> the stand-in of its raw download (defaults), for rehearsals and tests."""
