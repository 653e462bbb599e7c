"""From embeddings to numbers: patch scores, anomaly maps and image scores.

Every step is one small function so that the book can show each arrow of the pipeline::

    tokens · prototypes ─softmax(T)─▶ patch scores (h, w) ─smooth─▶ ─upsample─▶ anomaly map (S, S)
    CLS (× views)       · prototypes ─softmax(T)─▶ mean over views ─▶ image score

The official code uses temperature 1 (no CLIP logit scale): a probability is then
``sigmoid(cos_abnormal - cos_normal)`` and stays near 0.5. Ranking metrics of raw patch scores
do not depend on T, but the 3×3 mean filter, the view average and the TTA entropy loss do.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import SMOOTHING_KINDS


def state_logits(features: Tensor, prototypes: Tensor, temperature: float = 1.0) -> Tensor:
    """(cos normal, cos abnormal) / T for each feature vector: (..., D) → (..., 2).

    Args:
        features: (..., D) image or patch embeddings, any norm.
        prototypes: (2, D) unit text vectors, row 0 normal, row 1 abnormal.
    """
    return (F.normalize(features.float(), dim=-1) @ prototypes.float().T) / temperature


def state_probabilities(features: Tensor, prototypes: Tensor, temperature: float = 1.0) -> Tensor:
    """Softmax over (normal, abnormal) of :func:`state_logits`: (..., D) → (..., 2)."""
    return torch.softmax(state_logits(features, prototypes, temperature), dim=-1)


def abnormal_probability(features: Tensor, prototypes: Tensor, temperature: float = 1.0) -> Tensor:
    """P(abnormal) for each feature vector: (..., D) → (...) in [0, 1]."""
    return state_probabilities(features, prototypes, temperature)[..., 1]


def to_grid(patch_values: Tensor, grid: Tuple[int, int]) -> Tensor:
    """(B, N) row-major patch values → (B, h, w)."""
    return patch_values.reshape(patch_values.shape[0], *grid)


def patch_scores(tokens: Tensor, prototypes: Tensor, temperature: float, grid: Tuple[int, int]) -> Tensor:
    """Patch tokens (B, N, D) → (B, h, w) abnormal probabilities on the patch grid."""
    return to_grid(abnormal_probability(tokens, prototypes, temperature), grid)


def smooth_mean3(grid_scores: Tensor) -> Tensor:
    """3×3 mean filter with replicate padding on (B, h, w) patch scores (the official smoothing)."""
    padded = F.pad(grid_scores.unsqueeze(1), (1, 1, 1, 1), mode="replicate")
    return F.avg_pool2d(padded, kernel_size=3, stride=1).squeeze(1)


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> Tensor:
    """Normalised 1-D Gaussian taps, radius round(truncate·σ) as in scipy.ndimage."""
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (taps / taps.sum()).float()


def gaussian_blur(maps: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (B, H, W) maps with reflect padding (scipy's 'reflect').

    APRIL-GAN and AnomalyCLIP apply σ = 4 px to the upsampled map; AnoCLIP does not.
    """
    kernel = gaussian_kernel1d(sigma).to(maps.device)
    radius = kernel.numel() // 2
    x = maps.float().unsqueeze(1)
    for dim in (2, 3):
        size = x.shape[dim]
        # scipy's 'reflect' repeats the edge sample (d c b a | a b c d); torch's 'reflect' does
        # not, so build the padding by index, which also works when radius > size.
        index = torch.arange(-radius, size + radius, device=maps.device)
        period = 2 * size
        index = torch.remainder(index, period)
        index = torch.where(index >= size, period - 1 - index, index)
        x = x.index_select(dim, index)
        shape = [1, 1, 1, 1]
        shape[dim] = kernel.numel()
        x = F.conv2d(x, kernel.view(shape))
    return x.squeeze(1)


def upsample(grid_scores: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinear (align_corners=True, as the official code) upsampling of (B, h, w) to (B, H, W)."""
    return F.interpolate(grid_scores.unsqueeze(1), size=size, mode="bilinear", align_corners=True).squeeze(1)


def anomaly_maps(grid_scores: Tensor, size: Tuple[int, int], smoothing: str = "mean3", sigma: float = 4.0) -> Tensor:
    """Patch scores (B, h, w) → anomaly maps (B, H, W) in [0, 1].

    ``"mean3"`` smooths the patch grid before upsampling (faithful); ``"gaussian"`` blurs the
    upsampled map with σ pixels (APRIL-GAN style); ``"none"`` only upsamples. Every step is a
    convex combination of scores, so the clamp only removes float rounding outside [0, 1].
    """
    if smoothing == "mean3":
        maps = upsample(smooth_mean3(grid_scores), size)
    elif smoothing == "gaussian":
        maps = gaussian_blur(upsample(grid_scores, size), sigma)
    elif smoothing == "none":
        maps = upsample(grid_scores, size)
    else:
        raise ValueError(f"Unknown smoothing {smoothing!r}; choose one of {SMOOTHING_KINDS}.")
    return maps.clamp(0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Image score views: the official code averages the CLS probability over 22 augmented copies.
# --------------------------------------------------------------------------------------------

_ROTATIONS_DEG = (45.0, -45.0, 33.75, -33.75, 22.5, -22.5, 11.25, -11.25)
_SHIFTS = tuple((sx * step, sy * step) for step in (0.2, 0.1) for sx in (1, -1) for sy in (1, -1))
_GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _affine(images: Tensor, theta: Tensor) -> Tensor:
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def augment_views(images: Tensor, views: int = 22) -> Tensor:
    """The official code's test-time views of (B, 3, S, S) images → (V, B, 3, S, S).

    Views: the original; rotations by ±45°, ±33.75°, ±22.5°, ±11.25° and diagonal shifts by
    ±0.2 and ±0.1 (normalised coordinates, i.e. 10 % and 5 % of the side), both with reflection
    padding; a horizontal flip; a grayscale copy (of the normalised tensor, as the official code
    does); rotations by 90°, 180°, 270°. ``views=1`` returns the original only. The official
    code also shuffles the views, which cannot change their mean, so we don't.
    """
    if views == 1:
        return images.unsqueeze(0)
    if views != 22:
        raise ValueError(f"views must be 1 or 22 (the official set), got {views}.")
    batch = images.shape[0]
    out = [images]
    for degrees in _ROTATIONS_DEG:
        angle = math.radians(degrees)
        rotation = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]])
        out.append(_affine(images, rotation.to(images).expand(batch, 2, 3)))
    for shift_x, shift_y in _SHIFTS:
        translation = torch.tensor([[1.0, 0.0, shift_x], [0.0, 1.0, shift_y]])
        out.append(_affine(images, translation.to(images).expand(batch, 2, 3)))
    out.append(images.flip(-1))
    weights = torch.tensor(_GRAY_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    out.append((images * weights).sum(dim=1, keepdim=True).expand_as(images))
    out.extend(torch.rot90(images, k, dims=(-2, -1)) for k in (1, 2, 3))
    return torch.stack(out)


def image_scores(cls_views: Tensor, prototypes: Tensor, temperature: float = 1.0) -> Tensor:
    """Mean over views of P(abnormal) from CLS embeddings: (V, B, D) → (B,)."""
    return abnormal_probability(cls_views, prototypes, temperature).mean(dim=0)
