"""Single MVTec AD categories for the book's chapters 1-5: a small real download.

MVTec AD is distributed as one 4.9 GB archive, but its host also serves one archive per
category (about 150 MB for bottle or grid). The book needs only a couple of categories, so it
fetches these and prepares them with the regular MVTec converter.

Where each category comes from is data (``sources.json``, ids ``mvtec_ad/<category>``): the
per-category link first, and when every source of it fails, only ``<category>/`` streamed out
of the verified full archive (which is also used directly when it is already downloaded, e.g.
by ``data_scripts/prepare_mvtec.py --download``). ``ANOCLIP_MIRROR`` is tried first for both.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional, Sequence, Union

from .converters import mvtec
from .errors import DataError
from .meta import META_FILE, Meta
from .registry import MVTEC_CATEGORIES
from .sources import fetch_extracted

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
    unknown = sorted(set(categories) - set(MVTEC_CATEGORIES))
    if unknown:
        raise DataError(f"Unknown MVTec AD categories {unknown}; choose from {sorted(MVTEC_CATEGORIES)}.")
    out = Path(out).expanduser()
    downloads = Path(downloads_dir).expanduser() if downloads_dir else out.parent / "downloads"
    combined = downloads / "mvtec_categories"
    for category in categories:
        if (combined / category).is_dir():
            continue
        extracted = fetch_extracted(f"mvtec_ad/{category}", downloads, downloads / f".{category}.extracted")
        source = extracted / category
        if not (source / "train" / "good").is_dir():
            raise DataError(
                f"{extracted} has no {category}/train/good: the {category} archive in {downloads} is not an MVTec AD "
                "category. Delete it and the folder, and run again."
            )
        combined.mkdir(parents=True, exist_ok=True)
        os.replace(source, combined / category)
        shutil.rmtree(extracted)
    fetched = {folder.name for folder in combined.iterdir() if folder.is_dir()}
    if (out / META_FILE).is_file() and set(Meta.load(out).categories()) != fetched:
        shutil.rmtree(out)  # derived from the downloads above, so it can be rebuilt
    return mvtec.convert(combined, out)
