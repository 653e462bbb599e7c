"""Reading images and masks robustly.

Benchmark folders and user photos arrive in every PIL mode: 8-bit RGB, grayscale, palette,
RGBA screenshots, 16-bit industrial camera PNGs, BMPs.  CLIP wants 8-bit RGB, and the metrics
want a boolean mask, so everything funnels through the two readers here.  A file that cannot be
decoded raises :class:`ImageReadError` naming the file, never a bare PIL traceback.

Orientation: the pixels are used as stored (``orientation="none"``), which is what the official
code does (``Image.open(path).convert("RGB")``) and the only choice that keeps an image aligned
with a mask file, since mask files carry no EXIF tag of their own.  ``orientation="exif"``
applies the image's EXIF Orientation tag; it is meant for phone photos shown to a person, and
whoever uses it on a dataset must apply the same :func:`exif_transpose_of` to the mask
(:func:`anoclip.data.load_sample` does).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..fileio import PathLike

ORIENTATIONS = ("none", "exif")
EXIF_ORIENTATION_TAG = 0x0112
# EXIF Orientation value -> the PIL transpose that shows the image upright (1 = already upright).
_EXIF_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageReadError(OSError):
    """An image or mask file that exists but cannot be decoded (or does not exist)."""


def _open(path: PathLike, load: bool = True) -> Image.Image:
    """Open an image file (decoding its pixels unless ``load=False``) or raise :class:`ImageReadError`."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"Image file not found: {path}. Check the path (and the dataset root).")
    try:
        image = Image.open(path)
        if load:
            image.load()
    except Image.DecompressionBombError as err:
        raise ImageReadError(
            f"{path} is larger than Pillow decodes by default ({err}); downscale it (or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file)."
        ) from err
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
    if not np.isfinite(array).all():
        raise ValueError("the image array holds NaN or infinite values; fix or drop the image.")
    array = array.astype(np.float64)
    scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
    return (array * scale).round().clip(0, 255).astype(np.uint8)


def to_rgb(image: Union[Image.Image, np.ndarray]) -> Image.Image:
    """Convert a PIL image or an (H,W), (H,W,1), (H,W,3) or (H,W,4) array to 8-bit RGB.

    An RGB PIL image is returned as it is, not copied (a 12,000² photo is 412 MB).

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
    return image if image.mode == "RGB" else image.convert("RGB")  # no copy of a large photo that is RGB already


def check_orientation(orientation: str) -> str:
    """Return ``orientation`` if it is one of :data:`ORIENTATIONS`, else raise a ``ValueError``."""
    if orientation not in ORIENTATIONS:
        raise ValueError(
            f"orientation={orientation!r} is not one of {list(ORIENTATIONS)}: 'none' uses the pixels as "
            "stored (the official code's behaviour), 'exif' applies the image's EXIF Orientation tag."
        )
    return orientation


def exif_transpose_of(path: PathLike) -> Optional[Image.Transpose]:
    """The transpose the EXIF Orientation tag of ``path`` asks for; ``None`` when upright or untagged.

    Reads the header only.  A malformed EXIF block counts as "no tag": it is not a reason to
    lose an otherwise readable image.
    """
    with _open(path, load=False) as image:
        if image.format == "PNG" and "exif" not in image.info:  # PIL would decode every pixel to look past them
            return None
        try:
            tag = image.getexif().get(EXIF_ORIENTATION_TAG)
        except Exception:  # PIL raises many types for broken EXIF data; none of them matters here
            return None
    return _EXIF_TRANSPOSES.get(tag)


def image_size(path: PathLike) -> Tuple[int, int]:
    """``(W, H)`` of an image file as stored (no orientation applied), read from its header."""
    with _open(path, load=False) as image:
        return image.size


def transpose_image(image: Image.Image, method: Optional[Image.Transpose]) -> Image.Image:
    """``image`` with ``method`` applied (unchanged for ``None``)."""
    return image if method is None else image.transpose(method)


def transpose_mask(mask: np.ndarray, method: Optional[Image.Transpose]) -> np.ndarray:
    """A boolean ``(H, W)`` mask with ``method`` applied, by the same PIL operation as the image."""
    if method is None:
        return mask
    as_image = Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * 255, mode="L")
    return np.asarray(as_image.transpose(method)) > 0


def read_rgb(path: PathLike, orientation: str = "none") -> Image.Image:
    """Read any image file as 8-bit RGB; ``orientation="exif"`` applies its EXIF Orientation tag.

    The default uses the stored pixels, like the official code; pass ``"exif"`` for a phone
    photo that has no mask (a dataset image needs the same transform on its mask, see
    :func:`anoclip.data.load_sample`).
    """
    check_orientation(orientation)
    image = to_rgb(_open(path))
    if orientation == "exif":
        image = transpose_image(image, exif_transpose_of(path))
    return image


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
