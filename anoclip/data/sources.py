"""Where every external file comes from, and the one way AnoCLIP fetches it.

Sources are data: ``sources.json`` (next to this module) lists every file AnoCLIP downloads -
the CLIP checkpoint of each supported tag, each MVTec AD category archive and the full archive,
VisA, KSDD2, BTAD, CrackForest, BSData - once, with its size and SHA-256 where a source states
them, and an ordered list of URLs: the current official link first, then known mirrors.  The
table is JSON rather than Python so that a dead link is fixed by a data change, and so that the
weekly link check, a rehearsal and a reader can use it without importing the package.

:func:`fetch` is the only download path for a listed file.  It looks, in order, at

1. the file already in the target folder (checked again, never downloaded twice);
2. ``ANOCLIP_MIRROR``: a base URL (``<base>/<file name>``) or a local folder holding the file
   under its own name; a local file is copied (never hard-linked: Google Drive cannot hold
   hard links) or, for weights, used where it is;
3. each URL of the table, in order, resumably, through :func:`.download.download`.

Whatever the source, a file with a registered size or SHA-256 (or SHA-256 prefix) is accepted
only if it matches: a mirror never weakens verification.  When every source fails, one
:class:`SourcesExhaustedError` names each place tried, why it failed, and how to download the
file by hand and hand it over.  :func:`fetch_extracted` adds the MVTec category fallback: if no
source of ``bottle.tar.xz`` works, only ``bottle/`` is streamed out of the verified full archive.

Substitutes.  A rehearsal of the whole book on synthetic files must replace files that have
registered checksums.  The package reads no manifest and no environment variable for that: the
caller installs a :class:`Substitutes` object with :func:`allow_substitutes` (the book's rehearsal
does, from its own declared manifest).  While one is installed, a file it ``covers`` is accepted if
it is the real file or if the object ``matches`` it; every substitute accepted is announced by the
object and marked beside the file (``<file>.standin``), and a marked file is refused once no
installed object covers it.  Nothing a mirror serves or contains can turn this on.  The object may
also add table rows (``sources``) for files the package does not list.
"""
from __future__ import annotations

import json
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Protocol, Sequence, TextIO, Tuple, Union
from zipfile import is_zipfile

from .. import env
from .download import (
    USER_AGENT,
    copy_file,
    digest_matches,
    download,
    extract,
    extract_member,
    is_archive,
    open_url,
)
from ..fileio import PathLike, remembered_sha256
from .errors import ChecksumMismatchError, DataError, DownloadError, MetaFormatError

TABLE_FILE = Path(__file__).with_name("sources.json")
KINDS = ("weights", "dataset", "category")
_HEX = re.compile(r"^[0-9a-f]+$")
# How a reader hands over a file that was downloaded by hand, besides the folder it belongs in.
_HAND_OVER = {
    "weights": ", or pass the file itself (--pretrained FILE, ANOCLIP_PRETRAINED=FILE)",
    "dataset": ", or pass it to the data script with --raw FILE",
    "category": "",
}


class UnknownSourceError(DataError, LookupError):
    """A source id that the table does not list was asked for."""


class SourcesExhaustedError(DownloadError):
    """Every source of a file failed; ``attempts`` says where and why, the message how to go on."""

    def __init__(self, source: "Source", attempts: Sequence["Attempt"], dest: Path):
        self.source, self.attempts, self.dest = source, list(attempts), dest
        self.reason = "every source failed"
        super().__init__(describe_failure(source, self.attempts, dest))


@dataclass(frozen=True)
class Attempt:
    """One place a file was looked for (``where``) and why it was not taken from there."""

    where: str
    reason: str


@dataclass(frozen=True)
class Fallback:
    """Take the top-level folder ``member`` out of the archive of source ``source``."""

    source: str
    member: str


