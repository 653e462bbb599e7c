"""Assignment a4: the TTA loss plus a spatial smoothness term — :func:`check_tta_loss`.

Also :func:`as_tta_loss`, which plugs a student's loss into the package's test-time adaptation,
so the notebook can show what the new term does to the anomaly maps.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import torch
from torch import Tensor

from .results import (
    CheckResult,
    _as_tensor,
    _call,
    _close,
    _describe_error,
    _match_mistake,
    _NotImplementedYet,
    _Recorder,
    _reference_check,
)


def _smoothness(clean: Tensor, grid: Tuple[int, int], *, horizontal: bool = True, vertical: bool = True,
                square: bool = True, reduce: str = "pairs", transpose: bool = False) -> Tensor:
    """Mean squared difference of P(abnormal) between right and down neighbours, per image.

    Switches reproduce mistakes: one direction only, |Δ| instead of Δ², the mean of the two
    directional means, a sum, the patches read column-major.
    """
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


def _official_loss(clean: Tensor, noisy: Tensor, entropy_weight: float, contrast_weight: float) -> Tensor:
    from ..tta import TTAConfig, per_image_loss

    return per_image_loss(clean, noisy, TTAConfig(entropy_weight=entropy_weight, contrast_weight=contrast_weight))


def _loss_variant(clean: Tensor, noisy: Tensor, ew: float, cw: float, *, entropy_sign: float = 1.0, swap: bool = False,
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


def _loss_mistakes(clean: Tensor, noisy: Tensor, ew: float, cw: float) -> List[Tuple[Tensor, str]]:
    official = _official_loss(clean, noisy, ew, cw)
    v = lambda **kw: _loss_variant(clean, noisy, ew, cw, **kw)  # noqa: E731
    return [
        (v(entropy_sign=-1.0), "Your entropy term has the wrong sign: add +H(P0) = −Σ p log p; minimising it makes the clean predictions confident."),
        (official - ew * _loss_variant(clean, noisy, 1.0, 0.0), "You left out the entropy of the clean predictions: entropy_weight · H(P0)."),
        (v(swap=True), "You swapped the pseudo-labels: CLEAN tokens should be NORMAL (−log P0[0]) and NOISY tokens ABNORMAL (−log P1[1])."),
        (v(noisy_index=0), "Your noisy term uses the normal column; noise-corrupted tokens are pseudo-ABNORMAL: −log P1[..., 1]."),
        (_loss_variant(clean, noisy, cw, ew), "You swapped the weights: entropy_weight multiplies the entropy, contrast_weight the two cross-entropies."),
        (v(reduce="sum"), "You summed over the patches; average over the patches of each image (.mean(dim=1))."),
        (v(one_ce=True), "contrast_weight must multiply BOTH cross-entropies: contrast_weight · (−log P1[abnormal] − log P0[normal])."),
    ]


def _probabilities(batch: int, patches: int, seed: int, requires_grad: bool = False) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits_clean = (1.5 * torch.randn(batch, patches, 2, generator=generator)).requires_grad_(requires_grad)
    logits_noisy = (1.5 * torch.randn(batch, patches, 2, generator=generator)).requires_grad_(requires_grad)
    return torch.softmax(logits_clean, -1), torch.softmax(logits_noisy, -1), logits_clean, logits_noisy


def _loss_output(fn: Callable, args: tuple, batch: int) -> Tuple[Optional[Tensor], str]:
    """Run the student's loss: (the (B,) output, "") or (None, what is wrong)."""
    output, error = _call(fn, *args)
    if error:
        return None, f"Your function {error}."
    actual = _as_tensor(output)
    if actual is None:
        return None, f"Return a torch.Tensor of shape (B,); got {type(output).__name__}."
    if actual.shape != (batch,):
        hint = (" One number for the whole batch: keep one loss per image (average over patches only, dim=1);"
                " each image has its own adapter.") if actual.dim() == 0 else ""
        return None, f"Expected shape ({batch},) = one loss per image; got {tuple(actual.shape)}.{hint}"
    return actual, ""


