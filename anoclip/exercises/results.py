"""What a checker run produces, and the machinery the four checkers share.

:class:`Check` and :class:`CheckResult` are what students see (and what grading collects as
JSON). The private helpers keep each checker short and its messages consistent: a recorder that
turns a stub still raising ``NotImplementedError`` into "not implemented yet" instead of a
crash, a safe call of student code that reports errors with the student's own line, a
float32-tolerant comparison and the lookup of the typical mistake an output matches, and the
best-effort guard against calling the package's reference implementation.
"""
from __future__ import annotations

import html
import inspect
import os
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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


def _from_exercises(module_name: Any) -> bool:
    """True for this package and its modules, where the checkers and their private references live."""
    return isinstance(module_name, str) and (module_name == __package__ or module_name.startswith(__package__ + "."))


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


def _close(actual: Tensor, expected: Tensor, rtol: float = 1e-4) -> bool:
    """|actual − expected| ≤ rtol · max(1, max|expected|) everywhere (float32-friendly)."""
    if actual.shape != expected.shape:
        return False
    scale = max(1.0, float(expected.abs().max()))
    return bool(torch.isfinite(actual).all()) and float((actual.double() - expected.double()).abs().max()) <= rtol * scale


def _match_mistake(actual: Tensor, mistakes: Sequence[Tuple[Tensor, str]]) -> Optional[str]:
    for candidate, message in mistakes:
        if _close(actual, candidate):
            return message
    return None


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


def _uses_reference(fn: Callable, module: str, functions: Sequence[str], snippets: Sequence[str]) -> Optional[str]:
    """The package implementation the student's function relies on, if any.

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
            if (owner == module or _from_exercises(owner)) and getattr(value, "__name__", "") in functions:
                return f"{value.__module__}.{value.__name__}"
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return next((snippet for snippet in snippets if snippet in source), None)


def _reference_check(recorder: _Recorder, fn: Callable, module: str, functions: Sequence[str], snippets: Sequence[str]) -> None:
    used = _uses_reference(fn, module, functions, snippets)
    recorder.add(
        "written without the package's reference implementation", used is None,
        f"Your function uses {used}, the implementation the checker compares with; write it yourself.",
    )
