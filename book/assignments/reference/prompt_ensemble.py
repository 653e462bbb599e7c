"""Assignment a2's reference: AnoCLIP's sentences and their mean-then-normalise prototypes,
and the prototypes typical mistakes give. Not part of the pip package: the autograder bundle
carries it for the hidden tests, and ``fingerprints.py`` turns it into the public checker's
stored summaries.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def sentences(class_name: str, texture: bool) -> Tuple[List[str], List[str]]:
    """The normal and the abnormal sentences (3 domains × 22 templates × 7 states each)."""
    from anoclip.prompts import build_sentences

    return build_sentences(class_name, "anoclip", texture=texture)


def reference_prototypes(embed: Callable, class_name: str, texture: bool) -> Tensor:
    """The reference answer: (2, D), row 0 normal, row 1 abnormal, each the normalised mean."""
    from anoclip.prompts import ensemble

    normal, abnormal = sentences(class_name, texture)
    raw = embed(normal + abnormal)
    return torch.stack([ensemble(raw[: len(normal)]), ensemble(raw[len(normal):])])


def mistakes(embed: Callable, class_name: str, texture: bool) -> Dict[str, Tensor]:
    """What each typical mistake returns, by the ids the public checker's messages use."""
    normal, abnormal = sentences(class_name, texture)
    raw_n, raw_a = embed(normal), embed(abnormal)

    def mean_unit(raw: Tensor) -> Tensor:
        return F.normalize(raw.mean(0), dim=0)

    def unit_mean(raw: Tensor) -> Tensor:
        return F.normalize(F.normalize(raw, dim=-1).mean(0), dim=0)

    both = torch.cat([raw_n, raw_a])
    return {
        "swapped": torch.stack([mean_unit(raw_a), mean_unit(raw_n)]),
        "normalise-first": torch.stack([unit_mean(raw_n), unit_mean(raw_a)]),
        "swapped-normalise-first": torch.stack([unit_mean(raw_a), unit_mean(raw_n)]),
        "all-sentences": torch.stack([mean_unit(both), mean_unit(both)]),
    }
