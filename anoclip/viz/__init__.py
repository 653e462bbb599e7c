"""Figures (static, for the rendered book and the CLI) and ipywidgets explorers (for Jupyter/Colab)."""
from .figures import colour_range, heatmap_overlay, save_overlay

__all__ = ["colour_range", "heatmap_overlay", "save_overlay"]
