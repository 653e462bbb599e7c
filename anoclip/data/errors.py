"""Exceptions of the data layer.

Every failure a reader can cause by pointing at the wrong folder, a half-downloaded archive or
a full disk is one of these classes, and every message names the file or value involved and
the fix.  The ``data_scripts/`` entry points catch :class:`DataError` and print the message
instead of a traceback.  Each class also derives from the matching built-in exception, so
generic ``except FileNotFoundError`` / ``except OSError`` code keeps working.
"""
from __future__ import annotations


class DataError(Exception):
    """Base class of all data-layer errors (the CLI prints these without a traceback)."""


class DatasetRootError(DataError, FileNotFoundError):
    """A dataset root (or raw download) is missing or does not have the expected layout."""


class MetaFormatError(DataError, ValueError):
    """A ``meta.json`` exists but is not valid JSON or not in the expected structure."""


class UnknownCategoryError(DataError, LookupError):
    """A category that the dataset does not contain was asked for."""


class UnknownDatasetError(DataError, LookupError):
    """A dataset name that the registry does not know was asked for."""


class MissingMaskError(DataError, FileNotFoundError):
    """An anomalous image has no ground-truth mask where one is expected."""


class MaskSizeError(DataError, ValueError):
    """A mask does not have the same height and width as its image."""


class MissingSplitFileError(DataError, FileNotFoundError):
    """A split file the conversion needs (e.g. VisA's ``split_csv/1cls.csv``) is missing."""


class OutputExistsError(DataError, FileExistsError):
    """The output folder exists and was not made by the same conversion."""


class DownloadError(DataError, OSError):
    """A download failed (network, HTTP status, or the server's answer)."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file does not have the expected SHA-256."""


class NotEnoughDiskSpace(DataError, OSError):
    """The disk cannot hold a download or a conversion."""


class UnsafeArchiveError(DataError, ValueError):
    """An archive member would land outside the extraction folder (path traversal)."""
