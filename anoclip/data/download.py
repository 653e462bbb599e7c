"""Resumable, verified downloads and safe archive extraction.

Benchmark archives are gigabytes (MVTec AD 4.9 GB, VisA 1.8 GB) and Colab connections drop,
so a download streams into ``<dest>.part``, resumes with an HTTP ``Range`` request, checks the
free disk space against ``Content-Length`` before it starts, verifies the SHA-256 and only then
renames the file to ``dest``.  An existing ``dest`` is never fetched again.

Extraction goes into a staging folder that is renamed when complete, so an interrupted
extraction is never mistaken for a finished one, and members that would land outside the
target (``../``, absolute paths, links pointing out) are refused.  The archive is only read.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional, Union

from tqdm.auto import tqdm

from .errors import ChecksumMismatchError, DataError, DownloadError, NotEnoughDiskSpace, UnsafeArchiveError

PathLike = Union[str, "os.PathLike[str]"]

CHUNK = 1 << 20
# Keep this much free beyond the file itself: extraction and conversion follow the download.
DISK_MARGIN = 64 << 20
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")


def sha256sum(path: PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (constant memory for multi-GB archives)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_space(folder: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN > free:
        raise NotEnoughDiskSpace(
            f"Not enough disk space in {folder} for {what}: need {needed / 2**30:.2f} GiB "
            f"(+{DISK_MARGIN >> 20} MiB margin), {free / 2**30:.2f} GiB free. "
            "Free some space or choose another output folder."
        )


def _verify(part: Path, sha256: Optional[str], url: str) -> None:
    if sha256 is None:
        return
    actual = sha256sum(part)
    if actual.lower() != sha256.lower():
        raise ChecksumMismatchError(
            f"SHA-256 mismatch for {url}: expected {sha256}, got {actual}. The partial file is kept "
            f"for inspection at {part}. The download may be corrupt or the server may now serve a "
            "different file: delete that file and run again; if it fails again, download the archive "
            "by hand from the dataset's homepage and pass it with --raw."
        )


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": "anoclip-data/1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def download(
    url: str,
    dest: PathLike,
    sha256: Optional[str] = None,
    *,
    resume: bool = True,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` (a file path; a folder gets the URL's file name) and return it.

    Streams to ``dest.part`` with a progress bar; resumes a previous ``.part`` with an HTTP Range
    request and restarts from zero when the server ignores ranges; verifies ``sha256`` when
    given (a mismatch keeps the ``.part`` and raises :class:`ChecksumMismatchError`); renames to
    ``dest`` only when complete.  An existing ``dest`` is verified and returned as it is.
    """
    dest = Path(dest)
    if dest.is_dir():
        name = PurePosixPath(urllib.parse.urlparse(url).path).name
        if not name:
            raise DownloadError(f"Cannot derive a file name from {url}; pass a file path as dest.")
        dest = dest / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        if sha256 is not None and sha256sum(dest).lower() != sha256.lower():
            raise ChecksumMismatchError(
                f"{dest} exists but its SHA-256 is not {sha256}. Delete it to download again, "
                "or check that it is the right archive."
            )
        return dest

    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if (resume and part.is_file()) else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # range past the end: the .part is already complete
            _verify(part, sha256, url)
            os.replace(part, dest)
            return dest
        raise DownloadError(
            f"Download of {url} failed: HTTP {err.code} {err.reason}. Check the URL, or download the "
            "file by hand and pass it with --raw."
        ) from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(
            f"Cannot reach {url}: {getattr(err, 'reason', err)}. Check the connection and run again "
            "(a partial download resumes), or download the file by hand and pass it with --raw."
        ) from err

    with response:
        status = getattr(response, "status", 200)
        if offset and status != 206:
            offset = 0  # the server ignored the Range header and sends the whole file
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        if remaining is not None:
            _check_space(dest.parent, remaining, f"downloading {dest.name}")
        total = offset + remaining if remaining is not None else None
        try:
            with open(part, "ab" if offset else "wb") as handle, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name
            ) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    handle.write(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as err:
            if getattr(err, "errno", None) == errno.ENOSPC:
                raise NotEnoughDiskSpace(
                    f"Disk full while downloading to {part}. Free space and run again: the download "
                    "resumes from the partial file."
                ) from err
            raise DownloadError(
                f"Download of {url} was interrupted ({err}). Run again: it resumes from {part}."
            ) from err
    if total is not None and part.stat().st_size < total:
        raise DownloadError(
            f"Download of {url} ended early ({part.stat().st_size} of {total} bytes). Run again: it "
            f"resumes from {part}."
        )
    _verify(part, sha256, url)
    os.replace(part, dest)
    return dest


def is_archive(path: PathLike) -> bool:
    """True for the zip and tar flavours :func:`extract` handles (judged by the file name)."""
    name = Path(path).name.lower()
    return name.endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: PathLike) -> str:
    """The archive's name without its (possibly double) archive suffix: ``a.tar.xz`` -> ``a``."""
    name = Path(path).name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _safe_target(root: Path, member: str, archive: Path) -> Path:
    root = root.resolve()
    target = (root / member).resolve()
    if PurePosixPath(member).is_absolute() or (target != root and root not in target.parents):
        raise UnsafeArchiveError(
            f"Archive {archive} contains the member {member!r}, which would be written outside "
            f"{root}. Refusing to extract it; the archive is corrupt or malicious."
        )
    return target


def _extract_zip(archive: Path, staging: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        for info in members:
            _safe_target(staging, info.filename, archive)
        for info in tqdm(members, desc=f"extract {archive.name}", unit="file"):
            bundle.extract(info, staging)


def _extract_tar(archive: Path, staging: Path) -> None:
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        for member in members:
            _safe_target(staging, member.name, archive)
            if member.issym() or member.islnk():
                link_base = (staging / member.name).parent if member.issym() else staging
                _safe_target(staging, os.path.relpath(link_base / member.linkname, staging), archive)
            if member.isdev():
                raise UnsafeArchiveError(f"Archive {archive} contains a device file {member.name!r}; refusing.")
        # The "data" filter (Python >= 3.10.12 / 3.11.4) adds the stdlib's own safety checks.
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        for member in tqdm(members, desc=f"extract {archive.name}", unit="file"):
            bundle.extract(member, staging, **options)


def extract(archive: PathLike, dest: PathLike) -> Path:
    """Extract a zip or tar archive into the folder ``dest`` and return it.

    Extracts into ``<dest>.partial`` first and renames it to ``dest`` when done, so ``dest``
    existing means a complete extraction (it is then returned without work).  Refuses members
    that escape the folder.  Never modifies or deletes the archive.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    if not archive.is_file():
        raise DataError(f"Archive {archive} does not exist.")
    if not (zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive)):
        raise DataError(
            f"{archive} is not a zip or tar archive (or it is truncated). Re-download it, or extract it "
            "yourself and pass the folder instead."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(dest.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    _check_space(dest.parent, archive.stat().st_size, f"extracting {archive.name}")
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, staging)
        else:
            _extract_tar(archive, staging)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if err.errno == errno.ENOSPC:
            raise NotEnoughDiskSpace(f"Disk full while extracting {archive} into {dest.parent}.") from err
        raise DataError(f"Extracting {archive} failed: {err}. The archive may be truncated; re-download it.") from err
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{archive} is damaged ({err}); re-download it.") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, dest)
    return dest
