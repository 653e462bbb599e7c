"""Assignment a2: AnoCLIP's prompt ensemble → text prototypes — :func:`check_prompt_ensemble`.

The checker hands the student a :class:`FakeTextEncoder`, so it sees exactly which sentences
were encoded and can say which are missing or extra, besides checking the mean-then-normalise
prototypes.
"""
from __future__ import annotations

import zlib
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .results import (
    CheckResult,
    _as_tensor,
    _call,
    _close,
    _match_mistake,
    _NotImplementedYet,
    _Recorder,
    _reference_check,
)


class FakeTextEncoder:
    """A deterministic stand-in for CLIP's text tower: sentence → (D,) vector, remembered calls.

    Every sentence gets its own seeded random direction and a norm between 0.3 and 3, so the
    order of averaging and normalising matters as much as it does with real embeddings. Calling
    it with a list of K sentences returns a (K, D) float tensor, like
    ``anoclip.prompts.encode_sentences``; ``sentences`` lists everything it was asked to encode.
    """

    def __init__(self, dim: int = 16, seed: int = 0) -> None:
        self.dim = dim
        self.seed = seed
        self.sentences: List[str] = []
        self._vectors: Dict[str, Tensor] = {}

    def vector(self, sentence: str) -> Tensor:
        """The sentence's (D,) embedding: a seeded direction times a seeded norm in [0.3, 3]."""
        if sentence not in self._vectors:
            generator = torch.Generator().manual_seed(zlib.crc32(sentence.encode("utf-8")) + self.seed)
            direction = F.normalize(torch.randn(self.dim, generator=generator), dim=0)
            self._vectors[sentence] = direction * (0.3 + 2.7 * torch.rand(1, generator=generator))
        return self._vectors[sentence]

    def __call__(self, sentences: Sequence[str]) -> Tensor:
        if isinstance(sentences, str):
            raise TypeError("embed() takes a LIST of sentences (like the CLIP tokenizer); wrap a single one: embed([sentence]).")
        sentences = list(sentences)
        self.sentences.extend(sentences)
        if not sentences:
            return torch.zeros(0, self.dim)
        return torch.stack([self.vector(sentence) for sentence in sentences])


def _expected_sentences(class_name: str, texture: bool) -> Tuple[List[str], List[str]]:
    from ..prompts import build_sentences

    return build_sentences(class_name, "anoclip", texture=texture)


def _prompt_mistakes(encoder: FakeTextEncoder, normal: List[str], abnormal: List[str]) -> List[Tuple[Tensor, str]]:
    raw_n = torch.stack([encoder.vector(s) for s in normal])
    raw_a = torch.stack([encoder.vector(s) for s in abnormal])

    def mean_unit(raw: Tensor) -> Tensor:
        return F.normalize(raw.mean(0), dim=0)

    def unit_mean(raw: Tensor) -> Tensor:
        return F.normalize(F.normalize(raw, dim=-1).mean(0), dim=0)

    both = torch.cat([raw_n, raw_a])
    return [
        (torch.stack([mean_unit(raw_a), mean_unit(raw_n)]), "Your rows are swapped: row 0 must be the NORMAL prototype, row 1 the abnormal one."),
        (torch.stack([unit_mean(raw_n), unit_mean(raw_a)]), "You normalised in the wrong order: AnoCLIP averages the RAW sentence embeddings first and normalises the mean (normalise-then-mean is the WinCLIP/APRIL-GAN variant)."),
        (torch.stack([unit_mean(raw_a), unit_mean(raw_n)]), "Your rows are swapped (row 0 must be normal) and you normalised in the wrong order (average the raw embeddings first, then normalise)."),
        (torch.stack([mean_unit(both), mean_unit(both)]), "Both rows average ALL sentences; average the normal sentences for row 0 and the abnormal ones for row 1."),
    ]


def _sentence_diagnosis(encoded: List[str], normal: List[str], abnormal: List[str], class_name: str, texture: bool) -> Optional[str]:
    """None when the encoded multiset of sentences is the expected one, else what differs."""
    expected = Counter(normal + abnormal)
    got = Counter(encoded)
    if got == expected:
        return None
    from ..prompts import OBJECT_DOMAINS, TEXTURE_DOMAINS

    parts = [f"You encoded {sum(got.values())} sentences for '{class_name}'; expected {len(normal)} normal + {len(abnormal)} abnormal "
             f"(3 domains × 22 templates × 7 states each)."]
    repeated = [s for s, n in got.items() if n > 1 and n > expected.get(s, 0)]
    if repeated:
        parts.append(f"Some sentences were encoded more than once (e.g. '{repeated[0]}'); each sentence counts once in the mean.")
    if any(" a industrial" in s or s.startswith("a industrial") for s in got):
        parts.append("Use 'an' before a domain starting with 'industrial' ({A} in the templates): 'an industrial photo of ...'.")
    wrong_domains, right_domains = (OBJECT_DOMAINS, TEXTURE_DOMAINS) if texture else (TEXTURE_DOMAINS, OBJECT_DOMAINS)
    stray = [d for d in wrong_domains if d not in right_domains and any(d in s for s in got)]
    if stray:
        kind = "a texture" if texture else "an object"
        parts.append(f"'{class_name}' is {kind} (texture={texture}), but you used the domain(s) {stray}; use {list(right_domains)}.")
    missing = list((expected - got).elements())
    extra = list((got - expected).elements())
    if missing:
        parts.append(f"Missing e.g. '{missing[0]}'.")
    if extra:
        parts.append(f"Unexpected e.g. '{extra[0]}'.")
    return " ".join(parts)


