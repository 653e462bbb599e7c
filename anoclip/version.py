"""The version of the anoclip distribution: its one owner (pyproject.toml reads it; caches key by it)."""
__version__ = "0.2.0"
