"""Single MVTec AD categories for the book's chapters 1-5: a small real download.

MVTec AD is distributed as one 4.9 GB archive, but its host also serves one archive per
category (about 150 MB for bottle or grid). The book needs only a couple of categories, so it
fetches these, and prepares them with the regular MVTec converter.

The per-category links are the ones MVTec published in 2021 (widely used by research code); no
checksums are published for them. If MVTec moves them, download the full archive instead:
``python data_scripts/prepare_mvtec.py --out data/mvtec --download``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional, Sequence, Union

from .converters import mvtec
from .download import download as fetch
from .download import extract
from .errors import DataError
from .meta import META_FILE, Meta

_SHARE = "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/"
MVTEC_CATEGORY_URLS = {
    "bottle": _SHARE + "420937370-1629951468/bottle.tar.xz",
    "cable": _SHARE + "420937413-1629951498/cable.tar.xz",
    "capsule": _SHARE + "420937454-1629951595/capsule.tar.xz",
    "carpet": _SHARE + "420937484-1629951672/carpet.tar.xz",
    "grid": _SHARE + "420937487-1629951814/grid.tar.xz",
    "hazelnut": _SHARE + "420937545-1629951845/hazelnut.tar.xz",
    "leather": _SHARE + "420937607-1629951964/leather.tar.xz",
    "metal_nut": _SHARE + "420937637-1629952063/metal_nut.tar.xz",
    "pill": "https://www.mydrive.ch/shares/43421/11a215a5749fcfb75e331ddd5f8e43ee/download/420938129-1629953099/pill.tar.xz",
    "screw": _SHARE + "420938130-1629953152/screw.tar.xz",
    "tile": _SHARE + "420938133-1629953189/tile.tar.xz",
    "toothbrush": _SHARE + "420938134-1629953256/toothbrush.tar.xz",
    "transistor": _SHARE + "420938166-1629953277/transistor.tar.xz",
    "wood": _SHARE + "420938383-1629953354/wood.tar.xz",
    "zipper": _SHARE + "420938385-1629953449/zipper.tar.xz",
}
BOOK_CATEGORIES = ("bottle", "grid")


def prepare_mvtec_categories(
    out: Union[str, os.PathLike],
    categories: Sequence[str] = BOOK_CATEGORIES,
    downloads_dir: Optional[Union[str, os.PathLike]] = None,
) -> Path:
    """Download the given MVTec AD categories and prepare them into ``out`` (meta.json layout).

    ``out`` holds every category fetched so far into the same downloads folder (a superset of
    ``categories`` after earlier calls with others). Safe to re-run: finished downloads and
    extractions are reused, and ``out`` is rebuilt only when a new category arrived.
    """
    unknown = sorted(set(categories) - set(MVTEC_CATEGORY_URLS))
    if unknown:
        raise DataError(f"Unknown MVTec AD categories {unknown}; choose from {sorted(MVTEC_CATEGORY_URLS)}.")
    out = Path(out).expanduser()
    downloads = Path(downloads_dir).expanduser() if downloads_dir else out.parent / "downloads"
    combined = downloads / "mvtec_categories"
    for category in categories:
        if (combined / category).is_dir():
            continue
        archive = fetch(MVTEC_CATEGORY_URLS[category], downloads / f"{category}.tar.xz")
        extracted = extract(archive, downloads / f".{category}.extracted")
        source = extracted / category
        if not (source / "train" / "good").is_dir():
            raise DataError(f"{archive} did not contain {category}/train/good; delete it and retry.")
        combined.mkdir(parents=True, exist_ok=True)
        os.replace(source, combined / category)
        shutil.rmtree(extracted)
    fetched = {folder.name for folder in combined.iterdir() if folder.is_dir()}
    if (out / META_FILE).is_file() and set(Meta.load(out).categories()) != fetched:
        shutil.rmtree(out)  # derived from the downloads above, so it can be rebuilt
    return mvtec.convert(combined, out)
