"""Resumable, verified downloads, atomic copies and safe archive extraction.

Benchmark archives are gigabytes (MVTec AD 4.9 GB, VisA 1.8 GB) and Colab connections drop,
so a download streams into ``<dest>.part``, resumes with an HTTP ``Range`` request, checks the
free disk space against ``Content-Length`` before it starts, verifies the size and SHA-256 (or
the SHA-256 prefix an open_clip release name carries) and only then renames the file to
``dest``.  An existing ``dest`` is never fetched again.  A server that answers with an HTML
page (a login wall, an expired share) or announces another size is refused before any byte is
written, so a dead link cannot leave a plausible-looking archive behind.

Every :class:`DownloadError` raised here carries ``reason``, the short cause ("HTTP 404 Not
Found"), so that :mod:`.sources` can list several failed URLs in one readable message.

Extraction goes into a staging folder that is renamed when complete, so an interrupted
extraction is never mistaken for a finished one, and members that would land outside the
target (``../``, absolute paths, links pointing out) are refused.  The archive is only read.
:func:`extract_member` streams a tar and writes one top-level folder only (one MVTec AD
category out of the 4.9 GB archive costs its own ~150 MB of disk, not the whole set).
"""
from __future__ import annotations

import errno
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Optional, Type, TypeVar

from tqdm.auto import tqdm

from ..fileio import PathLike, sha256sum
from .errors import ChecksumMismatchError, DataError, DownloadError, NotEnoughDiskSpace, UnsafeArchiveError

CHUNK = 1 << 20
# Keep this much free beyond the file itself: extraction and conversion follow the download.
DISK_MARGIN = 64 << 20
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
# open_clip release names carry 8 hex digits of the SHA-256; shorter prefixes check too little.
MIN_PREFIX = 8
USER_AGENT = "anoclip-data/1"

_E = TypeVar("_E", bound=DataError)


def _error(kind: Type[_E], message: str, reason: str) -> _E:
    """``kind(message)`` with ``reason``, the short cause used when several sources are listed."""
    error = kind(message)
    error.reason = reason
    return error


