"""HTML tables for the rendered book: escaped text, links and code in cells, and a width that fits.

pandas' own ``to_html`` escapes everything or nothing; chapter tables mix plain text (escaped
here) with markup made by :func:`link` and :func:`code`, so cells are escaped when they are
built and the frame is rendered with ``escape=False``. A table wider than the page scrolls
sideways inside its own box instead of pushing the page wider (the book theme's content column
is narrow).
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional, Union

__all__ = ["code", "home_path", "html_table", "link", "text"]

_BOX = ('<div class="anoclip-table" style="overflow-x: auto; max-width: 100%; font-size: 0.85em; '
        'margin-bottom: 1em">{table}</div>')


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
    """A pandas DataFrame as an IPython ``HTML`` table; cells may hold :func:`link` / :func:`code`
    markup, plain strings must already be escaped with :func:`text`; NaN shows as an en dash.

    ``min_width`` (a CSS length such as ``"70em"``) keeps a table with long text cells from being
    squeezed into the page's narrow column: it keeps that width and scrolls sideways instead.
    """
    from IPython.display import HTML

    table = frame.to_html(escape=False, na_rep="–", float_format=floats.format, border=0,
                          classes="table table-sm")
    if min_width:
        table = table.replace("<table ", f'<table style="min-width: {min_width}" ', 1)
    return HTML(_BOX.format(table=table))
