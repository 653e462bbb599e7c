"""VisA: the official release plus its one-class split file ``split_csv/1cls.csv``.

Raw layout: ``<raw>/<object>/Data/{Images/{Normal,Anomaly}, Masks/Anomaly}`` + ``<raw>/split_csv/1cls.csv``.
Split: the CSV's (train/test, normal/anomaly); anomalies go to ``test/anomaly`` (no defect types).
Details, sources and what is assumed: data_scripts/README.md, VisA.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import List, Optional

from tqdm.auto import tqdm

from ..errors import DatasetRootError, MetaFormatError, MissingMaskError, MissingSplitFileError
from ..images import read_mask
from ..meta import NORMAL_SPECIE
from .common import DatasetWriter, PathLike, child_dirs, locate_root, run_conversion

CSV_COLUMNS = ("object", "split", "label", "image", "mask")
ANOMALY_SPECIE = "anomaly"
SPLIT_CSV_SOURCE = "https://github.com/amazon-science/spot-diff (file split_csv/1cls.csv)"
EXPECTED = "one folder per object with Data/Images (e.g. <raw>/candle/Data/Images) and split_csv/1cls.csv"


def is_visa_root(folder: Path) -> bool:
    return (folder / "split_csv").is_dir() or any((c / "Data" / "Images").is_dir() for c in child_dirs(folder))


def read_split_csv(path: Path) -> List[dict]:
    """Rows of a VisA split CSV, checked for the columns the conversion needs."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        missing = [c for c in CSV_COLUMNS if c not in columns]
        if missing:
            raise MetaFormatError(
                f"{path} lacks the column(s) {missing} (has {columns}); expected {list(CSV_COLUMNS)} as in "
                f"{SPLIT_CSV_SOURCE}."
            )
        return [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _fill(root: Path, writer: DatasetWriter, split_csv: Optional[Path]) -> List[str]:
    csv_path = split_csv if split_csv is not None else root / "split_csv" / "1cls.csv"
    if not csv_path.is_file():
        raise MissingSplitFileError(
            f"VisA split file {csv_path} not found. The conversion needs the one-class split 1cls.csv: "
            f"download it from {SPLIT_CSV_SOURCE} and place it at {root / 'split_csv' / '1cls.csv'} "
            "or pass split_csv=PATH (--split-csv PATH)."
        )
    rows = read_split_csv(csv_path)
    for number, row in enumerate(tqdm(rows, desc="visa", unit="img"), start=2):
        split, label = row["split"].lower(), row["label"].lower()
        if split not in ("train", "test") or label not in ("normal", "anomaly"):
            raise MetaFormatError(
                f"{csv_path} line {number}: split={row['split']!r}, label={row['label']!r}; expected "
                "split train/test and label normal/anomaly."
            )
        image = root / row["image"]
        if not image.is_file():
            raise DatasetRootError(
                f"{csv_path} line {number} lists {row['image']}, but {image} does not exist. "
                "Is --raw the folder that contains split_csv/ and the object folders?"
            )
        if label == "normal":
            writer.add_image(image, row["object"], split, NORMAL_SPECIE)
            continue
        mask = root / row["mask"] if row["mask"] else None
        if mask is None or not mask.is_file():
            raise MissingMaskError(
                f"Anomalous VisA image {image} has no mask ({csv_path} line {number}: {row['mask']!r})."
            )
        relative = writer.add_image(image, row["object"], split, ANOMALY_SPECIE)
        writer.add_mask(read_mask(mask), row["object"], ANOMALY_SPECIE, relative)
    return sorted({row["object"] for row in rows})


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    split_csv: Optional[PathLike] = None,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a VisA download (archive or folder) with the 1cls split into ``out``; return ``out``."""
    csv_path = Path(split_csv).expanduser() if split_csv is not None else None
    return run_conversion(
        raw,
        out,
        dataset="visa",
        options={"split": "1cls"},
        find_root=lambda folder: locate_root(folder, is_visa_root, EXPECTED, "VisA"),
        fill=lambda root, writer: _fill(root, writer, csv_path),
        overwrite=overwrite,
        cache=cache,
    )
