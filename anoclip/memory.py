"""What normal images and unlabelled test images add: a memory of patch tokens, and its score.

AnoCLIP scores each image alone against two text prototypes. A :class:`MemoryBank` keeps the
unit patch tokens of other images, grouped by image, and scores each query patch by its cosine
distance ``d = (1 - cos) / 2`` (WinCLIP's few-shot association score, in [0, 1]) to them:

* **few-shot** (``kind="normal"``): the bank holds K normal images of the class (optionally with
  the 22 test-time views, so rotations and flips of a normal patch count as normal); a patch
  scores its distance to the nearest normal patch (WinCLIP+, AnomalyDINO's memory).
* **transductive** (``kind="unlabelled"``): the bank holds the unlabelled test images of the
  class; a patch scores the mean of its distances to the nearest patch of the closest
  :data:`MUTUAL_SHARE` of the *other* images. This is MuSc's mutual scoring (Li et al., ICLR
  2024) simplified: kept are the per-image nearest distances and the mean over the lowest 30 %
  of them (anomalies are rare, so most other images hold a normal look-alike of a normal patch);
  dropped are its multi-degree patch aggregation (LNAMD), its several feature layers and its
  image-level re-scoring (RsCIN). It needs several images (MuSc #41: fewer than five fail).

An image is never compared with itself: bank images are identified by a digest of their pixels
(as TTA seeds are), and a query equal to one of them leaves it out (leave-one-out, which also
makes a calibration on the memory's own images honest).

Combination with the zero-shot patch scores (:data:`anoclip.config.FUSIONS`): ``"mean"``
averages them, as WinCLIP+ averages its zero-shot and few-shot maps (the scores live on the same
[0, 1] scale, and the mean keeps the text's semantics while the memory brings the appearance of
this very product); ``"memory"`` uses the memory score alone. The search is batched matrix
products over chunks of bank images, so its memory stays bounded whatever the bank's size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import FUSIONS, check_choice
from .fileio import PathLike, atomic_path

KINDS = ("normal", "unlabelled")
MUTUAL_SHARE = 0.3  # MuSc's share of the closest other images
_CHUNK_FLOATS = 1 << 25  # similarities held at once during a search (128 MB of float32)


class MemoryFileError(ValueError):
    """A memory file that cannot be read, or that was made with another model or method."""


@dataclass
class MemoryBank:
    """Unit patch tokens of ``images`` images, ``(images, tokens per image, D)``, and what made them.

    ``digests`` identify the bank's images (see the module docstring); ``setting`` is the model,
    method and class the tokens belong to, checked before the bank is used or loaded.
    """

    tokens: Tensor
    digests: Sequence[int]
    kind: str
    setting: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("MemoryBank", "kind", self.kind, KINDS)
        if self.tokens.ndim != 3 or self.tokens.shape[0] != len(self.digests) or self.tokens.shape[0] == 0:
            raise ValueError(f"A memory needs (images, tokens, D) tokens of at least one image, one digest each; got "
                             f"{tuple(self.tokens.shape)} and {len(self.digests)} digests.")

    @property
    def images(self) -> int:
        return self.tokens.shape[0]

    @property
    def megabytes(self) -> float:
        return self.tokens.numel() * self.tokens.element_size() / 2**20

    def closest(self) -> int:
        """How many bank images a patch's score averages over: 1 (few-shot), or the share of the others."""
        return 1 if self.kind == "normal" else max(1, math.ceil(MUTUAL_SHARE * (self.images - 1)))

    def scores(self, patches: Tensor, digests: Sequence[int]) -> Tensor:
        """(B, N) memory scores of the query patches (B, N, D) of the images with these ``digests``."""
        queries = F.normalize(patches.float(), dim=-1).reshape(-1, patches.shape[-1])  # (B·N, D)
        if self.tokens.device != queries.device or self.tokens.dtype != torch.float32:  # once, not per batch
            self.tokens = self.tokens.to(queries.device, torch.float32)
        bank = self.tokens
        per_chunk = max(1, _CHUNK_FLOATS // max(1, queries.shape[0] * bank.shape[1]))
        nearest = torch.cat([  # (B·N, images): each query patch's distance to each bank image's nearest patch
            (1.0 - (queries @ chunk.flatten(0, 1).T).view(queries.shape[0], chunk.shape[0], -1).amax(-1)) / 2.0
            for chunk in bank.split(per_chunk)
        ], dim=1).view(patches.shape[0], patches.shape[1], self.images)
        own = torch.tensor([[d == mine for d in self.digests] for mine in digests], device=queries.device)
        nearest = nearest.masked_fill(own[:, None, :], math.inf)  # never the image itself
        count = min(self.closest(), int((~own).sum(dim=1).min()))  # copies of an image are the image too
        if count < 1:
            raise ValueError("The memory holds no image besides the one scored; add normal or unlabelled images.")
        return nearest.topk(count, dim=-1, largest=False).values.mean(dim=-1)

    def check(self, expected: Mapping[str, Any], where: str = "the memory") -> None:
        """Refuse a bank made with another model, input size, method or class than ``expected``."""
        differ = sorted(key for key, value in expected.items() if self.setting.get(key) != value)
        if differ:
            raise MemoryFileError(
                f"{where} was made for another setting (differs in: {', '.join(differ)}); patch tokens do not carry "
                "across models, methods or classes. Build it again with model.memory(...) for this setting."
            )

    def save(self, path: PathLike) -> Path:
        """Tokens (float16: half the size, distances move by about 1e-3) and their setting, atomically."""
        with atomic_path(path) as temporary:
            torch.save({"format": "anoclip-memory", "tokens": self.tokens.half().cpu(), "digests": list(self.digests),
                        "kind": self.kind, "setting": self.setting}, temporary)
        return Path(path)

    @classmethod
    def load(cls, path: PathLike, expected: Optional[Mapping[str, Any]] = None) -> "MemoryBank":
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            if data.get("format") != "anoclip-memory":
                raise ValueError("no anoclip-memory format mark")
            bank = cls(data["tokens"], data["digests"], data["kind"], data["setting"])
        except Exception as err:  # a damaged or foreign file, whatever torch or the checks raise
            raise MemoryFileError(f"{path} is not a memory saved by anoclip ({err}); build it again with model.memory(...).") from err
        if expected is not None:
            bank.check(expected, str(path))
        return bank


def fuse(zero_shot: Tensor, memory: Tensor, fusion: str) -> Tensor:
    """Combine zero-shot and memory scores of the same shape (see the module docstring)."""
    check_choice("predict", "fusion", fusion, FUSIONS)
    return memory if fusion == "memory" else (zero_shot + memory) / 2.0


def memory_record(bank: MemoryBank, fusion: str) -> Dict[str, Any]:
    """What a result made with ``bank`` records of it (thresholds, benchmark settings)."""
    return {"kind": bank.kind, "images": bank.images, "tokens": bank.tokens.shape[1], "fusion": fusion, **bank.setting}
