"""AnoCLIP: zero-shot anomaly localization with a frozen CLIP.

Public API: :class:`AnoCLIP`, :class:`AnoCLIPConfig`, :class:`TTAConfig` (and
:class:`Prediction`). They are imported on first use, so light sub-packages such as
``anoclip.data`` and ``anoclip.metrics`` (and the data preparation scripts) start without
loading torch and open_clip.
"""
from importlib import import_module
from typing import TYPE_CHECKING

from .version import __version__

__all__ = ["AnoCLIP", "AnoCLIPConfig", "Prediction", "TTAConfig", "__version__"]

_LAZY = {"AnoCLIP": "model", "Prediction": "model", "AnoCLIPConfig": "config", "TTAConfig": "config"}

if TYPE_CHECKING:  # static tools see the real names
    from .config import AnoCLIPConfig, TTAConfig
    from .model import AnoCLIP, Prediction


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'anoclip' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
