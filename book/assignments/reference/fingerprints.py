"""Write ``book/anoclip_book/exercises/expected.json``: what the public checkers compare with.

For each checker's seeded inputs (built by the checker modules themselves) this stores a short
summary (:func:`anoclip_book.exercises.results.summary`) of the reference answer and of each typical
mistake, computed with the reference implementations next to this file. Run it after changing
an input, a mistake or a reference::

    python book/assignments/reference/fingerprints.py

``tests/test_exercises.py`` recomputes the file and fails when it is stale.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # book/assignments: `reference` is a package there

from anoclip_book.exercises import aupro as public_aupro  # noqa: E402
from anoclip_book.exercises import prompt_ensemble as public_prompts  # noqa: E402
from anoclip_book.exercises import tta_loss as public_tta  # noqa: E402
from anoclip_book.exercises import vv_attention as public_vv  # noqa: E402
from anoclip_book.exercises.results import EXPECTED_FILE, summary  # noqa: E402
from reference import aupro, prompt_ensemble, tta_loss, vv_attention  # noqa: E402


def _vector(value: Any) -> list:
    return [float(v) for v in summary(value)]


def a1() -> Dict[str, Any]:
    cases = {}
    with torch.no_grad():
        for name in public_vv.CASES:
            block, x = public_vv.case_inputs(name)
            cases[name] = {
                "expected": _vector(vv_attention.vv_attention(block, x)),
                "mistakes": {key: _vector(vv_attention.vv_variant(block, x, **options))
                             for key, options in vv_attention.variants(block).items()},
            }
    return cases


def a2() -> Dict[str, Any]:
    cases = {}
    for class_name, (texture, dim) in public_prompts.CASES.items():
        normal, abnormal = prompt_ensemble.sentences(class_name, texture)
        embed = public_prompts.FakeTextEncoder(dim=dim, seed=dim)
        cases[class_name] = {
            "sentences": dict(sorted(Counter(public_prompts.sentence_key(s) for s in normal + abnormal).items())),
            "normal": len(normal),
            "abnormal": len(abnormal),
            "expected": _vector(prompt_ensemble.reference_prototypes(embed, class_name, texture)),
            "mistakes": {key: _vector(value) for key, value in prompt_ensemble.mistakes(embed, class_name, texture).items()},
        }
    return cases


def a3() -> Dict[str, Any]:
    cases = {}
    for name in public_aupro.CASES:
        maps, masks, limit = public_aupro.case_inputs(name)
        found = aupro.mistakes(maps, masks, limit)
        if limit != 0.3:
            found["ignores-limit"] = aupro.exact_aupro(maps, masks, 0.3)
        cases[name] = {"expected": aupro.exact_aupro(maps, masks, limit), "mistakes": {k: float(v) for k, v in found.items()}}
    return cases


def a4() -> Dict[str, Any]:
    clean, noisy, _, _ = public_tta.probabilities()
    cases = {}
    for name, (ew, cw, sw) in public_tta.CASES.items():
        found = tta_loss.smooth_mistakes(clean, noisy, public_tta.GRID, sw) if sw else tta_loss.loss_mistakes(clean, noisy, ew, cw)
        cases[name] = {
            "expected": _vector(tta_loss.reference_loss(clean, noisy, ew, cw, sw, public_tta.GRID)),
            "mistakes": {key: _vector(value) for key, value in found.items()},
        }
    return cases


def compute() -> Dict[str, Any]:
    """Every assignment's stored summaries, as ``expected.json`` holds them."""
    return {"a1": a1(), "a2": a2(), "a3": a3(), "a4": a4()}


def main() -> None:
    from anoclip.fileio import write_json_atomic

    write_json_atomic(EXPECTED_FILE, compute())
    print(f"wrote {EXPECTED_FILE}")


if __name__ == "__main__":
    main()
