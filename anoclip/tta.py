"""Test-time adaptation (AnoCLIP+): a small adapter trained per image on its own predictions.

For each image, an adapter re-projects the final patch tokens ``z`` before they meet the text
prototypes. It is trained for a few AdamW steps on two kinds of self-made supervision:

* clean tokens should look *normal* and be *confident* (cross-entropy to "normal" plus the
  entropy of the prediction), and
* Gaussian-noise-corrupted copies ``z + ε`` should look *abnormal*
  (cross-entropy to "abnormal") — noise plays the role of a synthetic anomaly.

Per image and averaged over patches, with P0 = p(clean), P1 = p(noisy)::

    L = w_ent · H(P0) + w_ce · ( -log P1[abnormal] - log P0[normal] )

Adapters (``TTAConfig.adapter``), with x̂ = x / ‖x‖:

* ``"text"`` (official MVTec): ``x' = ½ x + ½ tanh(W x̂ + b) E``, E the (2K, D) individually
  normalised prompt embeddings, W ∈ R^{2K×D}: the token is re-expressed as a mix of prompts.
* ``"linear"`` (official VisA): ``x' = ½ x + ½ (W x̂ + b)``, W ∈ R^{D×D}.

Random draws (``TTAConfig.draws``): the official code draws each image's adapter and noise from
the global generator, so a result depends on the images before it; here each image's draw is
seeded by the config's seed and a digest of the image (``"per-image"``, faithful), so it depends
only on the image, the config and the seed; ``"shared"`` gives every image the same draw.

Fixes relative to the official code (see ``book/provenance.md``): the optimiser state is reset
with the adapter for every image (the official AdamW moments leaked from image to image). The
images of a batch are adapted in parallel as independent adapters: weights carry a batch
dimension, the loss is a *sum* of per-image losses and AdamW acts elementwise, so one step
updates every adapter exactly as if it were alone (batched products round differently for
other batch sizes: about 1e-6 in a probability, against a TTA effect of about 1e-2).

Tiled images (the VisA protocol) train one adapter on all their tiles, with the loss on the
merged, upsampled pixel logits as the official VisA code (``tile_loss="merged-pixels"``) or on
the tiles' patch tokens (``"tokens"``).
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import TTAConfig
from .scoring import state_logits

__all__ = [
    "LogitView", "LossFn", "TTAConfig", "TTAResult", "adapt_tokens", "image_seed", "num_trainable_parameters",
    "per_image_loss",
]

LossFn = Callable[[Tensor, Tensor, TTAConfig], Tensor]
LogitView = Callable[[Tensor], Tensor]


@dataclass
class TTAResult:
    """Adapted tokens (B, N, D) and, per image, the loss before each step (B, steps)."""

    tokens: Tensor
    losses: Tensor


def num_trainable_parameters(config: TTAConfig, dim: int, prompts: int) -> int:
    """Trainable parameters of ONE image's adapter (``prompts`` = 2K sentences for "text")."""
    outputs = prompts if config.adapter == "text" else dim
    return outputs * dim + outputs


def image_seed(seed: int, image: Tensor) -> int:
    """A 63-bit seed from ``seed`` and the bytes of one image (all its tiles): its own draw."""
    digest = hashlib.blake2b(str(seed).encode(), digest_size=8)
    digest.update(image.detach().float().contiguous().cpu().numpy().tobytes())
    return int.from_bytes(digest.digest(), "little") >> 1


def _draw(generator: torch.Generator, steps: int, dim: int, outputs: int, patches: int, device: torch.device):
    """One adapter initialisation, PyTorch's nn.Linear default U(±1/√D), and every step's noise."""
    bound = 1.0 / math.sqrt(dim)
    weight = (torch.rand(outputs, dim, generator=generator, device=device) * 2 - 1) * bound
    bias = (torch.rand(outputs, generator=generator, device=device) * 2 - 1) * bound
    noise = torch.randn(steps, patches, dim, generator=generator, device=device)
    return weight, bias, noise


@functools.lru_cache(maxsize=8)
def _shared_draw(seed: int, steps: int, dim: int, outputs: int, patches: int, device: torch.device):
    """The ``draws="shared"`` draw, from a seeded CPU generator (the same numbers on every
    device), cached on the device so that it stays out of the per-batch hot path."""
    weight, bias, noise = _draw(torch.Generator().manual_seed(seed), steps, dim, outputs, patches, torch.device("cpu"))
    return weight.to(device), bias.to(device), noise.to(device)


def _initial_state(
    config: TTAConfig, seeds: Sequence[int], dim: int, outputs: int, patches: int, device: torch.device
) -> Tuple[Tensor, Tensor, Tensor]:
    """Initial weights (B, O, D), biases (B, O) and noise (steps, B, L, D) of B adapters.

    Per-image draws come from a generator on the tokens' device (fast on a GPU), so a seed gives
    the same numbers on every run of one device type; CPU and CUDA draw different numbers.
    """
    if config.draws == "shared":
        weight, bias, noise = _shared_draw(config.seed, config.steps, dim, outputs, patches, device)
        batch = len(seeds)
        return weight.expand(batch, -1, -1).clone(), bias.expand(batch, -1).clone(), noise.unsqueeze(1).expand(-1, batch, -1, -1)
    draws = [_draw(torch.Generator(device=device).manual_seed(s), config.steps, dim, outputs, patches, device) for s in seeds]
    weight, bias, noise = (torch.stack(parts, dim=index) for index, parts in zip((0, 0, 1), zip(*draws)))
    return weight, bias, noise


