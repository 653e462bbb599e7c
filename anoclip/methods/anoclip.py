"""AnoCLIP itself (``deng2023anovl``): the V-V patch tokens of the dual path from the first block.

With ``ori_l`` the vanilla residual stream after block ``l`` (``ori_{-1}`` the ``ln_pre`` output)::

    vv       = ori_{-1} + Σ_{l=0}^{L-1} out_proj_l( softmax(v_l v_lᵀ / √d) v_l )     (B, 1+N, W)
    v_l      = W_v,l · ln_1,l(ori_{l-1}) + b_v,l, per head                          (B, H, 1+N, d)
    patches  = ln_post(vv[:, 1:]) @ proj                                            (B, N, D)

The official code runs the V-V path in every block (spec §2.1); the CLS token stays vanilla.
For another start block use ``vv`` (``get_method("vv", start=s)``).
"""
from __future__ import annotations

from dataclasses import dataclass

from open_clip.transformer import VisionTransformer

from .base import MethodInfo, register
from .dual_path import DualPathLocalizer


@register
@dataclass(frozen=True)
class AnoCLIPLocalizer(DualPathLocalizer):
    info = MethodInfo(
        name="anoclip",
        title="AnoCLIP (Deng et al., 2023; first titled AnoVL)",
        paper="deng2023anovl",
        changes="Adds a value-wise (v-v) attention path from the first block (no MLP on it) and "
        "compares its final patch tokens with domain-aware state-prompt prototypes.",
    )

    def vv_start(self, visual: VisionTransformer) -> int:
        return 0
