"""``AnoCLIP``: a frozen open_clip model plus the zero-shot anomaly localization pipeline.

Read top to bottom, :meth:`AnoCLIP.predict` is the method, one arrow of the design per line::

    images ─preprocess─▶ (B, 3, S, S)
           ─localizer.encode─▶ vanilla CLS (B, D) + patch tokens (B, N, D)   [the method]
    tokens ─[TTA adapter]─▶ tokens'
    tokens' · text prototypes ─softmax(T)─▶ patch scores (B, h, w) ─smooth, upsample─▶ maps (B, S, S)
    CLS (× 22 views) · prototypes ─softmax(T), mean─▶ image scores (B,)

The localizer (:mod:`anoclip.methods`) chooses the encoder; :class:`~anoclip.config.AnoCLIPConfig`
holds the text and scoring settings. The open_clip model is only read: ``model.clip`` stays a
working vanilla CLIP.
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, replace
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import prompts as prompt_lib
from . import scoring
from .backbone import DEFAULT_MODEL, DEFAULT_PRETRAINED, load_clip
from .cache import digest_of, load_tensors, save_tensors
from .config import AnoCLIPConfig, TTAConfig
from .data.images import read_rgb, to_rgb
from .fileio import remembered_sha256
from .encoder import ImageEncoding, check_supported, grid_size
from .memory import MemoryBank, fuse, memory_record
from .methods import DualPathLocalizer, Localizer, get_method
from .protocol import TileLayout, normalize
from .tta import LossFn, adapt_tokens, image_seed

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
Images = Union[Tensor, ImageInput, Sequence[ImageInput]]
Method = Union[str, Localizer]
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
        image_scores: (B,) image-level abnormal probability (None if not asked for).
        class_name: the category name used in the prompts.
        method: name of the localizer that produced the patch scores.
        config: the text and scoring settings used (the model's, plus the method's
            ``paper_config``).
        tta_losses: (B, steps) TTA loss per step when TTA ran, else None.
        patch_scores_before_tta: (B, h, w) zero-shot patch scores when TTA ran, else None.
        anomaly_maps_before_tta: (B, S, S) zero-shot anomaly maps when TTA ran, else None.
        memory_scores: (B, h, w) the memory's own patch scores when a memory was given, else None.
    """

    anomaly_maps: Tensor
    patch_scores: Tensor
    image_scores: Optional[Tensor]
    class_name: str
    method: str
    config: AnoCLIPConfig
    tta_losses: Optional[Tensor] = None
    patch_scores_before_tta: Optional[Tensor] = None
    anomaly_maps_before_tta: Optional[Tensor] = None
    memory_scores: Optional[Tensor] = None


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
        checkpoint: Optional[str] = None,
        _text_cache: Optional[Dict[tuple, TextBank]] = None,
    ) -> None:
        check_supported(clip.visual)
        self.clip = clip
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.config = config or AnoCLIPConfig()
        self.name = name
        self.pretrained = pretrained
        self.checkpoint = checkpoint  # the weights file; None = random weights
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
            config: text and scoring settings; ``None`` = faithful defaults.

        The model asked for is the model returned: nothing in the environment swaps it (smoke
        mode is the caller's choice: ``name="anoclip-tiny", pretrained=None``).
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        loaded = load_clip(name, pretrained, image_size=image_size, device=device, cache_dir=cache_dir)
        return cls(
            loaded.clip, loaded.tokenizer, loaded.image_size, config,
            name=name, pretrained=pretrained, checkpoint=loaded.checkpoint,
        )

    def with_config(self, config: Optional[AnoCLIPConfig] = None, **changes) -> "AnoCLIP":
        """The same CLIP (shared, not copied) with other text and scoring settings — for ablations.

        Text prototypes computed so far are shared too: their cache key is
        :meth:`AnoCLIPConfig.text_setting`, everything that affects them.
        """
        new_config = (config or self.config).replace(**changes)
        return AnoCLIP(
            self.clip, self.tokenizer, self.image_size, new_config,
            name=self.name, pretrained=self.pretrained, checkpoint=self.checkpoint,
            _text_cache=self._text_cache,
        )

    @property
    def random_weights(self) -> bool:
        return self.checkpoint is None

    @functools.cached_property
    def weights_sha256(self) -> Optional[str]:
        """SHA-256 of the checkpoint file (remembered across processes), None for random weights."""
        return None if self.checkpoint is None else remembered_sha256(self.checkpoint)

    def cache_key(self, **parts: object) -> Optional[str]:
        """Key of a disk-cache entry computed from these weights at this input size, or None
        when there is nothing to key it by (random weights are never cached on disk)."""
        if self.weights_sha256 is None:
            return None
        return digest_of({"model": self.name, "weights": self.weights_sha256, "image_size": self.image_size, **parts})

    @property
    def device(self) -> torch.device:
        return next(self.clip.parameters()).device

    @property
    def grid(self) -> Tuple[int, int]:
        return grid_size(self.clip.visual)

    @property
    def embed_dim(self) -> int:
        return int(self.clip.visual.output_dim)

    def describe(self) -> Dict[str, object]:
        """What produced a result: architecture, weights, input size, config."""
        return {
            "model": self.name,
            "pretrained": self.pretrained,
            "random_weights": self.random_weights,
            "weights_sha256": self.weights_sha256,
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
        for index, item in enumerate(items):
            try:
                rgb = read_rgb(item) if isinstance(item, (str, os.PathLike)) else to_rgb(item)
            except ValueError as err:  # a path names itself; an array is named by its place
                raise ValueError(f"Image {index} of {len(items)}: {err}") from err
            batch.append(normalize(rgb.resize((self.image_size, self.image_size), Image.BILINEAR)))
        return torch.stack(batch).to(self.device)

    def _as_batch(self, images: Images) -> Tensor:
        """A checked (B, 3, S, S) float32 batch on the model's device, from a tensor, a list of
        (3, S, S) tensors, or anything :meth:`preprocess` reads."""
        if isinstance(images, (list, tuple)) and images and all(isinstance(item, Tensor) for item in images):
            shapes = {tuple(item.shape) for item in images}
            if len(shapes) != 1:
                raise ValueError(f"The tensors of the list have different shapes {sorted(shapes)}; preprocess them to one size.")
            images = torch.stack([item if item.ndim == 3 else item.squeeze(0) for item in images])
        if not isinstance(images, Tensor):
            return self.preprocess(images)
        if images.ndim == 3:
            images = images.unsqueeze(0)
        expected = (3, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"Expected preprocessed images of shape (B, {expected[0]}, {expected[1]}, {expected[2]}), "
                f"got {tuple(images.shape)}. Use model.preprocess(...) first."
            )
        if not images.is_floating_point():
            raise ValueError(
                f"Expected a float tensor of normalised images, got dtype {images.dtype} (raw pixels?). "
                "Pass images, paths or arrays through model.preprocess(...) first."
            )
        if images.shape[0] == 0:
            raise ValueError("The batch holds no image (shape (0, 3, S, S)); pass at least one.")
        bad = (~torch.isfinite(images)).flatten(1).any(dim=1).nonzero().flatten().tolist()
        if bad:
            raise ValueError(f"Image(s) {bad} of the batch hold NaN or infinite values; fix or drop them.")
        return images.to(self.device, torch.float32)

    def autocast(self):
        """Autocast context for the configured precision (bf16/fp16 on CUDA only; else a no-op)."""
        if self.config.amp is None or self.device.type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    @contextlib.contextmanager
    def _frozen_forward(self) -> Iterator[None]:
        """The one context every CLIP forward runs in: inference mode at the configured precision."""
        with torch.inference_mode(), self.autocast():
            yield

    # ---------------------------------------------------------------- text
    def text_bank(self, class_name: str, config: Optional[AnoCLIPConfig] = None) -> TextBank:
        """Prototypes and sentence embeddings of a class; computed once per prompt setting.

        Kept in memory, and on disk under ``ANOCLIP_CACHE`` for pretrained weights, so a second
        process (another chapter, another CLI run) reads them instead of running the text tower.
        """
        config = config or self.config
        setting = config.text_setting(prompt_lib.check_class_name(class_name))
        key = tuple(sorted(setting.items()))
        if key not in self._text_cache:
            disk_key = self.cache_key(kind="text", prompt=setting)
            stored = load_tensors("text", disk_key) if disk_key else None
            if stored is None:
                stored = self._encode_text(class_name, config, texture=setting["texture"])
                if disk_key:
                    save_tensors("text", disk_key, stored)
            device = self.device
            self._text_cache[key] = TextBank(
                stored["prototypes"].to(device), stored["sentences"].to(device), int(stored["normal_count"])
            )
        return self._text_cache[key]

    def _encode_text(self, class_name: str, config: AnoCLIPConfig, texture: bool) -> Dict[str, Tensor]:
        normal, abnormal = prompt_lib.build_sentences(class_name, config.prompts, texture=texture, clean_names=config.clean_names)
        with torch.inference_mode():
            raw = prompt_lib.encode_sentences(self.clip, self.tokenizer, normal + abnormal)
        prototypes = torch.stack([
            prompt_lib.ensemble(raw[: len(normal)], config.ensemble),
            prompt_lib.ensemble(raw[len(normal):], config.ensemble),
        ])
        return {"prototypes": prototypes, "sentences": F.normalize(raw, dim=-1), "normal_count": torch.tensor(len(normal))}

    def text_prototypes(self, class_name: str, config: Optional[AnoCLIPConfig] = None) -> Tensor:
        """(2, D) unit vectors: row 0 normal, row 1 abnormal. Cached per class."""
        return self.text_bank(class_name, config).prototypes

    # ---------------------------------------------------------------- images → embeddings
    def encode_image(self, images: Images, method: Method = "anoclip", taps: bool = False) -> ImageEncoding:
        """The method's encoding: ``.cls`` (B, D) = vanilla CLIP, ``.patches`` (B, N, D).

        ``taps=True`` also returns per-block tokens and attention maps of both paths; only the
        dual-path methods (``anoclip``, ``vv``, ``clip-patch``) record them.
        """
        localizer = get_method(method)
        if taps and not isinstance(localizer, DualPathLocalizer):
            raise ValueError(f"Method {localizer.info.name!r} records no taps; use anoclip, vv or clip-patch.")
        return self._encode(localizer, self._as_batch(images), taps)

    def _encode(self, localizer: Localizer, x: Tensor, taps: bool = False) -> ImageEncoding:
        localizer.check(self.clip.visual)
        with self._frozen_forward():
            visual = self.clip.visual
            encoding = localizer.encode(visual, x, taps=True) if taps else localizer.encode(visual, x)
            return encoding.float()

    def _view_embeddings(self, x: Tensor, views: int) -> Tensor:
        """Vanilla CLS embeddings of the image-score views: (V, B, D).

        Only the original (q-k) path matters for CLS, so plain CLIP encodes the views, in chunks
        so that 22 views of a large batch do not all sit in memory at once.
        """
        with self._frozen_forward():
            stacked = scoring.augment_views(x, views)  # (V, B, 3, S, S)
            flat = torch.cat([self.clip.visual(chunk).float() for chunk in stacked.flatten(0, 1).split(_VIEW_CHUNK)])
        return flat.view(stacked.shape[0], stacked.shape[1], -1)

    def image_scores(self, images: Images, class_name: str, method: Method = "anoclip") -> Tensor:
        """(B,) abnormal probability of each image from the CLS token, averaged over the views.

        It depends on the method only through its ``paper_config`` (WinCLIP's prompts and single
        view), never on its encoder, so one computation serves every other localizer and TTA.
        """
        config = self.config.replace(**get_method(method).paper_config)
        x = self._as_batch(images)
        prototypes = self.text_prototypes(class_name, config)
        return scoring.image_scores(self._view_embeddings(x, config.image_views), prototypes, config.temperature)

    # ---------------------------------------------------------------- memories of other images
    def _memory_setting(self, class_name: str, localizer: Localizer) -> Dict[str, object]:
        return {"model": self.name, "weights": self.weights_sha256 or self.pretrained, "image_size": self.image_size,
                "method": localizer.info.name, "options": localizer.options, "class_name": class_name}

    def memory(
        self, images: Images, class_name: str, method: Method = "anoclip", *, kind: str = "normal", views: int = 1,
        batch_size: int = 8,
    ) -> MemoryBank:
        """Encode ``images`` once into a :class:`~anoclip.memory.MemoryBank` for :meth:`predict`'s ``memory``.

        ``kind="normal"``: K normal images of the class (few-shot); ``"unlabelled"``: the test images
        themselves (transductive). ``views=22`` adds the test-time views (rotations, flips, shifts)
        of each image to its tokens. The bank records this model, method and class.
        """
        localizer = get_method(method)
        if not localizer.has_patch_tokens:
            raise ValueError(f"Method {localizer.info.name!r} has no patch tokens to remember; use a token-based method.")
        items = self._as_batch(images) if isinstance(images, Tensor) else list(images)
        tokens, digests = [], []
        for start in range(0, len(items), batch_size):
            x = self._as_batch(items[start:start + batch_size])
            digests += [image_seed(0, image) for image in x]
            per_view = [self._encode(localizer, view).patches for view in scoring.augment_views(x, views)]
            tokens.append(F.normalize(torch.cat(per_view, dim=1), dim=-1))  # (B, V·N, D)
        return MemoryBank(torch.cat(tokens), digests, kind, self._memory_setting(prompt_lib.check_class_name(class_name), localizer))

    # ---------------------------------------------------------------- the pipeline
    def _adapt(
        self, x: Tensor, tokens: Tensor, bank: TextBank, config: TTAConfig, temperature: float,
        tiling: Optional[TileLayout], loss_fn: Optional[LossFn],
    ) -> Tuple[Tensor, Tensor]:
        """Test-time adapted tokens (B, N, D) and the per-image losses.

        One adapter per image, shared by the ``tiling.count`` consecutive tiles of a tiled image;
        each image's random draw is seeded by its own pixels (:func:`anoclip.tta.image_seed`).
        """
        batch, patches, dim = tokens.shape
        per_image = tiling.count if tiling else 1
        if batch % per_image:
            raise ValueError(f"{batch} inputs do not split into images of {per_image} tiles.")
        images = batch // per_image
        seeds = [image_seed(config.seed, x[i * per_image:(i + 1) * per_image]) for i in range(images)]
        view = None
        if tiling is not None and config.tile_loss == "merged-pixels":
            view = functools.partial(tiling.merged_logits, grid=self.grid)
        grouped = tokens.reshape(images, per_image * patches, dim)
        result = adapt_tokens(
            grouped, bank.prototypes, bank.sentences, config, temperature, loss_fn, seeds=seeds, loss_view=view
        )
        return result.tokens.reshape(batch, patches, dim), result.losses

    def predict(
        self,
        images: Images,
        class_name: str,
        method: Method = "anoclip",
        tta: Union[bool, TTAConfig] = False,
        *,
        tiling: Optional[TileLayout] = None,
        tta_loss: Optional[LossFn] = None,
        image_scores: bool = True,
        memory: Optional[MemoryBank] = None,
        fusion: str = "mean",
    ) -> Prediction:
        """Anomaly maps, patch scores and image scores for a batch of one class.

        Args:
            images: preprocessed (B, 3, S, S) tensor, or anything :meth:`preprocess` accepts.
            class_name: the category name used in the prompts (e.g. "bottle").
            method: a localizer name from :mod:`anoclip.methods` (default "anoclip") or a
                localizer with options, e.g. ``get_method("vv", start=6)``.
            tta: False, True (official MVTec TTA settings) or a :class:`TTAConfig`.
            tiling: the inputs are tiles of images laid out like this (VisA protocol, see
                :func:`anoclip.protocol.image_tiles`): consecutive groups of ``tiling.count``
                inputs are one image; TTA then trains one adapter per image on all its tiles.
            tta_loss: replaces the TTA loss (see :func:`anoclip.tta.adapt_tokens`), e.g. to try a
                new loss term; ``None`` = the official loss.
            image_scores: False skips the image-score views (the benchmark computes them once per
                image with :meth:`image_scores` and reuses them for every localizer).
            memory: a :class:`~anoclip.memory.MemoryBank` from :meth:`memory` (normal images, or the
                unlabelled test set): each patch also scores its distance to the bank, joined to the
                zero-shot score by ``fusion`` ("mean" as WinCLIP+, or "memory" alone); the image score
                joins the largest memory score the same way.
        """
        localizer = get_method(method)
        tta_config = TTAConfig() if tta is True else (tta or None)
        if tta_config is not None and not localizer.has_patch_tokens:
            raise ValueError(f"Method {localizer.info.name!r} has no patch tokens to adapt; TTA needs a token-based method.")
        config = self.config.replace(**localizer.paper_config)
        x = self._as_batch(images)
        text = self.text_bank(class_name, config)
        size = (self.image_size, self.image_size)
        if memory is not None:
            if not localizer.has_patch_tokens:
                raise ValueError(f"Method {localizer.info.name!r} has no patch tokens to compare with a memory.")
            memory.check(self._memory_setting(class_name, localizer))

        encoding = self._encode(localizer, x)  # images → localizer encoding
        remembered = None
        if memory is not None:  # the encoder's tokens (before any TTA) against the bank's
            digests = [image_seed(0, image) for image in x]
            remembered = scoring.to_grid(memory.scores(encoding.patches, digests), self.grid)
        before = losses = None
        if tta_config is not None:  # → [TTA]
            before = localizer.patch_scores(encoding, text.prototypes, config.temperature)
            adapted, losses = self._adapt(x, encoding.patches, text, tta_config, config.temperature, tiling, tta_loss)
            encoding = replace(encoding, patches=adapted)
        patch_scores = localizer.patch_scores(encoding, text.prototypes, config.temperature)  # → patch scores
        if remembered is not None:  # → [+ memory]
            patch_scores = fuse(patch_scores, remembered, fusion)
        anomaly_maps = scoring.anomaly_maps(patch_scores, size, config.smoothing, config.sigma)  # → anomaly maps

        scores = None
        if image_scores:  # CLS (× views) → image scores
            cls_views = encoding.cls[None] if config.image_views == 1 else self._view_embeddings(x, config.image_views)
            scores = scoring.image_scores(cls_views, text.prototypes, config.temperature)
            if remembered is not None:
                scores = fuse(scores, remembered.flatten(1).amax(dim=1), fusion)
        return Prediction(
            anomaly_maps=anomaly_maps,
            patch_scores=patch_scores,
            image_scores=scores,
            class_name=class_name,
            method=localizer.info.name,
            config=config,
            tta_losses=losses,
            patch_scores_before_tta=before,
            anomaly_maps_before_tta=None if before is None else scoring.anomaly_maps(before, size, config.smoothing, config.sigma),
            memory_scores=remembered,
        )

    # ---------------------------------------------------------------- decisions
    def calibrate(
        self,
        normal_images: Images,
        class_name: str,
        fpr: float = 0.01,
        *,
        method: Method = "anoclip",
        tta: Union[bool, TTAConfig] = False,
        batch_size: int = 8,
        memory: Optional[MemoryBank] = None,
        fusion: str = "mean",
    ) -> "anoclip.calibration.Thresholds":
        """Pixel and image thresholds at false-positive rate ``fpr`` on these normal images.

        Returns an :class:`anoclip.calibration.Thresholds` (``pixel_threshold``,
        ``image_threshold``; ``.save(path)`` / ``Thresholds.load(path)``) that records this model,
        config, method, TTA setting and class: the thresholds hold only for predictions made the
        same way, so pass the ``method`` and ``tta`` you will predict with. The rule, the minimum
        number of images (99 at ``fpr=0.01``, 19 at 0.05) and how closely new normal images
        follow the target are in :mod:`anoclip.calibration`; too few images raise
        :class:`~anoclip.calibration.TooFewNormalImagesError` before any image is encoded.
        """
        from .calibration import Thresholds, check_count

        items = self._as_batch(normal_images) if isinstance(normal_images, Tensor) else list(normal_images)
        check_count(len(items), fpr, "normal_images")
        tta_config = TTAConfig() if tta is True else (tta or None)
        maps, scores = [], []
        for start in range(0, len(items), batch_size):
            prediction = self.predict(items[start:start + batch_size], class_name, method, tta=tta_config,
                                      memory=memory, fusion=fusion)
            maps.append(prediction.anomaly_maps.float().cpu().numpy())
            scores.append(prediction.image_scores.float().cpu().numpy())
        return Thresholds.from_scores(
            np.concatenate(maps), np.concatenate(scores), fpr, class_name=class_name,
            method=get_method(method).info.name, tta=None if tta_config is None else tta_config.to_dict(),
            model=self.describe(), memory=None if memory is None else memory_record(memory, fusion),
        )
