"""Assignment a2: AnoCLIP's prompt ensemble → text prototypes — :func:`check_prompt_ensemble`.

The checker hands the student a :class:`FakeTextEncoder`, so it sees exactly which sentences
were encoded. It compares them with the stored *hashes* of the expected sentences and the
prototypes with stored values (``expected.json``), so it can say what is missing, extra or in
the wrong order without carrying the sentences or the ensembling code.
"""
from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .results import CheckResult, _as_tensor, _call, _NotImplementedYet, _Recorder, expected, same, summary, which_mistake

# the two cases: class name → (texture, embedding dimension)
CASES = {"bottle": (False, 16), "carpet": (True, 24)}
RTOL = 1e-4
MISTAKES = {
    "swapped": "Your rows are swapped: row 0 must be the NORMAL prototype, row 1 the abnormal one.",
    "normalise-first": "You normalised in the wrong order: AnoCLIP averages the RAW sentence embeddings first and normalises the mean "
                       "(normalise-then-mean is the WinCLIP/APRIL-GAN variant).",
    "swapped-normalise-first": "Your rows are swapped (row 0 must be normal) and you normalised in the wrong order (average the raw "
                               "embeddings first, then normalise).",
    "all-sentences": "Both rows average ALL sentences; average the normal sentences for row 0 and the abnormal ones for row 1.",
}


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
            rng = np.random.RandomState((zlib.crc32(sentence.encode("utf-8")) + self.seed) % 2**32)
            direction = rng.standard_normal(self.dim)
            direction /= np.linalg.norm(direction)
            self._vectors[sentence] = torch.from_numpy(direction * (0.3 + 2.7 * rng.rand())).float()
        return self._vectors[sentence]

    def __call__(self, sentences: Sequence[str]) -> Tensor:
        if isinstance(sentences, str):
            raise TypeError("embed() takes a LIST of sentences (like the CLIP tokenizer); wrap a single one: embed([sentence]).")
        sentences = list(sentences)
        self.sentences.extend(sentences)
        if not sentences:
            return torch.zeros(0, self.dim)
        return torch.stack([self.vector(sentence) for sentence in sentences])


def sentence_key(sentence: str) -> str:
    """How ``expected.json`` stores a sentence: a short hash, so the file does not spell them out."""
    return hashlib.sha256(sentence.encode("utf-8")).hexdigest()[:16]


def _sentence_diagnosis(encoded: List[str], stored: Dict, class_name: str, texture: bool) -> Optional[str]:
    """None when the encoded multiset of sentences is the expected one, else what differs."""
    want = Counter(stored["sentences"])
    got = Counter(sentence_key(s) for s in encoded)
    if got == want:
        return None
    from anoclip.prompts import OBJECT_DOMAINS, TEXTURE_DOMAINS

    parts = [f"You encoded {len(encoded)} sentences for '{class_name}'; expected {stored['normal']} normal + {stored['abnormal']} abnormal "
             f"(3 domains × 22 templates × 7 states each)."]
    repeated = [s for s, n in Counter(encoded).items() if n > 1 and n > want.get(sentence_key(s), 0)]
    if repeated:
        parts.append(f"Some sentences were encoded more than once (e.g. '{repeated[0]}'); each sentence counts once in the mean.")
    if any(" a industrial" in s or s.startswith("a industrial") for s in encoded):
        parts.append("Use 'an' before a domain starting with 'industrial' ({A} in the templates): 'an industrial photo of ...'.")
    wrong_domains, right_domains = (OBJECT_DOMAINS, TEXTURE_DOMAINS) if texture else (TEXTURE_DOMAINS, OBJECT_DOMAINS)
    stray = [d for d in wrong_domains if d not in right_domains and any(d in s for s in encoded)]
    if stray:
        kind = "a texture" if texture else "an object"
        parts.append(f"'{class_name}' is {kind} (texture={texture}), but you used the domain(s) {stray}; use {list(right_domains)}.")
    missing = sum((want - got).values())
    extra = [s for s in encoded if sentence_key(s) not in want]
    if missing:
        parts.append(f"{missing} expected sentence(s) are missing.")
    if extra:
        parts.append(f"Unexpected e.g. '{extra[0]}'.")
    return " ".join(parts)


def _prompt_case(recorder: _Recorder, fn: Callable, class_name: str) -> None:
    texture, dim = CASES[class_name]
    label = f"{'texture' if texture else 'object'} '{class_name}', D = {dim}"
    stored = expected("a2")[class_name]
    encoder = FakeTextEncoder(dim=dim, seed=dim)
    name = f"returns the prototypes, row 0 normal, row 1 abnormal ({label})"
    output, error = _call(fn, encoder, class_name, texture)
    if error:
        recorder.add(f"encodes the right sentences ({label})", False, f"Your function {error}.", 2.0)
        recorder.add(name, False, "Not checked: the function raised an error.", 3.0)
        return
    sentences_wrong = _sentence_diagnosis(encoder.sentences, stored, class_name, texture)
    recorder.add(f"encodes the right sentences ({label})", sentences_wrong is None, sentences_wrong or "", 2.0)
    actual = _as_tensor(output)
    if actual is None:
        recorder.add(name, False, f"Return a torch.Tensor of shape (2, D); got {type(output).__name__}.", 3.0)
    elif tuple(actual.shape) != (2, dim):
        recorder.add(name, False, f"Expected shape {(2, dim)} = (2 states, embedding dim {dim}); got {tuple(actual.shape)}.", 3.0)
    elif same(summary(actual), stored["expected"], RTOL):
        recorder.add(name, True, points=3.0)
    elif sentences_wrong is not None:
        recorder.add(name, False, "Not equal to the expected prototypes, as expected with other sentences: fix the sentences first.", 3.0)
    elif not torch.allclose(actual.norm(dim=-1), torch.ones(2), atol=1e-4):
        direction_ok = same(summary(F.normalize(actual, dim=-1)), stored["expected"], RTOL)
        hint = "The directions are right: " if direction_ok else ""
        norms = [round(float(n), 3) for n in actual.norm(dim=-1)]
        recorder.add(name, False, f"{hint}normalise each prototype to unit length (F.normalize(..., dim=-1)); your row norms are {norms}.", 3.0)
    else:
        mistake = which_mistake(summary(actual), stored["mistakes"], MISTAKES, RTOL)
        recorder.add(name, False, mistake or "Your prototypes differ from the mean-then-normalise ensemble of the sentence embeddings.", 3.0)


def check_prompt_ensemble(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(embed, class_name, texture) -> (2, D)`` (assignment a2).

    The student builds AnoCLIP's sentences (3 domains × 22 templates × 7 states per state; see
    :mod:`anoclip.prompts` for the ingredients), encodes them with ``embed`` (a list of K
    sentences → (K, D) raw embeddings) and returns the unit prototypes: mean of the raw
    embeddings, then L2 normalisation; row 0 normal, row 1 abnormal. The checker passes a
    :class:`FakeTextEncoder`, so it sees exactly which sentences were encoded.
    """
    recorder = _Recorder(
        "a2", "Prompt ensemble → text prototypes",
        "Replace `raise NotImplementedError` in build_prototypes(embed, class_name, texture) with your code, then run this cell again.",
        total=10.0,
    )
    try:
        for class_name in CASES:
            _prompt_case(recorder, student_fn, class_name)
    except _NotImplementedYet:
        return recorder.not_implemented()
    return recorder.result
