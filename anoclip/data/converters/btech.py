"""BTech (BTAD): three industrial products, MVTec-like but with ``ok``/``ko`` folders.

Raw layout (``btad.zip``): ``<raw>/<01|02|03>/{train/ok, test/{ok,ko}, ground_truth/ko/<stem>.png|bmp}``.
Split: the official one, ``ok`` -> ``good``, ``ko`` kept as the defect type.
Details, sources and what is assumed: data_scripts/README.md, BTech.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from tqdm.auto import tqdm

from ..errors import MissingMaskError
from ..images import read_mask
from ..meta import NORMAL_SPECIE
from .common import DatasetWriter, PathLike, child_dirs, index_by_stem, list_images, locate_root, run_conversion

NORMAL_FOLDER = "ok"
EXPECTED = "one folder per product with train/ok and test/ (e.g. <raw>/01/train/ok)"


def _products(folder: Path) -> List[Path]:
    return [c for c in child_dirs(folder) if (c / "train" / NORMAL_FOLDER).is_dir() and (c / "test").is_dir()]


def _fill(root: Path, writer: DatasetWriter) -> List[str]:
    products = _products(root)
    for product in products:
        category = product.name
        for image in list_images(product / "train" / NORMAL_FOLDER):
            writer.add_image(image, category, "train", NORMAL_SPECIE)
        for folder in child_dirs(product / "test"):
            images = list_images(folder)
            if folder.name == NORMAL_FOLDER:
                for image in images:
                    writer.add_image(image, category, "test", NORMAL_SPECIE)
                continue
            masks = index_by_stem(product / "ground_truth" / folder.name)
            for image in tqdm(images, desc=f"btech {category}/{folder.name}", unit="img", leave=False):
                mask = masks.get(image.stem.lower())
                if mask is None:
                    raise MissingMaskError(
                        f"Anomalous BTech image {image} has no mask: expected "
                        f"{product / 'ground_truth' / folder.name / image.stem}.png (or .bmp)."
                    )
                relative = writer.add_image(image, category, "test", folder.name)
                writer.add_mask(read_mask(mask), category, folder.name, relative)
    return [p.name for p in products]


def convert(raw: PathLike, out: PathLike, *, overwrite: bool = False, cache: Optional[PathLike] = None) -> Path:
    """Convert a BTAD download (``btad.zip`` or its folder) into ``out``; return ``out``."""
    return run_conversion(
        raw,
        out,
        dataset="btech",
        options={},
        find_root=lambda folder: locate_root(folder, lambda f: bool(_products(f)), EXPECTED, "BTech (BTAD)"),
        fill=_fill,
        overwrite=overwrite,
        cache=cache,
    )
