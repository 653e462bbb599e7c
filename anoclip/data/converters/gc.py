"""GC, taken to be GC10-DET (steel plate surface defects): boxes filled into masks.

Raw layout (Kaggle ``alex000kim/gc10det``): ``<raw>/<1..10>/img_*.jpg`` + ``<raw>/lable/img_*.xml``
(PASCAL VOC boxes; the folder is spelled "lable").
Split: every image in ``test`` (no XML -> ``good``, reported); the defect type is the largest
box's class.  Boxes are keyed by file name, so a name found in two class folders is one sample:
the copy in its largest box's class folder is kept and the merge reported, never done silently.
Details, sources and what is assumed (the identity of "GC"): data_scripts/README.md, GC.
"""
from __future__ import annotations

import filecmp
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm.auto import tqdm

from ..errors import DatasetRootError, MetaFormatError
from ..meta import NORMAL_SPECIE
from .common import (
    DatasetWriter,
    PathLike,
    child_dirs,
    image_size,
    list_images,
    locate_root,
    name_list,
    plural,
    run_conversion,
)

CATEGORY = "steel_plate"
CLASS_NAMES = {
    "1_chongkong": "punching_hole",
    "2_hanfeng": "welding_line",
    "3_yueyawan": "crescent_gap",
    "4_shuiban": "water_spot",
    "5_youban": "oil_spot",
    "6_siban": "silk_spot",
    "7_yiwu": "inclusion",
    "8_yahen": "rolled_pit",
    "9_zhehen": "crease",
    "10_yaozhe": "waist_folding",
}
EXPECTED = "the image folders plus a folder of PASCAL VOC .xml box files (GC10-DET calls it 'lable')"
REVISION = 2  # 1 collected images recursively and did not merge duplicate names


def _xml_dirs(folder: Path) -> List[Path]:
    return [c for c in child_dirs(folder) if any(c.glob("*.xml"))]


def _is_root(folder: Path) -> bool:
    return bool(_xml_dirs(folder))


def read_voc_boxes(xml_file: Path) -> List[Tuple[str, int, int, int, int]]:
    """``(class, xmin, ymin, xmax, ymax)`` of a VOC file, 0-based with inclusive max."""
    try:
        tree = ElementTree.parse(xml_file)
    except ElementTree.ParseError as err:
        raise MetaFormatError(f"{xml_file} is not a valid PASCAL VOC XML file ({err}).") from err
    boxes = []
    for obj in tree.getroot().iter("object"):
        name = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        if box is None:
            continue
        try:
            xmin, ymin, xmax, ymax = (int(round(float(box.findtext(k)))) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError) as err:
            raise MetaFormatError(f"{xml_file}: a box of {name!r} has a missing or non-numeric corner.") from err
        boxes.append((name, xmin - 1, ymin - 1, xmax - 1, ymax - 1))  # VOC pixels are 1-based
    return boxes


def boxes_mask(boxes, size) -> np.ndarray:
    """Fill boxes into a bool ``(H, W)`` mask for an image of ``size`` (W, H), clipped to the image."""
    width, height = size
    mask = np.zeros((height, width), dtype=bool)
    for _, x0, y0, x1, y1 in boxes:
        mask[max(y0, 0) : min(y1, height - 1) + 1, max(x0, 0) : min(x1, width - 1) + 1] = True
    return mask


def _specie(boxes) -> str:
    name = _largest_class(boxes)
    return CLASS_NAMES.get(name, name.lower().replace(" ", "_") or "defect")


def _largest_class(boxes) -> str:
    return max(boxes, key=lambda b: (b[3] - b[1] + 1) * (b[4] - b[2] + 1))[0]


def _folder_order(folder: Path) -> Tuple[int, str]:
    """Class folders in numeric order (1, 2, ..., 10), others after them by name."""
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def _keep(copies: Sequence[Path], boxes) -> Path:
    """The copy of a duplicated image to keep: the one in its annotated class's folder, else the first."""
    if boxes:
        number = _largest_class(boxes).split("_", 1)[0]
        for copy in copies:
            if copy.parent.name == number:
                return copy
    return copies[0]


def _fill(root: Path, writer: DatasetWriter) -> List[str]:
    xml_dirs = _xml_dirs(root)
    annotations = {p.stem.lower(): p for d in xml_dirs for p in d.glob("*.xml")}
    copies: Dict[str, List[Path]] = defaultdict(list)
    for folder in sorted((d for d in child_dirs(root) if d not in xml_dirs), key=_folder_order):
        for image in list_images(folder):
            copies[image.name.lower()].append(image)
    if not copies:
        raise DatasetRootError(
            f"{root} has the box folder {xml_dirs[0].name}/ but no class folders of images next to it "
            f"(expected {root}/1/img_*.jpg ... {root}/10/). Point --raw at the folder that holds both."
        )
    merged: Dict[str, dict] = {}
    unannotated: List[str] = []
    for name in tqdm(sorted(copies), desc="gc10-det", unit="img", leave=False):
        found = copies[name]
        xml_file = annotations.get(Path(name).stem)
        boxes = read_voc_boxes(xml_file) if xml_file is not None else []
        image = _keep(found, boxes)
        if len(found) > 1:
            merged[image.name] = {
                "kept": image.relative_to(root).as_posix(),
                "dropped": [c.relative_to(root).as_posix() for c in found if c != image],
                "identical": all(filecmp.cmp(image, c, shallow=False) for c in found),
            }
        if xml_file is None:
            unannotated.append(image.relative_to(root).as_posix())
        mask = boxes_mask(boxes, image_size(image))
        if not mask.any():
            writer.add_image(image, CATEGORY, "test", NORMAL_SPECIE)
            continue
        specie = _specie(boxes)
        relative = writer.add_image(image, CATEGORY, "test", specie)
        writer.add_mask(mask, CATEGORY, specie, relative)
    if merged:
        different = sorted(n for n, m in merged.items() if not m["identical"])
        writer.report(
            "merged_duplicates",
            {"count": len(merged), "files": merged},
            f"{plural(len(merged), 'file name')} found in more than one class folder, one copy of each kept "
            f"(boxes are keyed by file name): {name_list(sorted(merged))}."
            + (f" The copies of {name_list(different)} differ in content." if different else " All copies are identical."),
        )
    if unannotated:
        writer.report(
            "images_without_annotation",
            {"count": len(unannotated), "files": unannotated},
            f"{plural(len(unannotated), 'image')} without an XML file in {', '.join(d.name for d in xml_dirs)}/ "
            f"went to test/good: {name_list(unannotated)}.",
        )
    return [CATEGORY]


def convert(raw: PathLike, out: PathLike, *, overwrite: bool = False, cache: Optional[PathLike] = None) -> Path:
    """Convert a GC10-DET download (archive or folder) into ``out``; return ``out``."""
    return run_conversion(
        raw,
        out,
        dataset="gc",
        options={"labels": "boxes"},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "GC10-DET"),
        fill=_fill,
        overwrite=overwrite,
        cache=cache,
        revision=REVISION,
    )
