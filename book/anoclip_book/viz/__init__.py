"""Figures (static, for the rendered book and the CLI) and ipywidgets explorers (for Jupyter/Colab).

* :mod:`.figures` — heat-map overlays the CLI writes;
* :mod:`.attention` — attention maps of the q-k and v-v paths, locality statistics, figures;
* :mod:`.maps` — anomaly-map grids and metric plots;
* :mod:`.text` — prompt-embedding similarity heat maps, norms, the temperature's effect;
* :mod:`.explorers` — :class:`AttentionExplorer` and :class:`HeatmapExplorer` (widgets: a kernel
  answers every move, for images you choose in a running notebook);
* :mod:`.inline_attention`, :mod:`.inline_heatmap` — the same explorers inside the page
  (:func:`inline_attention_explorer`, :func:`inline_heatmap_explorer`): every answer computed
  when the page is built, drawn by the book's own script (:mod:`.inline`, :mod:`.packing`), no
  kernel and no network needed;
* :mod:`.decisions` — calibrated thresholds and the decisions they make;
* :mod:`.limits` — the method atlas and the figures of the method's limits (chapter 7);
* :mod:`.upload` — :class:`UploadExplorer`: your own images, uploaded, mapped and decided.

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
from .decisions import plot_calibration, plot_decisions
from .explorer_data import dataset_samples
from .explorers import AttentionExplorer, HeatmapExplorer
from .inline import InlineExplorer
from .inline_attention import inline_attention_explorer
from .inline_heatmap import inline_heatmap_explorer
from anoclip.overlays import colour_range, heatmap_overlay, save_overlay
from .limits import (
    method_atlas,
    plot_before_after,
    plot_cross_class_rates,
    plot_detection_by_size,
    plot_score_strips,
    shuffle_blocks,
    tile_copies,
)
from .maps import plot_map_grid, plot_metric_bars, plot_metric_curve
from .text import (
    cosine_matrix,
    group_similarity,
    plot_norm_histogram,
    plot_similarity_heatmap,
    plot_temperature_effect,
    sentence_domains,
)
from .upload import UploadExplorer, uploaded_images

__all__ = [
    "AttentionExplorer", "HeatmapExplorer", "InlineExplorer", "LocalityStats", "UploadExplorer",
    "attention_from_patch", "attention_received", "block_locality", "cls_weight", "colour_range",
    "cosine_matrix", "dataset_samples", "defect_patch", "group_similarity", "heatmap_overlay", "inline_attention_explorer",
    "inline_heatmap_explorer", "layer_locality", "method_atlas",
    "plot_attention_layers", "plot_before_after", "plot_calibration", "plot_cross_class_rates", "plot_decisions",
    "plot_detection_by_size", "plot_locality", "plot_map_grid", "plot_metric_bars", "plot_metric_curve",
    "plot_norm_histogram", "plot_patch_maps", "plot_score_strips", "plot_similarity_heatmap",
    "plot_temperature_effect", "query_similarity", "save_overlay", "sentence_domains", "shuffle_blocks",
    "tile_copies", "token_index", "uniform_locality", "uploaded_images",
]
