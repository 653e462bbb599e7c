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
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .config import RESIZE_MODES, RESOLUTIONS
from .scoring import upsample

__all__ = [
    "OPENAI_MEAN", "OPENAI_STD", "RESIZE_MODES", "RESOLUTIONS", "TileLayout", "image_tiles", "mask_above", "normalize",
    "resize_map", "resize_mask", "resized_shape", "short_side_size", "square_layout", "tile_offsets",
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


@dataclass(frozen=True)
class TileLayout:
    """Where square ``side``-sized tiles sit in one short-side-resized (H, W) image.

    ``axis`` is the tiled axis of the (3, H, W) image tensor: 2 when tiles run along the
    columns (landscape), 1 along the rows (portrait). Images with equal layouts can share a batch.
    """

    offsets: Tuple[int, ...]
    axis: int
    shape: Tuple[int, int]
    side: int

    @property
    def count(self) -> int:
        return len(self.offsets)

    def merge(self, tile_maps: Tensor) -> Tensor:
        """Place (..., T, side, side) tile maps into (..., H, W), averaging where tiles overlap."""
        leading = tile_maps.shape[:-3]
        total = tile_maps.new_zeros(*leading, *self.shape)
        count = tile_maps.new_zeros(self.shape)
        dim = self.axis - 3  # -2 rows, -1 columns
        for index, offset in enumerate(self.offsets):
            total.narrow(dim, offset, self.side).add_(tile_maps[..., index, :, :])
            count.narrow(dim, offset, self.side).add_(1.0)
        return total / count

    def merged_logits(self, tile_logits: Tensor, grid: Tuple[int, int]) -> Tensor:
        """Patch logits of an image's tiles (B, T·h·w, C) → pixel logits of the merged image (B, H·W, C).

        Each tile's logit grid is upsampled to ``side`` pixels (bilinear, aligned corners) and
        the tiles are merged: the official VisA code computes its TTA loss on these pixels.
        """
        batch, _, channels = tile_logits.shape
        height, width = grid
        per_tile = tile_logits.view(batch, self.count, height, width, channels).permute(0, 1, 4, 2, 3)
        upsampled = upsample(per_tile.reshape(-1, height, width), (self.side, self.side))
        merged = self.merge(upsampled.view(batch, self.count, channels, self.side, self.side).transpose(1, 2))
        return merged.flatten(2).transpose(1, 2)


def image_tiles(rgb: Image.Image, side: int) -> Tuple[Tensor, TileLayout]:
    """Short-side resize, then the fewest square tiles covering the long axis.

    Returns the (T, 3, side, side) normalised tiles and their :class:`TileLayout`.
    """
    height, width = short_side_size(rgb.height, rgb.width, side)
    tensor = normalize(rgb.resize((width, height), Image.BILINEAR))
    axis = 2 if width >= height else 1
    offsets = tuple(tile_offsets(tensor.shape[axis], side))
    tiles = torch.stack([tensor.narrow(axis, offset, side) for offset in offsets])
    return tiles, TileLayout(offsets, axis, (height, width), side)


def square_layout(side: int) -> TileLayout:
    """The square protocol as a layout: one tile that is the whole (side, side) image."""
    return TileLayout((0,), 2, (side, side), side)


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


def mask_above(anomaly_map: Tensor, shape: Tuple[int, int], threshold: float, rows: int = 512) -> np.ndarray:
    """``resize_map(anomaly_map, shape) > threshold`` as a bool array, without the full-size float map.

    A 12,000² photo's float map alone is 576 MB. Bilinear interpolation is separable and PyTorch
    computes it width first, so the width pass is done once on the small map and the height pass
    ``rows`` output rows at a time, with PyTorch's own weights: the same values, bit for bit.
    """
    height, width = shape
    small = anomaly_map.float()
    wide = upsample(small[None], (small.shape[0], width))[0]  # (h, W): height untouched
    mask = np.empty((height, width), dtype=bool)
    scale = torch.tensor((small.shape[0] - 1) / (height - 1) if height > 1 else 0.0, dtype=torch.float32)
    for start in range(0, height, rows):
        source = scale * torch.arange(start, min(start + rows, height), dtype=torch.float32)
        low = source.long().clamp_max(small.shape[0] - 1)
        high = (low + 1).clamp_max(small.shape[0] - 1)
        weight = (source - low)[:, None]
        block = (1.0 - weight) * wide[low] + weight * wide[high]
        mask[start:start + block.shape[0]] = (block > threshold).numpy()
    return mask