@dataclass(frozen=True)
class Source:
    """One external file: what it is, how to check it, and where to get it, in order."""

    id: str
    kind: str
    title: str
    file: str
    urls: Tuple[str, ...]
    size: Optional[int] = None
    sha256: Optional[str] = None
    sha256_prefix: Optional[str] = None
    fallback: Optional[Fallback] = None
    hf_hub: Optional[str] = None
    model: Optional[str] = None
    tag: Optional[str] = None
    required: bool = False
    homepage: str = ""
    licence: str = ""
    manual: str = ""
    note: str = ""

    @property
    def digest(self) -> Optional[str]:
        """The registered SHA-256, or its registered prefix, or None."""
        return self.sha256 or self.sha256_prefix

    def checks(self) -> str:
        """How a copy of this file is verified, in words."""
        parts = []
        if self.size is not None:
            parts.append(f"{self.size} bytes")
        if self.sha256:
            parts.append(f"SHA-256 {self.sha256}")
        elif self.sha256_prefix:
            parts.append(f"SHA-256 starting {self.sha256_prefix}")
        return ", ".join(parts) if parts else "no checksum published"

    @classmethod
    def from_json(cls, row: Mapping[str, object], where: Path) -> "Source":
        """Read one table row; a malformed row names the table file, the row and the field."""
        ident = str(row.get("id", "?"))
        try:
            fallback = row.get("fallback")
            source = cls(
                id=str(row["id"]), kind=str(row["kind"]), title=str(row["title"]), file=str(row["file"]),
                urls=tuple(str(url) for url in row.get("urls", ())),
                size=row.get("size"), sha256=row.get("sha256"), sha256_prefix=row.get("sha256_prefix"),
                fallback=Fallback(str(fallback["source"]), str(fallback["member"])) if fallback else None,
                hf_hub=row.get("hf_hub"), model=row.get("model"), tag=row.get("tag"),
                required=bool(row.get("required", False)), homepage=str(row.get("homepage", "")),
                licence=str(row.get("licence", "")), manual=str(row.get("manual", "")), note=str(row.get("note", "")),
            )
        except (KeyError, TypeError) as err:
            raise MetaFormatError(f"{where}: source {ident!r} lacks or mangles the field {err}.") from err
        source.validate(where)
        return source

    def validate(self, where: Path) -> None:
        """Refuse rows that could make a check meaningless (bad hex, a path as file name, ...)."""
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {KINDS}")
        if not self.file or "/" in self.file or "\\" in self.file or self.file.startswith("."):
            problems.append(f"file {self.file!r} must be a plain file name")
        if self.sha256 is not None and not (len(self.sha256) == 64 and _HEX.match(self.sha256)):
            problems.append(f"sha256 {self.sha256!r} is not 64 lower-case hex digits")
        if self.sha256_prefix is not None and not (8 <= len(self.sha256_prefix) < 64 and _HEX.match(self.sha256_prefix)):
            problems.append(f"sha256_prefix {self.sha256_prefix!r} is not 8-63 lower-case hex digits")
        if self.size is not None and (not isinstance(self.size, int) or self.size <= 0):
            problems.append(f"size {self.size!r} is not a positive number of bytes")
        if any(not url.startswith(("https://", "http://")) for url in self.urls):
            problems.append("every URL must start with https:// or http://")
        if not self.urls and self.fallback is None and self.hf_hub is None:
            problems.append("it has no URL, no fallback and no hf_hub: nothing could fetch it")
        if problems:
            raise MetaFormatError(f"{where}: source {self.id!r}: " + "; ".join(problems) + ".")


