"""``references.bib`` as plain-text, linked citations for the Colab edition.

On the site, sphinxcontrib-bibtex renders ``{cite:p}`` as "(Deng et al., 2023)" linked to the
bibliography. Colab renders Markdown only, so the Colab edition writes the same author-year text
itself, linked to the work (DOI, URL or arXiv page) when the entry names one, else to the site's
bibliography page.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence

_ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})", re.IGNORECASE)


class CitationError(KeyError):
    """A citation key that ``references.bib`` does not define."""

    def __str__(self) -> str:  # KeyError would repr the message
        return str(self.args[0])


@dataclass(frozen=True)
class Reference:
    """What a citation shows: the authors' last names, the year, and where to read the work."""

    authors: str
    year: str
    link: str


def _plain(text: str) -> str:
    """LaTeX accents decoded, braces removed: ``Bo{\\v{z}}i{\\v{c}}`` → ``Božič``."""
    import latexcodec  # noqa: F401 - registers the "ulatex" codec (a dependency of pybtex)

    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "")


def _authors(last_names: Sequence[str]) -> str:
    if len(last_names) == 1:
        return last_names[0]
    if len(last_names) == 2:
        return f"{last_names[0]} and {last_names[1]}"
    return f"{last_names[0]} et al."


class Bibliography:
    """The entries of a ``.bib`` file, keyed by citation key."""

    def __init__(self, path: Path, fallback_link: str) -> None:
        from pybtex.database import parse_file

        self.path = Path(path)
        self.references: Dict[str, Reference] = {}
        for key, entry in parse_file(str(self.path)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_plain(" ".join(person.last_names)) for person in people] or [_plain(entry.fields.get("title", key))]
            fields = entry.fields
            arxiv = _ARXIV.search(" ".join(str(fields.get(f, "")) for f in ("journal", "eprint", "note")))
            if fields.get("doi"):
                link = f"https://doi.org/{fields['doi']}"
            elif fields.get("url"):
                link = str(fields["url"])
            elif arxiv:
                link = f"https://arxiv.org/abs/{arxiv.group(1)}"
            else:
                link = fallback_link
            self.references[key] = Reference(_authors(names), str(fields.get("year", "n.d.")), link)

    def get(self, key: str, where: str) -> Reference:
        try:
            return self.references[key]
        except KeyError:
            raise CitationError(f"{where}: the citation key {key!r} is not in {self.path}; add the entry or fix the key.") from None

    def parenthetical(self, keys: Sequence[str], where: str) -> str:
        """``{cite:p}``: (Deng et al., 2023; Radford et al., 2021), each linked."""
        parts = [f"[{ref.authors}, {ref.year}]({ref.link})" for ref in (self.get(key, where) for key in keys)]
        return "(" + "; ".join(parts) + ")"

    def textual(self, keys: Sequence[str], where: str) -> str:
        """``{cite:t}``: Bergmann et al. (2021), each linked."""
        return ", ".join(f"[{ref.authors} ({ref.year})]({ref.link})" for ref in (self.get(key, where) for key in keys))
