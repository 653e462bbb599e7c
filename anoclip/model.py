"""``AnoCLIP``: a frozen open_clip model plus the zero-shot anomaly localization pipeline.

Read top to bottom, this file is the method::

    preprocess   images → (B, 3, S, S), square resize + CLIP normalisation
    encode_image dual-path forward → CLS (B, D) and V-V patch tokens (B, N, D)
    text_prototypes  prompt ensemble → (2, D) unit vectors (normal, abnormal), cached per class
    predict      patch tokens (→ optional TTA) → patch scores → smoothed, upsampled anomaly maps;
                 CLS over 22 views → image scores

The open_clip model is only read: ``model.clip.encode_image`` is still vanilla CLIP.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import encoder as dual_path
from . import prompts as prompt_lib
from . import scoring
from .backbone import DEFAULT_MODEL, DEFAULT_PRETRAINED, TINY_MODEL, load_clip
from .env import smoke_mode
from .config import AnoCLIPConfig
from .data.images import read_rgb, to_rgb
from .protocol import normalize
from .tta import LossFn, TTAConfig, adapt_tokens

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
_VIEW_CHUNK = 64  # augmented views encoded per forward pass


@dataclass
class TextBank:
    """A class's text side: prototypes (2, D) and the individual unit sentence embeddings."""

    prototypes: Tensor
    sentences: Tensor  # (2K, D): K normal then K abnormal, each L2-normalised
    normal_count: int


@dataclass
class Prediction:
    """Outputs of :meth:`AnoCLIP.predict` (tensors on the model's device).

    Attributes:
        anomaly_maps: (B, S, S) in [0, 1] at the model's input resolution.
        patch_scores: (B, h, w) abnormal probability per patch, before smoothing.
        image_scores: (B,) image-level abnormal probability.
        method: the localizer that produced the patch scores.
        tta_losses: (B, steps) TTA loss per step when TTA ran, else None.
        patch_scores_before_tta: (B, h, w) zero-shot patch scores when TTA ran, else None.
        anomaly_maps_before_tta: (B, S, S) zero-shot anomaly maps when TTA ran, else None.
    """

    anomaly_maps: Tensor
    patch_scores: Tensor
    image_scores: Tensor
    class_name: str
    method: str = "anoclip"
    tta_losses: Optional[Tensor] = None
    patch_scores_before_tta: Optional[Tensor] = None
    anomaly_maps_before_tta: Optional[Tensor] = None


