"""Training-free zero-shot localizers, selectable by name (``AnoCLIP.predict(method=...)``)."""
from .base import LocalScores, Localizer, MethodInfo, available_methods, get_method, register
from . import anoclip  # noqa: F401  (registers "anoclip")

__all__ = ["LocalScores", "Localizer", "MethodInfo", "available_methods", "get_method", "register"]
