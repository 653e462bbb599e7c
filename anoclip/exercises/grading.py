"""Grading handed-in assignment notebooks, and the ``python -m anoclip.exercises`` command line.

A notebook is executed with nbclient, then the assignment's checker runs in the same kernel on
the function the notebook defines, with ``forbid_reference=True``. Executing a notebook runs its
code: grade submissions inside a container or a throw-away VM.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .aupro import check_aupro
from .prompt_ensemble import check_prompt_ensemble
from .results import Check, CheckResult
from .tta_loss import check_tta_loss
from .vv_attention import check_vv_attention


@dataclass(frozen=True)
class Assignment:
    """A classroom assignment: its starter notebook defines ``function``; ``checker`` grades it."""

    key: str
    title: str
    function: str
    checker: Callable[..., CheckResult]
    notebook: str


ASSIGNMENTS: Dict[str, Assignment] = {
    a.key: a for a in (
        Assignment("a1", "V-V attention for one block", "vv_attention", check_vv_attention, "a1_vv_attention.ipynb"),
        Assignment("a2", "Prompt ensemble → text prototypes", "build_prototypes", check_prompt_ensemble, "a2_prompt_ensemble.ipynb"),
        Assignment("a3", "AUPRO (MVTec definition)", "aupro", check_aupro, "a3_aupro.ipynb"),
        Assignment("a4", "TTA loss + a smoothness term", "tta_loss", check_tta_loss, "a4_tta_loss.ipynb"),
    )
}

_MARKER = "ANOCLIP-GRADE-RESULT:"


def _grade_in_kernel(key: str, namespace: Dict[str, Any]) -> None:
    """Run inside the student's kernel after the notebook: check the function it defines."""
    assignment = ASSIGNMENTS[key]
    fn = namespace.get(assignment.function)
    if not callable(fn):
        result = CheckResult(key, assignment.title, [Check(
            f"defines {assignment.function}(...)", False,
            f"The notebook defines no function named {assignment.function}; keep the starter notebook's function name.")])
    else:
        result = assignment.checker(fn, forbid_reference=True)
    print(_MARKER + json.dumps(result.to_dict()))


@dataclass
class NotebookGrade:
    """What :func:`grade_notebook` found: the check result and the cells that raised errors."""

    path: str
    assignment: str
    result: CheckResult
    cell_errors: List[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.result.score

    def summary(self) -> str:
        lines = [f"{self.path}", self.result.summary()]
        lines += [f"  cell error: {error}" for error in self.cell_errors]
        return "\n".join(lines)


class GradingError(RuntimeError):
    """A notebook that cannot be graded (unreadable, or no assignment recorded in it)."""


def _notebook_assignment(nb: Any, path: Path, assignment: Optional[str]) -> str:
    key = assignment or nb.metadata.get("anoclip", {}).get("assignment")
    if key is None:
        raise GradingError(
            f"{path}: the notebook does not say which assignment it is (metadata anoclip.assignment); "
            f"pass assignment= one of {sorted(ASSIGNMENTS)}."
        )
    if key not in ASSIGNMENTS:
        raise GradingError(f"{path}: unknown assignment {key!r}; known: {sorted(ASSIGNMENTS)}.")
    return key


def grade_notebook(path: os.PathLike | str, assignment: Optional[str] = None, timeout: int = 600, smoke: bool = True) -> NotebookGrade:
    """Execute a student's notebook with nbclient and grade the function it defines.

    Every cell runs (errors are recorded, not fatal, so a broken exploration cell costs no
    points on its own); then, in the same kernel, the assignment's checker runs on the function
    the starter notebook asked for, with ``forbid_reference=True``. The assignment comes from the
    notebook's metadata (``anoclip.assignment``, set in the starter notebooks) unless given.
    ``smoke=True`` sets ``ANOCLIP_SMOKE=1`` for the kernel: the checks need no CLIP weights, and
    the notebook's demo cells then run on the tiny random model within seconds. ``timeout`` is
    per cell, in seconds.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as error:
        raise GradingError(f"{path}: cannot read the notebook ({error}).") from error
    key = _notebook_assignment(nb, path, assignment)
    env = dict(os.environ)
    if smoke:
        env["ANOCLIP_SMOKE"] = "1"
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    grading = nbformat.v4.new_code_cell(f"import anoclip.exercises.grading as _grader\n_grader._grade_in_kernel({key!r}, globals())")
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
        nb.cells.append(grading)
        client.execute_cell(grading, len(nb.cells) - 1)
    errors = [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(nb.cells[:-1]) if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "error"
    ]
    text = "".join(output.get("text", "") for output in grading.outputs if output.get("output_type") == "stream")
    if _MARKER in text:
        result = CheckResult.from_dict(json.loads(text.split(_MARKER, 1)[1].strip().splitlines()[0]))
    else:
        failure = "; ".join(f"{o.get('ename')}: {o.get('evalue')}" for o in grading.outputs if o.get("output_type") == "error")
        result = CheckResult(key, ASSIGNMENTS[key].title, [Check("grading ran", False, failure or "the grading cell printed nothing")])
    return NotebookGrade(str(path), key, result, errors)


def grade_notebooks(paths: Sequence[os.PathLike | str], csv_path: Optional[os.PathLike | str] = None,
                    assignment: Optional[str] = None, timeout: int = 600, smoke: bool = True) -> List[NotebookGrade]:
    """Grade several notebooks; with ``csv_path``, also write one row per notebook (atomically).

    A notebook that cannot be graded gets a row with its reason and score 0 instead of stopping
    the run, so one broken submission does not cost the others.
    """
    from tqdm.auto import tqdm

    grades = []
    for path in tqdm(list(paths), desc="grading", unit="notebook"):
        try:
            grades.append(grade_notebook(path, assignment, timeout, smoke))
        except GradingError as error:
            grades.append(NotebookGrade(str(path), assignment or "?", CheckResult(assignment or "?", "not graded", [Check("readable", False, str(error))])))
    if csv_path is not None:
        from ..fileio import write_csv_atomic

        rows = [{
            "notebook": grade.path, "assignment": grade.assignment, "score": f"{grade.score:.3f}",
            "points": f"{grade.result.points:g}", "max_points": f"{grade.result.max_points:g}",
            "implemented": grade.result.implemented,
            "failed_checks": " | ".join(f"{c.name}: {c.message}" for c in grade.result.failed),
            "cell_errors": " | ".join(grade.cell_errors),
        } for grade in grades]
        write_csv_atomic(Path(csv_path), rows, list(rows[0]) if rows else ["notebook"])
    return grades


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m anoclip.exercises grade NOTEBOOK... [--csv grades.csv]``."""
    parser = argparse.ArgumentParser(prog="python -m anoclip.exercises", description="Grade AnoCLIP Book assignment notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="execute notebooks and run the assignment checkers (runs their code: use a sandbox)")
    grade.add_argument("notebooks", nargs="+")
    grade.add_argument("--csv", default=None, help="write one row per notebook to this CSV file")
    grade.add_argument("--assignment", choices=sorted(ASSIGNMENTS), default=None, help="default: from each notebook's metadata")
    grade.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    grade.add_argument("--real", action="store_true", help="run the notebooks with real CLIP weights (default: ANOCLIP_SMOKE=1)")
    args = parser.parse_args(argv)
    grades = grade_notebooks(args.notebooks, args.csv, args.assignment, args.timeout, smoke=not args.real)
    for item in grades:
        print(item.summary(), end="\n\n")
    return 0
