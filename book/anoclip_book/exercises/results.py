"""What a checker run produces, and the machinery the four checkers share.

:class:`Check` and :class:`CheckResult` are what students see. The private helpers keep each
checker short and its messages consistent: a recorder that turns a stub still raising
``NotImplementedError`` into "not implemented yet" instead of a crash, a safe call of student
code that reports errors with the student's own line, and the comparison of an output with the
*stored* outputs of the right answer and of typical mistakes (``expected.json``).

No reference solution ships here. ``expected.json`` holds, for each checker's seeded inputs,
a short summary of what the reference produces and of what each typical mistake produces; it is
written by ``book/assignments/reference/fingerprints.py`` from the reference implementations,
which live only in the repository and in the autograder bundle (``make classroom``), next to the
hidden tests. :func:`reference_used` is the guard those hidden tests run against a function that
calls the package's own implementation.
"""
from __future__ import annotations

import html
import inspect
import json
import os
import traceback
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Check:
    """One thing a checker verified: ``message`` says what is wrong and how to fix it."""

    name: str
    passed: bool
    message: str = ""
    points: float = 1.0


@dataclass
class CheckResult:
    """The outcome of one checker run; renders itself as a summary in notebooks.

    ``score`` is the share of points passed, in [0, 1]; a stub that is not implemented yet
    scores 0 and has ``implemented == False``.
    """

    assignment: str
    title: str
    checks: List[Check] = field(default_factory=list)
    implemented: bool = True

    @property
    def passed(self) -> bool:
        """True when the function is implemented and every check passed."""
        return self.implemented and all(check.passed for check in self.checks)

    @property
    def points(self) -> float:
        return float(sum(check.points for check in self.checks if check.passed)) if self.implemented else 0.0

    @property
    def max_points(self) -> float:
        return float(sum(check.points for check in self.checks))

    @property
    def score(self) -> float:
        return self.points / self.max_points if self.max_points else 0.0

    @property
    def failed(self) -> List[Check]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        """A plain-text report: one line per check, with the message under each failure."""
        head = f"{self.assignment} · {self.title}"
        if not self.implemented:
            return f"{head}: not implemented yet.\n  {self.checks[0].message}"
        verdict = "all checks passed" if self.passed else f"{len(self.failed)} check(s) failed"
        lines = [f"{head}: {verdict} — score {self.points:g}/{self.max_points:g} ({100 * self.score:.0f} %)"]
        for check in self.checks:
            lines.append(f"  {'✓' if check.passed else '✗'} {check.name}")
            if not check.passed and check.message:
                lines.append(f"      {check.message}")
        return "\n".join(lines)

    __str__ = summary

    def _repr_html_(self) -> str:
        colour = "#1e8449" if self.passed else ("#7f8c8d" if not self.implemented else "#c0392b")
        if not self.implemented:
            verdict = "not implemented yet"
        else:
            verdict = f"score {self.points:g}/{self.max_points:g} ({100 * self.score:.0f} %)"
        rows = []
        for check in self.checks if self.implemented else self.checks[:1]:
            mark = "✓" if check.passed else ("…" if not self.implemented else "✗")
            note = f"<div style='margin-left:1.6em;color:#555'>{html.escape(check.message)}</div>" if check.message and not check.passed else ""
            rows.append(f"<li style='list-style:none'>{mark} {html.escape(check.name)}{note}</li>")
        return (
            f"<div style='border-left:4px solid {colour};padding:0.3em 0.8em;margin:0.3em 0'>"
            f"<b>{html.escape(self.assignment)} · {html.escape(self.title)}</b>: "
            f"<span style='color:{colour}'>{verdict}</span><ul style='margin:0.3em 0;padding-left:0.4em'>"
            + "".join(rows) + "</ul></div>"
        )

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form (what grading collects)."""
        return {
            "assignment": self.assignment,
            "title": self.title,
            "implemented": self.implemented,
            "passed": self.passed,
            "points": self.points,
            "max_points": self.max_points,
            "score": self.score,
            "checks": [asdict(check) for check in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "CheckResult":
        return cls(
            assignment=data["assignment"], title=data["title"],
            checks=[Check(**check) for check in data["checks"]], implemented=data["implemented"],
        )


class _NotImplementedYet(Exception):
    """Raised internally when the student's stub still raises NotImplementedError."""


