"""MVTec AD: already in the target layout; re-indexed by name and masks re-encoded.

Raw layout (the official ``mvtec_anomaly_detection.tar.xz``)::

    <raw>/<category>/train/good/000.png
    <raw>/<category>/test/<defect|good>/000.png
    <raw>/<category>/ground_truth/<defect>/000_mask.png

The converter copies the tree (moves it, out of our own extraction cache), pairs masks by name
and fails on a missing mask instead of pairing by sorted index as the original script did.
Any subset of the 15 categories is accepted.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from tqdm.auto import tqdm

from ..images import read_mask
from ..meta import build_meta
from .common import DatasetWriter, PathLike, child_dirs, locate_root, run_conversion

EXPECTED = "one folder per category with train/good, test/ and ground_truth/ (e.g. <raw>/bottle/train/good)"


def is_mvtec_like(folder: Path) -> bool:
    """True if some sub-folder has ``train/good`` and ``test/`` (the MVTec category layout)."""
    return any((c / "train" / "good").is_dir() and (c / "test").is_dir() for c in child_dirs(folder))


def _fill(root: Path, writer: DatasetWriter) -> List[str]:
    source = build_meta(root)
    for split in ("train", "test"):
        for category, items in source[split].items():
            for item in tqdm(items, desc=f"mvtec {category}/{split}", unit="img", leave=False):
                relative = writer.add_image(root / item["img_path"], category, split, item["specie_name"])
                if item["anomaly"]:
                    writer.add_mask(read_mask(root / item["mask_path"]), category, item["specie_name"], relative)
    return list(source["test"])


def convert(raw: PathLike, out: PathLike, *, overwrite: bool = False, cache: Optional[PathLike] = None,
            consume: bool = False) -> Path:
    """Convert an MVTec AD download (archive or folder) into ``out``; return ``out``.

    ``consume=True`` says a raw *folder* is the package's own (as in :mod:`anoclip_book.samples`):
    its images are moved into ``out`` and it is deleted afterwards.
    """
    return run_conversion(
        raw,
        out,
        dataset="mvtec",
        options={},
        find_root=lambda folder: locate_root(folder, is_mvtec_like, EXPECTED, "MVTec AD"),
        fill=_fill,
        overwrite=overwrite,
        cache=cache,
        consume=consume,
    )
