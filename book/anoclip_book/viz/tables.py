"""Cells for the book's HTML tables: escaped text, links and code, and a minimum width.

Chapter tables mix plain text with links and inline code, so each cell is escaped or marked up
when it is built (:func:`text`, :func:`link`, :func:`code`) and the frame is rendered by
:func:`anoclip_book.table`, which leaves cells as they are. A table with long text columns gets
a minimum width and scrolls sideways in its box instead of being squeezed into the narrow column.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional, Union

__all__ = ["code", "home_path", "html_table", "link", "text"]

def text(value: Any) -> str:
    """A plain value as cell markup (escaped)."""
    return html.escape(str(value))


def link(label: str, url: str) -> str:
    """A cell holding ``label`` linked to ``url``."""
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def code(value: str) -> str:
    """A cell holding ``value`` as inline code (a command, a dataset key, a path)."""
    return f"<code>{html.escape(value)}</code>"


def home_path(path: Union[str, Path]) -> str:
    """A path as the reader would type it: the home folder written as ``~``."""
    home = str(Path.home())
    value = str(path)
    return "~" + value[len(home):] if value == home or value.startswith(home + "/") else value


def html_table(frame: Any, floats: str = "{:.1f}", min_width: Optional[str] = None) -> Any:
    """:func:`anoclip_book.table` of a frame whose cells may hold :func:`link` / :func:`code` markup
    (plain strings must already be escaped with :func:`text`).

    ``min_width``: see :func:`anoclip_book.table`.
    """
    from anoclip_book import table

    return table(frame, floats=floats, min_width=min_width)
