"""Training-free zero-shot localizers: encoder variants over an open_clip ViT, chosen by name.

``AnoCLIP.predict(x, cls, method="vv")`` or ``method=get_method("vv", start=6)``; the method is
the one way to choose the encoder (see :mod:`.base`).

Registered, in table order: ``anoclip`` (the method itself), ``clip-global`` (the floor),
``clip-patch`` (vanilla patch tokens), ``maskclip``, ``vv`` (CLIP Surgery's dual path),
``sclip``, ``clearclip`` and ``winclip``. Each module's docstring gives the exact formula, what it
changes relative to vanilla CLIP, and its citation key in ``references.bib``.
"""
from dataclasses import astuple
from typing import List, Tuple

from .base import Localizer, MethodInfo, available_methods, get_method, register
from .dual_path import DualPathLocalizer
from . import anoclip  # noqa: F401  (registers "anoclip" first)
from . import clip_global, clip_patch, maskclip, vv, sclip, clearclip, winclip  # noqa: F401,E401

METHOD_TABLE_COLUMNS: Tuple[str, ...] = ("name", "title", "paper", "changes", "protocol")


def method_table() -> List[Tuple[str, str, str, str, str]]:
    """One row per registered method, columns :data:`METHOD_TABLE_COLUMNS` (the book's table)."""
    return [astuple(info) for info in available_methods().values()]


__all__ = [
    "DualPathLocalizer", "Localizer", "MethodInfo", "METHOD_TABLE_COLUMNS",
    "available_methods", "get_method", "method_table", "register",
]