def _reference_prototypes(embed: Callable, class_name: str, texture: bool) -> Tensor:
    from ..prompts import ensemble

    normal, abnormal = _expected_sentences(class_name, texture)
    raw = embed(normal + abnormal)
    return torch.stack([ensemble(raw[: len(normal)]), ensemble(raw[len(normal):])])


def _prompt_case(recorder: _Recorder, fn: Callable, class_name: str, texture: bool, dim: int, label: str) -> None:
    encoder = FakeTextEncoder(dim=dim, seed=dim)
    normal, abnormal = _expected_sentences(class_name, texture)
    name = f"returns the prototypes, row 0 normal, row 1 abnormal ({label})"
    output, error = _call(fn, encoder, class_name, texture)
    if error:
        recorder.add(f"encodes the right sentences ({label})", False, f"Your function {error}.", 2.0)
        recorder.add(name, False, "Not checked: the function raised an error.", 3.0)
        return
    sentences_wrong = _sentence_diagnosis(encoder.sentences, normal, abnormal, class_name, texture)
    recorder.add(f"encodes the right sentences ({label})", sentences_wrong is None, sentences_wrong or "", 2.0)
    expected = _reference_prototypes(FakeTextEncoder(dim=dim, seed=dim), class_name, texture)
    actual = _as_tensor(output)
    if actual is None:
        recorder.add(name, False, f"Return a torch.Tensor of shape (2, D); got {type(output).__name__}.", 3.0)
    elif actual.shape != expected.shape:
        recorder.add(name, False, f"Expected shape {tuple(expected.shape)} = (2 states, embedding dim {dim}); got {tuple(actual.shape)}.", 3.0)
    elif _close(actual, expected):
        recorder.add(name, True, points=3.0)
    elif sentences_wrong is not None:
        recorder.add(name, False, "Not equal to the reference, as expected with other sentences: fix the sentences first.", 3.0)
    elif not torch.allclose(actual.norm(dim=-1), torch.ones(2), atol=1e-4):
        direction_ok = _close(F.normalize(actual, dim=-1), expected)
        hint = "The directions are right: " if direction_ok else ""
        recorder.add(name, False, f"{hint}normalise each prototype to unit length (F.normalize(..., dim=-1)); your row norms are {[round(float(n), 3) for n in actual.norm(dim=-1)]}.", 3.0)
    else:
        mistake = _match_mistake(actual, _prompt_mistakes(FakeTextEncoder(dim=dim, seed=dim), normal, abnormal))
        recorder.add(name, False, mistake or "Your prototypes differ from the mean-then-normalise ensemble of the sentence embeddings.", 3.0)


def check_prompt_ensemble(student_fn: Callable, forbid_reference: bool = False) -> CheckResult:
    """Check ``student_fn(embed, class_name, texture) -> (2, D)`` (assignment a2).

    The student builds AnoCLIP's sentences (3 domains × 22 templates × 7 states per state; see
    :mod:`anoclip.prompts` for the lists), encodes them with ``embed`` (a list of K sentences →
    (K, D) raw embeddings) and returns the unit prototypes: mean of the raw embeddings, then L2
    normalisation; row 0 normal, row 1 abnormal. The checker passes a :class:`FakeTextEncoder`,
    so it sees exactly which sentences were encoded.
    """
    recorder = _Recorder(
        "a2", "Prompt ensemble → text prototypes",
        "Replace `raise NotImplementedError` in build_prototypes(embed, class_name, texture) with your code, then run this cell again.",
        total=10.0 + forbid_reference,
    )
    try:
        _prompt_case(recorder, student_fn, "bottle", False, 16, "object 'bottle', D = 16")
        _prompt_case(recorder, student_fn, "carpet", True, 24, "texture 'carpet', D = 24")
        if forbid_reference:
            _reference_check(recorder, student_fn, "anoclip.prompts", ("build_sentences", "ensemble", "_reference_prototypes"),
                             ("build_sentences", "prompts.ensemble", "text_prototypes(", "text_bank(", "exercises."))
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
