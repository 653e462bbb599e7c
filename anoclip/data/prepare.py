"""``prepare(name, out, raw=None, download=False)``: get a benchmark into the common layout.

The one entry point the ``data_scripts/`` call: it looks the data set up in the registry,
downloads it when asked and possible (into ``<out's folder>/downloads/``, through
:func:`.sources.fetch`: ``ANOCLIP_MIRROR`` first, then each listed URL, resumable and verified),
and runs the data set's converter.  Running it again is cheap: a finished download is not
fetched again and a finished conversion is returned as it is.

What a conversion dropped, merged or decided from the data (images without ground truth,
duplicate files, the split used, how ignore labels were read) is printed on every run, one
``note:`` line each, from ``meta.json``'s ``info["report"]``; the details are in ``info``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .errors import DataError
from .meta import Meta
from .registry import get_dataset
from .sources import fetch

from ..fileio import PathLike


def prepare(
    name: str,
    out: PathLike,
    raw: Optional[PathLike] = None,
    download: bool = False,
    *,
    downloads_dir: Optional[PathLike] = None,
    **options,
) -> Path:
    """Prepare data set ``name`` into ``out`` from ``raw`` (archive or folder) or a download.

    ``options`` go to the converter (e.g. ``normals="all"``, ``seed=1``, ``split_csv=...``,
    ``overwrite=True``); see each converter's ``convert`` for what it accepts.  The
    conversion's findings are printed (see the module docstring).
    """
    info = get_dataset(name)
    out = Path(out).expanduser()
    if not info.requires_raw:
        return _announce(info.converter(raw, out, **options), info.title)
    if raw is not None and download:
        raise DataError("Pass either raw=PATH (--raw) or download=True (--download), not both.")
    if raw is None:
        where = f" Homepage: {info.homepage}." if info.homepage else ""
        if not download:
            raise DataError(
                f"{info.title} needs its raw data: pass raw=PATH (--raw) or download=True. {info.how_to_get}{where}"
            )
        if info.source is None:
            raise DataError(f"{info.title} cannot be downloaded automatically. {info.how_to_get}{where}")
        folder = Path(downloads_dir).expanduser() if downloads_dir is not None else out.parent / "downloads"
        raw = fetch(info.source, folder)
    return _announce(info.converter(Path(raw), out, **options), info.title)


def _announce(out: Path, title: str) -> Path:
    """Print the findings recorded in ``out``'s meta.json and return ``out``."""
    for line in Meta.load(out).info.get("report", []):
        print(f"note: {title}: {line}")
    return out
