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

Fixes relative to the official code (spec §12): the optimiser state is reset with the adapter
for every image (the official AdamW moments leaked from one image to the next), and every image
starts from the same seeded initialisation and sees the same seeded noise, so an image's result
depends only on the image, the config and the seed — not on its batch, its position in the batch
or the images before it. The images of a batch are adapted in parallel as independent adapters:
weights carry a batch dimension, the loss is a *sum* of per-image losses, and AdamW acts
elementwise, so one optimiser step updates every adapter exactly as if it were alone.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import TTAConfig
from .scoring import state_probabilities

__all__ = ["LossFn", "TTAConfig", "TTAResult", "adapt_tokens", "num_trainable_parameters", "per_image_loss"]

LossFn = Callable[[Tensor, Tensor, TTAConfig], Tensor]


@dataclass
class TTAResult:
    """Adapted tokens (B, N, D) and, per image, the loss before each step (B, steps)."""

    tokens: Tensor
    losses: Tensor


def num_trainable_parameters(config: TTAConfig, dim: int, prompts: int) -> int:
    """Trainable parameters of ONE image's adapter (``prompts`` = 2K sentences for "text")."""
    outputs = prompts if config.adapter == "text" else dim
    return outputs * dim + outputs


@functools.lru_cache(maxsize=8)
def _seeded_draws(seed: int, steps: int, dim: int, outputs: int, patches: int, device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Initial adapter weights and the noise of every step, identical for every image.

    Weights follow PyTorch's default nn.Linear init, U(±1/√D). Everything is drawn from seeded
    CPU generators (so CPU and GPU runs see the same numbers) once per setting and cached on
    the device: the random draws stay out of the per-batch hot path.
    """
    generator = torch.Generator().manual_seed(seed)
    bound = 1.0 / math.sqrt(dim)
    weight = (torch.rand(outputs, dim, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(outputs, generator=generator) * 2 - 1) * bound
    noise = torch.randn(steps, patches, dim, generator=torch.Generator().manual_seed(seed + 1))
    return weight.to(device), bias.to(device), noise.to(device)


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
) -> TTAResult:
    """Adapt the patch tokens of every image of a batch with its own fresh adapter.

    Args:
        tokens: (B, N, D) projected patch tokens (not normalised), e.g. ``encode_image().patches``.
        prototypes: (2, D) unit text prototypes (normal, abnormal).
        prompt_bank: (2K, D) individually normalised sentence embeddings, normal then abnormal
            (used by the "text" adapter).
        config: hyper-parameters; ``config.seed`` fixes initialisation and noise.
        temperature: the pipeline's softmax temperature.
        loss_fn: replaces :func:`per_image_loss`; called as ``loss_fn(clean, noisy, config)``
            with (B, L, 2) probabilities and must return the (B,) per-image losses.
    Returns:
        The adapted tokens (no noise) and the per-step losses. CLIP is not involved: gradients
        flow only into the adapters' weights.
    """
    loss_fn = loss_fn or per_image_loss
    # Tokens from an inference_mode forward cannot enter autograd; clone them into normal tensors.
    tokens = tokens.detach().float().clone()
    prototypes = prototypes.detach().float().clone()
    batch, patches, dim = tokens.shape
    bank = prompt_bank.detach().float().clone() if config.adapter == "text" else None
    outputs = bank.shape[0] if bank is not None else dim
    weight0, bias0, noise = _seeded_draws(config.seed, config.steps, dim, outputs, patches, tokens.device)
    weight = weight0.expand(batch, -1, -1).clone().requires_grad_(True)
    bias = bias0.expand(batch, -1).clone().requires_grad_(True)
    optimiser = torch.optim.AdamW(
        [weight, bias], lr=config.lr, weight_decay=config.weight_decay, fused=tokens.device.type == "cuda"
    )
    losses = torch.zeros(batch, config.steps, device=tokens.device)
    with torch.enable_grad():
        for step in range(config.steps):
            both = torch.cat([tokens, tokens + noise[step] * config.noise_std], dim=1)  # (B, 2N, D)
            probabilities = state_probabilities(_adapt(both, weight, bias, bank, config.residual), prototypes, temperature)
            per_image = loss_fn(probabilities[:, :patches], probabilities[:, patches:], config)
            optimiser.zero_grad(set_to_none=True)
            per_image.sum().backward()
            optimiser.step()
            losses[:, step] = per_image.detach()
    with torch.no_grad():
        adapted = _adapt(tokens, weight, bias, bank, config.residual)
    return TTAResult(tokens=adapted, losses=losses.cpu())