def _smoothness_mistakes(clean: Tensor, noisy: Tensor, grid: Tuple[int, int], weight: float) -> List[Tuple[Tensor, str]]:
    base = _official_loss(clean, noisy, 1.0, 0.5)
    variants = (
        (dict(vertical=False), "Your smoothness term only compares horizontal neighbours; add the vertical pairs (a[:, 1:, :] − a[:, :-1, :])."),
        (dict(horizontal=False), "Your smoothness term only compares vertical neighbours; add the horizontal pairs (a[:, :, 1:] − a[:, :, :-1])."),
        (dict(square=False), "Your smoothness term uses |Δp|; use the squared difference Δp²."),
        (dict(reduce="means"), "You averaged the horizontal and the vertical means; take ONE mean over all neighbouring pairs (h·(w−1) + (h−1)·w of them)."),
        (dict(reduce="sum"), "You summed the squared differences; take their mean over all neighbouring pairs."),
        (dict(transpose=True), "You read the patches as a (w, h) grid; patches are row-major over (h, w): clean[..., 1].reshape(B, h, w)."),
    )
    return [(base + weight * _smoothness(clean, grid, **switches), text) for switches, text in variants] + [
        (base + _smoothness(clean, grid), "Multiply the smoothness term by smooth_weight."),
        (base, "The smoothness term is missing (your loss ignores smooth_weight)."),
    ]


def _gradient_problem(fn: Callable, grid: Tuple[int, int]) -> str:
    """'' when gradients flow from the student's loss back to both inputs, else what is wrong."""
    clean, noisy, logits_clean, logits_noisy = _probabilities(3, grid[0] * grid[1], seed=43, requires_grad=True)
    output, error = _call(fn, clean, noisy, 1.0, 0.5, 0.5, grid)
    if error:
        return f"Your function {error}."
    if not isinstance(output, Tensor) or not output.requires_grad:
        return ("Your loss is not connected to its inputs (avoid .item(), .detach(), .numpy() and torch.no_grad() in it): "
                "the adapter learns from its gradient.")
    try:
        output.sum().backward()
    except Exception as error:  # a student's loss that cannot be backpropagated
        return f"backward() {_describe_error(error)}."
    grads = (logits_clean.grad, logits_noisy.grad)
    if any(grad is None or not bool(torch.isfinite(grad).all()) for grad in grads):
        return "The gradient does not reach both inputs, or is not finite."
    return ""


