"""Assignment a4's reference: the official TTA loss plus the smoothness term, with switches
that reproduce the typical mistakes. Not part of the pip package: the autograder bundle carries
it for the hidden tests, and ``fingerprints.py`` turns it into the public checker's stored values.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor


def smoothness(clean: Tensor, grid: Tuple[int, int], *, horizontal: bool = True, vertical: bool = True,
               square: bool = True, reduce: str = "pairs", transpose: bool = False) -> Tensor:
    """Mean squared difference of P(abnormal) between right and down neighbours, per image."""
    height, width = grid
    a = clean[..., 1].reshape(clean.shape[0], *((width, height) if transpose else (height, width)))
    across = a[:, :, 1:] - a[:, :, :-1]
    down = a[:, 1:, :] - a[:, :-1, :]
    power = (lambda t: t ** 2) if square else torch.abs
    parts = ([power(across).flatten(1)] if horizontal else []) + ([power(down).flatten(1)] if vertical else [])
    if reduce == "means":
        return torch.stack([p.mean(1) for p in parts]).mean(0)
    joined = torch.cat(parts, dim=1)
    return joined.sum(1) if reduce == "sum" else joined.mean(1)


def official_loss(clean: Tensor, noisy: Tensor, entropy_weight: float, contrast_weight: float) -> Tensor:
    """The package's per-image TTA loss (``anoclip.tta``)."""
    from anoclip.tta import TTAConfig, per_image_loss

    return per_image_loss(clean, noisy, TTAConfig(entropy_weight=entropy_weight, contrast_weight=contrast_weight))


def reference_loss(clean: Tensor, noisy: Tensor, entropy_weight: float = 1.0, contrast_weight: float = 0.5,
                   smooth_weight: float = 0.0, grid: Tuple[int, int] = None) -> Tensor:
    """The reference answer."""
    loss = official_loss(clean, noisy, entropy_weight, contrast_weight)
    return loss + smooth_weight * smoothness(clean, grid) if smooth_weight else loss


def _variant(clean: Tensor, noisy: Tensor, ew: float, cw: float, *, entropy_sign: float = 1.0, swap: bool = False,
             noisy_index: int = 1, reduce: str = "mean", one_ce: bool = False) -> Tensor:
    eps = 1e-12
    pool = (lambda t: t.mean(1)) if reduce == "mean" else (lambda t: t.sum(1))
    log_clean = clean.clamp_min(eps).log()
    entropy = pool(-(clean * log_clean).sum(-1))
    clean_index, noisy_target = (1, 0) if swap else (0, noisy_index)
    clean_ce = pool(-log_clean[..., clean_index])
    noisy_ce = pool(-noisy[..., noisy_target].clamp_min(eps).log())
    contrast = cw * noisy_ce + clean_ce if one_ce else cw * (noisy_ce + clean_ce)
    return entropy_sign * ew * entropy + contrast


def loss_mistakes(clean: Tensor, noisy: Tensor, ew: float, cw: float) -> Dict[str, Tensor]:
    """What each typical mistake of the base loss returns, by the ids the public checker uses."""
    return {
        "entropy-sign": _variant(clean, noisy, ew, cw, entropy_sign=-1.0),
        "no-entropy": official_loss(clean, noisy, ew, cw) - ew * _variant(clean, noisy, 1.0, 0.0),
        "swapped-labels": _variant(clean, noisy, ew, cw, swap=True),
        "noisy-normal": _variant(clean, noisy, ew, cw, noisy_index=0),
        "swapped-weights": _variant(clean, noisy, cw, ew),
        "patch-sum": _variant(clean, noisy, ew, cw, reduce="sum"),
        "one-ce": _variant(clean, noisy, ew, cw, one_ce=True),
    }


def smooth_mistakes(clean: Tensor, noisy: Tensor, grid: Tuple[int, int], weight: float) -> Dict[str, Tensor]:
    """What each typical mistake of the smoothness term returns (weights 1.0 and 0.5 for the rest)."""
    base = official_loss(clean, noisy, 1.0, 0.5)
    switches = {
        "horizontal-only": dict(vertical=False), "vertical-only": dict(horizontal=False), "abs": dict(square=False),
        "mean-of-means": dict(reduce="means"), "sum": dict(reduce="sum"), "transposed": dict(transpose=True),
    }
    found = {key: base + weight * smoothness(clean, grid, **options) for key, options in switches.items()}
    found["unweighted"] = base + smoothness(clean, grid)
    found["missing"] = base
    return found
