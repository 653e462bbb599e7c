"""Reading images and masks robustly.

Benchmark folders and user photos arrive in every PIL mode: 8-bit RGB, grayscale, palette,
RGBA screenshots, 16-bit industrial camera PNGs, BMPs.  CLIP wants 8-bit RGB, and the metrics
want a boolean mask, so everything funnels through the two readers here.  A file that cannot be
decoded raises :class:`ImageReadError` naming the file, never a bare PIL traceback.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

PathLike = Union[str, os.PathLike]


class ImageReadError(OSError):
    """An image or mask file that exists but cannot be decoded (or does not exist)."""


def _open(path: PathLike) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"Image file not found: {path}. Check the path (and the dataset root).")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageReadError(
            f"Cannot decode image {path}: {err}. The file is corrupt or not an image; "
            "re-download it or remove it from the dataset."
        ) from err
    return image


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any integer or float pixel array to uint8 without clipping high bit depths away."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        # 16-bit sensors store 0..65535; PIL also reports them as mode "I" (int32).
        top = 255 if array.max(initial=0) <= 255 else 65535
        return (array.astype(np.float64) * (255.0 / top)).round().clip(0, 255).astype(np.uint8)
    array = np.nan_to_num(array.astype(np.float64))
    scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
    return (array * scale).round().clip(0, 255).astype(np.uint8)


def to_rgb(image: Union[Image.Image, np.ndarray]) -> Image.Image:
    """Convert a PIL image or an (H,W), (H,W,1), (H,W,3) or (H,W,4) array to 8-bit RGB.

    Transparent pixels are composited onto black: their colour values are arbitrary in most
    files, and black matches what zero-padding would give.
    """
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
            raise ValueError(
                f"Expected an image array of shape (H,W), (H,W,1), (H,W,3) or (H,W,4); got {array.shape}."
            )
        array = _to_uint8(array)
        image = Image.fromarray(array, mode=None)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = Image.fromarray(_to_uint8(np.asarray(image)))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def read_rgb(path: PathLike) -> Image.Image:
    """Read any image file as 8-bit RGB, honouring EXIF orientation (phone photos)."""
    image = _open(path)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block is not a reason to lose the image
        pass
    return to_rgb(image)


def read_mask(path: PathLike) -> np.ndarray:
    """Read a ground-truth mask as a boolean (H, W) array: any non-zero pixel is anomalous.

    Masks come as 0/255 L images (MVTec), 0/1 or 0/255 palette PNGs (VisA), RGB or 16-bit
    files elsewhere; all channels are merged so that a coloured annotation counts too.
    """
    image = _open(path)
    array = np.asarray(image)
    if array.ndim == 3:
        if image.mode in ("RGBA", "LA", "PA"):
            array = array[..., :-1]  # the alpha channel is not an annotation
        array = array.max(axis=-1)
    return array > 0