def check_tta_loss(student_fn: Callable, forbid_reference: bool = False) -> CheckResult:
    """Check ``student_fn(clean, noisy, entropy_weight, contrast_weight, smooth_weight, grid) -> (B,)`` (a4).

    ``clean`` and ``noisy`` are (B, L, 2) probabilities of (normal, abnormal) for the clean and the
    noise-corrupted patch tokens. With ``smooth_weight == 0`` the loss must equal the package's
    TTA loss (``anoclip.tta``), per image and averaged over patches::

        L = entropy_weight · H(P0) + contrast_weight · (−log P1[abnormal] − log P0[normal])

    The added term is ``smooth_weight · S`` with S the mean, over all pairs of horizontally or
    vertically neighbouring patches of the (h, w) ``grid`` (row-major), of the squared difference
    of their clean P(abnormal).
    """
    recorder = _Recorder(
        "a4", "TTA loss + a smoothness term",
        "Replace `raise NotImplementedError` in tta_loss(...) with your code, then run this cell again.",
        total=12.0 + forbid_reference,
    )
    grid = (3, 5)
    batch = 3
    clean, noisy, _, _ = _probabilities(batch, grid[0] * grid[1], seed=41)
    try:
        _, error = _call(student_fn, clean, noisy, 1.0, 0.5, 0.0, grid)
        recorder.add("runs on random probabilities (3 images, 3×5 patches)", error is None, f"Your function {error}.")
        loss, problem = _loss_output(student_fn, (clean, noisy, 1.0, 0.5, 0.0, grid), batch)
        recorder.add("returns one loss per image, shape (B,)", loss is not None, problem)

        if loss is not None and not _close(loss, _official_loss(clean, noisy, 1.0, 0.5), rtol=1e-5):
            problem = _match_mistake(loss, _loss_mistakes(clean, noisy, 1.0, 0.5)) or (
                "Your loss differs from the official TTA loss (no typical mistake matches; compare term by term).")
        recorder.add("equals the official TTA loss (smooth_weight = 0)", loss is not None and not problem,
                     problem or "Not checked: see the shape check.", 3.0)

        weighted, problem = _loss_output(student_fn, (clean, noisy, 0.3, 2.0, 0.0, grid), batch)
        if weighted is not None and not _close(weighted, _official_loss(clean, noisy, 0.3, 2.0), rtol=1e-5):
            if loss is not None and _close(weighted, loss, rtol=1e-5):
                problem = "Your loss ignores entropy_weight and contrast_weight (same value as with 1.0 and 0.5)."
            else:
                problem = _match_mistake(weighted, _loss_mistakes(clean, noisy, 0.3, 2.0)) or "Wrong value with entropy_weight = 0.3, contrast_weight = 2.0."
        recorder.add("uses entropy_weight and contrast_weight (0.3, 2.0)", weighted is not None and not problem, problem)

        extreme = clean.clone()
        extreme[0, :4] = torch.tensor([1.0, 0.0])
        extreme[1, :4] = torch.tensor([0.0, 1.0])
        edge, problem = _loss_output(student_fn, (extreme, noisy, 1.0, 0.5, 0.0, grid), batch)
        if edge is not None and not bool(torch.isfinite(edge).all()):
            problem = ("Your loss is NaN or inf when a probability is exactly 0 or 1 (0 · log 0); clamp before the log: "
                       "p.clamp_min(1e-12).log().")
        recorder.add("stays finite for probabilities of exactly 0 and 1", edge is not None and not problem, problem)

        alone, problem = _loss_output(student_fn, (clean[1:2], noisy[1:2], 1.0, 0.5, 0.0, grid), 1)
        if alone is not None and (loss is None or not _close(alone, loss[1:2], rtol=1e-5)):
            problem = ("Not checked: see the shape check." if loss is None else
                       "Image 1's loss changes when it is computed alone; reduce over patches only (dim=1), never over the batch.")
        recorder.add("each image's loss ignores the other images", alone is not None and not problem, problem)

        problem = _gradient_problem(student_fn, grid)
        recorder.add("is differentiable (gradients reach both inputs)", not problem, problem)

        smooth, problem = _loss_output(student_fn, (clean, noisy, 1.0, 0.5, 0.7, grid), batch)
        expected = _official_loss(clean, noisy, 1.0, 0.5) + 0.7 * _smoothness(clean, grid)
        if smooth is not None and not _close(smooth, expected, rtol=1e-5):
            problem = _match_mistake(smooth, _smoothness_mistakes(clean, noisy, grid, 0.7)) or (
                "Your smoothness term differs from the mean squared difference between neighbouring patches.")
        recorder.add("adds smooth_weight × the mean squared neighbour difference (0.7, grid 3×5)",
                     smooth is not None and not problem, problem, 3.0)
        if forbid_reference:
            _reference_check(recorder, student_fn, "anoclip.tta", ("per_image_loss", "adapt_tokens", "_official_loss"),
                             ("anoclip.tta", "per_image_loss", "tta.adapt_tokens", "exercises."))
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result


def as_tta_loss(loss_fn: Callable, smooth_weight: float = 0.0, grid: Optional[Tuple[int, int]] = None) -> Callable:
    """Wrap a student's loss for the package's TTA: ``model.predict(x, cls, tta=..., tta_loss=as_tta_loss(f, 1.0, model.grid))``.

    Every TTA step then calls ``loss_fn(clean, noisy, config.entropy_weight,
    config.contrast_weight, smooth_weight, grid)`` instead of the built-in loss; the rest of
    :func:`anoclip.tta.adapt_tokens` (adapters, noise, AdamW, per-image reset) is unchanged. One
    tile per image only (``grid`` must describe all L patches of an image).
    """

    def wrapped(clean: Tensor, noisy: Tensor, config: Any) -> Tensor:
        return loss_fn(clean, noisy, config.entropy_weight, config.contrast_weight, smooth_weight, grid)

    return wrapped
