"""WinCLIP zero-shot (Jeong et al., CVPR 2023; ``jeong2023winclip``): CLIP on sliding windows.

WinCLIP does not touch CLIP's blocks. It asks vanilla CLIP about *windows* of the image: each
k×k window of the patch grid (stride 1) is encoded on its own, by feeding the CLS token plus
only that window's patch tokens through the transformer again, and its CLS embedding is scored
against the text like a whole image. With ``e`` the tokens after the positional embedding and
before ``ln_pre``::

    e        = [cls; conv1(x)] + pos                              (B, 1+N, W)
    w        = one k×k window: k² patch indices                   (h-k+1)(w-k+1) windows
    z_w      = ln_post(blocks(ln_pre([e_0; e_w]))[:, 0]) @ proj   (B, D) per window
    s_w      = softmax([cos(z_w, t_n), cos(z_w, t_a)] / 0.07)[1]  (B,)  window score
    M_k[p]   = |{w ∋ p}| / Σ_{w ∋ p} 1 / s_w                      (B, h, w)  harmonic mean per scale
    M_img    = s_image broadcast                                  the whole image as one more scale
    scores   = (1 + |K|) / (1 / M_img + Σ_{k∈K} 1 / M_k)          (B, h, w), K = (2, 3)

Windows keep their absolute positional embeddings (token masking, not image cropping), exactly
as anomalib's ``WinClipModel`` (``openvinotoolkit/anomalib``, ``models/image/winclip``:
``make_masks`` via unfold with stride 1, ``harmonic_aggregation``, ``class_scores`` with
temperature 0.07, ``(len(scales) + 1) / (1 / stack(scores)).sum(0)`` over the image score and
the two window scales); ``zqhang/Accurate-WinCLIP-pytorch`` does the same. On ViT-B-16-plus-240
(WinCLIP's backbone) the 15×15 grid gives 196 + 169 = 365 windows, i.e. 365 extra transformer
passes of 5 or 10 tokens per image: several times AnoCLIP's cost (see
``benchmarks/methods_speed.py``).

Text side (``paper_config``): the ``"winclip"`` prompt family (7 normal × 4 abnormal state
phrases, the compositional ensemble), raw embeddings averaged then normalised (anomalib averages
unnormalised ``encode_text`` outputs) and temperature 0.07 — so the shared image score uses it
too. Remaining differences, all deliberate: the template list is the 22-template paired list of
``anoclip.prompts`` while anomalib and Accurate-WinCLIP carry 21 templates with "a jpeg
corrupted photo of the {}." twice and no "a cropped photo of a {}."; the shared pipeline smooths
the patch grid like every method; the image score is WinCLIP's single-view CLS score
(``image_views=1`` is part of ``paper_config``); weights default to the package's laion400m_e32 (anomalib: e31). Not
token-based: test-time adaptation does not apply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import torch
from open_clip.transformer import VisionTransformer
from torch import Tensor

from .. import scoring
from ..encoder import ImageEncoding, grid_size, positioned_tokens, project
from .base import Localizer, MethodInfo, register

WINCLIP_SCALES: Tuple[int, ...] = (2, 3)
WINCLIP_TEMPERATURE = 0.07


def window_indices(grid: Tuple[int, int], size: int) -> Tensor:
    """Row-major patch indices of every size×size window, stride 1: (n_windows, size²).

    Windows are ordered row-major by their top-left patch; ``n_windows = (h-size+1)(w-size+1)``.
    """
    height, width = grid
    if not 1 <= size <= min(height, width):
        raise ValueError(f"WinCLIP window size {size} does not fit the {height}×{width} patch grid.")
    index = torch.arange(height * width).view(height, width)
    return index.unfold(0, size, 1).unfold(1, size, 1).reshape(-1, size * size)


def harmonic_aggregation(window_scores: Tensor, windows: Tensor, grid: Tuple[int, int]) -> Tensor:
    """Per patch, the harmonic mean of the scores of the windows that cover it.

    Args:
        window_scores: (B, n_windows) scores in (0, 1].
        windows: (n_windows, k²) patch indices from :func:`window_indices`.
    Returns:
        (B, h, w). A patch covered by a zero-score window gets 0; with stride-1 windows that fit
        the grid every patch is covered.
    """
    batch = window_scores.shape[0]
    windows = windows.to(window_scores.device)
    patches = grid[0] * grid[1]
    per_slot = (1.0 / window_scores).repeat_interleave(windows.shape[1], dim=1)  # (B, n_windows·k²)
    inverse_sum = window_scores.new_zeros(batch, patches).index_add_(1, windows.reshape(-1), per_slot)
    counts = torch.bincount(windows.reshape(-1), minlength=patches).to(window_scores)
    return (counts / inverse_sum).view(batch, *grid)


def harmonic_mean(maps: Tensor) -> Tensor:
    """Harmonic mean over the first axis: (S, ...) → (...)."""
    return maps.shape[0] / (1.0 / maps).sum(dim=0)


def encode_sequences(visual: VisionTransformer, tokens: Tensor) -> Tensor:
    """Vanilla CLIP on token sequences (CLS first): ln_pre → blocks → ln_post → proj of CLS: (S, D)."""
    x = visual.ln_pre(tokens)
    for block in visual.transformer.resblocks:
        x = block(x)
    return project(visual, x[:, 0])


def window_embeddings(visual: VisionTransformer, tokens: Tensor, windows: Tensor, chunk_size: int) -> Tensor:
    """CLS embedding of every window of every image: (B, n_windows, D).

    Each sequence is the image's CLS token followed by the window's patch tokens (``tokens`` from
    :func:`anoclip.encoder.positioned_tokens`); sequences are encoded ``chunk_size`` at a time to
    bound memory.
    """
    batch, _, width = tokens.shape
    n_windows, window_len = windows.shape
    windows = windows.to(tokens.device)
    cls = tokens[:, :1].unsqueeze(1).expand(-1, n_windows, -1, -1)  # (B, n_windows, 1, W)
    patches = tokens[:, 1:][:, windows]  # (B, n_windows, k², W)
    sequences = torch.cat([cls, patches], dim=2).reshape(-1, 1 + window_len, width)
    chunks = sequences.split(chunk_size)
    return torch.cat([encode_sequences(visual, chunk) for chunk in chunks]).view(batch, n_windows, -1)


@dataclass
class WindowEncoding(ImageEncoding):
    """:class:`~anoclip.encoder.ImageEncoding` plus the CLS embedding of every window, per scale."""

    windows: List[Tensor] = field(default_factory=list)  # one (B, n_windows, D) tensor per window size
    window_index: List[Tensor] = field(default_factory=list)  # the matching (n_windows, k²) patch indices


@register
@dataclass(frozen=True)
class WinCLIPLocalizer(Localizer):
    """``scales``: window sizes in patches; ``chunk_size``: sequences per forward (memory only)."""

    info = MethodInfo(
        name="winclip",
        title="WinCLIP zero-shot (Jeong et al., CVPR 2023)",
        paper="jeong2023winclip",
        changes="Vanilla CLIP re-run on every 2×2 and 3×3 window of patch tokens; window scores "
        "(T = 0.07, its own prompt ensemble) spread to patches and combined with the image score "
        "by harmonic means.",
        protocol="per-image training-free",
    )
    paper_config = {
        "prompts": "winclip", "temperature": WINCLIP_TEMPERATURE, "ensemble": "mean-then-normalize", "image_views": 1,
    }
    has_patch_tokens = False
    scales: Tuple[int, ...] = WINCLIP_SCALES
    chunk_size: int = 512

    def __post_init__(self) -> None:
        if not self.scales or any(int(k) < 1 for k in self.scales):
            raise ValueError(f"WinCLIP scales must be window sizes >= 1, got {tuple(self.scales)}.")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}.")
        object.__setattr__(self, "scales", tuple(int(k) for k in self.scales))

    def check(self, visual: VisionTransformer) -> None:
        for size in self.scales:
            window_indices(grid_size(visual), size)

    def encode(self, visual: VisionTransformer, images: Tensor) -> WindowEncoding:
        grid = grid_size(visual)
        tokens = positioned_tokens(visual, images)
        index = [window_indices(grid, size) for size in self.scales]
        return WindowEncoding(
            cls=encode_sequences(visual, tokens), patches=None, grid=grid,
            windows=[window_embeddings(visual, tokens, w, self.chunk_size) for w in index], window_index=index,
        )

    def patch_scores(self, encoding: WindowEncoding, prototypes: Tensor, temperature: float) -> Tensor:
        image_probability = scoring.abnormal_probability(encoding.cls, prototypes, temperature)
        maps = [image_probability[:, None, None].expand(-1, *encoding.grid)]
        for embedding, index in zip(encoding.windows, encoding.window_index):
            window_scores = scoring.abnormal_probability(embedding, prototypes, temperature)
            maps.append(harmonic_aggregation(window_scores, index, encoding.grid))
        return harmonic_mean(torch.stack(maps))
