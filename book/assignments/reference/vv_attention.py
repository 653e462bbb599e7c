"""Assignment a1's reference: V-V attention written out head by head, with switches that
reproduce the typical mistakes. Not part of the pip package: the autograder bundle carries it
for the hidden tests, and ``fingerprints.py`` turns it into the public checker's stored summaries.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def vv_variant(
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
    """V-V attention of one open_clip block; the defaults give the right answer.

    out_proj(concat_h softmax(v_h v_hᵀ / √d) v_h) with v = W_v · ln_1(x) + b_v and d the width of
    one head. Each switch reproduces one mistake (see :func:`variants`).
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


def vv_attention(block: torch.nn.Module, x: Tensor) -> Tensor:
    """The reference answer."""
    return vv_variant(block, x)


def variants(block: torch.nn.Module) -> Dict[str, dict]:
    """The typical mistakes for this block, by the ids the public checker's messages use."""
    width, heads = block.attn.in_proj_weight.shape[1], block.attn.num_heads  # open_clip 4's attention has no embed_dim
    cases = {
        "no-scale": dict(scale=None), "width-scale": dict(scale="width"), "no-ln": dict(layer_norm=False),
        "qk": dict(source="qk"), "queries": dict(source="q"), "keys": dict(source="k"), "softmax-axis": dict(softmax_dim=-2),
        "one-head": dict(split_heads=False), "no-transpose": dict(merge="reshape"), "no-out-proj": dict(out_proj=False),
        "no-in-bias": dict(in_bias=False), "residual": dict(residual=True),
    }
    if heads != 4:
        cases["heads-4"] = dict(heads=4)
    if width % 8 == 0 and width // 8 not in (heads, 4):
        cases["head-width-8"] = dict(heads=width // 8)
    return cases
