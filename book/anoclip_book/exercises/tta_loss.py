"""Assignment a4: the TTA loss plus a spatial smoothness term — :func:`check_tta_loss`.

The checker compares the student's per-image losses with the stored losses of the right answer
and of typical mistakes on seeded probabilities (``expected.json``), and checks the properties
any correct loss has (finite at probabilities 0 and 1, independent across images,
differentiable). Also :func:`as_tta_loss`, which plugs a student's loss into the package's
test-time adaptation, so the notebook can show what the new term does to the anomaly maps.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .results import (
    CheckResult,
    _as_tensor,
    _call,
    _describe_error,
    _NotImplementedYet,
    _Recorder,
    expected,
    same,
    summary,
    which_mistake,
)

GRID = (3, 5)
BATCH = 3
SEED = 41
# the stored cases: (entropy_weight, contrast_weight, smooth_weight)
CASES: Dict[str, Tuple[float, float, float]] = {"main": (1.0, 0.5, 0.0), "weighted": (0.3, 2.0, 0.0), "smooth": (1.0, 0.5, 0.7)}
RTOL = 1e-5
LOSS_MISTAKES = {
    "entropy-sign": "Your entropy term has the wrong sign: add +H(P0) = −Σ p log p; minimising it makes the clean predictions confident.",
    "no-entropy": "You left out the entropy of the clean predictions: entropy_weight · H(P0).",
    "swapped-labels": "You swapped the pseudo-labels: CLEAN tokens should be NORMAL (−log P0[0]) and NOISY tokens ABNORMAL (−log P1[1]).",
    "noisy-normal": "Your noisy term uses the normal column; noise-corrupted tokens are pseudo-ABNORMAL: −log P1[..., 1].",
    "swapped-weights": "You swapped the weights: entropy_weight multiplies the entropy, contrast_weight the two cross-entropies.",
    "patch-sum": "You summed over the patches; average over the patches of each image (.mean(dim=1)).",
    "one-ce": "contrast_weight must multiply BOTH cross-entropies: contrast_weight · (−log P1[abnormal] − log P0[normal]).",
}
SMOOTH_MISTAKES = {
    "horizontal-only": "Your smoothness term only compares horizontal neighbours; add the vertical pairs (a[:, 1:, :] − a[:, :-1, :]).",
    "vertical-only": "Your smoothness term only compares vertical neighbours; add the horizontal pairs (a[:, :, 1:] − a[:, :, :-1]).",
    "abs": "Your smoothness term uses |Δp|; use the squared difference Δp².",
    "mean-of-means": "You averaged the horizontal and the vertical means; take ONE mean over all neighbouring pairs (h·(w−1) + (h−1)·w of them).",
    "sum": "You summed the squared differences; take their mean over all neighbouring pairs.",
    "transposed": "You read the patches as a (w, h) grid; patches are row-major over (h, w): clean[..., 1].reshape(B, h, w).",
    "unweighted": "Multiply the smoothness term by smooth_weight.",
    "missing": "The smoothness term is missing (your loss ignores smooth_weight).",
}


def probabilities(batch: int = BATCH, patches: int = GRID[0] * GRID[1], seed: int = SEED,
                  requires_grad: bool = False) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Seeded (B, L, 2) clean and noisy probabilities, and the logits they are the softmax of.

    numpy's legacy RandomState draws the logits, so they are the same with every torch version.
    """
    rng = np.random.RandomState(seed)
    logits_clean = torch.from_numpy(1.5 * rng.standard_normal((batch, patches, 2))).float().requires_grad_(requires_grad)
    logits_noisy = torch.from_numpy(1.5 * rng.standard_normal((batch, patches, 2))).float().requires_grad_(requires_grad)
    return torch.softmax(logits_clean, -1), torch.softmax(logits_noisy, -1), logits_clean, logits_noisy


def _loss_output(fn: Callable, args: tuple, batch: int) -> Tuple[Optional[Tensor], str]:
    """Run the student's loss: (the (B,) output, "") or (None, what is wrong)."""
    output, error = _call(fn, *args)
    if error:
        return None, f"Your function {error}."
    actual = _as_tensor(output)
    if actual is None:
        return None, f"Return a torch.Tensor of shape (B,); got {type(output).__name__}."
    if tuple(actual.shape) != (batch,):
        hint = (" One number for the whole batch: keep one loss per image (average over patches only, dim=1);"
                " each image has its own adapter.") if actual.dim() == 0 else ""
        return None, f"Expected shape ({batch},) = one loss per image; got {tuple(actual.shape)}.{hint}"
    return actual, ""


