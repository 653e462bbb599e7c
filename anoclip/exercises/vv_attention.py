"""Assignment a1: V-V attention for one open_clip block — :func:`check_vv_attention`.

Seeded blocks with peaked attention make the typical mistakes (a forgotten 1/√d, the model
width instead of the head width, queries for values, the wrong softmax axis, ...) visibly change
the output, and each of them is reproduced by :func:`_vv_variant` so the checker can name it.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .results import (
    CheckResult,
    _as_tensor,
    _call,
    _close,
    _match_mistake,
    _NotImplementedYet,
    _Recorder,
    _reference_check,
)


def _random_block(width: int, heads: int, seed: int) -> torch.nn.Module:
    """An open_clip ResidualAttentionBlock with seeded weights large enough for peaked attention.

    Default initialisations give nearly uniform attention, under which a forgotten scale or a
    wrong softmax axis would hardly change the output; these weights make such mistakes visible.
    """
    from open_clip.transformer import ResidualAttentionBlock

    generator = torch.Generator().manual_seed(seed)
    block = ResidualAttentionBlock(width, heads, batch_first=True).eval()
    with torch.no_grad():
        block.ln_1.weight.copy_(0.5 + torch.rand(width, generator=generator))
        block.ln_1.bias.copy_(0.5 * torch.randn(width, generator=generator))
        block.attn.in_proj_weight.copy_(0.25 * torch.randn(3 * width, width, generator=generator))
        block.attn.in_proj_bias.copy_(0.5 * torch.randn(3 * width, generator=generator))
        block.attn.out_proj.weight.copy_(torch.randn(width, width, generator=generator) / math.sqrt(width))
        block.attn.out_proj.bias.copy_(0.5 * torch.randn(width, generator=generator))
    return block


def _random_tokens(batch: int, length: int, width: int, seed: int) -> Tensor:
    """Tokens with a per-token offset and scale, so that forgetting ln_1 changes everything."""
    generator = torch.Generator().manual_seed(seed)
    offset = 3.0 * torch.randn(batch, length, 1, generator=generator)
    return offset + 2.0 * torch.randn(batch, length, width, generator=generator)


def _vv_variant(
    block: torch.nn.Module,
    x: Tensor,
    *,
    layer_norm: bool = True,
    source: str = "vv",
    scale: Optional[str] = "d",
    softmax_dim: int = -1,
    split_heads: bool = True,
    merge: str = "transpose",
    out_proj: bool = True,
    in_bias: bool = True,
    residual: bool = False,
    heads: Optional[int] = None,
) -> Tensor:
    """V-V attention written out head by head, with switches that reproduce typical mistakes.

    The defaults give the right answer: out_proj(concat_h softmax(v_h v_hᵀ / √d) v_h) with
    v = W_v · ln_1(x) + b_v and d the width of one head.
    """
    batch, length, width = x.shape
    heads = 1 if not split_heads else (heads or block.attn.num_heads)
    head_dim = width // heads
    h = block.ln_1(x) if layer_norm else x
    weight = block.attn.in_proj_weight
    bias = block.attn.in_proj_bias if in_bias else torch.zeros_like(block.attn.in_proj_bias)
    q, k, v = (h @ weight[i * width:(i + 1) * width].T + bias[i * width:(i + 1) * width] for i in range(3))
    left, right, value = {"vv": (v, v, v), "qk": (q, k, v), "q": (q, q, q), "k": (k, k, k)}[source]

    def split(t: Tensor) -> Tensor:
        return t.reshape(batch, length, heads, head_dim).transpose(1, 2)

    factor = {"d": head_dim ** -0.5, "width": width ** -0.5, None: 1.0}[scale]
    weights = torch.softmax(split(left) @ split(right).transpose(-2, -1) * factor, dim=softmax_dim)
    out = weights @ split(value)  # (B, heads, L, d)
    merged = out.transpose(1, 2).reshape(batch, length, width) if merge == "transpose" else out.reshape(batch, length, width)
    if out_proj:
        merged = F.linear(merged, block.attn.out_proj.weight, block.attn.out_proj.bias)
    return merged + x if residual else merged


def _vv_mistakes(block: torch.nn.Module, x: Tensor) -> List[Tuple[Tensor, str]]:
    width = x.shape[-1]
    heads = block.attn.num_heads
    d = width // heads
    cases = [
        (dict(scale=None), f"You forgot the 1/√d scale: V-V attention is softmax(v vᵀ / √d) v with d the width of one head ({d} here)."),
        (dict(scale="width"), f"You scaled by 1/√{width} (the model width); d is the width of ONE head, width // num_heads = {d}."),
        (dict(layer_norm=False), "You computed the values from x itself; the block normalises its input first: v = W_v · ln_1(x) + b_v (use block.ln_1)."),
        (dict(source="qk"), "You computed CLIP's ordinary attention softmax(q kᵀ/√d) v; V-V attention uses the values as queries and keys: softmax(v vᵀ/√d) v."),
        (dict(source="q"), "You used the queries (rows 0:W of in_proj_weight) as values; in_proj_weight stacks [W_q; W_k; W_v], so the values are rows 2W:3W."),
        (dict(source="k"), "You used the keys (rows W:2W of in_proj_weight) as values; in_proj_weight stacks [W_q; W_k; W_v], so the values are rows 2W:3W."),
        (dict(softmax_dim=-2), "Your softmax runs over the wrong axis: normalise over the keys (dim=-1), so that each token's attention weights sum to 1."),
        (dict(split_heads=False), f"You treated the block as one head: split the width into num_heads = {heads} heads of width {d}, attend per head, then concatenate."),
        (dict(merge="reshape"), "You merged the heads without moving the head axis back: (B, heads, L, d) → .transpose(1, 2) → .reshape(B, L, W)."),
        (dict(out_proj=False), "You forgot the output projection: apply block.attn.out_proj (weight and bias) after merging the heads."),
        (dict(in_bias=False), "You left out in_proj_bias: v = h @ W_vᵀ + b_v, with b_v = in_proj_bias[2W:3W]."),
        (dict(residual=True), "You added the input x: return only the attention output; the encoder adds it to the V-V stream itself."),
    ]
    if heads != 4:
        cases.append((dict(heads=4), f"You hard-coded 4 heads; read the head count from block.attn.num_heads (this block has {heads})."))
    if width % 8 == 0 and width // 8 not in (heads, 4):
        cases.append((dict(heads=width // 8), f"You hard-coded the head width 8; it is width // block.attn.num_heads ({d} for this block)."))
    with torch.no_grad():
        return [(_vv_variant(block, x, **switches), message) for switches, message in cases]


def _reference_vv_attention(block: torch.nn.Module, x: Tensor) -> Tensor:
    """The package's V-V attention of one block (anoclip.encoder), the checker's reference."""
    from ..encoder import attend, attention_weights, out_project, qkv

    _, _, values = qkv(block, block.ln_1(x))
    return out_project(block, attend(values, values, values, attention_weights(values, values)))


def _vv_case(recorder: _Recorder, fn: Callable, block: torch.nn.Module, x: Tensor, name: str, points: float) -> None:
    """Run one case and record whether the output is V-V attention (or which mistake it shows)."""
    with torch.no_grad():
        expected = _reference_vv_attention(block, x)
    output, error = _call(fn, block, x.clone())
    if error:
        recorder.add(name, False, f"Your function {error}.", points)
        return
    actual = _as_tensor(output)
    if actual is None:
        recorder.add(name, False, f"Return a torch.Tensor; got {type(output).__name__}.", points)
        return
    if actual.shape != expected.shape:
        batch, length, width = x.shape
        heads = block.attn.num_heads
        hint = ""
        if actual.shape == (batch, heads, length, width // heads):
            hint = " That is one output per head: merge them with .transpose(1, 2).reshape(B, L, W), then apply out_proj."
        elif actual.shape == (length, batch, width):
            hint = " That is sequence-first; open_clip blocks are batch-first (B, L, W)."
        recorder.add(name, False, f"Expected shape {tuple(expected.shape)} = (batch, tokens, width); got {tuple(actual.shape)}.{hint}", points)
        return
    if _close(actual, expected):
        recorder.add(name, True, points=points)
        return
    mistake = _match_mistake(actual, _vv_mistakes(block, x))
    error_size = float((actual - expected).abs().max())
    recorder.add(name, False, mistake or f"Your output differs from V-V attention by up to {error_size:.3g} (no typical mistake matches; print both for one token and compare).", points)


def check_vv_attention(student_fn: Callable, forbid_reference: bool = False) -> CheckResult:
    """Check ``student_fn(block, x) -> Tensor`` against the package's V-V attention (assignment a1).

    ``block`` is an open_clip ``ResidualAttentionBlock``; ``x`` (B, L, W) is the residual stream
    entering it. The expected output is the block's V-V attention, projected but not added to
    anything: ``out_proj(concat_h softmax(v_h v_hᵀ / √d) v_h)`` with ``v = W_v · ln_1(x) + b_v``.
    """
    recorder = _Recorder(
        "a1", "V-V attention for one block",
        "Replace `raise NotImplementedError` in vv_attention(block, x) with your code, then run this cell again.",
        total=7.0 + forbid_reference,
    )
    block, x = _random_block(32, 4, seed=11), _random_tokens(2, 10, 32, seed=12)
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
        block.load_state_dict(state)
        _vv_case(recorder, student_fn, block, x, "matches V-V attention on a random block (width 32, 4 heads)", 3.0)
        _vv_case(recorder, student_fn, _random_block(24, 2, seed=21), _random_tokens(1, 5, 24, seed=22),
                 "works for another width, head count and batch size (width 24, 2 heads, batch 1)", 2.0)
        if forbid_reference:
            _reference_check(recorder, student_fn, "anoclip.encoder", ("qkv", "attend", "attention_weights", "out_project", "encode", "_reference_vv_attention", "_vv_variant"),
                             ("anoclip.encoder", "encoder.qkv", "encoder.attend", "encoder.attention_weights", "encoder.out_project", "exercises."))
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