def _check_space(folder: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN > free:
        raise NotEnoughDiskSpace(
            f"Not enough disk space in {folder} for {what}: need {needed / 2**30:.2f} GiB "
            f"(+{DISK_MARGIN >> 20} MiB margin), {free / 2**30:.2f} GiB free. "
            "Free some space or choose another output folder."
        )


def digest_matches(actual: str, expected: str) -> bool:
    """True when the hex SHA-256 ``actual`` equals ``expected`` or starts with it (a prefix)."""
    expected = expected.lower()
    if len(expected) < MIN_PREFIX:
        raise ValueError(f"SHA-256 prefix {expected!r} is shorter than {MIN_PREFIX} hex digits.")
    return actual.lower().startswith(expected)


def _verify(part: Path, sha256: Optional[str], size: Optional[int], url: str) -> None:
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        raise _error(
            ChecksumMismatchError,
            f"{url} gave {actual_size} bytes, expected {size}. The partial file is kept for inspection "
            f"at {part}: delete it and run again.",
            f"size {actual_size} bytes, expected {size}",
        )
    if sha256 is None:
        return
    actual = sha256sum(part)
    if not digest_matches(actual, sha256):
        raise _error(
            ChecksumMismatchError,
            f"SHA-256 mismatch for {url}: expected {sha256}, got {actual}. The partial file is kept "
            f"for inspection at {part}. The download may be corrupt or the server may now serve a "
            "different file: delete that file and run again; if it fails again, download the archive "
            "by hand from the dataset's homepage and pass it with --raw.",
            f"SHA-256 {actual}, expected {sha256}",
        )


def _refuse_announced(response, dest: Path, url: str, total: Optional[int], size: Optional[int]) -> None:
    """Refuse an answer that cannot be the file before writing any of it."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "text/html" and not dest.name.lower().endswith((".html", ".htm")):
        raise _error(
            DownloadError,
            f"{url} answered with an HTML page, not {dest.name} (a login wall, an expired share or a "
            "moved file). Open the URL in a browser to see why, or download the file by hand.",
            "an HTML page instead of the file",
        )
    if size is not None and total is not None and total != size:
        raise _error(  # a registered check, refused like a checksum (and a resumed .part may be why)
            ChecksumMismatchError,
            f"{url} announces {total} bytes for {dest.name}, expected {size}: the server offers another "
            "file. Check the URL, or download the file by hand.",
            f"announces {total} bytes, expected {size}",
        )


def open_url(request: urllib.request.Request, timeout: float):
    """Open ``request`` with the proxy settings of the environment now.

    ``urllib.request.urlopen`` keeps the opener of its first call, proxies included, for the rest
    of the process; a notebook or a test that changes ``http_proxy``/``no_proxy`` later would
    still be routed by the old ones.
    """
    return urllib.request.build_opener().open(request, timeout=timeout)


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return open_url(urllib.request.Request(url, headers=headers), timeout)


def download(
    url: str,
    dest: PathLike,
    sha256: Optional[str] = None,
    *,
    size: Optional[int] = None,
    resume: bool = True,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` (a file path; a folder gets the URL's file name) and return it.

    Streams to ``dest.part`` with a progress bar; resumes a previous ``.part`` with an HTTP Range
    request and restarts from zero when the server ignores ranges; verifies ``size`` and
    ``sha256`` (a full hex digest or a prefix of at least 8 digits) when given - a mismatch keeps
    the ``.part`` and raises :class:`ChecksumMismatchError`; renames to ``dest`` only when
    complete.  An existing ``dest`` is verified and returned as it is.
    """
    dest = Path(dest)
    if dest.is_dir():
        name = PurePosixPath(urllib.parse.urlparse(url).path).name
        if not name:
            raise DownloadError(f"Cannot derive a file name from {url}; pass a file path as dest.")
        dest = dest / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        if sha256 is not None and not digest_matches(sha256sum(dest), sha256):
            raise _error(
                ChecksumMismatchError,
                f"{dest} exists but its SHA-256 is not {sha256}. Delete it to download again, "
                "or check that it is the right archive.",
                f"existing {dest.name} has another SHA-256",
            )
        return dest

    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if (resume and part.is_file()) else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # range past the end: the .part is already complete
            _verify(part, sha256, size, url)
            os.replace(part, dest)
            return dest
        raise _error(
            DownloadError,
            f"Download of {url} failed: HTTP {err.code} {err.reason}. Check the URL, or download the "
            "file by hand and pass it with --raw.",
            f"HTTP {err.code} {err.reason}",
        ) from err
    except (urllib.error.URLError, OSError) as err:
        cause = getattr(err, "reason", err)
        raise _error(
            DownloadError,
            f"Cannot reach {url}: {cause}. Check the connection and run again "
            "(a partial download resumes), or download the file by hand and pass it with --raw.",
            f"unreachable ({cause})",
        ) from err

    with response:
        status = getattr(response, "status", 200)
        if offset and status != 206:
            offset = 0  # the server ignored the Range header and sends the whole file
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        total = offset + remaining if remaining is not None else None
        _refuse_announced(response, dest, url, total, size)
        if remaining is not None:
            _check_space(dest.parent, remaining, f"downloading {dest.name}")
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
            raise _error(
                DownloadError,
                f"Download of {url} was interrupted ({err}). Run again: it resumes from {part}.",
                f"interrupted ({err}); run again to resume",
            ) from err
    if total is not None and part.stat().st_size < total:
        raise _error(
            DownloadError,
            f"Download of {url} ended early ({part.stat().st_size} of {total} bytes). Run again: it "
            f"resumes from {part}.",
            f"ended early ({part.stat().st_size} of {total} bytes); run again to resume",
        )
    _verify(part, sha256, size, url)
    os.replace(part, dest)
    return dest


def copy_file(source: PathLike, dest: PathLike) -> Path:
    """Copy ``source`` to ``dest`` through ``<dest>.part`` and a rename, after a free-space check.

    A copy, never a hard link: Google Drive mounts (where Colab users keep ``ANOCLIP_DATA``)
    cannot hold hard links, and a link would let a later edit of one name change the other.
    """
    source, dest = Path(source), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_space(dest.parent, source.stat().st_size, f"copying {source.name}")
    part = dest.with_name(dest.name + ".part")
    try:
        shutil.copyfile(source, part)
    except OSError as err:
        part.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC:
            raise NotEnoughDiskSpace(f"Disk full while copying {source} to {dest}.") from err
        raise DataError(f"Copying {source} to {dest} failed: {err}.") from err
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


def _extract_zip(archive: Path, staging: Path) -> int:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        for info in members:
            _safe_target(staging, info.filename, archive)
        for info in tqdm(members, desc=f"extract {archive.name}", unit="file"):
            bundle.extract(info, staging)
    return len(members)


def _extract_tar(archive: Path, staging: Path) -> int:
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
    return len(members)


def _member_path(name: str, member: str) -> Optional[str]:
    """``name`` when it lies in the archive's top-level folder ``member`` (``./`` ignored)."""
    parts = PurePosixPath(name).parts
    if parts and parts[0] == ".":
        parts = parts[1:]
    return "/".join(parts) if parts and parts[0] == member else None


def _stream_tar_member(archive: Path, member: str, staging: Path) -> int:
    options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    count = 0
    # "r|*" reads the (compressed) stream once, front to back, without an index in memory.
    with tarfile.open(archive, "r|*") as bundle:
        for info in tqdm(bundle, desc=f"{member}/ from {archive.name}", unit="file"):
            name = _member_path(info.name, member)
            if name is None:
                continue
            _safe_target(staging, name, archive)
            if info.issym() or info.islnk() or info.isdev():
                raise UnsafeArchiveError(f"Archive {archive} has a link or device {info.name!r} in {member}/; refusing.")
            info.name = name
            bundle.extract(info, staging, **options)
            count += 1
    return count


def _zip_member(archive: Path, member: str, staging: Path) -> int:
    with zipfile.ZipFile(archive) as bundle:
        chosen = [info for info in bundle.infolist() if _member_path(info.filename, member) is not None]
        for info in chosen:
            _safe_target(staging, info.filename, archive)
        for info in tqdm(chosen, desc=f"{member}/ from {archive.name}", unit="file"):
            bundle.extract(info, staging)
    return len(chosen)


def _staged_extraction(
    archive: Path, dest: Path, what: str, unpack: Callable[[Path], int], nothing: str, check_space: bool = False
) -> Path:
    """Run ``unpack(staging)`` into ``<dest>.partial`` and rename it to ``dest`` when complete.

    The one place that checks the archive (and, with ``check_space``, that the disk can hold
    about its size), cleans up a failed attempt and turns low-level errors into clear ones;
    ``unpack`` returns how many members it wrote; none is the error ``nothing``.
    """
    if not archive.is_file():
        raise DataError(f"Archive {archive} does not exist.")
    if not (zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive)):
        raise DataError(
            f"{archive} is not a zip or tar archive (or it is truncated). Re-download it, or extract it "
            "yourself and pass the folder instead."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if check_space:
        _check_space(dest.parent, archive.stat().st_size, f"extracting {archive.name}")
    staging = dest.with_name(dest.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        count = unpack(staging)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if err.errno == errno.ENOSPC:
            raise NotEnoughDiskSpace(f"Disk full while extracting {what} into {dest.parent}.") from err
        raise DataError(f"Extracting {what} failed: {err}. The archive may be truncated; re-download it.") from err
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{archive} is damaged ({err}); re-download it.") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if count == 0:
        shutil.rmtree(staging)
        raise DataError(nothing)
    os.replace(staging, dest)
    return dest


def extract_member(archive: PathLike, member: str, dest: PathLike) -> Path:
    """Extract only the top-level folder ``member`` of a tar or zip archive into ``dest``.

    ``dest/<member>/...`` is the result, as :func:`extract` of a per-member archive would give.
    A tar is streamed (decompressed once, front to back) and only the member's files are
    written; staging and the rename work as in :func:`extract`, and ``dest`` existing means done.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest

    def unpack(staging: Path) -> int:
        if zipfile.is_zipfile(archive):
            return _zip_member(archive, member, staging)
        return _stream_tar_member(archive, member, staging)

    nothing = f"{archive} has no top-level folder {member}/; is it the right archive?"
    return _staged_extraction(archive, dest, f"{member}/ from {archive}", unpack, nothing)


def extract(archive: PathLike, dest: PathLike) -> Path:
    """Extract a zip or tar archive into the folder ``dest`` and return it.

    Extracts into ``<dest>.partial`` first and renames it to ``dest`` when done, so ``dest``
    existing means a complete extraction (it is then returned without work).  Refuses members
    that escape the folder.  Never modifies or deletes the archive.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest

    def unpack(staging: Path) -> int:
        return _extract_zip(archive, staging) if zipfile.is_zipfile(archive) else _extract_tar(archive, staging)

    nothing = f"{archive} is an empty archive; re-download it."
    return _staged_extraction(archive, dest, str(archive), unpack, nothing, check_space=True)
