"""A rehearsal's declared stand-ins, handed to the package's download path.

``anoclip`` itself reads no manifest: :func:`anoclip.data.sources.allow_substitutes` takes an
object that says which files may be replaced and by which bytes. This module is that object for
``make rehearse``. The rehearsal writes a manifest and names it in ``ANOCLIP_STANDINS``::

    {"purpose": "make rehearse: synthetic raw layouts, NOT the real data",
     "standins": {"mvtec_ad/bottle": "<SHA-256 of the stand-in file>", ...},
     "sources": [<rows in sources.json's format for files the package does not list>]}

and every kernel of the rehearsal's build installs it when it imports :mod:`anoclip_book`
(:func:`activate`). A declared stand-in is accepted only with exactly that SHA-256, and every
acceptance is printed loudly. Each added row must be declared too, so that its file is announced
like any other stand-in.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Tuple

from anoclip.data.errors import MetaFormatError
from anoclip.data.sources import Source, allow_substitutes
from anoclip.fileio import remembered_sha256

from . import modes

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StandIns:
    """A rehearsal's declaration: which files may be replaced, by exactly which bytes, and why."""

    path: Path
    purpose: str
    sha256: Mapping[str, str]
    sources: Tuple[Source, ...] = ()

    @classmethod
    def load(cls, path: Path) -> "StandIns":
        fix = 'write {"purpose": "...", "standins": {"<source id>": "<64 hex SHA-256>", ...}} or unset ANOCLIP_STANDINS'
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            purpose, declared = data["purpose"], data["standins"]
            rows = list(data.get("sources", []))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise MetaFormatError(f"Cannot read the stand-in manifest {path} (ANOCLIP_STANDINS): {err}. Fix: {fix}.") from err
        if not isinstance(purpose, str) or not purpose.strip() or not isinstance(declared, dict):
            raise MetaFormatError(
                f"The stand-in manifest {path} (ANOCLIP_STANDINS) needs a non-empty 'purpose' and a 'standins' "
                f"object. Fix: {fix}."
            )
        bad = {k: v for k, v in declared.items() if not (isinstance(v, str) and _SHA256.match(v))}
        if bad:
            raise MetaFormatError(
                f"The stand-in manifest {path} (ANOCLIP_STANDINS) has entries that are not full SHA-256 digests: "
                f"{bad}. Fix: {fix}."
            )
        added = tuple(Source.from_json(row, Path(path)) for row in rows)
        undeclared = [row.id for row in added if row.id not in declared]
        if undeclared:
            raise MetaFormatError(
                f"The stand-in manifest {path} (ANOCLIP_STANDINS) adds the sources {undeclared} without declaring "
                "them in 'standins'. Fix: declare the SHA-256 of each added file, so that it is announced as a stand-in."
            )
        return cls(Path(path), purpose.strip(), dict(declared), added)

    # the anoclip.data.sources.Substitutes protocol
    def covers(self, source: Source) -> bool:
        return source.id in self.sha256

    def matches(self, source: Source, path: Path) -> bool:
        return remembered_sha256(path) == self.sha256.get(source.id)

    def announce(self, source: Source, where: str) -> None:
        bar = "!" * 100
        print(
            f"{bar}\n!!! STAND-IN: {where} accepted as {source.file} ({source.id}) although it is NOT the real "
            f"{source.title}.\n!!! Declared by ANOCLIP_STANDINS={self.path} ({self.purpose}). Nothing computed "
            f"from it is a real result.\n{bar}",
            file=sys.stderr,
            flush=True,
        )


def activate() -> Optional[StandIns]:
    """Install the manifest named by ``ANOCLIP_STANDINS`` in the download path; None when it is unset."""
    path = modes.standins()
    if path is None:
        return None
    standins = StandIns.load(path)
    allow_substitutes(standins)
    return standins
