"""Files, written so that nothing is lost or half-written, and the small reads the caches share.

* :func:`atomic_path` is the one way a result file is written: into a temporary file beside it,
  renamed over it only when the writing succeeded (a reader, or a resumed run, never sees half a
  file), with the permissions the user's umask gives a new file (not ``mkstemp``'s 0600).
* :func:`remembered_sha256`: a file's SHA-256, computed once per file version (weights are
  verified and used as cache keys by several modules).
* :func:`locked_folder`: one run at a time per results folder, the holder named.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Sequence, Union

from .env import cache_dir

#: What every function that takes a file name accepts.
PathLike = Union[str, "os.PathLike[str]"]
_CHUNK = 1 << 20


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: renamed over ``path`` when the block ends
    normally, removed when it raises (Ctrl-C included), so ``path`` is either old or complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically, fsynced before the rename."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    return Path(path)


def write_json_atomic(path: PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv_atomic(path: PathLike, rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return write_text_atomic(path, buffer.getvalue())


def read_json_dict(path: PathLike) -> Dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when it is missing, damaged or not an object (for
    caches and indexes, which are rebuilt rather than trusted half-written)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_version(path: PathLike) -> str:
    """``size|mtime_ns`` of a file: what tells an edited or replaced file from the one a cache saw."""
    stat = Path(path).stat()
    return f"{stat.st_size}|{stat.st_mtime_ns}"


def sha256sum(path: PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (constant memory for multi-GB archives)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remembered_sha256(path: PathLike) -> str:
    """:func:`sha256sum` of ``path``, computed once per file version and remembered.

    Hashing an 800 MB checkpoint takes seconds, and every chapter loads it again; the digest is
    kept in ``$ANOCLIP_CACHE/sha256.json`` keyed by the file's absolute path, size and
    modification time (as ``git status`` trusts its index), so a replaced or rewritten file is
    hashed again. A missing or damaged index is rebuilt, never trusted.
    """
    path = Path(path).resolve()
    index_file = cache_dir() / "sha256.json"
    key = f"{path}|{file_version(path)}"
    index = read_json_dict(index_file)
    if key not in index:
        index[key] = sha256sum(path)
        write_json_atomic(index_file, index)
    return index[key]


class FolderBusyError(RuntimeError):
    """Another live run holds the results folder's lock."""


LOCK_NAME = ".anoclip.lock"


def _holder_alive(holder: Mapping[str, Any]) -> bool:
    """False only when the holder is provably gone: a process of this host that no longer runs."""
    if holder.get("host") != socket.gethostname():
        return True  # another machine (a shared drive): nothing here can tell
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def locked_folder(folder: PathLike, command: str) -> Iterator[Path]:
    """Hold ``folder/.anoclip.lock`` while a run writes results there: one run per folder.

    The lock names its holder (host, process id, command, start time); a second run is refused
    with that name. A lock left by a process of this host that no longer runs is taken over.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "command": command,
                         "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    for attempt in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_json_dict(lock)
            stale = not _holder_alive(holder) if holder else time.time() - lock.stat().st_mtime > 60
            if stale and attempt == 0:
                lock.unlink(missing_ok=True)
                continue
            raise FolderBusyError(
                f"{folder} is in use by another run (process {holder.get('pid', '?')} on {holder.get('host', '?')}, "
                f"`{holder.get('command', '?')}`, since {holder.get('started', '?')}). Wait for it to finish or use "
                f"another output folder; if that run is gone, delete {lock}."
            ) from None
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(record)
        break
    try:
        yield folder
    finally:
        lock.unlink(missing_ok=True)


def writable_folder(folder: PathLike, option: str = "--out") -> Path:
    """``folder``, created if missing, once a file can be written in it; checked before any work.

    Raises ``ValueError`` naming the folder and the fix when it is a file, read-only or cannot be made.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {folder} is a file; pass a folder (it is created if missing).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{option} {folder} cannot be written ({err.strerror or err}); pass a folder you can write to.") from None
    return folder
