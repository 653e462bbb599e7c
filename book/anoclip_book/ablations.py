"""Chapters 2 and 3's ablations on whole categories: every test image encoded once, every variant scored.

Two sweeps would otherwise re-run CLIP per setting:

* **The v-v start block** (chapter 2). The v-v stream never feeds back: every block reads its
  values from CLIP's own (q-k) stream (``anoclip.encoder``). Block ``l``'s v-v output
  ``c_l = Proj_l(softmax(v_l v_lᵀ/√d) v_l)`` is therefore the same whichever block the path starts
  in, and the stream started at block ``s`` ends as ``z(s) = x_s + Σ_{l ≥ s} c_l`` with ``x_s`` the
  q-k stream entering block ``s``: a suffix sum. :func:`start_block_tokens` gets every start's
  patch tokens, and CLIP's own ones (no v-v path), from ONE forward pass that keeps ``x_s`` and
  ``c_l`` per block.
* **Prompt families** (chapter 3) change only the text side: the image tokens are encoded once and
  scored against each family's prototypes.

:func:`sweep` runs either over every test image of the given categories, in batches, and returns
per-category :class:`~anoclip_book.evidence.Histograms` for each variant, ready for
:func:`anoclip_book.evidence.estimate`. Maps are made exactly as :meth:`anoclip.AnoCLIP.predict`
makes them (same scoring, smoothing and upsampling; masks resized as the official evaluation does).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Hashable, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

from anoclip import encoder, scoring

from .evidence import Histograms, PixelEvidence

TokenVariants = Callable[[Tensor], Mapping[Hashable, Tensor]]
TextVariants = Callable[[str], Mapping[Hashable, Tensor]]


def start_block_tokens(model, images: Tensor, starts: Sequence[int]) -> Dict[Optional[int], Tensor]:
    """Patch tokens (B, N, D) in CLIP's joint space of the v-v path started at each block in ``starts``,
    and under ``None`` CLIP's own q-k patch tokens (no v-v path), from one forward pass.

    Equal, up to float rounding (the sums are grouped differently), to
    ``model.encode_image(images, get_method("vv", start=s)).patches`` for each ``s`` and to
    ``encode_image(images, "clip-patch").patches`` (see the module docstring for why one pass suffices).
    """
    visual = model.clip.visual
    for start in starts:
        encoder.check_vv_start(visual, start)
    first = min(starts) if starts else len(visual.transformer.resblocks)
    entering: Dict[int, Tensor] = {}
    outputs: List[Tensor] = []
    with torch.inference_mode(), model.autocast():
        original = encoder.embed(visual, images.to(model.device))
        for index, block in enumerate(visual.transformer.resblocks):
            if index >= first:  # the same v-v output as encoder.encode computes for this block
                values = encoder.value_heads(block, block.ln_1(original))
                outputs.append(block.ls_1(encoder.out_project(block, encoder.attend(values, values, values)))[:, 1:])
            if index in starts:
                entering[index] = original[:, 1:]
            original = block(original)
        tokens: Dict[Optional[int], Tensor] = {None: encoder.project(visual, original[:, 1:]).float()}
        suffix = torch.zeros_like(original[:, 1:])
        for index in reversed(range(first, first + len(outputs))):
            suffix = suffix + outputs[index - first]
            if index in entering:
                tokens[index] = encoder.project(visual, entering[index] + suffix).float()
    return tokens


def _batches(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def sweep(
    model,
    root: Path,
    categories: Sequence[str],
    tokens: TokenVariants,
    prototypes: TextVariants,
    batch_size: int = 8,
) -> Dict[tuple, List[Histograms]]:
    """Every (token variant, text variant) scored on every test image of ``categories``.

    ``tokens(x)`` maps a batch of preprocessed images to patch tokens per variant (e.g.
    :func:`start_block_tokens`); ``prototypes(category)`` gives the (2, D) prototypes per text
    variant (e.g. one per prompt family). Returns ``{(token variant, text variant): [Histograms of
    each category, in order]}``.
    """
    from anoclip.data import Meta, load_sample
    from anoclip.protocol import resize_mask

    meta = Meta.load(root)
    config = model.config
    side = (model.image_size, model.image_size)
    found: Dict[tuple, List[Histograms]] = {}
    for category in categories:
        samples = meta.samples(category, "test")
        texts = prototypes(category)
        collected: Dict[tuple, PixelEvidence] = {}
        for batch in _batches(samples, batch_size):
            pairs = [load_sample(root, sample) for sample in batch]
            masks = [resize_mask(mask, side) for _, mask in pairs]
            for token_name, patches in tokens(model.preprocess([image for image, _ in pairs])).items():
                for text_name, text in texts.items():
                    grid_scores = scoring.patch_scores(patches, text, config.temperature, model.grid)
                    maps = scoring.anomaly_maps(grid_scores, side, config.smoothing, config.sigma).cpu().numpy()
                    target = collected.setdefault((token_name, text_name), PixelEvidence())
                    for anomaly_map, mask, sample in zip(maps, masks, batch):
                        target.add(anomaly_map, mask, label=bool(sample.anomaly))
        for key, evidence in collected.items():
            found.setdefault(key, []).append(evidence.histograms())
    return found
