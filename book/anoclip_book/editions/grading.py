"""Grading a folder of handed-in assignment notebooks into one CSV, with otter-grader, offline.

``otter grade`` runs each submission in a Docker container; teachers without Docker (and the
tests) use otter's non-containerised grading instead, :func:`otter.api.grade_submission`, one
notebook after the other, with the autograder bundle ``make classroom`` wrote. Each submission
is executed top to bottom in a fresh kernel (by default in smoke mode, ``ANOCLIP_SMOKE=1``, so the
demo cells run in seconds without weights or a GPU; the tests themselves need neither), then the
public and hidden tests run. Executing a notebook runs the student's code: grade on a throw-away
machine or in a container without credentials.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .. import modes

RUBRIC_FILE, MANUAL_FILE = "RUBRIC.md", "manual.json"  # beside each autograder bundle: what the teacher grades

COLUMNS = ["notebook", "assignment", "score", "points", "possible", "failed_tests", "by_hand", "error"]


class GradingError(ValueError):
    """Nothing to grade, or no autograder for a submission; the message says what to pass."""


@dataclass
class Grade:
    """One submission's result: points of all tests (public and hidden) and what failed."""

    notebook: str
    assignment: str
    points: float = 0.0
    possible: float = 0.0
    failed: List[str] = field(default_factory=list)
    by_hand: str = ""  # the questions the teacher grades with the rubric (not in points/possible)
    error: str = ""

    @property
    def score(self) -> float:
        return self.points / self.possible if self.possible else 0.0

    def row(self) -> Dict[str, str]:
        return {"notebook": self.notebook, "assignment": self.assignment, "score": f"{self.score:.3f}",
                "points": f"{self.points:g}", "possible": f"{self.possible:g}", "failed_tests": " | ".join(self.failed),
                "by_hand": self.by_hand, "error": self.error}


def submissions(paths: Sequence[Path]) -> List[Path]:
    """The notebooks among ``paths`` (folders are searched recursively), sorted."""
    found = []
    for path in map(Path, paths):
        found += sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
    found = [path for path in found if ".ipynb_checkpoints" not in path.parts]
    if not found:
        raise GradingError(f"No .ipynb file in {[str(p) for p in paths]}; pass the submissions' folder or files.")
    return found


def assignment_of(path: Path) -> str:
    """The assignment a notebook answers: otter records it in the notebook's metadata."""
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    name = metadata.get("otter", {}).get("assignment_name")
    if not name:
        raise GradingError(f"{path}: the notebook does not say which assignment it is (metadata otter.assignment_name); "
                           "was it made from the student edition? Pass --assignment NAME.")
    return str(name)


def autograder_zip(autograders: Path, assignment: str) -> Path:
    """``<autograders>/<assignment>/<assignment>-autograder.zip`` as ``make classroom`` writes it."""
    path = autograders / assignment / f"{assignment}-autograder.zip"
    if not path.is_file():
        raise GradingError(f"No autograder for {assignment!r}: {path} does not exist. Run `make classroom` (or pass "
                           "--autograder _build/classroom/autograder).")
    return path


def by_hand(folder: Path) -> str:
    """The questions of an assignment the teacher grades with its ``RUBRIC.md`` (``make classroom`` lists
    them in ``manual.json`` beside the bundle), e.g. "qq_variant (4 points, RUBRIC.md)"."""
    listed = folder / MANUAL_FILE
    if not listed.is_file():
        return ""
    return "; ".join(f"{q['name']} ({q['points']:g} points, {RUBRIC_FILE})" for q in json.loads(listed.read_text(encoding="utf-8")))


def grade_one(path: Path, autograders: Path, assignment: Optional[str] = None, smoke: bool = True) -> Grade:
    """Grade one submission; a submission that cannot be graded gets 0 points and the reason."""
    from otter.api import grade_submission

    try:
        name = assignment or assignment_of(path)
        bundle = autograder_zip(autograders, name)
    except (GradingError, OSError, ValueError) as error:
        return Grade(str(path), assignment or "?", error=str(error))
    with modes.smoke_for_subprocesses(smoke):
        results = grade_submission(str(path), str(bundle), quiet=True)
    grade = Grade(str(path), name, float(results.total), float(results.possible), by_hand=by_hand(bundle.parent))
    for test_file in results.results.values():
        for case in test_file.test_case_results:
            if not case.passed:
                kind = "hidden" if case.test_case.hidden else "public"
                message = " ".join((case.message or "").split())[-300:]
                grade.failed.append(f"{test_file.name}/{case.test_case.name} ({kind}): {message}")
    if results.catastrophic_error is not None:
        grade.error = f"{type(results.catastrophic_error).__name__}: {results.catastrophic_error}"
    return grade


def grade_folder(paths: Sequence[Path], autograders: Path, csv_path: Optional[Path] = None,
                 assignment: Optional[str] = None, smoke: bool = True) -> List[Grade]:
    """Grade every submission; with ``csv_path``, write one row per notebook (atomically)."""
    from anoclip.fileio import write_csv_atomic

    grades = [grade_one(path, Path(autograders), assignment, smoke) for path in submissions(paths)]
    if csv_path is not None:
        write_csv_atomic(Path(csv_path), [grade.row() for grade in grades], COLUMNS)
    return grades
