"""KolektorSDD2 (KSDD2): one production surface, pixel masks, official train/test folders.

Raw layout (``KolektorSDD2.zip``): ``<raw>/{train,test}/<id>.png`` + ``<id>_GT.png`` (black if defect-free).
Split: ``train/good`` = defect-free train images; ``test`` = every defective test image + as many
defect-free test images drawn with ``seed`` (``normals="balanced"``; ``"all"``: the official 894).
Details, sources and what is assumed: data_scripts/README.md, KSDD2.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from tqdm.auto import tqdm

from ..errors import MissingMaskError
from ..images import read_mask
from .common import DatasetWriter, PathLike, list_images, locate_root, run_conversion, split_normals, write_samples

CATEGORY = "metal_surface"
ANOMALY_SPECIE = "anomaly"
MASK_SUFFIX = "_GT"
EXPECTED = "train/ and test/ folders holding 10000.png with 10000_GT.png masks"


def _is_root(folder: Path) -> bool:
    return all(any(p.stem.endswith(MASK_SUFFIX) for p in list_images(folder / s)) for s in ("train", "test"))


def _partition(folder: Path) -> Tuple[List[Path], List[Tuple[Path, Path]]]:
    """(defect-free images, [(defective image, mask file)]) of one split folder."""
    normals, defective = [], []
    images = [p for p in list_images(folder) if not p.stem.endswith(MASK_SUFFIX)]
    for image in tqdm(images, desc=f"ksdd2 {folder.name}", unit="img", leave=False):
        gt = image.with_name(image.stem + MASK_SUFFIX + image.suffix)
        if not gt.is_file():
            raise MissingMaskError(f"KSDD2 image {image} has no mask: expected {gt}.")
        if read_mask(gt).any():
            defective.append((image, gt))
        else:
            normals.append(image)
    return normals, defective


def _fill(root: Path, writer: DatasetWriter, normals_mode: str, seed: int) -> List[str]:
    train_normals, _ = _partition(root / "train")
    test_normals, defective = _partition(root / "test")
    chosen, _ = split_normals(test_normals, len(defective), normals_mode, seed)
    write_samples(writer, CATEGORY, "train", normals=train_normals)
    anomalies = ((image, ANOMALY_SPECIE, read_mask(gt)) for image, gt in defective)
    write_samples(writer, CATEGORY, "test", normals=chosen, anomalies=anomalies)
    return [CATEGORY]


def convert(
    raw: PathLike,
    out: PathLike,
    *,
    normals: str = "balanced",
    seed: int = 0,
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
) -> Path:
    """Convert a KolektorSDD2 download (archive or folder) into ``out``; return ``out``."""
    split_normals([], 0, normals, seed)
    return run_conversion(
        raw,
        out,
        dataset="ksdd2",
        options={"normals": normals, "seed": seed},
        find_root=lambda folder: locate_root(folder, _is_root, EXPECTED, "KolektorSDD2"),
        fill=lambda root, writer: _fill(root, writer, normals, seed),
        overwrite=overwrite,
        cache=cache,
    )
