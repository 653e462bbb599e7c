"""The heat-map explorer of the page: every prompt family, smoothing and TTA setting of every sample, computed ahead.

Per class, one batched prediction per (prompt family, TTA on/off) gives the patch scores
(:func:`.explorer_data.setting_scores`, as the widget computes them); every smoothing of them is
an anomaly map (:func:`anoclip.scoring.anomaly_maps`). The page keeps, per sample, the mask and
the maps of all 3 × 3 × 2 settings in one chunk (:mod:`.packing`; smooth maps are stored as their
second difference), decoded when the sample is first shown. What needs every image of a class
(the threshold slider's range and starting point, the class's 90th pixel percentile) and what is
best computed in float (each map's pixel AUROC) is computed here and travels as numbers.

Sizes for the book's model (240 px): 18 maps of 57,600 pixels per sample, about a megabyte at
one byte a pixel before deflate; smooth maps deflate to roughly one to two bits a pixel.
"""
from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

from anoclip import metrics, scoring
from anoclip.config import PROMPT_FAMILIES, SMOOTHING_KINDS, TTAConfig
from .explorer_data import ImageInput, model_image, model_mask, setting_scores
from .inline import EXPLORER_BUDGET, InlineExplorer, inline_explorer
from .packing import chunk, codes, colour_table, jpeg_url, second_difference

CMAP = "jet"  # the colour map of the anomaly-map figures (plot_map_grid, show_map)
OPACITY = 0.5  # the figures' alpha over the image
TTA_SETTINGS = (False, True)


def settings() -> Sequence[Tuple[str, str, bool]]:
    """Every (prompt family, smoothing, TTA) in the order the page stores them (TTA varies fastest)."""
    return list(itertools.product(PROMPT_FAMILIES, SMOOTHING_KINDS, TTA_SETTINGS))


def setting_key(prompts: str, smoothing: str, tta: bool) -> str:
    """How the page names a setting: ``"anoclip|mean3|0"``."""
    return f"{prompts}|{smoothing}|{int(tta)}"


def class_maps(model: Any, images: Sequence[Any], class_name: str, tta_config: TTAConfig) -> np.ndarray:
    """(settings, B, S, S) anomaly maps of one class's images under every setting, in :func:`settings` order."""
    size = (model.image_size, model.image_size)
    scores = {(family, tta): torch.from_numpy(setting_scores(model, images, class_name, family, tta_config if tta else False))
              for family in PROMPT_FAMILIES for tta in TTA_SETTINGS}
    return np.stack([scoring.anomaly_maps(scores[family, tta], size, smoothing, model.config.sigma).numpy()
                     for family, smoothing, tta in settings()])


def map_auroc(anomaly_map: np.ndarray, mask: np.ndarray) -> Optional[float]:
    """Pixel AUROC of one map (None when the mask has no defect or is all defect)."""
    if not mask.any() or mask.all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        value = metrics.pixel_auroc([anomaly_map], [mask])
    return None if np.isnan(value) else float(value)


@dataclass
class ClassMaps:
    """One class's samples at the model's resolution and their maps under every setting, (settings, B, S, S)."""

    images: List[Image.Image]
    masks: List[np.ndarray]
    maps: np.ndarray
    labels: List[str]


def inline_heatmap_explorer(
    model: Any,
    samples: Mapping[str, Sequence[Tuple[ImageInput, Optional[np.ndarray]]]],
    names: Optional[Mapping[str, Sequence[str]]] = None,
    tta_config: Optional[TTAConfig] = None,
    budget: int = EXPLORER_BUDGET,
) -> InlineExplorer:
    """AnoCLIP anomaly maps of ``samples`` under every prompt family, smoothing and TTA setting: no kernel needed.

    Args:
        model: an :class:`anoclip.AnoCLIP`; its prompts and smoothing are the ones shown first.
        samples: class name → list of (image, mask or None), as for :class:`.HeatmapExplorer`.
        names: class name → a label per sample (default ``"#i"``).
        tta_config: the TTA of the "test-time adaptation" setting (default: official MVTec settings).
        budget: the most bytes the explorer may add to its page (see :func:`.inline_attention_explorer`).
    """
    if not samples or not all(samples.values()):
        raise ValueError("inline_heatmap_explorer needs at least one (image, mask) pair for every class.")
    size = model.image_size
    classes = {}
    for class_name, pairs in samples.items():
        images = [model_image(image, size) for image, _ in pairs]
        masks = [model_mask(mask, size) for _, mask in pairs]
        labels = list(names[class_name]) if names is not None else [f"#{i}" for i in range(len(pairs))]
        classes[class_name] = ClassMaps(images, masks, class_maps(model, images, class_name, tta_config or TTAConfig()), labels)
    return heatmap_explorer(classes, model.config.prompts, model.config.smoothing, budget)


def heatmap_explorer(classes: Mapping[str, ClassMaps], prompts: str, smoothing: str, budget: int = EXPLORER_BUDGET) -> InlineExplorer:
    """The explorer of computed maps; ``prompts`` and ``smoothing`` are the setting shown first."""
    keys = [setting_key(*setting) for setting in settings()]
    size = next(iter(classes.values())).images[0].size[0]
    ranges = {name: {key: [float(maps.min()), float(maps.max()), float(np.quantile(maps, 0.9))] for key, maps in zip(keys, found.maps)}
              for name, found in classes.items()}
    entries = [{"class": name, "name": f"{name} {label}", "url": jpeg_url(image), "mask": mask, "maps": found.maps[:, index],
                "auroc": {key: map_auroc(one, mask) for key, one in zip(keys, found.maps[:, index])}}
               for name, found in classes.items() for index, (image, mask, label) in enumerate(zip(found.images, found.masks, found.labels))]

    cmap = colour_table(CMAP)

    @functools.lru_cache(maxsize=None)  # a smaller count or coarser levels tried next reuses what was packed
    def sample_chunk(index: int, levels: int) -> str:
        maps, mask = entries[index]["maps"], entries[index]["mask"]
        low, high = maps.min(axis=(1, 2)), maps.max(axis=(1, 2))
        code = codes(maps.reshape(len(maps), -1), low, high, levels).reshape(maps.shape)
        return chunk(low.astype(np.float32), high.astype(np.float32), mask.astype(np.uint8), second_difference(code))

    def build(levels: int, count: int) -> Tuple[dict, str]:
        kept = entries[:count]
        samples_out = [{"class": entry["class"], "name": entry["name"], "url": entry["url"], "auroc": entry["auroc"],
                        "chunk": sample_chunk(index, levels)} for index, entry in enumerate(kept)]
        shown = list(dict.fromkeys(entry["class"] for entry in kept))
        payload = {
            "size": size, "cmap": cmap, "opacity": OPACITY,
            "prompts": list(PROMPT_FAMILIES), "smoothings": list(SMOOTHING_KINDS),
            "initial": {"prompts": prompts, "smoothing": smoothing},
            "classes": shown, "ranges": {name: ranges[name] for name in shown}, "samples": samples_out,
        }
        summary = (f"Heat-map explorer: {count} image(s) of {', '.join(shown)}, {len(PROMPT_FAMILIES)} prompt families × "
                   f"{len(SMOOTHING_KINDS)} smoothings × TTA off/on")
        return payload, summary

    return inline_explorer("heatmap", build, len(entries), budget)
