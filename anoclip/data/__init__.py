"""The data layer: benchmark data sets in one MVTec-like layout indexed by ``meta.json``.

* :mod:`.meta` - :class:`Meta` / :class:`Sample` read the index, :func:`load_sample` reads an
  image and its boolean mask, :func:`build_meta` / :func:`write_meta` make the index;
* :mod:`.synthetic` - :func:`make_synthetic_dataset`, a tiny data set with exact masks;
* :mod:`.download` - resumable, SHA-256-verified downloads and safe extraction;
* :mod:`.registry` - what each of the ten benchmark data sets is and how to treat it;
* :func:`prepare` - download/convert one data set (what ``data_scripts/`` call);
* :func:`from_folder` - a user's own ``good/`` + defect folders (+ optional masks) as a data set;
* :mod:`.images` - robust image and mask readers.
"""
from ..fileio import sha256sum
from .download import download, extract
from .errors import (
    ChecksumMismatchError,
    DataError,
    DatasetRootError,
    DownloadError,
    MaskSizeError,
    MetaFormatError,
    MissingMaskError,
    MissingSplitFileError,
    NotEnoughDiskSpace,
    OutputExistsError,
    UnknownCategoryError,
    UnknownDatasetError,
    UnsafeArchiveError,
)
from .folder import from_folder
from .images import ImageReadError, read_mask, read_rgb
from .meta import Meta, Sample, build_meta, load_ignore, load_sample, write_meta
from .prepare import prepare
from .registry import BENCHMARK_DATASETS, DATASETS, DatasetDefaults, DatasetInfo, dataset_defaults, get_dataset
from .synthetic import make_synthetic_dataset, render_synthetic

__all__ = [
    "BENCHMARK_DATASETS",
    "ChecksumMismatchError",
    "DATASETS",
    "DatasetDefaults",
    "DataError",
    "DatasetInfo",
    "DatasetRootError",
    "DownloadError",
    "ImageReadError",
    "MaskSizeError",
    "Meta",
    "MetaFormatError",
    "MissingMaskError",
    "MissingSplitFileError",
    "NotEnoughDiskSpace",
    "OutputExistsError",
    "Sample",
    "UnknownCategoryError",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "build_meta",
    "dataset_defaults",
    "download",
    "extract",
    "from_folder",
    "get_dataset",
    "load_ignore",
    "load_sample",
    "make_synthetic_dataset",
    "prepare",
    "read_mask",
    "read_rgb",
    "render_synthetic",
    "sha256sum",
    "write_meta",
]
