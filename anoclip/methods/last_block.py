"""What MaskCLIP, SCLIP and ClearCLIP share: CLIP untouched up to its last block, then a new one.

These three dense-CLIP tricks (and CLIP's own patch tokens) differ only in how the *last* block
turns the stream that enters it, ``x`` (B, 1+N, W), into patch tokens. With H heads of width
d = W / H and the block's own weights::

    h        = ln_1(x)                                    (B, 1+N, W)
    q, k, v  = split_heads(in_proj(h))                    (B, H, 1+N, d) each
    A        = the method's attention                     (B, H, 1+N, 1+N)
                 "q-k"      softmax(q kᵀ / √d)            vanilla CLIP
                 "identity" I (each token sees itself)    MaskCLIP: A v = v
                 "q-q"      softmax(q qᵀ / √d)            ClearCLIP
                 "q-q+k-k"  softmax(q qᵀ/√d) + softmax(k kᵀ/√d)   SCLIP (rows sum to 2)
    a        = ls_1(out_proj(merge_heads(A v)))           (B, 1+N, W)
    y        = a + x                       if residual else a
    y        = y + ls_2(mlp(ln_2(y)))      if ffn      else y
    patches  = ln_post(y[:, 1:]) @ proj                   (B, N, D)

The CLS embedding returned next to the patches is vanilla CLIP's (the unmodified last block),
so image scores stay those of every other method. ``ls_1``/``ls_2`` are LayerScale, the identity
in CLIP models; they are applied where the vanilla block applies them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from open_clip.transformer import VisionTransformer
from torch import Tensor

from ..encoder import ImageEncoding, attend, embed, grid_size, out_project, project, qkv
from .base import Localizer

LAST_BLOCK_ATTENTIONS = ("q-k", "identity", "q-q", "q-q+k-k")


def mix_values(attention: str, queries: Tensor, keys: Tensor, values: Tensor) -> Tensor:
    """``A v`` for one of :data:`LAST_BLOCK_ATTENTIONS`: (B, H, L, d)."""
    if attention == "q-k":
        return attend(queries, keys, values)
    if attention == "identity":
        return values
    if attention == "q-q":
        return attend(queries, queries, values)
    if attention == "q-q+k-k":
        return attend(queries, queries, values) + attend(keys, keys, values)
    raise ValueError(f"Unknown last-block attention {attention!r}; choose one of {LAST_BLOCK_ATTENTIONS}.")


def encode_last_block(
    visual: VisionTransformer, images: Tensor, attention: str, residual: bool, ffn: bool
) -> ImageEncoding:
    """Vanilla blocks 0..L-2, then the modified last block of the module docstring.

    Args:
        visual: ``clip.visual``, read only.
        images: (B, 3, S, S) preprocessed images.
        attention: one of :data:`LAST_BLOCK_ATTENTIONS`.
        residual: add the block's input back to the attention output.
        ffn: apply the block's MLP (with its own residual) after that.
    Returns:
        ``cls`` (B, D) of vanilla CLIP and the modified ``patches`` (B, N, D).
    """
    if attention not in LAST_BLOCK_ATTENTIONS:
        raise ValueError(f"Unknown last-block attention {attention!r}; choose one of {LAST_BLOCK_ATTENTIONS}.")
    *early, last = visual.transformer.resblocks
    x = embed(visual, images)
    for block in early:
        x = block(x)
    cls = project(visual, last(x)[:, 0])
    queries, keys, values = qkv(last, last.ln_1(x))
    y = last.ls_1(out_project(last, mix_values(attention, queries, keys, values)))
    if residual:
        y = x + y
    if ffn:
        y = y + last.ls_2(last.mlp(last.ln_2(y)))
    return ImageEncoding(cls=cls, patches=project(visual, y[:, 1:]), grid=grid_size(visual))


@dataclass(frozen=True)
class LastBlockLocalizer(Localizer):
    """A localizer defined by (attention, residual, ffn) in the last block; see the module doc.

    Subclasses set ``attention`` and give ``residual`` and ``ffn`` their paper's defaults; both
    are options (``get_method("sclip", residual=False)``) for the ablations ClearCLIP made
    popular.
    """

    attention: ClassVar[str]
    residual: bool = True
    ffn: bool = True

    def encode(self, visual: VisionTransformer, images: Tensor) -> ImageEncoding:
        return encode_last_block(visual, images, self.attention, self.residual, self.ffn)
