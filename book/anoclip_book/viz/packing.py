"""How the inline explorers pack their numbers into a page: quantised, deflated, base64, per chunk.

A page must stay light (the book's rule: at most 4 MB per chapter page), and the browser must be
able to draw the first view before it has decoded the rest. So:

* every map is **quantised** to one byte per value on the scale its colour bar uses: attention
  relative to the query's own maximum (0 → code 0), an anomaly map over its own min..max. The code
  is matplotlib's colour index, ``min(floor(x * levels), levels - 1)``, so with 256 levels the
  browser paints exactly the colour of the static figure's colour map; fewer levels (64, 16)
  merge neighbouring colours when a page would otherwise be too heavy;
* smooth maps (anomaly maps) are stored as their mixed second difference, which is near zero
  almost everywhere and which the browser undoes with a running sum;
* every chunk (one image's block, one sample) is **deflated** (zlib) and **base64**-encoded; the
  browser inflates it with its own ``DecompressionStream`` when the chunk is first needed.

Colours travel as 256-entry lookup tables taken from matplotlib, images as JPEG data URLs.
"""
from __future__ import annotations

import base64
import io
import zlib
from typing import Tuple

import numpy as np
from PIL import Image

from .canvas import FLAT_RANGE

LEVELS = (256, 64, 16)  # the quantisation levels an explorer may use, finest first


def _span(low: np.ndarray, high: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-map ranges broadcast over the values, a range narrower than ``FLAT_RANGE`` widened."""
    low = np.asarray(low, np.float64)[..., None]
    high = np.asarray(high, np.float64)[..., None]
    flat = high - low < FLAT_RANGE
    return np.where(flat, low - FLAT_RANGE, low), np.where(flat, high + FLAT_RANGE, high)


def codes(values: np.ndarray, low: np.ndarray, high: np.ndarray, levels: int = 256) -> np.ndarray:
    """uint8 colour indices of ``values`` on the scale ``low..high`` (broadcast along the last axis).

    ``min(floor(x * levels), levels - 1)`` with ``x = (value - low) / (high - low)``: with 256 levels
    this is the index matplotlib's colour maps look up. A range narrower than the figures' flat
    range is widened as :func:`anoclip_book.viz.canvas.show_map` does, so a constant map gets
    the middle code.
    """
    if not 2 <= levels <= 256:
        raise ValueError(f"levels={levels}: one byte holds 2 to 256 levels.")
    values = np.asarray(values, np.float64)
    low, high = _span(low, high)
    scaled = np.floor((values - low) / (high - low) * levels)
    return np.clip(scaled, 0, levels - 1).astype(np.uint8)


def decode(code: np.ndarray, low: np.ndarray, high: np.ndarray, levels: int = 256) -> np.ndarray:
    """The value each code stands for: the middle of its bin (what the browser uses for thresholds)."""
    low, high = _span(low, high)
    return low + (code.astype(np.float64) + 0.5) / levels * (high - low)


def second_difference(code: np.ndarray) -> np.ndarray:
    """The mixed second difference of (..., H, W) uint8 maps, modulo 256 (zero outside the map).

    ``d[y, x] = q[y, x] - q[y, x-1] - q[y-1, x] + q[y-1, x-1]``; its 2-D running sum modulo 256
    gives ``q`` back (:func:`running_sum`, and the browser's decoder).
    """
    pad = [(0, 0)] * (code.ndim - 2) + [(1, 0), (1, 0)]
    q = np.pad(code.astype(np.int16), pad)
    return ((q[..., 1:, 1:] - q[..., 1:, :-1] - q[..., :-1, 1:] + q[..., :-1, :-1]) % 256).astype(np.uint8)


def running_sum(difference: np.ndarray) -> np.ndarray:
    """The inverse of :func:`second_difference`."""
    return (np.cumsum(np.cumsum(difference.astype(np.int64), axis=-1), axis=-2) % 256).astype(np.uint8)


def chunk(*arrays: np.ndarray) -> str:
    """Arrays, concatenated as raw little-endian bytes in the given order, deflated, base64.

    Put float32 arrays first so that every float array starts at a multiple of 4 bytes and the
    browser can view it as a ``Float32Array`` without copying.
    """
    raw = b"".join(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes() for array in arrays)
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")  # level 9: 5-10 % smaller, 10 times slower


def unchunk(text: str) -> bytes:
    """The raw bytes of a :func:`chunk` (what the browser's decoder sees after inflating)."""
    return zlib.decompress(base64.b64decode(text))


def colour_table(cmap: str) -> str:
    """A matplotlib colour map as 256 RGB triples, base64 (768 bytes): the browser's palette."""
    from matplotlib import colormaps

    rgb = np.round(colormaps[cmap].resampled(256)(np.arange(256))[:, :3] * 255).astype(np.uint8)
    return base64.b64encode(rgb.tobytes()).decode("ascii")


def jpeg_url(image: Image.Image, quality: int = 90) -> str:
    """An RGB image as a ``data:image/jpeg`` URL (the image under the maps; the maps stay exact)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