class SourceTable:
    """The rows of a sources file, by id (see ``sources.json``)."""

    def __init__(self, sources: Iterable[Source], where: Path = TABLE_FILE):
        self.where = where
        self._by_id: Dict[str, Source] = {}
        for source in sources:
            if source.id in self._by_id:
                raise MetaFormatError(f"{where}: the source id {source.id!r} is listed twice.")
            self._by_id[source.id] = source
        for source in self._by_id.values():
            if source.fallback is not None and source.fallback.source not in self._by_id:
                raise MetaFormatError(
                    f"{where}: {source.id!r} falls back to {source.fallback.source!r}, which is not listed."
                )

    @classmethod
    def load(cls, path: PathLike = TABLE_FILE) -> "SourceTable":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data["sources"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise MetaFormatError(f"Cannot read the sources table {path}: {err}.") from err
        return cls((Source.from_json(row, path) for row in rows), path)

    def __iter__(self) -> Iterator[Source]:
        return iter(self._by_id.values())

    def get(self, ident: str) -> Source:
        try:
            return self._by_id[ident]
        except KeyError:
            raise UnknownSourceError(
                f"No source {ident!r} in {self.where}; known: {', '.join(self._by_id)}."
            ) from None

    def select(self, prefixes: Sequence[str] = ()) -> List[Source]:
        """Rows whose id is one of ``prefixes`` or lies under one (``mvtec_ad`` -> its categories too)."""
        if not prefixes:
            return list(self)
        chosen = [s for s in self if any(s.id == p or s.id.startswith(p.rstrip("/") + "/") for p in prefixes)]
        unknown = [p for p in prefixes if not any(s.id == p or s.id.startswith(p.rstrip("/") + "/") for s in self)]
        if unknown:
            raise UnknownSourceError(
                f"No source {', '.join(map(repr, unknown))} in {self.where}; known: {', '.join(self._by_id)}."
            )
        return chosen

    def weights(self, model: str, tag: str) -> Optional[Source]:
        """The row of the checkpoint of ``model`` / ``tag``, if the table lists it."""
        for source in self:
            if source.kind == "weights" and (source.model, source.tag) == (model, tag):
                return source
        return None


@lru_cache(maxsize=1)
def package_table() -> SourceTable:
    """The package's ``sources.json`` (read once)."""
    return SourceTable.load(TABLE_FILE)


def default_table() -> SourceTable:
    """The package's table, plus the rows installed :class:`Substitutes` add (see the module docstring)."""
    if _substitutes is None or not _substitutes.sources:
        return package_table()
    return SourceTable([*package_table(), *_substitutes.sources])


def get_source(ident: str) -> Source:
    """The row ``ident`` of the package's table."""
    return default_table().get(ident)


# ----------------------------------------------------------------------------------------------
# Substitutes a caller allows (the book's rehearsal)


class Substitutes(Protocol):
    """A caller's permission to replace registered files by others; see the module docstring."""

    sources: Tuple[Source, ...]

    def covers(self, source: Source) -> bool:
        """Whether ``source``'s file may be a substitute (then its bytes are judged after the download)."""

    def matches(self, source: Source, path: Path) -> bool:
        """Whether ``path`` is the substitute allowed for ``source``."""

    def announce(self, source: Source, where: str) -> None:
        """Say loudly that ``where`` was accepted as ``source`` although it is not the real file."""


_substitutes: Optional[Substitutes] = None


def allow_substitutes(substitutes: Optional[Substitutes]) -> None:
    """Install (or, with None, remove) the one :class:`Substitutes` object :func:`fetch` consults."""
    global _substitutes
    _substitutes = substitutes


def standin_marker(path: Path) -> Path:
    return path.with_name(path.name + ".standin")


# ----------------------------------------------------------------------------------------------
# Fetching


class _Rejected(Exception):
    """A candidate copy failed verification; the argument is the short reason."""


def _looks_like_archive(path: Path) -> bool:
    try:
        return is_zipfile(path) or tarfile.is_tarfile(path)
    except OSError:
        return False


def _covered(source: Source) -> bool:
    return _substitutes is not None and _substitutes.covers(source)


def _judge(path: Path, source: Source, verified: bool = False) -> bool:
    """Accept ``path`` as ``source`` (False) or as its allowed substitute (True); else raise _Rejected.

    ``verified``: :func:`download` has already checked the registered size and digest.
    """
    covered = _covered(source)
    if covered and _substitutes.matches(source, path):
        return True
    suffix = " (nor the allowed substitute)" if covered else ""
    digest = remembered_sha256(path) if source.digest and not verified else None
    if not verified:
        actual = path.stat().st_size
        if source.size is not None and actual != source.size:
            raise _Rejected(f"size {actual} bytes, expected {source.size}{suffix}")
        if source.digest and not digest_matches(digest, source.digest):
            expected = source.sha256 or f"one starting {source.sha256_prefix}"
            raise _Rejected(f"SHA-256 {digest}, expected {expected}{suffix}")
    if source.digest is None and source.size is None and is_archive(source.file) and not _looks_like_archive(path):
        raise _Rejected(f"not a zip or tar archive{suffix}")
    return False


def _set_aside(path: Path) -> Optional[Path]:
    """Move a refused file out of the way (kept for inspection; a resume would build on it)."""
    if not path.exists():
        return None
    rejected = path.with_name(path.name + ".rejected")
    path.replace(rejected)
    return rejected


def _mirror_location(mirror: str, name: str) -> Tuple[bool, str]:
    """``(is_url, where)`` of ``name`` in the mirror ``mirror`` (base URL or folder)."""
    if mirror.startswith("file://"):
        mirror = urllib.parse.unquote(urllib.parse.urlparse(mirror).path)
    if "://" in mirror:
        return True, mirror.rstrip("/") + "/" + urllib.parse.quote(name)
    return False, str(Path(mirror).expanduser() / name)


def _resolve(source: Union[str, Source]) -> Source:
    return get_source(source) if isinstance(source, str) else source


def _from_url(url: str, label: str, source: Source, dest: Path, timeout: float) -> Tuple[Optional[bool], Optional[Attempt]]:
    """Try one URL: ``(is_standin, None)`` on success, ``(None, attempt)`` on failure.

    A checksum refusal sets the partial file aside; if that file was a resumed one (perhaps a
    stale partial from another run), the URL gets one more try from zero.
    """
    declared = _covered(source)
    part = dest.with_name(dest.name + ".part")
    may_restart = True
    while True:
        resumed = part.is_file()
        try:
            # With an allowed substitute the bytes are judged afterwards (they may be either file).
            download(url, dest, None if declared else source.digest, size=None if declared else source.size,
                     timeout=timeout)
        except ChecksumMismatchError as err:
            kept = _set_aside(part)
            if resumed and may_restart:
                may_restart = False
                continue
            return None, Attempt(label, getattr(err, "reason", str(err)) + (f" (kept as {kept})" if kept else ""))
        except DownloadError as err:
            return None, Attempt(label, getattr(err, "reason", str(err)))
        try:
            return _judge(dest, source, verified=not declared), None
        except _Rejected as rejected:
            return None, Attempt(label, f"{rejected} (kept as {_set_aside(dest)})")


def fetch(
    source: Union[str, Source],
    folder: PathLike,
    *,
    offline: Optional[str] = None,
    in_place: bool = False,
    timeout: float = 30.0,
) -> Path:
    """The verified file of ``source`` (an id or a row) in ``folder``; see the module docstring.

    ``offline``, when given, is why the table's URLs are not tried (``ANOCLIP_MIRROR`` still is:
    it is explicit and usually local).  ``in_place`` returns a matching file in a local mirror folder where it is
    instead of copying it (read-only use such as CLIP weights).

    Raises:
        ChecksumMismatchError: the file already in ``folder`` is not the registered one (or is a
            substitute left over from a rehearsal); it is left alone for the reader to delete.
        SourcesExhaustedError: no source gave a verified file.
    """
    source = _resolve(source)
    folder = Path(folder).expanduser()
    dest = folder / source.file
    if dest.is_file():
        if standin_marker(dest).exists() and not _covered(source):
            raise ChecksumMismatchError(
                f"{dest} was accepted as a stand-in by a rehearsal ({standin_marker(dest)}) and is not the real "
                f"{source.title}. Delete both files to download the real one."
            )
        try:
            if _judge(dest, source):
                _substitutes.announce(source, str(dest))
        except _Rejected as rejected:
            raise ChecksumMismatchError(
                f"{dest} is already there but does not match {source.id}: {rejected}. Delete it to download it "
                "again, or replace it with the right file."
            ) from None
        return dest

    attempts: List[Attempt] = []
    mirror = env.mirror()
    if mirror:
        is_url, where = _mirror_location(mirror, source.file)
        label = f"ANOCLIP_MIRROR {where}"
        if is_url:
            standin, attempt = _from_url(where, label, source, dest, timeout)
            if attempt is None:
                return _finish(source, dest, standin, where)
            attempts.append(attempt)
        elif not Path(where).is_file():
            attempts.append(Attempt(label, "not in the mirror folder"))
        else:
            try:
                standin = _judge(Path(where), source)
            except _Rejected as rejected:
                attempts.append(Attempt(label, str(rejected)))
            else:
                if in_place:
                    if standin:
                        _substitutes.announce(source, where)
                    return Path(where)
                return _finish(source, copy_file(where, dest), standin, where)

    for url in source.urls:
        if offline:
            attempts.append(Attempt(url, f"not tried: offline ({offline})"))
            continue
        standin, attempt = _from_url(url, url, source, dest, timeout)
        if attempt is None:
            return _finish(source, dest, standin, url)
        attempts.append(attempt)
    raise SourcesExhaustedError(source, attempts, dest)


def _finish(source: Source, dest: Path, standin: bool, where: str) -> Path:
    """Mark and announce a substitute that now sits in ``dest``; return ``dest``."""
    if standin:
        standin_marker(dest).write_text(f"{source.id}: an allowed substitute, not the real file\n", encoding="utf-8")
        _substitutes.announce(source, where)
    return dest


def fetch_extracted(source: Union[str, Source], folder: PathLike, dest: PathLike, *, timeout: float = 30.0) -> Path:
    """``dest`` holding the extracted archive of ``source`` (``dest`` existing means done).

    For a row with a fallback (an MVTec category): an archive of its own already in ``folder``
    is used; else a fallback archive already in ``folder`` (no download at all); else the row's
    own sources; and when they all fail, only the member folder is streamed out of the fallback
    archive, fetched from its own sources.  The error then lists both sets of attempts.
    """
    source, folder, dest = _resolve(source), Path(folder).expanduser(), Path(dest)
    if dest.is_dir():
        return dest
    if source.fallback is None:
        return extract(fetch(source, folder, timeout=timeout), dest)
    whole, member = get_source(source.fallback.source), source.fallback.member
    if not (folder / source.file).is_file() and (folder / whole.file).is_file():
        return extract_member(fetch(whole, folder, timeout=timeout), member, dest)
    try:
        return extract(fetch(source, folder, timeout=timeout), dest)
    except SourcesExhaustedError as own:
        print(
            f"{source.file}: no source answered; taking only {member}/ from {whole.file} ({whole.checks()}).",
            file=sys.stderr,
            flush=True,
        )
        try:
            archive = fetch(whole, folder, timeout=timeout)
        except SourcesExhaustedError as full:
            via = [Attempt(f"{whole.file} (only {member}/) from {a.where}", a.reason) for a in full.attempts]
            raise SourcesExhaustedError(source, own.attempts + via, own.dest) from full
    return extract_member(archive, member, dest)


def describe_failure(source: Source, attempts: Sequence[Attempt], dest: Path) -> str:
    """The every-source-failed message: each place tried and why, then the manual route."""
    lines = [f"Could not get {source.file} ({source.title}). Tried, in order:"]
    lines += [f"  {number}. {attempt.where}: {attempt.reason}" for number, attempt in enumerate(attempts, 1)]
    if not attempts:
        lines.append("  (no source: the table lists no URL for it)")
    checked = "" if source.digest is None and source.size is None else f" (it is checked: {source.checks()})"
    lines.append(
        f"Download it by hand: {source.manual} Then save it as {dest}{checked}, or put it in a folder under the "
        f"name {source.file} and set ANOCLIP_MIRROR to that folder{_HAND_OVER[source.kind]}. "
        "`anoclip sources --check` shows which links answer."
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# `anoclip sources` and `anoclip sources --check`


@dataclass(frozen=True)
class Probe:
    """The answer of one URL to a one-byte range request."""

    source: Source
    where: str
    status: str
    size: Optional[int]
    ok: bool
    detail: str = ""


def _human(size: Optional[int]) -> str:
    if size is None:
        return "-"
    for unit, step in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} B"


def _total_size(headers) -> Optional[int]:
    content_range = headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].strip().isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def probe(source: Source, url: str, timeout: float, is_file: bool = True) -> Probe:
    """Ask ``url`` for its first byte: status, total size, and whether it can be ``source``.

    ``is_file=False`` for an API page about the file (a Hugging Face repository), whose type
    and size say nothing about the file itself.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Range": "bytes=0-0"})
    try:
        with open_url(request, timeout) as response:
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as err:
        return Probe(source, url, f"HTTP {err.code}", None, False, str(err.reason))
    except (urllib.error.URLError, OSError) as err:
        return Probe(source, url, "no answer", None, False, str(getattr(err, "reason", err)))
    size = _total_size(headers) if status in (200, 206) else None
    kind = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if is_file and kind == "text/html":
        return Probe(source, url, f"HTTP {status}", size, False, "an HTML page, not the file")
    if is_file and source.size is not None and size is not None and size != source.size:
        return Probe(source, url, f"HTTP {status}", size, False, f"size {size}, registered {source.size}")
    return Probe(source, url, f"HTTP {status}", size if is_file else None, status in (200, 206))


def _probe_mirror(source: Source, mirror: str, timeout: float) -> Probe:
    is_url, where = _mirror_location(mirror, source.file)
    if is_url:
        return probe(source, where, timeout)
    path = Path(where)
    if not path.is_file():
        return Probe(source, where, "missing", None, False, "not in the mirror folder")
    return Probe(source, where, "present", path.stat().st_size, True)


def check_sources(sources: Sequence[Source], timeout: float = 10.0, workers: int = 8) -> List[Probe]:
    """Probe every source of every row (mirror first when set), a few at a time, in table order."""
    mirror = env.mirror()
    jobs = []
    for source in sources:
        if mirror:
            jobs.append(lambda s=source: _probe_mirror(s, mirror, timeout))
        jobs += [lambda s=source, u=url: probe(s, u, timeout) for url in source.urls]
        if source.hf_hub:
            hub = f"https://huggingface.co/api/models/{source.hf_hub.strip('/')}"
            jobs.append(lambda s=source, u=hub: probe(s, u, timeout, is_file=False))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: job(), jobs))


def dead_required(sources: Sequence[Source], probes: Sequence[Probe]) -> List[str]:
    """Ids of required rows with no working source (a working fallback archive counts)."""
    alive = {p.source.id for p in probes if p.ok}
    return [
        s.id for s in sources
        if s.required and s.id not in alive and not (s.fallback and s.fallback.source in alive)
    ]


def format_probes(probes: Sequence[Probe]) -> str:
    rows = [("RESULT", "STATUS", "SIZE", "SOURCE", "URL / PATH")]
    rows += [
        ("OK" if p.ok else "FAIL", p.status, _human(p.size), p.source.id, p.where + (f"  ({p.detail})" if p.detail else ""))
        for p in probes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows)


def format_listing(sources: Sequence[Source]) -> str:
    """Every row with its sources in the order :func:`fetch` tries them."""
    mirror = env.mirror()
    blocks = []
    for source in sources:
        lines = [f"{source.id}  -  {source.title}{'  [required]' if source.required else ''}"]
        size = _human(source.size) if source.size else "size unknown"
        lines.append(f"    file      {source.file}  ({size}; {source.checks()})")
        order = []
        if mirror:
            order.append(f"ANOCLIP_MIRROR: {_mirror_location(mirror, source.file)[1]}")
        order += list(source.urls)
        if source.fallback:
            whole = get_source(source.fallback.source)
            order.append(f"only {source.fallback.member}/ out of {whole.file} (source {whole.id}, tried as listed there)")
        if source.hf_hub:
            order.append(f"Hugging Face hub: {source.hf_hub} (open_clip's copy, loaded by open_clip)")
        for number, where in enumerate(order, 1):
            lines.append(f"    {'sources' if number == 1 else '':<9} {number}. {where}")
        lines.append(f"    by hand   {source.manual}")
        lines.append(f"    licence   {source.licence}")
        if source.note:
            lines.append(f"    note      {source.note}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def run_command(ids: Sequence[str] = (), check: bool = False, timeout: float = 10.0, out: TextIO = sys.stdout) -> int:
    """``anoclip sources [ID ...] [--check]``: 0, or 1 when a required file has no working source.

    When no URL answers at all (offline, DNS down) it raises :class:`DataError` ("no network")
    instead of declaring every link dead.
    """
    sources = default_table().select(ids)
    if not check:
        print(format_listing(sources), file=out)
        return 0
    # A fallback archive decides whether a category is alive, so it is asked even if not selected.
    fallbacks = {s.fallback.source for s in sources if s.fallback} - {s.id for s in sources}
    probes = check_sources(sources + [get_source(ident) for ident in sorted(fallbacks)], timeout=timeout)
    print(format_probes(probes), file=out)
    dead = dead_required(sources, probes)
    working = sum(p.ok for p in probes)
    print(f"\n{len(probes)} sources asked, {working} answered, {len(probes) - working} failed.", file=out)
    if probes and all(p.status == "no answer" for p in probes):  # not one server answered: no verdict on links
        raise DataError(
            f"no network: none of the {len(probes)} URLs answered (first: {probes[0].detail}), so nothing can be said "
            "about the links. Run `anoclip sources --check` where the internet is reachable."
        )
    if dead:
        print(f"DEAD (no working source): {', '.join(dead)}. Update {TABLE_FILE.name} with a working link.", file=out)
        return 1
    print("Every required file has at least one working source.", file=out)
    return 0