class AnoCLIP:
    """Zero-shot anomaly localization with a frozen CLIP (see the module docstring)."""

    def __init__(
        self,
        clip: torch.nn.Module,
        tokenizer,
        image_size: int,
        config: Optional[AnoCLIPConfig] = None,
        *,
        name: str = "custom",
        pretrained: Optional[str] = None,
        random_weights: bool = False,
        _text_cache: Optional[Dict[tuple, TextBank]] = None,
    ) -> None:
        dual_path.check_supported(clip.visual)
        self.clip = clip
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.config = config or AnoCLIPConfig()
        self.name = name
        self.pretrained = pretrained
        self.random_weights = random_weights
        blocks = len(clip.visual.transformer.resblocks)
        if self.config.vv_start >= blocks:
            raise ValueError(f"config.vv_start={self.config.vv_start} but {name} has only {blocks} blocks.")
        self._text_cache: Dict[tuple, TextBank] = {} if _text_cache is None else _text_cache

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls,
        name: str = DEFAULT_MODEL,
        pretrained: Optional[str] = DEFAULT_PRETRAINED,
        image_size: Optional[int] = None,
        device: Union[str, torch.device, None] = None,
        config: Optional[AnoCLIPConfig] = None,
        cache_dir: Optional[str] = None,
    ) -> "AnoCLIP":
        """Load an open_clip ViT and wrap it.

        Args:
            name: open_clip architecture, or ``"anoclip-tiny"`` (small random CLIP for tests).
            pretrained: open_clip tag (``"laion400m_e32"``), a local checkpoint file, or
                ``None`` to explicitly ask for random weights.
            image_size: input side; ``None`` = the architecture's native size (240 for the
                default ViT-B-16-plus-240). Other sizes interpolate the positional embedding.
            device: ``None`` picks CUDA when available.
            config: pipeline switches; ``None`` = faithful defaults.

        With ``ANOCLIP_SMOKE=1`` in the environment the tiny random model is returned whatever
        the arguments, with a warning: smoke mode exists for CI and offline machines only.
        """
        if smoke_mode() and name != TINY_MODEL:
            warnings.warn(
                f"ANOCLIP_SMOKE=1: using the tiny RANDOM model instead of {name}/{pretrained}. "
                "Maps and numbers are not meaningful.",
                stacklevel=2,
            )
            name, pretrained, image_size = TINY_MODEL, None, None
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        loaded = load_clip(name, pretrained, image_size=image_size, device=device, cache_dir=cache_dir)
        return cls(
            loaded.clip, loaded.tokenizer, loaded.image_size, config,
            name=name, pretrained=pretrained, random_weights=loaded.random_weights,
        )

    def with_config(self, config: Optional[AnoCLIPConfig] = None, **changes) -> "AnoCLIP":
        """The same CLIP (shared, not copied) with another config — for ablations.

        Text prototypes computed so far are shared too: their cache key includes every
        config field that affects them.
        """
        new_config = (config or self.config).replace(**changes) if changes else (config or self.config)
        return AnoCLIP(
            self.clip, self.tokenizer, self.image_size, new_config,
            name=self.name, pretrained=self.pretrained, random_weights=self.random_weights,
            _text_cache=self._text_cache,
        )

    @property
    def device(self) -> torch.device:
        return next(self.clip.parameters()).device

    @property
    def grid(self) -> Tuple[int, int]:
        return dual_path.grid_size(self.clip.visual)

    @property
    def embed_dim(self) -> int:
        return int(self.clip.visual.output_dim)

    def describe(self) -> Dict[str, object]:
        """What produced a result: architecture, weights, input size, config."""
        return {
            "model": self.name,
            "pretrained": self.pretrained,
            "random_weights": self.random_weights,
            "image_size": self.image_size,
            "config": self.config.to_dict(),
        }

    # ---------------------------------------------------------------- images
    def preprocess(self, images: Union[ImageInput, Sequence[ImageInput]]) -> Tensor:
        """Images → (B, 3, S, S) float tensor on the model's device.

        Faithful preprocessing: bilinear resize of the whole image to S×S (no crop, aspect
        ratio not kept), then the OpenAI CLIP mean/std. Accepts a path, a PIL image, a numpy
        array (H,W[,C], uint8/uint16/float) or a list of them; grayscale, RGBA, palette and
        16-bit images are converted to 8-bit RGB; an unreadable file raises ``ImageReadError``
        naming it.
        """
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        if not items:
            raise ValueError("preprocess() got no images.")
        batch = []
        for item in items:
            rgb = read_rgb(item) if isinstance(item, (str, os.PathLike)) else to_rgb(item)
            batch.append(normalize(rgb.resize((self.image_size, self.image_size), Image.BILINEAR)))
        return torch.stack(batch).to(self.device)

    def _as_batch(self, images: Union[Tensor, ImageInput, Sequence[ImageInput]]) -> Tensor:
        if isinstance(images, Tensor):
            if images.ndim == 3:
                images = images.unsqueeze(0)
            expected = (3, self.image_size, self.image_size)
            if images.ndim != 4 or tuple(images.shape[1:]) != expected:
                raise ValueError(
                    f"Expected preprocessed images of shape (B, {expected[0]}, {expected[1]}, {expected[2]}), "
                    f"got {tuple(images.shape)}. Use model.preprocess(...) first."
                )
            return images.to(self.device)
        return self.preprocess(images)

    def autocast(self):
        """Autocast context for the configured precision (bf16/fp16 on CUDA only; else a no-op)."""
        if self.config.amp is None or self.device.type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    # ---------------------------------------------------------------- encoders
    def encode_image(self, images: Union[Tensor, ImageInput, Sequence[ImageInput]], taps: bool = False) -> dual_path.ImageEncoding:
        """Dual-path encoding: ``.cls`` (B, D) = ``clip.encode_image``, ``.patches`` (B, N, D).

        ``taps=True`` also returns per-block tokens and attention maps of both paths.
        """
        x = self._as_batch(images)
        with torch.inference_mode(), self.autocast():
            encoding = dual_path.encode(
                self.clip.visual, x, vv=self.config.vv, vv_start=self.config.vv_start, taps=taps
            )
        encoding.cls, encoding.patches = encoding.cls.float(), encoding.patches.float()
        return encoding

    def _text_key(self, class_name: str) -> tuple:
        c = self.config
        return (class_name, c.prompts, c.ensemble, c.clean_names, class_name in c.texture_classes)

    def text_bank(self, class_name: str) -> TextBank:
        """Prototypes and sentence embeddings of a class; computed once per prompt setting."""
        key = self._text_key(class_name)
        if key not in self._text_cache:
            normal, abnormal = prompt_lib.build_sentences(
                class_name, self.config.prompts, texture=key[-1], clean_names=self.config.clean_names
            )
            with torch.inference_mode():
                raw = prompt_lib.encode_sentences(self.clip, self.tokenizer, normal + abnormal)
            raw_normal, raw_abnormal = raw[: len(normal)], raw[len(normal):]
            prototypes = torch.stack([
                prompt_lib.ensemble(raw_normal, self.config.ensemble),
                prompt_lib.ensemble(raw_abnormal, self.config.ensemble),
            ])
            self._text_cache[key] = TextBank(prototypes, F.normalize(raw, dim=-1), len(normal))
        return self._text_cache[key]

    def text_prototypes(self, class_name: str) -> Tensor:
        """(2, D) unit vectors: row 0 normal, row 1 abnormal. Cached per class."""
        return self.text_bank(class_name).prototypes

    # ---------------------------------------------------------------- scores
    def image_scores(self, images: Union[Tensor, ImageInput, Sequence[ImageInput]], class_name: str, cls: Optional[Tensor] = None) -> Tensor:
        """(B,) abnormal probability of each image from the CLS token, averaged over views.

        ``cls`` may pass the un-augmented CLS embedding already computed (saves a forward when
        ``image_views == 1``).
        """
        prototypes = self.text_prototypes(class_name)
        if self.config.image_views == 1 and cls is not None:
            return scoring.image_scores(cls.unsqueeze(0), prototypes, self.config.temperature)
        x = self._as_batch(images)
        with torch.inference_mode(), self.autocast():
            views = scoring.augment_views(x, self.config.image_views)  # (V, B, 3, S, S)
            # Only the original (q-k) path matters for CLS, so plain CLIP encodes the views,
            # in chunks so that 22 views of a large batch do not all sit in memory at once.
            flat = torch.cat([self.clip.encode_image(chunk).float() for chunk in views.flatten(0, 1).split(_VIEW_CHUNK)])
        cls_views = flat.view(views.shape[0], views.shape[1], -1)
        return scoring.image_scores(cls_views, prototypes, self.config.temperature)

    def patch_scores(self, tokens: Tensor, prototypes: Tensor) -> Tensor:
        """(B, N, D) patch tokens → (B, h, w) abnormal probabilities at the configured temperature."""
        return scoring.to_grid(scoring.abnormal_probability(tokens, prototypes, self.config.temperature), self.grid)

    def anomaly_maps(self, patch_scores: Tensor) -> Tensor:
        """(B, h, w) patch scores → (B, S, S) maps in [0, 1], with the configured smoothing."""
        size = (self.image_size, self.image_size)
        return scoring.anomaly_maps(patch_scores, size, self.config.smoothing, self.config.sigma).clamp(0.0, 1.0)

    def _adapt(
        self, tokens: Tensor, bank: TextBank, config: TTAConfig, tiles_per_image: int, loss_fn: Optional[LossFn]
    ) -> Tuple[Tensor, Tensor]:
        """Test-time adapted tokens (B, N, D) and the per-image losses; one adapter per image,
        shared by its ``tiles_per_image`` consecutive tiles."""
        batch, patches, dim = tokens.shape
        if batch % tiles_per_image:
            raise ValueError(f"{batch} inputs do not split into images of {tiles_per_image} tiles.")
        grouped = tokens.reshape(batch // tiles_per_image, tiles_per_image * patches, dim)
        result = adapt_tokens(grouped, bank.prototypes, bank.sentences, config, self.config.temperature, loss_fn)
        return result.tokens.reshape(batch, patches, dim), result.losses

    def predict(
        self,
        images: Union[Tensor, ImageInput, Sequence[ImageInput]],
        class_name: str,
        tta: Union[bool, TTAConfig] = False,
        method: str = "anoclip",
        tiles_per_image: int = 1,
        method_options: Optional[Dict[str, object]] = None,
        tta_loss: Optional[LossFn] = None,
    ) -> Prediction:
        """Anomaly maps, patch scores and image scores for a batch of one class.

        Args:
            images: preprocessed (B, 3, S, S) tensor, or anything :meth:`preprocess` accepts.
            class_name: the category name used in the prompts (e.g. "bottle").
            tta: False, True (official MVTec TTA settings) or a :class:`TTAConfig`.
            method: localizer name from :mod:`anoclip.methods` (default "anoclip").
            tiles_per_image: consecutive groups of this many inputs are tiles of one image
                (VisA protocol): TTA then trains one adapter per image on all its tiles' tokens.
            method_options: constructor options of the method, e.g. ``{"start": 6}`` for "vv".
            tta_loss: replaces the TTA loss (see :func:`anoclip.tta.adapt_tokens`), e.g. to try a
                new loss term; ``None`` = the official loss.
        """
        from .methods import get_method  # the registry imports this module

        x = self._as_batch(images)
        localizer = get_method(method, **(method_options or {}))
        model = self.with_config(**localizer.config_overrides) if localizer.config_overrides else self
        bank = model.text_bank(class_name)
        tta_config = TTAConfig() if tta is True else (tta or None)
        losses = before = None
        if tta_config is None:
            local = localizer.score_patches(model, x, bank.prototypes)
            patch_scores, cls = local.patch_scores, local.cls
        else:
            encoding = localizer.local_tokens(model, x)
            if encoding is None:
                raise ValueError(f"Method {method!r} has no patch tokens to adapt; TTA needs a token-based method.")
            cls = encoding.cls
            before = model.patch_scores(encoding.patches, bank.prototypes)
            adapted, losses = model._adapt(encoding.patches, bank, tta_config, tiles_per_image, tta_loss)
            patch_scores = model.patch_scores(adapted, bank.prototypes)
        return Prediction(
            anomaly_maps=model.anomaly_maps(patch_scores),
            patch_scores=patch_scores,
            image_scores=model.image_scores(x, class_name, cls=cls),
            class_name=class_name,
            method=method,
            tta_losses=losses,
            patch_scores_before_tta=before,
            anomaly_maps_before_tta=None if before is None else model.anomaly_maps(before),
        )
