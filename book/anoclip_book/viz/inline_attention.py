"""The attention explorer of the page: where every patch looks, per path, block and head, computed ahead.

For each image, one forward pass with taps (:func:`.explorer_data.image_attention`) gives every
block's attention on both paths. The page keeps, for every query patch, its weights on the patches
and on CLS: the mean over heads in every block, and each head in the last block. Each block of
each path of each image is one chunk (:mod:`.packing`), decoded when the reader first shows it,
so the first view is drawn after one chunk and a second image costs nothing until it is chosen.

Sizes for the book's model (ViT-B-16-plus-240: a 15×15 grid, 12 blocks of 14 heads): per image
and path 11 + 15 maps of 225 queries × 225 patches, 2.6 MB at one byte a weight for both paths
before deflate; the page budget decides the quantisation (:func:`.inline.inline_explorer`).
"""
from __future__ import annotations

import functools
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .attention import select_head
from .canvas import Grid
from .explorer_data import PATHS, ImageInput, image_attention, model_image, model_mask, start_patch
from .inline import EXPLORER_BUDGET, InlineExplorer, inline_explorer
from .packing import chunk, codes, colour_table, jpeg_url

CMAP = "inferno"  # the colour map of the attention figures (plot_attention_layers, plot_patch_maps)
OPACITY = 0.8  # the figures' alpha over the greyed image


def block_maps(attention: Optional[np.ndarray], grid: Grid, heads: bool) -> Optional[np.ndarray]:
    """(M, N, 1+N) rows of the patch queries: the mean over heads, then each head when ``heads``.

    Column 0 is the weight on CLS, columns 1..N the patches in row-major order. None stays None
    (the path does not run in that block).
    """
    if attention is None:
        return None
    choices: List[Optional[int]] = [None] + (list(range(attention.shape[0])) if heads else [])
    return np.stack([select_head(attention, grid, head)[1:] for head in choices])


def block_chunk(rows: Optional[np.ndarray], levels: int) -> Optional[str]:
    """One block's maps as a chunk: float32 maxima (M·N), float32 CLS weights (M·N), uint8 codes (M·N·N).

    Every query's map is scaled from 0 to its own largest weight on a patch, as the figures scale it.
    """
    if rows is None:
        return None
    patches = rows[..., 1:]
    high = patches.max(axis=-1)
    code = codes(patches, np.zeros_like(high), high, levels)
    return chunk(high.astype(np.float32), rows[..., 0].astype(np.float32), code)


def inline_attention_explorer(
    model: Any,
    images: Sequence[ImageInput],
    names: Optional[Sequence[str]] = None,
    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
    method: Any = "anoclip",
    budget: int = EXPLORER_BUDGET,
) -> InlineExplorer:
    """Where one patch looks, per path, block and head, for every patch of ``images``: no kernel needed.

    Args:
        model: an :class:`anoclip.AnoCLIP`.
        images: paths, PIL images or arrays; shown at the model's input resolution.
        names: labels for the image menu.
        masks: optional ground-truth masks (outlined; the query starts on the defect).
        method: the dual-path method that decides where the v-v path runs (see :class:`.AttentionExplorer`).
        budget: the most bytes the explorer may add to its page: the maps are quantised to the
            finest of 256, 64 or 16 levels that fits, and only if none does are the last images left out.
    """
    if not images:
        raise ValueError("inline_attention_explorer needs at least one image.")
    shown = [model_image(image, model.image_size) for image in images]
    attention = [image_attention(model, image, method) for image in shown]
    return attention_explorer(attention, shown, tuple(model.grid), names, masks, budget)


def attention_explorer(
    attention: Sequence[Mapping[str, Sequence[Optional[np.ndarray]]]],
    images: Sequence[Image.Image],
    grid: Grid,
    names: Optional[Sequence[str]] = None,
    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
    budget: int = EXPLORER_BUDGET,
) -> InlineExplorer:
    """The explorer of computed attention: per image, ``{path: [(heads, 1+N, 1+N) or None per block]}``.

    ``images`` are at the model's resolution (square); masks may have any resolution.
    """
    size = images[0].size[0]
    labels = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
    kept = [None if mask is None else model_mask(mask, size) for mask in (masks if masks is not None else [None] * len(images))]
    blocks = len(attention[0]["q-k"])
    heads = next(maps.shape[0] for maps in attention[0]["q-k"] if maps is not None)
    rows = [{path: [block_maps(maps, grid, block == blocks - 1) for block, maps in enumerate(per_image[path])] for path in PATHS}
            for per_image in attention]
    pictures = [jpeg_url(image) for image in images]
    outlines = [None if mask is None or not mask.any() else chunk(mask.astype(np.uint8)) for mask in kept]

    cmap = colour_table(CMAP)

    @functools.lru_cache(maxsize=None)  # a smaller count or coarser levels tried next reuses what was packed
    def image_chunks(index: int, levels: int) -> dict:
        return {path: [block_chunk(maps, levels) for maps in rows[index][path]] for path in PATHS}

    def build(levels: int, count: int) -> Tuple[dict, str]:
        payload = {
            "size": size, "grid": list(grid), "blocks": blocks, "heads": heads, "paths": list(PATHS),
            "cmap": cmap, "opacity": OPACITY,
            "images": [
                {"name": labels[index], "url": pictures[index], "mask": outlines[index],
                 "start": list(start_patch(kept[index], grid)), "chunks": image_chunks(index, levels)}
                for index in range(count)
            ],
        }
        summary = (f"Attention explorer: {count} image(s), paths {' and '.join(PATHS)}, {blocks} blocks (mean over heads), "
                   f"each of the {heads} heads in the last block, every query patch of the {grid[0]}×{grid[1]} grid")
        return payload, summary

    return inline_explorer("attention", build, len(images), budget)
