"""Single MVTec AD categories for the book's chapters 1-5: a small real download.

MVTec AD is distributed as one 4.9 GB archive, but its host also serves one archive per
category (about 150 MB for bottle or grid). The book needs only a couple of categories, so it
fetches these and prepares them with the regular MVTec converter, keeping the archives and one
prepared copy (see :func:`prepare_mvtec_categories`).

Where each category comes from is data (``sources.json``, ids ``mvtec_ad/<category>``): the
per-category link first, and when every source of it fails, only ``<category>/`` streamed out
of the verified full archive (which is also used directly when it is already downloaded, e.g.
by ``data_scripts/prepare_mvtec.py --download``). ``ANOCLIP_MIRROR`` is tried first for both.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Optional, Sequence, Union

from anoclip.fileio import write_json_atomic
from anoclip.data.converters import mvtec
from anoclip.data.converters.common import discard_if_consumed
from anoclip.data.errors import DataError
from anoclip.data.meta import META_FILE, Meta
from anoclip.data.registry import MVTEC_CATEGORIES
from anoclip.data.sources import fetch_extracted

BOOK_CATEGORIES = ("bottle", "grid")


def prepare_mvtec_categories(
    out: Union[str, os.PathLike],
    categories: Sequence[str] = BOOK_CATEGORIES,
    downloads_dir: Optional[Union[str, os.PathLike]] = None,
) -> Path:
    """Download the given MVTec AD categories and prepare them into ``out`` (meta.json layout).

    ``out`` holds every category prepared so far (a superset of ``categories`` after earlier
    calls with others). Safe to re-run: finished downloads are never fetched again, and ``out``
    is rebuilt only when a new category arrives.

    What stays on disk is the category archives in the downloads folder plus ONE extracted copy,
    ``out`` itself, without hard links (Google Drive cannot hold them): each new category is
    extracted into a folder of ours whose images the conversion moves into ``out``. To add a
    category, the categories already in ``out`` (whose layout is MVTec's own) are moved back
    into that folder first, so nothing is ever held twice. ``mvtec_categories.json`` in the
    downloads folder lists what ``out`` must hold, so an interrupted run (a recycled Colab VM) is
    rebuilt from the archives on the next call.
    """
    unknown = sorted(set(categories) - set(MVTEC_CATEGORIES))
    if unknown:
        raise DataError(f"Unknown MVTec AD categories {unknown}; choose from {sorted(MVTEC_CATEGORIES)}.")
    out = Path(out).expanduser()
    downloads = Path(downloads_dir).expanduser() if downloads_dir else out.parent / "downloads"
    raw = downloads / "mvtec_categories"  # ours: consumed (moved into out) by the conversion
    manifest = downloads / "mvtec_categories.json"  # what out must hold, surviving an interruption
    discard_if_consumed(raw)
    prepared = set(Meta.load(out).categories()) if (out / META_FILE).is_file() else set()
    complete = {category for category in prepared if (out / category).is_dir()}
    promised = set(json.loads(manifest.read_text(encoding="utf-8"))) if manifest.is_file() else set()
    wanted = set(categories) | prepared | promised
    if wanted == complete == prepared:
        shutil.rmtree(raw, ignore_errors=True)  # a leftover copy (older versions kept one)
        return out
    write_json_atomic(manifest, sorted(wanted))
    for category in sorted(wanted):
        if (raw / category).is_dir():
            continue
        raw.mkdir(parents=True, exist_ok=True)
        if category in complete:
            os.replace(out / category, raw / category)
        else:
            os.replace(_extract_category(category, downloads), raw / category)
            shutil.rmtree(downloads / f".{category}.extracted")
    shutil.rmtree(out, ignore_errors=True)  # only what the moves left behind: meta.json
    return mvtec.convert(raw, out, consume=True)


def _extract_category(category: str, downloads: Path) -> Path:
    """The ``<category>/`` folder of the category's archive, extracted next to it (downloaded once)."""
    extracted = fetch_extracted(f"mvtec_ad/{category}", downloads, downloads / f".{category}.extracted")
    source = extracted / category
    if not (source / "train" / "good").is_dir():
        raise DataError(
            f"{extracted} has no {category}/train/good: the {category} archive in {downloads} is not an MVTec AD "
            "category. Delete it and the folder, and run again."
        )
    return source
