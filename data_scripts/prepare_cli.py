"""The command line shared by the ``data_scripts/prepare_<name>.py`` entry points.

Each script is one call, ``main("<name>")``; the argument parser, its help text (what the data
set is, where to get it, its licence) and the error handling live here so the ten scripts
cannot drift apart.  Data-layer errors are printed as one clear message with exit status 2,
never as a traceback.  It lives beside the scripts, not in the package: a script's own folder is
where Python finds it (no ``sys.path`` edit), and ``pip install anoclip`` users call
:func:`anoclip.data.prepare` directly.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from anoclip.data import DataError, ImageReadError, get_dataset, prepare

# Converter options exposed on the command line: flag -> (keyword, type, help).
OPTIONS = {
    "normals": ("--normals", str, "test-set normals: 'balanced' (as many as anomalies, seeded) or 'all'"),
    "seed": ("--seed", int, "seed of the balanced normal draw (default 0)"),
    "split_csv": ("--split-csv", str, "path to VisA's split_csv/1cls.csv if it is not inside --raw"),
    "split": ("--split", str, "MSD: image list test (default), train, val or all; BSD: auto (default: the authors' "
              "image_data.json split when present), authors or all"),
    "void": ("--void", str, "MSD: what mask value 255 (VOC void) is: ignore (default: left out of the metrics) or defect"),
    "good": ("--good", str, "folder with MSD's extra defect-free images (good.zip)"),
    "threshold": ("--threshold", int, "grey level above which a mask pixel counts as defective"),
    "classes": ("--classes", int, "DAGM class numbers to convert, e.g. --classes 1 2 3 4 5 7 8 (default: all)"),
}
DATASET_OPTIONS = {
    "visa": ("split_csv",),
    "dagm": ("normals", "seed", "classes"),
    "ksdd2": ("normals", "seed"),
    "bsd": ("normals", "seed", "split"),
    "msd": ("split", "good", "void"),
    "rsdd": ("threshold",),
    "road": ("threshold",),
}


def build_parser(name: str) -> argparse.ArgumentParser:
    """The argument parser of ``prepare_<name>.py``, with the data set's provenance as help."""
    info = get_dataset(name)
    epilog = "\n".join(
        [
            f"What it is: {info.description}",
            f"Homepage:   {info.homepage}",
            f"Licence:    {info.licence}",
            f"Labels:     {info.labels}",
            f"How to get: {info.how_to_get}",
            f"Notes:      {info.notes}" if info.notes else "",
            "More: data_scripts/README.md",
        ]
    )
    parser = argparse.ArgumentParser(
        prog=f"prepare_{name}.py",
        description=f"Prepare {info.title} in the common MVTec-like layout with meta.json.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output folder (created; the raw data is never modified)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--raw", help="the downloaded archive or the folder it extracts to")
    source.add_argument(
        "--download",
        action="store_true",
        help="download the archive first" + ("" if info.download_url else " (not available for this data set)"),
    )
    parser.add_argument("--cache", help="where to extract an archive (default: next to the archive)")
    parser.add_argument("--overwrite", action="store_true", help="replace an output made with other options")
    for key in DATASET_OPTIONS.get(name, ()):
        flag, kind, text = OPTIONS[key]
        parser.add_argument(flag, dest=key, type=kind, help=text, nargs="+" if key == "classes" else None)
    return parser


def main(name: str, argv: Optional[List[str]] = None) -> int:
    """Run ``prepare_<name>.py``; returns the exit status (0 ok, 2 data error, 130 interrupted)."""
    args = vars(build_parser(name).parse_args(argv))
    out, raw, download = args.pop("out"), args.pop("raw"), args.pop("download")
    options = {key: value for key, value in args.items() if value not in (None, False)}
    try:
        path = prepare(name, out, raw=raw, download=download, **options)
    except (DataError, ImageReadError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: run the same command again; downloads resume and nothing half-done is kept.",
            file=sys.stderr,
        )
        return 130
    print(f"{get_dataset(name).title} ready: {path} (index: {path / 'meta.json'})")
    return 0
