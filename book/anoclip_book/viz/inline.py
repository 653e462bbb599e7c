"""Explorers that live in the page: numbers computed ahead, drawn by a small script of the book's own.

An ipywidgets explorer needs a kernel for every move, and on the published site (or offline) it
shows at most its first frame. An :class:`InlineExplorer` is one HTML fragment instead:

* a ``<div data-explorer="attention">`` (or ``"heatmap"``) root, which carries the smoke-mode or
  rehearsal banner when the page is built in one (:func:`anoclip_book.figure_banner`);
* the numbers, in a ``<script type="application/json">`` (packed by :mod:`.packing`);
* the book's own script (``explorers.js``, next to this module) and style sheet, inline: nothing
  is fetched, no CDN, no require.js. The script builds labelled form controls and canvases.

Jupyter Book writes the fragment into the page as it is, Jupyter and Colab show it as an HTML
output (Colab in a frame of its own, which is why every fragment carries the script); the same
script draws in all three, so the explorers look the same everywhere and work offline.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Tuple

from ..pages import figure_banner
from .packing import LEVELS

EXPLORERS = ("attention", "heatmap")
PAGE_BUDGET = 4_000_000  # bytes: the book's limit for one chapter page with its explorers
EXPLORER_BUDGET = 3_000_000  # bytes of one explorer's HTML, leaving a megabyte for the rest of its page
ASSETS = Path(__file__).parent


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of a file shipped next to this module (``explorers.js``, ``explorers.css``)."""
    return (ASSETS / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class InlineExplorer:
    """One explorer as a self-contained HTML fragment (display it, or end a cell with it).

    ``levels``: the quantisation levels its maps were stored with (:mod:`.packing`); ``shown``: how
    many of the images it was given it holds (all, unless the page budget left some out).
    """

    kind: str
    html: str
    levels: int
    shown: int
    summary: str

    def _repr_html_(self) -> str:
        return self.html

    @property
    def size(self) -> int:
        """Bytes the explorer adds to its page (UTF-8)."""
        return len(self.html.encode("utf-8"))

    def __repr__(self) -> str:
        return f"<InlineExplorer {self.kind}: {self.summary}; {self.size / 1e6:.2f} MB, {self.levels} levels>"


def explorer_html(kind: str, payload: Mapping[str, Any], summary: str) -> str:
    """The HTML fragment of an explorer of ``kind`` showing ``payload`` (JSON-ready)."""
    if kind not in EXPLORERS:
        raise ValueError(f"Unknown explorer {kind!r}; the script draws {EXPLORERS}.")
    data = json.dumps(dict(payload, kind=kind), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    banner = figure_banner()
    parts = [
        f'<div class="anoclip-explorer" data-explorer="{kind}">',
        f"<style>{asset('explorers.css')}</style>",
        f'<div class="anoclip-explorer-banner" role="note">{html.escape(banner)}</div>' if banner else "",
        f'<p class="anoclip-explorer-placeholder">{html.escape(summary)}. Drawing it needs JavaScript; '
        "the figure above shows the same kind of maps.</p>",
        f'<script type="application/json" class="anoclip-explorer-data">{data}</script>',
        f"<script>{asset('explorers.js')}</script>",
        "</div>",
    ]
    return "".join(parts)


Build = Callable[[int, int], Tuple[Mapping[str, Any], str]]


def inline_explorer(kind: str, build: Build, items: int, budget: int) -> InlineExplorer:
    """The richest explorer that fits ``budget`` bytes: all ``items`` images at the finest levels if it can.

    ``build(levels, count)`` returns the payload and the summary of the first ``count`` images at
    ``levels`` quantisation levels. Coarser levels come first, leaving images out only when even
    the coarsest of :data:`~.packing.LEVELS` is too heavy; the payload says how many were left out.
    """
    tried = []
    for count in range(items, 0, -1):
        for levels in LEVELS:
            payload, summary = build(levels, count)
            fragment = explorer_html(kind, dict(payload, levels=levels, omitted=items - count), summary)
            size = len(fragment.encode("utf-8"))
            if size <= budget:
                return InlineExplorer(kind, fragment, levels, count, summary)
            tried.append(f"{size / 1e6:.2f} MB ({count} images, {levels} levels)")
    raise ValueError(f"The {kind} explorer needs at least {tried[-1]}, over its budget of {budget / 1e6:.2f} MB: "
                     "give it smaller images or a larger budget.")
