"""Public checks for the book's classroom assignments: feedback without the answer.

Each ``check_*`` function runs a student's function on seeded inputs and returns a
:class:`CheckResult`: the checks that passed and failed, a score, and for every failure a
message that says what is wrong. When the output is wrong, the checker looks it up among the
stored outputs of typical mistakes (a forgotten 1/√d scale, the two normalisation steps in the
wrong order, AUPRO without the interpolation at FPR 0.3, ...) and names the one it matches, so a
student learns *what* to fix rather than only *that* something is off.

No reference solution ships in this package: the checkers compare with short stored summaries
(``expected.json``). The reference implementations and the hidden tests live in the repository
(``book/assignments/``) and in the autograder bundle that ``make classroom`` builds; grading runs
there (``python -m anoclip_book.editions grade``), see ``book/assignments/index.md``.

The assignments, the function each notebook asks for, and its check:

* a1, V-V attention: ``vv_attention(block, x)`` — :func:`check_vv_attention`;
* a2, prompt ensemble: ``build_prototypes(embed, class_name, texture)`` — :func:`check_prompt_ensemble`
  (with a :class:`FakeTextEncoder`);
* a3, AUPRO: ``aupro(maps, masks, fpr_limit=0.3)`` — :func:`check_aupro`;
* a4, TTA loss: ``tta_loss(clean, noisy, entropy_weight, contrast_weight, smooth_weight, grid)`` —
  :func:`check_tta_loss` (and :func:`as_tta_loss` lets the package's TTA run with it).

A stub that still raises ``NotImplementedError`` is reported as "not implemented yet" (score 0),
never as a crash, so the notebooks run top to bottom in the book build.
"""
from .aupro import check_aupro
from .prompt_ensemble import FakeTextEncoder, check_prompt_ensemble
from .results import Check, CheckResult, reference_used
from .tta_loss import as_tta_loss, check_tta_loss
from .vv_attention import check_vv_attention

__all__ = [
    "Check",
    "CheckResult",
    "FakeTextEncoder",
    "as_tta_loss",
    "check_aupro",
    "check_prompt_ensemble",
    "check_tta_loss",
    "check_vv_attention",
    "reference_used",
]
