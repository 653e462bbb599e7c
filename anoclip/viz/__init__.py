"""Figures (static, for the rendered book and the CLI) and ipywidgets explorers (for Jupyter/Colab).

* :mod:`.figures` — heat-map overlays the CLI writes;
* :mod:`.attention` — attention maps of the q-k and v-v paths, locality statistics, figures;
* :mod:`.maps` — anomaly-map grids and metric plots;
* :mod:`.text` — prompt-embedding similarity heat maps, norms, the temperature's effect;
* :mod:`.explorers` — :class:`AttentionExplorer` and :class:`HeatmapExplorer` (widgets).

Every figure function takes plain tensors/arrays, returns a matplotlib ``Figure`` built with the
object API, and stamps the smoke-mode banner itself when ``ANOCLIP_SMOKE=1``.
"""
from .attention import (
    LocalityStats,
    attention_from_patch,
    attention_received,
    block_locality,
    cls_weight,
    defect_patch,
    layer_locality,
    plot_attention_layers,
    plot_locality,
    plot_patch_maps,
    query_similarity,
    token_index,
    uniform_locality,
)
from .explorers import AttentionExplorer, HeatmapExplorer
from .figures import colour_range, heatmap_overlay, save_overlay
from .maps import plot_map_grid, plot_metric_bars, plot_metric_curve
from .text import (
    cosine_matrix,
    group_similarity,
    plot_norm_histogram,
    plot_similarity_heatmap,
    plot_temperature_effect,
    sentence_domains,
)

__all__ = [
    "AttentionExplorer", "HeatmapExplorer", "LocalityStats",
    "attention_from_patch", "attention_received", "block_locality", "cls_weight", "colour_range",
    "cosine_matrix", "defect_patch", "group_similarity", "heatmap_overlay", "layer_locality",
    "plot_attention_layers", "plot_locality", "plot_map_grid", "plot_metric_bars", "plot_metric_curve",
    "plot_norm_histogram", "plot_patch_maps", "plot_similarity_heatmap", "plot_temperature_effect",
    "query_similarity", "save_overlay", "sentence_domains", "token_index", "uniform_locality",
]
