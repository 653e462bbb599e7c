"""Assignment a1: V-V attention for one open_clip block — :func:`check_vv_attention`.

Seeded blocks with peaked attention make the typical mistakes (a forgotten 1/√d, the model
width instead of the head width, queries for values, the wrong softmax axis, ...) visibly change
the output. The checker compares the student's output with the stored summaries of the right
output and of each mistake (``expected.json``), so it can name the mistake without carrying a
reference implementation.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import numpy as np
import torch
from torch import Tensor

from .results import CheckResult, _as_tensor, _call, _NotImplementedYet, _Recorder, expected, same, summary, which_mistake

# the two seeded cases: (width, heads, block seed, batch, tokens, token seed)
CASES: Dict[str, Tuple[int, int, int, int, int, int]] = {
    "main": (32, 4, 11, 2, 10, 12),
    "other": (24, 2, 21, 1, 5, 22),
}
RTOL = 1e-4


def random_block(width: int, heads: int, seed: int) -> torch.nn.Module:
    """An open_clip ResidualAttentionBlock with seeded weights large enough for peaked attention.

    Default initialisations give nearly uniform attention, under which a forgotten scale or a
    wrong softmax axis would hardly change the output; these weights make such mistakes visible.
    numpy's legacy RandomState draws them, so they are the same with every torch version.
    """
    from open_clip.transformer import ResidualAttentionBlock

    rng = np.random.RandomState(seed)
    block = ResidualAttentionBlock(width, heads).eval()  # batch first: open_clip's default (and only form in 4.x)
    weights = {
        "ln_1.weight": 0.5 + rng.rand(width),
        "ln_1.bias": 0.5 * rng.standard_normal(width),
        "attn.in_proj_weight": 0.25 * rng.standard_normal((3 * width, width)),
        "attn.in_proj_bias": 0.5 * rng.standard_normal(3 * width),
        "attn.out_proj.weight": rng.standard_normal((width, width)) / math.sqrt(width),
        "attn.out_proj.bias": 0.5 * rng.standard_normal(width),
    }
    with torch.no_grad():
        for name, value in weights.items():
            block.get_parameter(name).copy_(torch.from_numpy(value))
    return block


def random_tokens(batch: int, length: int, width: int, seed: int) -> Tensor:
    """Tokens with a per-token offset and scale, so that forgetting ln_1 changes everything."""
    rng = np.random.RandomState(seed)
    offset = 3.0 * rng.standard_normal((batch, length, 1))
    return torch.from_numpy(offset + 2.0 * rng.standard_normal((batch, length, width))).float()


def case_inputs(name: str) -> Tuple[torch.nn.Module, Tensor]:
    """The block and tokens of case ``name`` (what the checker and ``expected.json`` use)."""
    width, heads, block_seed, batch, length, token_seed = CASES[name]
    return random_block(width, heads, block_seed), random_tokens(batch, length, width, token_seed)


def mistake_messages(width: int, heads: int) -> Dict[str, str]:
    """What each stored mistake means, for a block of this width and head count."""
    d = width // heads
    return {
        "no-scale": f"You forgot the 1/√d scale: V-V attention is softmax(v vᵀ / √d) v with d the width of one head ({d} here).",
        "width-scale": f"You scaled by 1/√{width} (the model width); d is the width of ONE head, width // num_heads = {d}.",
        "no-ln": "You computed the values from x itself; the block normalises its input first: v = W_v · ln_1(x) + b_v (use block.ln_1).",
        "qk": "You computed CLIP's ordinary attention softmax(q kᵀ/√d) v; V-V attention uses the values as queries and keys: softmax(v vᵀ/√d) v.",
        "queries": "You used the queries (rows 0:W of in_proj_weight) as values; in_proj_weight stacks [W_q; W_k; W_v], so the values are rows 2W:3W.",
        "keys": "You used the keys (rows W:2W of in_proj_weight) as values; in_proj_weight stacks [W_q; W_k; W_v], so the values are rows 2W:3W.",
        "softmax-axis": "Your softmax runs over the wrong axis: normalise over the keys (dim=-1), so that each token's attention weights sum to 1.",
        "one-head": f"You treated the block as one head: split the width into num_heads = {heads} heads of width {d}, attend per head, then concatenate.",
        "no-transpose": "You merged the heads without moving the head axis back: (B, heads, L, d) → .transpose(1, 2) → .reshape(B, L, W).",
        "no-out-proj": "You forgot the output projection: apply block.attn.out_proj (weight and bias) after merging the heads.",
        "no-in-bias": "You left out in_proj_bias: v = h @ W_vᵀ + b_v, with b_v = in_proj_bias[2W:3W].",
        "residual": "You added the input x: return only the attention output; the encoder adds it to the V-V stream itself.",
        "heads-4": f"You hard-coded 4 heads; read the head count from block.attn.num_heads (this block has {heads}).",
        "head-width-8": f"You hard-coded the head width 8; it is width // block.attn.num_heads ({d} for this block).",
    }


def _vv_case(recorder: _Recorder, fn: Callable, case: str, label: str, points: float) -> None:
    """Run one case and record whether the output is V-V attention (or which mistake it shows)."""
    block, x = case_inputs(case)
    batch, length, width = x.shape
    heads = block.attn.num_heads
    stored = expected("a1")[case]
    output, error = _call(fn, block, x.clone())
    if error:
        recorder.add(label, False, f"Your function {error}.", points)
        return
    actual = _as_tensor(output)
    if actual is None:
        recorder.add(label, False, f"Return a torch.Tensor; got {type(output).__name__}.", points)
        return
    if tuple(actual.shape) != (batch, length, width):
        hint = ""
        if tuple(actual.shape) == (batch, heads, length, width // heads):
            hint = " That is one output per head: merge them with .transpose(1, 2).reshape(B, L, W), then apply out_proj."
        elif tuple(actual.shape) == (length, batch, width):
            hint = " That is sequence-first; open_clip blocks are batch-first (B, L, W)."
        recorder.add(label, False, f"Expected shape {(batch, length, width)} = (batch, tokens, width); got {tuple(actual.shape)}.{hint}", points)
        return
    values = summary(actual)
    if same(values, stored["expected"], RTOL):
        recorder.add(label, True, points=points)
        return
    mistake = which_mistake(values, stored["mistakes"], mistake_messages(width, heads), RTOL)
    recorder.add(label, False, mistake or (
        "Your output is not V-V attention and matches none of the typical mistakes; follow the formula step by step "
        "for one token (ln_1, the value rows of in_proj, heads, softmax over keys, merge, out_proj)."), points)


def check_vv_attention(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(block, x) -> Tensor`` against V-V attention (assignment a1).

    ``block`` is an open_clip ``ResidualAttentionBlock``; ``x`` (B, L, W) is the residual stream
    entering it. The expected output is the block's V-V attention, projected but not added to
    anything: ``out_proj(concat_h softmax(v_h v_hᵀ / √d) v_h)`` with ``v = W_v · ln_1(x) + b_v``.
    """
    recorder = _Recorder(
        "a1", "V-V attention for one block",
        "Replace `raise NotImplementedError` in vv_attention(block, x) with your code, then run this cell again.",
        total=7.0,
    )
    block, x = case_inputs("main")
    state = {key: value.clone() for key, value in block.state_dict().items()}
    x_given = x.clone()
    try:
        _, error = _call(student_fn, block, x_given)
        recorder.add("runs on a random block (width 32, 4 heads)", error is None, f"Your function {error}.")
        unchanged = all(torch.equal(state[key], value) for key, value in block.state_dict().items()) and torch.equal(x, x_given)
        recorder.add(
            "leaves the block's weights and the input unchanged", error is None and unchanged,
            "Not checked: the function raised an error." if error else
            "Your function changed the block's weights or x in place; compute new tensors instead (the encoder reuses both).",
        )
        _vv_case(recorder, student_fn, "main", "matches V-V attention on a random block (width 32, 4 heads)", 3.0)
        _vv_case(recorder, student_fn, "other", "works for another width, head count and batch size (width 24, 2 heads, batch 1)", 2.0)
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