def _adapt(tokens: Tensor, weight: Tensor, bias: Tensor, prompt_bank: Optional[Tensor], residual: float) -> Tensor:
    """Apply B independent adapters: tokens (B, L, D), weight (B, O, D), bias (B, O)."""
    affinity = torch.baddbmm(bias.unsqueeze(1), F.normalize(tokens, dim=-1), weight.transpose(1, 2))
    update = torch.tanh(affinity) @ prompt_bank if prompt_bank is not None else affinity
    return residual * tokens + (1.0 - residual) * update


def per_image_loss(clean: Tensor, noisy: Tensor, config: TTAConfig) -> Tensor:
    """(B,) loss of each image, averaged over its patches (the official loss; see the module doc).

    ``clean`` and ``noisy`` are (B, L, 2) probabilities (normal, abnormal). Any function with this
    signature can replace it in :func:`adapt_tokens` (``loss_fn``), e.g. to add a loss term.
    """
    log_clean = clean.clamp_min(1e-12).log()
    entropy = -(clean * log_clean).sum(dim=-1).mean(dim=1)
    clean_to_normal = -log_clean[..., 0].mean(dim=1)
    noisy_to_abnormal = -noisy[..., 1].clamp_min(1e-12).log().mean(dim=1)
    return config.entropy_weight * entropy + config.contrast_weight * (noisy_to_abnormal + clean_to_normal)


def adapt_tokens(
    tokens: Tensor,
    prototypes: Tensor,
    prompt_bank: Tensor,
    config: TTAConfig,
    temperature: float = 1.0,
    loss_fn: Optional[LossFn] = None,
    *,
    seeds: Optional[Sequence[int]] = None,
    loss_view: Optional[LogitView] = None,
) -> TTAResult:
    """Adapt the patch tokens of every image of a batch with its own fresh adapter.

    Args:
        tokens: (B, N, D) projected patch tokens (not normalised), e.g. ``encode_image().patches``;
            an image's N tokens may be those of several tiles.
        prototypes: (2, D) unit text prototypes (normal, abnormal).
        prompt_bank: (2K, D) individually normalised sentence embeddings, normal then abnormal
            (used by the "text" adapter).
        config: hyper-parameters; ``config.seed`` (with ``seeds``) fixes initialisation and noise.
        temperature: the pipeline's softmax temperature.
        loss_fn: replaces :func:`per_image_loss`; called as ``loss_fn(clean, noisy, config)``
            with (B, L, 2) probabilities and must return the (B,) per-image losses.
        seeds: one seed per image for ``draws="per-image"``; :meth:`anoclip.AnoCLIP.predict`
            passes :func:`image_seed` of each input image. None: digests of the tokens.
        loss_view: maps (B, N, 2) logits to the (B, L, 2) logits the loss averages over (e.g.
            :meth:`anoclip.protocol.TileLayout.merged_logits`); None: the tokens themselves.
    Returns:
        The adapted tokens (no noise) and the per-step losses. CLIP is not involved: gradients
        flow only into the adapters' weights.
    """
    loss_fn = loss_fn or per_image_loss
    # Tokens from an inference_mode forward cannot enter autograd; clone them into normal tensors.
    tokens = tokens.detach().float().clone()
    prototypes = prototypes.detach().float().clone()
    batch, patches, dim = tokens.shape
    if seeds is None:
        seeds = [image_seed(config.seed, image) for image in tokens]
    if len(seeds) != batch:
        raise ValueError(f"adapt_tokens got {len(seeds)} seeds for {batch} images.")
    bank = prompt_bank.detach().float().clone() if config.adapter == "text" else None
    outputs = bank.shape[0] if bank is not None else dim
    weight, bias, noise = _initial_state(config, seeds, dim, outputs, patches, tokens.device)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimiser = torch.optim.AdamW(
        [weight, bias], lr=config.lr, weight_decay=config.weight_decay, fused=tokens.device.type == "cuda"
    )
    view = loss_view or (lambda logits: logits)
    losses = torch.zeros(batch, config.steps, device=tokens.device)
    with torch.enable_grad():
        for step in range(config.steps):
            both = torch.cat([tokens, tokens + noise[step] * config.noise_std], dim=1)  # (B, 2N, D)
            logits = state_logits(_adapt(both, weight, bias, bank, config.residual), prototypes, temperature)
            clean, noisy = (torch.softmax(view(part), dim=-1) for part in logits.split(patches, dim=1))
            per_image = loss_fn(clean, noisy, config)
            optimiser.zero_grad(set_to_none=True)
            per_image.sum().backward()
            optimiser.step()
            losses[:, step] = per_image.detach()
    with torch.no_grad():
        adapted = _adapt(tokens, weight, bias, bank, config.residual)
    return TTAResult(tokens=adapted, losses=losses.cpu())