def _compare(loss: Tensor, case: str, messages: Dict[str, str], fallback: str) -> str:
    """'' when ``loss`` is the stored right answer of ``case``, else the matching mistake (or ``fallback``)."""
    stored = expected("a4")[case]
    values = summary(loss)
    if same(values, stored["expected"], RTOL):
        return ""
    return which_mistake(values, stored["mistakes"], messages, RTOL) or fallback


def _gradient_problem(fn: Callable) -> str:
    """'' when gradients flow from the student's loss back to both inputs, else what is wrong."""
    clean, noisy, logits_clean, logits_noisy = probabilities(3, GRID[0] * GRID[1], seed=43, requires_grad=True)
    output, error = _call(fn, clean, noisy, 1.0, 0.5, 0.5, GRID)
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


def check_tta_loss(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(clean, noisy, entropy_weight, contrast_weight, smooth_weight, grid) -> (B,)`` (a4).

    ``clean`` and ``noisy`` are (B, L, 2) probabilities of (normal, abnormal) for the clean and the
    noise-corrupted patch tokens. With ``smooth_weight == 0`` the loss must equal the package's
    TTA loss, per image and averaged over patches::

        L = entropy_weight · H(P0) + contrast_weight · (−log P1[abnormal] − log P0[normal])

    The added term is ``smooth_weight · S`` with S the mean, over all pairs of horizontally or
    vertically neighbouring patches of the (h, w) ``grid`` (row-major), of the squared difference
    of their clean P(abnormal).
    """
    recorder = _Recorder(
        "a4", "TTA loss + a smoothness term",
        "Replace `raise NotImplementedError` in tta_loss(...) with your code, then run this cell again.",
        total=12.0,
    )
    clean, noisy, _, _ = probabilities()
    try:
        _, error = _call(student_fn, clean, noisy, *CASES["main"], GRID)
        recorder.add("runs on random probabilities (3 images, 3×5 patches)", error is None, f"Your function {error}.")
        loss, problem = _loss_output(student_fn, (clean, noisy, *CASES["main"], GRID), BATCH)
        recorder.add("returns one loss per image, shape (B,)", loss is not None, problem)

        if loss is not None:
            problem = _compare(loss, "main", LOSS_MISTAKES, "Your loss differs from the official TTA loss (no typical mistake matches; "
                                                            "compare term by term).")
        recorder.add("equals the official TTA loss (smooth_weight = 0)", loss is not None and not problem,
                     problem or "Not checked: see the shape check.", 3.0)

        weighted, problem = _loss_output(student_fn, (clean, noisy, *CASES["weighted"], GRID), BATCH)
        if weighted is not None:
            if loss is not None and same(summary(weighted), summary(loss), RTOL):
                problem = "Your loss ignores entropy_weight and contrast_weight (same value as with 1.0 and 0.5)."
            else:
                problem = _compare(weighted, "weighted", LOSS_MISTAKES, "Wrong value with entropy_weight = 0.3, contrast_weight = 2.0.")
        recorder.add("uses entropy_weight and contrast_weight (0.3, 2.0)", weighted is not None and not problem, problem)

        extreme = clean.clone()
        extreme[0, :4] = torch.tensor([1.0, 0.0])
        extreme[1, :4] = torch.tensor([0.0, 1.0])
        edge, problem = _loss_output(student_fn, (extreme, noisy, *CASES["main"], GRID), BATCH)
        if edge is not None and not bool(torch.isfinite(edge).all()):
            problem = ("Your loss is NaN or inf when a probability is exactly 0 or 1 (0 · log 0); clamp before the log: "
                       "p.clamp_min(1e-12).log().")
        recorder.add("stays finite for probabilities of exactly 0 and 1", edge is not None and not problem, problem)

        alone, problem = _loss_output(student_fn, (clean[1:2], noisy[1:2], *CASES["main"], GRID), 1)
        if alone is not None and (loss is None or not same(summary(alone), summary(loss[1:2]), RTOL)):
            problem = ("Not checked: see the shape check." if loss is None else
                       "Image 1's loss changes when it is computed alone; reduce over patches only (dim=1), never over the batch.")
        recorder.add("each image's loss ignores the other images", alone is not None and not problem, problem)

        problem = _gradient_problem(student_fn)
        recorder.add("is differentiable (gradients reach both inputs)", not problem, problem)

        smooth, problem = _loss_output(student_fn, (clean, noisy, *CASES["smooth"], GRID), BATCH)
        if smooth is not None:
            problem = _compare(smooth, "smooth", SMOOTH_MISTAKES,
                               "Your smoothness term differs from the mean squared difference between neighbouring patches.")
        recorder.add("adds smooth_weight × the mean squared neighbour difference (0.7, grid 3×5)",
                     smooth is not None and not problem, problem, 3.0)
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
