"""Small helpers the book's notebooks share: smoke mode, Colab detection, banners, glue.

Kept free of heavy imports (no myst-nb, no IPython at import time) so that the package, the
CLI and the tests can read the smoke switch without pulling in a notebook stack.
"""
from __future__ import annotations

import numbers
import os
import sys
from typing import Any

SMOKE_ENV = "ANOCLIP_SMOKE"
SMOKE_BANNER = "SMOKE MODE: tiny random CLIP + synthetic data. Numbers are NOT meaningful."

_TRUE = {"1", "true", "yes", "on"}


def smoke_mode() -> bool:
    """True when ``ANOCLIP_SMOKE`` asks for the tiny random model and synthetic data."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in _TRUE


def in_colab() -> bool:
    """True inside a Google Colab kernel (the book's install cells run only there)."""
    return "google.colab" in sys.modules


def add_smoke_banner(fig: Any, text: str = SMOKE_BANNER) -> None:
    """Stamp a red banner across a matplotlib figure so no smoke-mode plot passes for a result."""
    fig.text(
        0.5, 0.995, text, ha="center", va="top", fontsize=10, fontweight="bold", color="white",
        bbox=dict(boxstyle="square,pad=0.3", facecolor="#c0392b", edgecolor="none"),
    )


def glue(name: str, value: Any, display: bool = True) -> None:
    """Publish ``value`` under ``name`` for ``{glue:}`` roles in the book, without myst-nb.

    myst-nb's glue is an IPython display bundle carrying ``metadata.scrapbook``; emitting that
    bundle here keeps Colab (which lacks myst-nb) free of a Sphinx install.
    """
    from IPython.display import display as ipy_display  # imported lazily: notebooks only

    prefix = "application/papermill.record/"
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
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
