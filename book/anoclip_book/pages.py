"""How the book's pages look: banners on every figure, layout, tables that fit, glue, quiet cells.

No figure of smoke mode or of a rehearsal may pass for a result: :func:`setup_figures` stamps the
current banner on every pyplot figure (and :mod:`anoclip_book.viz` on its own). :func:`glue` publishes
a value for the site's ``{glue:text}`` roles without myst-nb, or prints it in the Colab edition.
"""
from __future__ import annotations

import contextlib
import logging
import numbers
import warnings
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

from . import modes
from .modes import smoke_mode


SMOKE_BANNER = "SMOKE MODE: tiny random CLIP + synthetic data. Numbers are NOT meaningful."


REHEARSAL_BANNER = "REHEARSAL: random-weight checkpoint + synthetic stand-in data (ANOCLIP_STANDINS). NOT a result."


BANNER_INCHES = 0.4  # height kept free for the banner at the top of a smoke-mode (or rehearsal) figure


def rehearsal_mode() -> bool:
    """True while a stand-in manifest is active (``make rehearse``): the real code path runs, but on
    a random-weight checkpoint and synthetic stand-ins, so nothing computed is a result."""
    return modes.standins() is not None


def figure_banner() -> Optional[str]:
    """The banner every figure must carry now: smoke mode's, a rehearsal's, or None (real results)."""
    if smoke_mode():
        return SMOKE_BANNER
    return REHEARSAL_BANNER if rehearsal_mode() else None


def setup_figures() -> None:
    """Stamp the current banner (smoke mode, rehearsal) on every pyplot figure the notebook creates.

    Uses matplotlib's ``figure.hooks`` (called for each ``plt.figure``/``plt.subplots``), so no
    chapter can forget it. Figures built with the object API get it from :mod:`anoclip_book.viz`.
    A rehearsal is not smoke mode (no chapter prints a smoke line), so it is announced here, once
    at the top of every chapter.
    """
    banner = figure_banner()
    if banner is None:
        return
    if banner == REHEARSAL_BANNER:
        print(f"!!! {REHEARSAL_BANNER}")
    import matplotlib

    hook = f"{__name__}:add_figure_banner"
    if hook not in matplotlib.rcParams["figure.hooks"]:
        matplotlib.rcParams["figure.hooks"] = [*matplotlib.rcParams["figure.hooks"], hook]


def add_figure_banner(fig: Any) -> None:
    """The figure hook of :func:`setup_figures`: stamp :func:`figure_banner`'s text, if any."""
    banner = figure_banner()
    if banner is not None:
        add_smoke_banner(fig, banner)


def tidy(fig: Any) -> None:
    """``tight_layout`` for a pyplot figure that keeps the top strip free for the smoke banner.

    The banner (:func:`add_smoke_banner`) is drawn in the top :data:`BANNER_INCHES` of a
    smoke-mode figure; a plain ``tight_layout`` would slide the titles under it.
    """
    top = 1 - BANNER_INCHES / fig.get_figheight() if figure_banner() is not None else 1
    fig.tight_layout(rect=(0, 0, 1, top))


def table(frame: Any, floats: str = "{:.3f}", formats: Optional[dict] = None, min_width: Optional[str] = None) -> Any:
    """A pandas DataFrame (or Styler) as an HTML table that fits the book's text column.

    Numbers are formatted (``floats`` for every float column, ``formats`` per column), text
    cells wrap, and a table still wider than the column scrolls sideways inside its own box
    instead of running off the page. ``min_width`` (a CSS length such as ``"70em"``) keeps a table
    with long text cells at that width (scrolling sideways) rather than squeezed into the column.
    Returns an IPython ``HTML`` object (display it or end the cell with it).
    """
    from IPython.display import HTML
    from pandas.io.formats.style import Styler

    styler = frame if isinstance(frame, Styler) else None
    if styler is None:
        floating = [column for column, kind in frame.dtypes.items() if kind.kind == "f"]
        styler = frame.style.format(floats, subset=floating, na_rep="–")
    if formats:
        styler = styler.format(formats, na_rep="–")
    style = f' style="min-width: {min_width}"' if min_width else ""
    inner = styler.set_table_attributes(f'class="anoclip-table"{style}').to_html()
    return HTML(
        '<div style="overflow-x: auto; max-width: 100%;">'
        "<style>.anoclip-table { font-size: 0.85em; border-collapse: collapse; } "
        ".anoclip-table th, .anoclip-table td { padding: 0.2em 0.6em; white-space: normal; max-width: 22em; } "
        ".anoclip-table td { text-align: right; } .anoclip-table th { text-align: left; }</style>"
        f"{inner}</div>"
    )


def add_smoke_banner(fig: Any, text: str = SMOKE_BANNER) -> None:
    """Stamp a red banner across a matplotlib figure so no smoke-mode (or rehearsal) plot passes for a result."""
    from anoclip.overlays import add_banner

    add_banner(fig, text)


_GLUE_FORMATS: Optional[Dict[str, Tuple[str, ...]]] = None  # set in the Colab edition only


def set_glue_formats(formats: Mapping[str, Sequence[str]]) -> None:
    """Make :func:`glue` print each value in the formats the prose uses (name → format specs)."""
    global _GLUE_FORMATS
    _GLUE_FORMATS = {name: tuple(dict.fromkeys(specs)) for name, specs in formats.items()}


def glue(name: str, value: Any, display: bool = True) -> None:
    """Publish ``value`` under ``name`` for ``{glue:}`` roles in the book, without myst-nb.

    myst-nb's glue is an IPython display bundle carrying ``metadata.scrapbook``; emitting that
    bundle here keeps Colab (which lacks myst-nb) free of a Sphinx install. In the Colab edition,
    where no Sphinx fills the prose in, :func:`colab_setup` registers the formats the prose uses
    and each value is printed instead, as ``[name] = value`` -- the text shows ``[name]`` where
    the site shows the number.
    """
    from IPython.display import display as ipy_display  # imported lazily: notebooks only

    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if _GLUE_FORMATS is not None:
        for spec in _GLUE_FORMATS.get(name, ()):
            print(f"[{name}] = {format(value, spec)}")
        return
    prefix = "application/papermill.record/"
    bundle = {prefix + "text/plain": repr(value)}
    if hasattr(value, "_repr_png_") or type(value).__name__ == "Figure":
        import base64
        import io

        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        bundle = {prefix + "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                  prefix + "text/plain": "<figure>"}
    ipy_display(bundle, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
    if display:
        ipy_display(value)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep library chatter off the page: Python warnings and log records below ERROR.

    For code whose own output says what matters, e.g. the rehearsal's checkpoint writer, which
    builds a random open_clip model directly (the book's own loading, :func:`anoclip.backbone.load_clip`,
    drops open_clip's misleading "initialized randomly" line at its source). Prints, including
    the ``!!! STAND-IN`` announcements of a rehearsal, are not touched.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
