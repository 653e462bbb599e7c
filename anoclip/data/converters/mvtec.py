"""MVTec AD: already in the target layout; re-indexed by name and masks re-encoded.

Raw layout: ``<raw>/<category>/{train/good, test/<defect|good>, ground_truth/<defect>/<stem>_mask.png}``.
Split: the official one.  Masks are paired by name (a missing one is an error), not by sorted index.
Details, sources and what is assumed: data_scripts/README.md, MVTec AD.
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
    """Convert an MVTec AD download (archive or folder) into ``out``; return ``out``.  ``consume=True``:
    a raw *folder* is the package's own (as in :mod:`anoclip_book.samples`), moved into ``out``, then deleted."""
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
