"""The classroom edition: each assignment authored once, built by ``make classroom`` with otter-grader.

An assignment source (``book/assignments/aN_*.ipynb``) is an Otter Assign notebook: a raw
``# ASSIGNMENT CONFIG`` cell, the question between ``# BEGIN QUESTION`` / ``# END QUESTION``, the
solution in a ``# BEGIN SOLUTION`` block, public and hidden tests between ``# BEGIN TESTS`` /
``# END TESTS``. Its solution and test cells carry the site-only tags ``remove-cell`` and
``skip-execution``, so the book's page shows the handout (stub, public check, demos) and never a
solution. This module turns each source into

* ``_build/classroom/student/<name>/``: the notebook without solution or hidden tests, MyST
  rewritten for Colab, with the Colab setup cells (which also install otter-grader and write the
  public tests, so the notebook works opened alone in Colab) and its ``tests/`` folder of public
  tests for Jupyter;
* ``_build/classroom/autograder/<name>/``: ``<name>-autograder.zip`` (all tests, hidden ones
  included, and the reference implementations of ``book/assignments/reference``), the solution
  notebook and the test files, and ``RUBRIC.md`` / ``manual.json`` for the questions otter leaves
  to the teacher (``manual: true``: a prediction to justify, a design to defend, a variant to build
  and measure) — for teachers only.

Grading: :mod:`.grading`.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from anoclip.fileio import write_json_atomic, write_text_atomic
from .citations import Bibliography
from .grading import MANUAL_FILE, RUBRIC_FILE
from .myst import Targets
from .notebooks import (
    Document,
    SourceError,
    bibliography,
    context,
    convert_cells,
    documents,
    make_colab_ready,
    read,
    strip_site_tags,
    targets,
    write,
)
from .settings import Settings
from .setup_cells import setup_cells

REFERENCE_FOLDER = "reference"  # next to the sources: the autograder's reference implementations
EXPORT_MARKER = re.compile(r"^<!-- (BEGIN|END) QUESTION -->\n?", re.MULTILINE)


@dataclass(frozen=True)
class ManualQuestion:
    """A question otter-grader leaves to the teacher: its name, points, text and rubric (Markdown)."""

    name: str
    points: float
    question: str
    rubric: str


def manual_questions(nb) -> List[ManualQuestion]:
    """The manually graded questions of an assignment source, in order: the question's Markdown before
    its prompt or solution, and the Markdown of its solution block (the rubric and model answer)."""
    import yaml

    found, current, block = [], None, None
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw" and text.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.partition("\n")[2]) or {}
            current = {"config": config, "question": [], "rubric": []} if config.get("manual") else None
        elif cell.cell_type == "raw" and text.startswith("# END QUESTION"):
            if current is not None:
                config = current["config"]
                found.append(ManualQuestion(str(config["name"]), float(config.get("points") or 0),
                                            "\n\n".join(current["question"]), "\n\n".join(current["rubric"])))
            current = None
        elif cell.cell_type == "raw" and text.startswith(("# BEGIN ", "# END ")):
            block = text.split()[2] if text.startswith("# BEGIN ") else None
        elif current is not None and cell.cell_type == "markdown":
            if block is None:
                current["question"].append(cell.source)
            elif block == "SOLUTION":
                current["rubric"].append(cell.source)
    return found


def rubric_markdown(name: str, questions: Sequence[ManualQuestion]) -> str:
    """``RUBRIC.md`` of one assignment: each manually graded question with its rubric."""
    total = sum(question.points for question in questions)
    parts = [f"# {name}: the questions you grade by hand", "",
             f"Otter grades the tests; you grade the questions below, {total:g} points in all, with the rubric under "
             "each. The solution notebook next to this file runs the model solution of each.", ""]
    for question in questions:
        parts += [f"## {question.name} ({question.points:g} points)", "", question.question, "", question.rubric, ""]
    return "\n".join(parts)


@dataclass
class StudentNotebook:
    """An assignment's student notebook, its public tests (file name → text) and otter's output folder."""

    name: str
    notebook: object
    tests: Dict[str, str]
    dist: Path
    manual: List[ManualQuestion]


def _is_otter_cell(cell, text: str) -> bool:
    return cell.cell_type == "code" and cell.source.strip().startswith(text)


def _student(nb, settings: Settings, document: Document, tests: Dict[str, str], where: str):
    """Otter's student notebook made Colab-ready: our setup cells replace otter's pip and init cells, and
    the PDF-export comments otter puts around manually graded questions go (the editions make no PDF)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = EXPORT_MARKER.sub("", cell.source).strip("\n")
    nb.cells = [cell for cell in nb.cells
                if not (_is_otter_cell(cell, "%pip install") or _is_otter_cell(cell, "# Initialize Otter"))
                and cell.source.strip()]  # stripped solution cells, emptied export markers
    make_colab_ready(nb, settings, document, setup_cells(settings, document, {}, tests, edition="make classroom"), where)
    return nb


