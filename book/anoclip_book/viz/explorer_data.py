"""What the explorers show, computed from the model: one place for the widgets and the inline explorers.

The ipywidgets explorers (:mod:`.explorers`) call these functions on demand, when a reader moves a
control; the inline explorers (:mod:`.inline_attention`, :mod:`.inline_heatmap`) call the same
functions for every setting ahead, when the page is built. Sharing them keeps both kinds showing
the same numbers.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from anoclip.data.images import read_rgb, to_rgb
from anoclip.data.meta import Meta, load_sample
from anoclip.protocol import resize_mask

from ..chapters import spread
from .attention import defect_patch
from .canvas import Grid

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
PATHS = ("q-k", "v-v")
Samples = Dict[str, List[Tuple[ImageInput, Optional[np.ndarray]]]]


def model_image(image: ImageInput, size: int) -> Image.Image:
    """An RGB image at the model's input resolution, resized as ``AnoCLIP.preprocess`` does."""
    rgb = read_rgb(image) if isinstance(image, (str, os.PathLike)) else to_rgb(image)
    return rgb.resize((size, size), Image.BILINEAR)


def model_mask(mask: Optional[np.ndarray], size: int) -> np.ndarray:
    """A ground-truth mask at the model's resolution (the official resize); all False when there is none."""
    if mask is None:
        return np.zeros((size, size), bool)
    return resize_mask(np.asarray(mask, bool), (size, size))


def start_patch(mask: Optional[np.ndarray], grid: Grid) -> Tuple[int, int]:
    """The query patch an explorer opens on: the one the defect covers most, else the centre."""
    if mask is not None and np.any(mask):
        return defect_patch(mask, grid)
    return grid[0] // 2, grid[1] // 2


def image_attention(model: Any, image: Image.Image, method: Any = "anoclip") -> Dict[str, List[Optional[np.ndarray]]]:
    """Per path, per block: the (heads, 1+N, 1+N) attention of one image (None where the path is off).

    One forward pass with taps (``model.encode_image(x, method, taps=True)``), moved to the CPU as float32.
    """
    x = model.preprocess([image])
    taps = model.encode_image(x, method, taps=True).taps

    def on_cpu(per_block: List[Optional[torch.Tensor]]) -> List[Optional[np.ndarray]]:
        return [None if maps is None else maps[0].float().cpu().numpy() for maps in per_block]

    return {"q-k": on_cpu(taps.qk_attention), "v-v": on_cpu(taps.vv_attention)}


def head_count(model: Any) -> int:
    """Attention heads per block of the model's vision tower."""
    return int(model.clip.visual.transformer.resblocks[0].attn.num_heads)


def setting_scores(model: Any, images: Sequence[Image.Image], class_name: str, prompts: str, tta: Any = False) -> np.ndarray:
    """(B, h, w) patch scores of images under one prompt family, with TTA (a ``TTAConfig``) or without (False).

    Maps only: the image score's 22 views are skipped (``image_views=1``).
    """
    model = model.with_config(prompts=prompts, image_views=1)
    result = model.predict(model.preprocess(list(images)), class_name, tta=tta)
    return result.patch_scores.float().cpu().numpy()


def dataset_samples(root: Union[str, os.PathLike], classes: Sequence[str], per_class: int = 4) -> Tuple[Samples, Dict[str, List[str]]]:
    """Up to ``per_class`` anomalous test images per class, spread over the defect types, and their labels.

    Returns ``({class: [(image, mask)]}, {class: ["<defect type> #<i>"]})``.
    """
    meta = Meta.load(root)
    samples: Samples = {}
    names: Dict[str, List[str]] = {}
    for name in classes:
        anomalous = [sample for sample in meta.samples(name) if sample.anomaly]
        chosen = spread(anomalous, per_class)
        samples[name] = [load_sample(root, sample) for sample in chosen]
        names[name] = [f"{sample.specie_name} #{index}" for index, sample in enumerate(chosen)]
    return samples, names