class _Recorder:
    """Collects the checks of one checker run; a stub that is not implemented yet becomes one
    failed check worth all the points (so the maximum is the same either way)."""

    def __init__(self, assignment: str, title: str, stub_hint: str, total: float) -> None:
        self.result = CheckResult(assignment, title)
        self.stub_hint = stub_hint
        self.total = total

    def add(self, name: str, passed: bool, message: str = "", points: float = 1.0) -> bool:
        self.result.checks.append(Check(name, bool(passed), "" if passed else message, points))
        return bool(passed)

    def not_implemented(self) -> CheckResult:
        """Replace whatever was recorded by one failed check worth all the points."""
        self.result.checks = [Check("implemented", False, self.stub_hint, self.total)]
        self.result.implemented = False
        return self.result


def _describe_error(error: BaseException) -> str:
    """'TypeError: ... (your line 12: `x = ...`)' — the last frame outside this package."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.dirname(frame.filename) != os.path.dirname(__file__)]
    where = ""
    if frames:
        frame = frames[-1]
        code = f": `{frame.line.strip()}`" if frame.line else ""
        where = f" (line {frame.lineno}{code})"
    return f"raised {type(error).__name__}: {error}{where}"


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Tuple[Any, Optional[str]]:
    """Run the student's function: (output, None) or (None, error description)."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        raise _NotImplementedYet from None
    except Exception as error:  # any bug in student code becomes a failed check
        return None, _describe_error(error)


EXPECTED_FILE = Path(__file__).with_name("expected.json")
_PROJECTED = 16  # outputs with more values than twice this are summarised by a seeded projection


@lru_cache(maxsize=None)
def expected(assignment: str) -> Dict[str, Any]:
    """The stored summaries for ``assignment`` (``"a1"`` ... ``"a4"``), case by case."""
    return json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))[assignment]


def summary(value: Any) -> np.ndarray:
    """A float64 vector that stands for an output: its values, or a seeded projection of them.

    Long outputs (a block's (B, L, W) attention output) are projected onto 16 fixed random
    directions: two outputs that differ anywhere differ in the projection, and the stored
    summaries stay small and reveal nothing that would rebuild the computation.
    """
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    flat = np.asarray(value, dtype=np.float64).ravel()
    if flat.size <= 2 * _PROJECTED:
        return flat
    directions = np.random.RandomState(flat.size).standard_normal((flat.size, _PROJECTED)) / np.sqrt(flat.size)
    return flat @ directions


def same(actual: np.ndarray, stored: Sequence[float], rtol: float) -> bool:
    """|actual − stored| ≤ rtol · max(1, max|stored|) everywhere (float32-friendly), all finite."""
    stored = np.asarray(stored, dtype=np.float64)
    if actual.shape != stored.shape or not np.isfinite(actual).all():
        return False
    return float(np.abs(actual - stored).max(initial=0.0)) <= rtol * max(1.0, float(np.abs(stored).max(initial=0.0)))


def which_mistake(actual: np.ndarray, mistakes: Mapping[str, Sequence[float]], messages: Mapping[str, str],
                  rtol: float) -> Optional[str]:
    """The message of the first stored mistake whose output ``actual`` reproduces, if any."""
    return next((messages[key] for key, stored in mistakes.items() if key in messages and same(actual, stored, rtol)), None)


def _as_tensor(value: Any) -> Optional[Tensor]:
    if isinstance(value, Tensor):
        return value.detach().float()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.asarray(value, dtype=np.float32))
    return None


def _global_names(code: Any) -> set:
    """Global names a code object (and the functions and comprehensions inside it) looks up."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if inspect.iscode(constant):
            names |= _global_names(constant)
    return names


def reference_used(fn: Callable, module: str, functions: Sequence[str], snippets: Sequence[str]) -> Optional[str]:
    """The package implementation the student's function relies on, if any (for hidden tests).

    A best-effort guard for grading. It finds the function itself coming from the package, a
    global or closure name bound to one of the reference ``functions`` of ``module`` (``from
    anoclip.metrics import aupro``), and a ``snippet`` in its source (``anoclip.metrics.aupro(``).
    It does not catch a copy of the reference's code, and is not meant to.
    """
    own_module = getattr(inspect.getmodule(fn), "__name__", "") or ""
    if own_module.startswith("anoclip"):
        return f"{own_module}.{getattr(fn, '__name__', fn)}"
    if inspect.isfunction(fn):
        referenced = list(inspect.getclosurevars(fn).nonlocals.values())
        referenced += [fn.__globals__.get(name) for name in sorted(_global_names(fn.__code__))]
        for value in referenced:
            owner = getattr(value, "__module__", None)
            if owner == module and getattr(value, "__name__", "") in functions:
                return f"{value.__module__}.{value.__name__}"
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return next((snippet for snippet in snippets if snippet in source), None)
