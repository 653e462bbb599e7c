"""Evaluation geometry: how images and masks are resized, tiled, and maps brought back.

Two input protocols from the official code:

* ``"square"`` (MVTec and most datasets): the whole image is resized to S×S, aspect ratio not
  kept; maps live at S×S.
* ``"tiles"`` (VisA): the shorter side is resized to S keeping the aspect ratio, and the long
  side is covered by square S×S tiles (the official code takes a left and a right crop, which
  assumes landscape images no wider than 2S; here tiles run along whichever side is longer and
  as many are used as needed). Tile maps are averaged where tiles overlap.

Two evaluation resolutions: ``"official"`` compares maps with masks resized like the official
code (bilinear on the 0/255 mask, then > 0.5) at the model's resolution; ``"native"`` upsamples
the maps to each mask's own size instead.
"""
from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .config import RESIZE_MODES, RESOLUTIONS
from .scoring import upsample

__all__ = [
    "OPENAI_MEAN", "OPENAI_STD", "RESIZE_MODES", "RESOLUTIONS", "image_tiles", "merge_tiles", "normalize",
    "resize_map", "resize_mask", "resized_shape", "short_side_size", "tile_offsets",
]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def normalize(rgb: Image.Image) -> Tensor:
    """8-bit RGB → (3, H, W) float tensor with CLIP's (OpenAI) mean and std."""
    pixels = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(OPENAI_MEAN).view(3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(3, 1, 1)
    return (pixels - mean) / std


def short_side_size(height: int, width: int, side: int) -> Tuple[int, int]:
    """(H', W') with the shorter side at ``side`` and the aspect ratio kept (torchvision's rule)."""
    if height <= width:
        return side, int(side * width / height)
    return int(side * height / width), side


def resized_shape(height: int, width: int, side: int, mode: str) -> Tuple[int, int]:
    """Where maps live under a protocol: (side, side) or the short-side-resized shape."""
    if mode == "square":
        return side, side
    if mode == "tiles":
        return short_side_size(height, width, side)
    raise ValueError(f"Unknown resize mode {mode!r}; choose one of {RESIZE_MODES}.")


def tile_offsets(length: int, side: int) -> List[int]:
    """Start offsets of the fewest ``side``-long tiles covering ``length``, first and last flush."""
    count = max(1, math.ceil(length / side))
    if count == 1:
        return [0]
    return [round(index * (length - side) / (count - 1)) for index in range(count)]


def image_tiles(rgb: Image.Image, side: int) -> Tuple[Tensor, List[int], int, Tuple[int, int]]:
    """Short-side resize, then square tiles along the long axis.

    Returns (T, 3, side, side) normalised tiles, their offsets, the tiled axis (1 rows, 2
    columns of the (3, H, W) tensor) and the resized (H, W).
    """
    height, width = short_side_size(rgb.height, rgb.width, side)
    tensor = normalize(rgb.resize((width, height), Image.BILINEAR))
    axis = 2 if width >= height else 1
    offsets = tile_offsets(tensor.shape[axis], side)
    tiles = torch.stack([tensor.narrow(axis, offset, side) for offset in offsets])
    return tiles, offsets, axis, (height, width)


def merge_tiles(tile_maps: Tensor, offsets: List[int], axis: int, shape: Tuple[int, int]) -> Tensor:
    """Place (T, side, side) tile maps into one (H, W) map, averaging overlaps."""
    total = torch.zeros(shape, dtype=tile_maps.dtype, device=tile_maps.device)
    count = torch.zeros(shape, dtype=tile_maps.dtype, device=tile_maps.device)
    side = tile_maps.shape[-1]
    for tile, offset in zip(tile_maps, offsets):
        total.narrow(axis - 1, offset, side).add_(tile)
        count.narrow(axis - 1, offset, side).add_(1.0)
    return total / count


def resize_mask(mask: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """The official mask resize: bilinear on the 0/255 image, then > 0.5 (i.e. > 127.5)."""
    if mask.shape == tuple(shape):
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    resized = np.asarray(image.resize((shape[1], shape[0]), Image.BILINEAR))
    return resized > 127.5


def resize_map(anomaly_map: Tensor, shape: Tuple[int, int]) -> Tensor:
    """Bring a (H, W) map to another size with the pipeline's bilinear (aligned corners)."""
    if tuple(anomaly_map.shape) == tuple(shape):
        return anomaly_map
    return upsample(anomaly_map[None].float(), shape)[0]