def _assign(root: Path, settings: Settings, document: Document, work: Path, run_tests: bool, found, bib) -> StudentNotebook:
    """Run Otter Assign on one prepared source inside ``work``."""
    from otter.assign import main as otter_assign

    name = document.path.stem
    nb = read(document.path)
    ctx = context(root, settings, document, found, bib)
    strip_site_tags(nb)
    convert_cells(nb, ctx)
    manual = manual_questions(nb)
    folder = work / name
    folder.mkdir(parents=True)
    reference = document.path.parent / REFERENCE_FOLDER
    if reference.is_dir():
        shutil.copytree(reference, folder / REFERENCE_FOLDER, ignore=shutil.ignore_patterns("__pycache__"))
    master = write(nb, folder / f"{name}.ipynb")
    dist = folder / "dist"
    try:
        otter_assign(str(master), str(dist), no_pdfs=True, no_run_tests=not run_tests)
    except Exception as error:  # otter's own errors say what is wrong with the source
        raise SourceError(f"{ctx.where}: otter assign failed: {error}") from error
    tests = {path.name: path.read_text(encoding="utf-8") for path in sorted((dist / "student" / "tests").glob("*.py"))}
    student = _student(read(dist / "student" / f"{name}.ipynb"), settings, document, tests, ctx.where)
    return StudentNotebook(name, student, tests, dist, manual)


def student_notebooks(
    root: Path,
    settings: Settings,
    work: Path,
    run_tests: bool = False,
    *,
    docs: Optional[Sequence[Document]] = None,
    found: Optional[Targets] = None,
    bib: Optional[Bibliography] = None,
) -> Dict[str, StudentNotebook]:
    """docname → the student notebook of every assignment (otter's output written under ``work``).

    ``docs``, ``found`` and ``bib`` are the book's pages, targets and bibliography when the caller
    (the Colab edition) has read them already.
    """
    docs = documents(root) if docs is None else docs
    found = targets(root, docs) if found is None else found
    bib = bibliography(root, settings) if bib is None else bib
    return {document.docname: _assign(root, settings, document, work, run_tests, found, bib)
            for document in docs if document.assignment}


README = """# Classroom edition of {title}

Built by `make classroom` from `book/assignments/` (the sources, with solutions and hidden tests).

* `student/<assignment>/`: hand these out (the notebook and its `tests/` folder of public tests).
  The notebooks also open alone in Colab: {colab}
* `autograder/<assignment>/`: for teachers only. `<assignment>-autograder.zip` holds every test,
  hidden ones included; the notebook there is the solution; `RUBRIC.md` is the rubric of the
  questions you grade by hand (a prediction to justify, a design to defend, a variant to measure).

Grade a folder of handed-in notebooks into one CSV (offline, no Docker; it runs the students'
code, so use a throw-away machine or container):

    python -m anoclip_book.editions grade submissions/ --autograder {autograder} --csv grades.csv
"""


def build(root: Path, out: Path, settings: Settings, run_tests: bool = False) -> Dict[str, Path]:
    """Write ``out/student`` and ``out/autograder`` (replacing ``out``); return name → autograder zip."""
    if out.exists():
        shutil.rmtree(out)
    zips = {}
    with tempfile.TemporaryDirectory(prefix="anoclip-classroom-") as work:
        for docname, student in student_notebooks(root, settings, Path(work), run_tests).items():
            target = out / "student" / student.name
            write(student.notebook, target / f"{student.name}.ipynb")
            for file_name, text in student.tests.items():
                write_text_atomic(target / "tests" / file_name, text)
            grader = out / "autograder" / student.name
            shutil.copytree(student.dist / "autograder", grader)
            (produced,) = grader.glob("*-autograder_*.zip")
            zips[student.name] = produced.rename(grader / f"{student.name}-autograder.zip")
            if student.manual:
                write_text_atomic(grader / RUBRIC_FILE, rubric_markdown(student.name, student.manual))
                write_json_atomic(grader / MANUAL_FILE, [{"name": q.name, "points": q.points} for q in student.manual])
    write_text_atomic(out / "README.md", README.format(
        title=settings.title or "the book", colab=settings.colab_url("book/assignments/<assignment>.ipynb"),
        autograder=out / "autograder"))
    return zips
