"""Checkers for the book's classroom assignments, and grading of handed-in notebooks.

Each ``check_*`` function runs a student's function on seeded random inputs, compares the output
with the package's own implementation and returns a :class:`CheckResult`: the checks that passed
and failed, a score, and for every failure a message that says what is wrong. When the output is
wrong, the checker also computes the outputs of typical mistakes (a forgotten 1/√d scale, the two
normalisation steps in the wrong order, AUPRO without the interpolation at FPR 0.3, ...) and names
the one the output matches, so a student learns *what* to fix rather than only *that* something
is off.

The assignments, the function each starter notebook asks for, and its checker:

* a1, V-V attention: ``vv_attention(block, x)`` — :func:`check_vv_attention` (:mod:`.vv_attention`);
* a2, prompt ensemble: ``build_prototypes(embed, class_name, texture)`` — :func:`check_prompt_ensemble`
  (:mod:`.prompt_ensemble`);
* a3, AUPRO: ``aupro(maps, masks, fpr_limit=0.3)`` — :func:`check_aupro` (:mod:`.aupro`);
* a4, TTA loss: ``tta_loss(clean, noisy, entropy_weight, contrast_weight, smooth_weight, grid)`` —
  :func:`check_tta_loss` (and :func:`as_tta_loss` lets the package's TTA run with it; :mod:`.tta_loss`).

:mod:`.results` holds :class:`Check`, :class:`CheckResult` and the machinery the checkers share.
A stub that still raises ``NotImplementedError`` is reported as "not implemented yet" (score 0),
never as a crash, so the starter notebooks run top to bottom in the book build.

Teachers grade handed-in notebooks with :func:`grade_notebook` / :func:`grade_notebooks` (or
``python -m anoclip.exercises grade *.ipynb --csv grades.csv``; :mod:`.grading`): the notebook is
executed with nbclient, then the checker runs in the same kernel on the function the notebook
defines, with ``forbid_reference=True`` (a function that calls the package's own implementation
fails that check). Executing a notebook runs its code: grade submissions inside a container or a
throw-away VM.
"""
from .aupro import check_aupro
from .grading import ASSIGNMENTS, Assignment, GradingError, NotebookGrade, grade_notebook, grade_notebooks
from .prompt_ensemble import FakeTextEncoder, check_prompt_ensemble
from .results import Check, CheckResult
from .tta_loss import as_tta_loss, check_tta_loss
from .vv_attention import check_vv_attention

__all__ = [
    "ASSIGNMENTS",
    "Assignment",
    "Check",
    "CheckResult",
    "FakeTextEncoder",
    "GradingError",
    "NotebookGrade",
    "check_aupro",
    "check_prompt_ensemble",
    "check_tta_loss",
    "check_vv_attention",
    "grade_notebook",
    "grade_notebooks",
    "as_tta_loss",
]
