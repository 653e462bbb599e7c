"""Atomic writes: a reader (or a resumed run) never sees a half-written result file; and the
two small reads the caches share (a JSON index that may be missing, a file's version)."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Sequence, Union

PathLike = Union[str, os.PathLike]


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


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


def write_json_atomic(path: PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv_atomic(path: PathLike, rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return write_text_atomic(path, buffer.getvalue())
