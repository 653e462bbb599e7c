"""Disk caches under ``ANOCLIP_CACHE``: what is slow to compute and never changes for given inputs.

Two things are worth keeping between processes (chapters, CLI runs, Colab sessions):

* a class's **text bank** — 924 sentences through the text tower, about ten seconds on a CPU
  even trimmed, paid again in every chapter and process otherwise;
* an image's **image score** — 22 augmented views through vanilla CLIP, the same for every
  localizer and with or without TTA (they change the patch tokens, never the CLS path).

Entries are keyed by everything that determines them: the weights (the SHA-256 of the
checkpoint file, not its name — a tag may be re-downloaded, a local file replaced), the
architecture and input size, the text and scoring settings, the package version, and for image
scores the image file itself (path, size, modification time). Models with random weights are
not cached. Every write is atomic, so an interrupted process leaves either the old entry or the
new one.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch

from .version import __version__
from .env import cache_dir
from .fileio import atomic_path, file_version, read_json_dict, write_json_atomic


def digest_of(parts: Mapping[str, Any]) -> str:
    """A stable hex key of JSON-able ``parts`` (sorted keys, package version included)."""
    text = json.dumps({**parts, "anoclip_version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_tensors(kind: str, key: str) -> Optional[Dict[str, torch.Tensor]]:
    """The tensors stored under ``kind``/``key``, or None when absent or unreadable."""
    path = cache_dir() / kind / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged entry is recomputed, whatever torch.load raises
        return None


def save_tensors(kind: str, key: str, tensors: Mapping[str, torch.Tensor]) -> None:
    """Store CPU copies of ``tensors`` atomically (temporary file, then rename)."""
    with atomic_path(cache_dir() / kind / f"{key}.pt") as temporary:
        torch.save({name: tensor.detach().cpu() for name, tensor in tensors.items()}, temporary)


class ScoreStore:
    """Image scores of one (model, settings, dataset) combination, kept in one JSON file.

    Keys are image files (path relative to the dataset root, size, modification time), so an
    edited or replaced image is scored again.
    """

    def __init__(self, key: str) -> None:
        self.path = cache_dir() / "image_scores" / f"{key}.json"
        self.scores: Dict[str, float] = read_json_dict(self.path)

    @staticmethod
    def image_key(root: Path, relative: str) -> str:
        return f"{relative}|{file_version(root / relative)}"

    def get(self, key: str) -> Optional[float]:
        return self.scores.get(key)

    def update(self, new: Mapping[str, float]) -> None:
        """Add scores and write the file (merged with what another process may have added)."""
        if not new:
            return
        merged = {**read_json_dict(self.path), **self.scores, **new}
        write_json_atomic(self.path, merged)
        self.scores = merged
