"""The Colab and classroom editions, built from the sources into a temporary folder and scanned.

Building needs no notebook execution (seconds); one test grades two submissions end to end
with the autograder bundle, as a teacher would.
"""
import io
import json
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from anoclip_book.editions import classroom, colab, grading, myst, notebooks, setup_cells
from anoclip_book.editions.citations import Bibliography
from anoclip_book.editions.settings import COLAB_URL, PLACEHOLDER_URL, SettingsError, load_settings, warn_if_placeholder

ROOT = Path(__file__).resolve().parents[2]

# What Colab's GPU runtime preinstalls, for the packages our install touches: googlecolab/backend-info,
# pip-freeze.gpu.txt at a72407924822ea377410b69f0a290150bcb5c9c2 (2026-08-19, Python 3.13; 708 packages).
# Not there: open_clip_torch, ftfy, otter-grader, fica, ipylab, python-frontmatter (installed by the cells).
COLAB = {
    "torch": "2.11.0+cu128", "torchvision": "0.26.0+cu128", "ipywidgets": "7.7.1", "numpy": "2.1.3", "scipy": "1.16.3",
    "pillow": "11.3.0", "tqdm": "4.67.3", "matplotlib": "3.10.0", "seaborn": "0.13.2", "pandas": "2.2.3",
    "timm": "1.0.28", "huggingface-hub": "1.27.0", "safetensors": "0.8.0", "regex": "2025.11.3", "click": "8.4.2",
    "dill": "0.3.8", "jinja2": "3.1.6", "jupytext": "1.19.5", "nbconvert": "7.17.1", "nbformat": "5.11.1",
    "pyyaml": "6.0.3", "requests": "2.32.4", "wrapt": "2.3.0", "ipython": "7.34.0", "packaging": "26.3",
    "sphinx": "8.2.3", "docutils": "0.21.2", "pygments": "2.21.0", "babel": "2.18.0", "alabaster": "1.0.0",
    "imagesize": "2.0.0", "snowballstemmer": "3.1.1", "widgetsnbextension": "3.6.10", "jupyterlab-widgets": "3.0.16",
}
RAW_MYST = [r"\{glue", r"\{cite", r"\{doc\}", r"\{ref\}", r"\{numref", r"\{eq\}", r"^\s*(```|:::)+\s*\{", r"^\s*:label:",
            r"^\s*:class:", r"^\s*\([\w:.-]+\)=\s*$", r"\{exercise", r"\{solution", r"\{admonition"]


@pytest.fixture(scope="module")
def settings():
    return load_settings(ROOT)


@pytest.fixture(scope="module")
def editions(tmp_path_factory, settings):
    out = tmp_path_factory.mktemp("editions")
    colab_notebooks = colab.build(ROOT, out / "colab", settings)
    zips = classroom.build(ROOT, out / "classroom", settings)
    return {"out": out, "colab": colab_notebooks, "zips": zips}


def cells(path, kind=None):
    return [c for c in nbformat.read(str(path), as_version=4).cells if kind is None or c.cell_type == kind]


def names(name_kind):
    return [d for d in notebooks.documents(ROOT) if d.notebook and (d.assignment if name_kind == "assignments" else not d.assignment)]


# ------------------------------------------------------------------------------------ Colab edition


def test_every_notebook_of_the_toc_is_in_the_colab_edition(editions):
    built = {path.relative_to(editions["out"] / "colab").as_posix() for path in editions["colab"]}
    assert built == {f"{d.docname}.ipynb" for d in notebooks.documents(ROOT) if d.notebook}
    assert (editions["out"] / "colab" / "README.md").is_file()


def test_the_colab_edition_shows_no_raw_myst(editions):
    for path in editions["colab"]:
        for cell in cells(path, "markdown"):
            for pattern in RAW_MYST:
                found = re.search(pattern, cell.source, re.MULTILINE)
                assert not found, f"{path.name}: raw MyST {found.group(0)!r} in\n{cell.source[:300]}"
        assert not [c for c in cells(path) if c.cell_type == "raw"], path.name
        for cell in cells(path, "code"):
            assert "{glue:" not in cell.source and not cell.outputs and cell.execution_count is None


def test_there_is_one_install_url_and_every_notebook_installs_both_packages_from_it_once(editions, settings):
    """The library and the book's tooling come from one repository at one ref (the tooling from its subfolder)."""
    url = f"git+{settings.repository}@{settings.package_ref}"
    for path in editions["colab"]:
        text = "\n".join(c.source for c in cells(path, "code"))
        requirements = re.findall(r"([\w-]+) @ (git\+https?://[^\s'\"]+)", text)
        assert requirements == [("anoclip", url), ("anoclip-book", url + "#subdirectory=book")], path.name
        assert "--constraint" in text and "%pip" not in text
    assert settings.install_url == url


def test_badges_point_at_the_notebook_on_the_colab_branch_and_ask_for_a_gpu(editions, settings):
    for path in editions["colab"]:
        relative = path.relative_to(editions["out"] / "colab").as_posix()
        title = cells(path, "markdown")[0].source
        assert title.startswith("# ") and settings.colab_url(relative) in title
        assert f"/blob/{settings.colab_branch}/{relative}" in title
        metadata = nbformat.read(str(path), as_version=4).metadata
        assert metadata["accelerator"] == "GPU" and metadata["colab"]["gpuType"] == "T4"


def test_every_code_cell_of_the_colab_edition_is_python(editions):
    for path in editions["colab"]:
        for cell in cells(path, "code"):
            compile(cell.source, f"{path.name}", "exec")


def test_glued_numbers_are_printed_where_the_prose_shows_their_names(editions):
    """Each **[name]** in the prose has its formats registered in the setup cell, as in the source's roles."""
    for document in names("chapters"):
        path = editions["out"] / "colab" / f"{document.docname}.ipynb"
        prose = "\n".join(c.source for c in cells(path, "markdown"))
        setup = next(c.source for c in cells(path, "code") if "colab_setup(" in c.source)
        source_roles = re.findall(r"\{glue:text\}`([^`:]+):?([^`]*)`", "\n".join(notebooks.markdown_texts(document)))
        for name, spec in source_roles:
            assert f"**[{name}]**" in prose and json.dumps(name) in setup and json.dumps(spec) in setup, (document.docname, name)
        assert len(set(re.findall(r"\*\*\[([\w-]+)\]\*\*", prose))) == len({name for name, _ in source_roles})


def test_exercises_become_headings_with_collapsed_solutions(editions):
    path = editions["out"] / "colab" / "book" / "04_maps_and_metrics.ipynb"
    text = "\n".join(c.source for c in cells(path, "markdown"))
    assert "#### Exercise 1" in text and "<details>" in text and "Solution to Exercise 1" in text
    assert text.count("<details>") == text.count("</details>") == text.count("#### Exercise")


def test_the_site_launch_buttons_open_the_colab_edition():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["branch"] == load_settings(ROOT).colab_branch == "colab"
    assert config["launch_buttons"]["colab_url"].rstrip("/") == COLAB_URL
    workflow = (ROOT / ".github" / "workflows" / "colab-edition.yml").read_text()
    assert "python -m anoclip_book.editions colab" in workflow and "_build/colab" in workflow


# --------------------------------------------------------------------------------------- classroom


SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "END TESTS", "BEGIN QUESTION", "ASSIGNMENT CONFIG",
                    "hidden=True", "hidden: true", "reference.", "from reference")


def solution_lines(document):
    """The non-trivial lines of the source's solution cells (what a student must write)."""
    lines = set()
    for cell in cells(document.path, "code"):
        if "# BEGIN SOLUTION" in cell.source:
            lines |= {line.strip() for line in cell.source.splitlines() if len(line.strip()) > 25 and "SOLUTION" not in line
                      and not line.strip().startswith(('"""', "def "))}
    assert lines, document.docname
    return lines


def test_the_student_edition_has_no_solution_and_no_hidden_test(editions):
    for document in names("assignments"):
        name = document.path.stem
        folder = editions["out"] / "classroom" / "student" / name
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert files[0] == f"{name}.ipynb" and all(f.startswith("tests/") for f in files[1:]), files
        texts = [p.read_text() for p in folder.rglob("*") if p.is_file()]
        for text in texts:
            for marker in SOLUTION_MARKERS:
                assert marker not in text, (name, marker)
            for line in solution_lines(document):
                assert line not in text, (name, line)
        code = "\n".join(c.source for c in cells(folder / f"{name}.ipynb", "code"))
        assert "raise NotImplementedError" in code and "grader = otter.Notebook()" in code and 'grader.check("' in code
        assert nbformat.read(str(folder / f"{name}.ipynb"), as_version=4).metadata["otter"]["assignment_name"] == name


def test_the_colab_assignments_are_the_student_edition(editions):
    for document in names("assignments"):
        name = document.path.stem
        colab_copy = (editions["out"] / "colab" / f"{document.docname}.ipynb").read_text()
        assert colab_copy == (editions["out"] / "classroom" / "student" / name / f"{name}.ipynb").read_text()


def test_the_autograder_bundle_has_the_hidden_tests_and_the_references(editions):
    for document in names("assignments"):
        name = document.path.stem
        bundle = editions["zips"][name]
        assert bundle == editions["out"] / "classroom" / "autograder" / name / f"{name}-autograder.zip"
        with zipfile.ZipFile(bundle) as archive:
            members = archive.namelist()
            tests = "".join(archive.read(m).decode() for m in members if m.startswith("tests/"))
        assert "hidden=True" in tests and "hidden=False" in tests
        assert any(m.startswith("files/reference/") and m.endswith(".py") for m in members)
        solution = "\n".join(c.source for c in cells(bundle.parent / f"{name}.ipynb", "code"))
        assert all(line in solution for line in solution_lines(document))


def test_every_assignment_has_a_question_graded_by_hand_with_a_rubric_for_teachers_only(editions):
    """Issue 19: each assignment asks for judgement (otter's manual question) besides the autograded function;
    the rubric reaches the autograder edition and never the student's; A4's median-trust variant is one."""
    manual = {}
    for document in names("assignments"):
        name = document.path.stem
        questions = classroom.manual_questions(nbformat.read(str(document.path), as_version=4))
        assert questions and all(q.points > 0 and "Rubric" in q.rubric for q in questions), name
        manual[name] = questions
        rubric = (editions["out"] / "classroom" / "autograder" / name / classroom.RUBRIC_FILE).read_text()
        listed = json.loads((editions["out"] / "classroom" / "autograder" / name / classroom.MANUAL_FILE).read_text())
        assert listed == [{"name": q.name, "points": q.points} for q in questions]
        student = (editions["out"] / "classroom" / "student" / name / f"{name}.ipynb").read_text()
        for question in questions:
            assert f"## {question.name} ({question.points:g} points)" in rubric and "**Rubric" in rubric
            assert question.question.splitlines()[0] in student  # the question is asked ...
        assert "Rubric" not in student and "<!-- BEGIN QUESTION" not in student  # ... its rubric stays with the teacher
    assert "median_trust" in [q.name for q in manual["a4_tta_loss"]]


def test_the_site_shows_no_solution_and_publishes_no_source():
    """On the site an assignment is its handout: solution and test cells are hidden and never run."""
    import yaml

    for document in names("assignments"):
        for cell in cells(document.path, "code"):
            secret = "# BEGIN SOLUTION" in cell.source or "def test_" in cell.source
            tags = set(cell.metadata.get("tags", []))
            assert not secret or {"remove-cell", "skip-execution"} <= tags, (document.docname, cell.source[:80])
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    assert config["config"]["html_copy_source"] is False and config["recursive_update"] is True
    assert config["config"]["html_theme_options"]["use_download_button"] is False


def test_the_pip_package_ships_no_assignment_source():
    """Reference solutions and hidden tests live in book/assignments, outside anoclip/."""
    package = ROOT / "anoclip"
    for path in package.rglob("*.py"):
        text = path.read_text()
        for marker in ("# BEGIN SOLUTION NO PROMPT", "hidden: true", "def test_public_checks", "from reference"):
            assert marker not in text, (path, marker)


def test_no_chapter_solves_an_assignment_verbatim():
    chapters = "\n".join(c.source for d in names("chapters") for c in cells(d.path, "code"))
    for document in names("assignments"):
        for line in solution_lines(document):
            assert line not in chapters, (document.docname, line)
    # the two overlaps the issue named: chapter 4's brute-force AUPRO, chapter 5's TTA loss
    assert "ndimage.label" not in chapters and "clamp_min(1e-12).log()" not in chapters


def test_teachers_grade_a_folder_into_a_csv(editions, tmp_path):
    """A correct a3 and one that calls the package's implementation, graded offline without Docker."""
    name = "a3_aupro"
    student = editions["out"] / "classroom" / "student" / name / f"{name}.ipynb"
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    source = nbformat.read(str(ROOT / "book" / "assignments" / f"{name}.ipynb"), as_version=4)
    solution = next(c.source for c in source.cells if "# BEGIN SOLUTION NO PROMPT" in c.source)
    solution = "\n".join(line for line in solution.splitlines() if "SOLUTION" not in line)
    for who, body in (("alice", solution), ("bob", "from anoclip.metrics import aupro")):
        nb = nbformat.read(str(student), as_version=4)
        stub = next(c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source)
        stub.source = body
        nbformat.write(nb, str(submissions / f"{who}.ipynb"))
    (submissions / "notes.txt").write_text("not a notebook")
    csv = tmp_path / "grades.csv"
    grades = grading.grade_folder([submissions], editions["out"] / "classroom" / "autograder", csv)
    by_name = {Path(g.notebook).stem: g for g in grades}
    assert by_name["alice"].score == 1.0 and by_name["alice"].possible == 10
    assert by_name["alice"].by_hand == "aupro_design (4 points, RUBRIC.md)"  # graded by the teacher, not in possible
    assert by_name["bob"].score < 1.0 and "the package's own implementation" in " ".join(by_name["bob"].failed)
    rows = csv.read_text().splitlines()
    assert rows[0].split(",") == grading.COLUMNS and len(rows) == 3


def test_grading_says_what_is_missing(tmp_path, editions):
    with pytest.raises(grading.GradingError, match="No .ipynb"):
        grading.submissions([tmp_path])
    stray = tmp_path / "stray.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(stray))
    grade = grading.grade_one(stray, editions["out"] / "classroom" / "autograder")
    assert grade.points == 0 and "otter.assignment_name" in grade.error
    assert "make classroom" in grading.grade_one(stray, tmp_path, assignment="a3_aupro").error


# ------------------------------------------------------------------------------ the repository setting


def write_config(folder, url):
    config = (ROOT / "_config.yml").read_text().replace(f"url: {PLACEHOLDER_URL}", f"url: {url}")
    (folder / "_config.yml").write_text(config)
    return folder


def test_the_placeholder_repository_is_warned_about_and_a_real_one_is_not(tmp_path, settings):
    stream = io.StringIO()
    assert warn_if_placeholder(settings, stream) and PLACEHOLDER_URL in stream.getvalue() and "repository.url" in stream.getvalue()
    real = load_settings(write_config(tmp_path, "https://github.com/someone/anoclip-fork"))
    stream = io.StringIO()
    assert not warn_if_placeholder(real, stream) and stream.getvalue() == ""
    assert real.install_url == "git+https://github.com/someone/anoclip-fork@main"
    assert real.colab_url("book/00_welcome.ipynb").endswith("/github/someone/anoclip-fork/blob/colab/book/00_welcome.ipynb")
    assert real.with_package_ref("0123abc").install_url.endswith("@0123abc")


def test_a_repository_colab_cannot_open_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="_config.yml: repository.url is 'https://gitlab.com/x/y'"):
        load_settings(write_config(tmp_path, "https://gitlab.com/x/y"))


def test_the_editions_build_with_another_repository(tmp_path):
    """Nothing in the sources names the repository: a fork's _config.yml is enough."""
    fork = tmp_path / "fork"
    shutil.copytree(ROOT, fork, ignore=shutil.ignore_patterns("_build", ".git", ".venv", "__pycache__", "data", "results"))
    write_config(fork, "https://github.com/someone/anoclip-fork")
    built = colab.build(fork, tmp_path / "colab", load_settings(fork))
    text = "\n".join(path.read_text() for path in built)
    assert "anoclip-book/anoclip-book" not in text and "git+https://github.com/someone/anoclip-fork@main" in text


# ----------------------------------------------------------------------------- MyST → Colab Markdown


@pytest.fixture
def context(settings):
    found = myst.Targets()
    found.add_document("book/01_a", ["# First\n\n(sec-x)=\n## Section X\n", "```{exercise}\n:label: ex-a\n\nDo.\n```",
                                     myst.CellFigure("fig-a1", "A *plot*."), "$$ a = 1 $$ (eq-a1)"], True, chapter=1)
    found.add_document("book/index", ["# Index page", "```{figure} pic.png\n:name: fig-index\n\nA picture.\n```"], False)
    found.add_document("book/02_b", ["# Second", "```{figure} figures/x.svg\n:name: fig-b1\n\nOne.\n```",
                                     myst.CellFigure("fig-b2", "Two, with $x^2$."), "$$\nb = 2\n$$ (eq-b1)",
                                     "```{math}\n:label: eq-b2\nc = 3\n```"], True, chapter=2)
    bib = Bibliography(ROOT / "references.bib", settings.site_page("book/bibliography"))
    return myst.Context("book/02_b", "book/02_b.ipynb", found, bib, lambda d: f"colab:{d}", lambda d, a: f"site:{d}#{a}",
                        file_link=lambda path: f"raw:{path}")


def test_roles_become_links_and_text(context):
    text = myst.convert("See {doc}`01_a`, {doc}`the index <index>`, {ref}`ex-a`, {ref}`that <sec-x>` and "
                        "{cite:p}`deng2023anovl,radford2021clip`; {cite:t}`bergmann2021mvtec` {glue:text}`n:.2f`.", context)
    assert "[1. First](colab:book/01_a)" in text and "[the index](site:book/index#)" in text  # numbered like the toc
    assert "[Exercise 1](site:book/01_a#ex-a)" in text and "[that](site:book/01_a#sec-x)" in text
    assert "([Deng et al., 2023](https://arxiv.org/abs/2308.15939); [Radford et al., 2021](" in text
    assert "[Bergmann et al. (2021)](" in text and "**[n]**" in text and context.glue_formats == {"n": [".2f"]}


def test_code_is_left_alone_and_directives_are_rendered(context):
    source = "\n".join([
        "Use `{D}` and `` {glue:text}`x` `` literally.", "(tgt)=", "````{exercise} Title", ":label: e1", "", "Text {glue}`m`.",
        "```python", "print('{doc}`no`')", "```", "````", "````{solution} e1", ":class: dropdown", "", "Because.", "````",
        "```{admonition} Running this", ":class: tip", "Be patient.", "```", "```{math}", "a = b", "```"])
    text = myst.convert(source, context)
    assert "`{D}`" in text and "`` {glue:text}`x` ``" in text and "(tgt)=" not in text
    assert "#### Exercise 1: Title" in text and "print('{doc}`no`')" in text and "**[m]**" in text
    assert "<details>" in text and "Solution to Exercise 1" in text and "Because." in text
    assert "> **Running this**" in text and "> Be patient." in text and "$$\na = b\n$$" in text
    assert ":label:" not in text and ":class:" not in text


def test_figures_and_equations_are_numbered_like_the_site(context):
    """Chapter 2's figures and labelled equations count in page order, code-cell figures included;
    a reference to another page links to it there; an unnumbered page counts without a prefix."""
    assert context.targets.labels["fig-b1"] == ("book/02_b", "Figure 2.1")
    assert context.targets.labels["fig-b2"] == ("book/02_b", "Figure 2.2")
    assert context.targets.labels["eq-b1"] == ("book/02_b", "(2.1)") and context.targets.labels["eq-b2"][1] == "(2.2)"
    assert context.targets.labels["fig-index"] == ("book/index", "Figure 1")
    context.targets.add_document("book/later", ["```{figure} b.png\n:name: fig-later\n\nB.\n```"], False)
    assert context.targets.labels["fig-later"] == ("book/later", "Figure 2")  # unnumbered pages count on together
    text = myst.convert("See {numref}`fig-b2`, {numref}`Fig. {number} <fig-b1>`, {numref}`fig-a1`, {eq}`eq-b1` and "
                        "{eq}`eq-a1`.", context)
    assert text == ("See Figure 2.2, Fig. 2.1, [Figure 1.1](site:book/01_a#fig-a1), (2.1) and "
                    "[(1.1)](site:book/01_a#eq-a1).")


def test_a_figure_becomes_an_image_and_its_numbered_caption(context):
    text = myst.convert("```{figure} figures/x.svg\n:name: fig-b1\n:width: 100%\n:alt: A \"box\".\n\nOne, see {eq}`eq-b1`.\n```",
                        context)
    assert '<img src="raw:book/figures/x.svg" alt="A &quot;box&quot;.">' in text
    assert "**Figure 2.1.** One, see (2.1)." in text and ":name:" not in text and ":width:" not in text


def test_labelled_equations_carry_their_number_as_a_tag(context):
    assert myst.convert("$$\nb = 2\n$$ (eq-b1)", context) == "$$\nb = 2\n \\tag{2.1} $$"
    assert myst.convert("  $$ b = 2 $$ (eq-b1)", context) == "  $$ b = 2 \\tag{2.1} $$"
    assert myst.convert("```{math}\n:label: eq-b2\nc = 3\n```", context) == "$$\nc = 3 \\tag{2.2}\n$$"
    assert myst.caption_cell(myst.CellFigure("fig-b2", "Two, with $x^2$."), context) == "**Figure 2.2.** Two, with $x^2$."


def test_code_cell_figures_get_their_caption_under_them_in_the_colab_edition(editions):
    """Every captioned code cell of the sources is followed by its numbered caption, and the site's
    figures in markdown become images of the SVG sources in the repository."""
    for document in names("chapters"):
        built = cells(editions["out"] / "colab" / f"{document.docname}.ipynb")
        sources = [c for c in cells(document.path, "code") if notebooks.cell_figure(c)]
        for source in sources:
            index = next(i for i, c in enumerate(built) if c.cell_type == "code" and c.source == source.source)
            caption = built[index + 1]
            assert caption.cell_type == "markdown" and re.match(r"\*\*Figure \d+(\.\d+)?\.\*\* \S", caption.source), caption.source
        for cell in cells(document.path, "markdown"):
            for path in re.findall(r"```\{figure\} (\S+)", cell.source):
                assert (document.path.parent / path).is_file(), path
                assert any(f"/book/{path}\"" in c.source for c in built if c.cell_type == "markdown"), path
    titles = {d.docname: cells(editions["out"] / "colab" / f"{d.docname}.ipynb", "markdown")[0].source.splitlines()[0]
              for d in names("chapters")}
    assert titles["book/02_value_wise_attention"].startswith("# 2. ") and titles["book/00_welcome"].startswith("# AnoCLIP")


def test_a_predict_admonition_becomes_a_quote_led_by_its_title(context):
    source = "\n".join(["Before.", "```{admonition} Predict, then run", ":class: predict",
                         "Will {glue:text}`k:.1f` rise?", "Guess first.", "```", "After."])
    text = myst.convert(source, context)
    assert "> 🤔 **Predict, then run:** Will **[k]** rise?\n> Guess first.\n" in text
    assert ":class:" not in text and text.startswith("Before.") and text.endswith("After.")


def test_every_chapter_asks_for_predictions_and_the_colab_edition_shows_them(editions):
    """Issue 19: at least two "Predict, then run" prompts in each of chapters 1-7, each a predict
    admonition just before a code cell, and each visible in the Colab notebook."""
    for document in names("chapters"):
        if not re.match(r"book/0[1-7]_", document.docname):
            continue
        source = cells(document.path)
        prompts = [i for i, cell in enumerate(source) if cell.cell_type == "markdown" and ":class: predict" in cell.source]
        assert len(prompts) >= 2, document.docname
        assert all(source[i + 1].cell_type == "code" for i in prompts), document.docname
        path = editions["out"] / "colab" / f"{document.docname}.ipynb"
        shown = [c for c in cells(path, "markdown") if "**Predict, then run:**" in c.source]
        assert len(shown) == len(prompts), document.docname


@pytest.mark.parametrize("source, message", [
    ("{numref}`fig-1`", "no figure of the book is labelled 'fig-1'"),
    ("{eq}`fig-b1`", "no equation of the book is labelled 'fig-b1'"),
    ("```{figure} x.png\n\nNo name.\n```", "the figure 'x.png' has no :name:"),
    ("```{glossary}\n```", "the directive {glossary} has no Colab rendering"),
    ("{doc}`nowhere`", "not a page of the book"),
    ("{ref}`missing`", "no exercise or target is labelled 'missing'"),
    ("{cite:p}`nokey`", "the citation key 'nokey' is not in"),
    ("```{note}\nnever closed", "is never closed"),
])
def test_unknown_myst_is_an_error_naming_the_notebook(context, source, message):
    with pytest.raises((myst.MystError, KeyError)) as error:
        myst.convert(source, context)
    assert "book/02_b.ipynb" in str(error.value) and message in str(error.value)


# -------------------------------------------------------------------------------- Colab's packages


def requirement_ok(requirement: Requirement) -> bool:
    """True when Colab has no such package (pip installs it) or its version satisfies the requirement."""
    name = requirement.name.lower().replace("_", "-")
    return name not in COLAB or requirement.specifier.contains(Version(COLAB[name]), prereleases=True)


def project(folder=ROOT):
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


def _closure(names):
    """The packages pip would add for ``names`` (as installed here), with every requirement on the way:
    what is preinstalled on Colab stops the walk (it is held, not reinstalled)."""
    import importlib.metadata

    seen, todo, requirements = set(), list(names), []
    while todo:
        name = todo.pop()
        if name in seen or name.lower().replace("_", "-") in COLAB:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                requirements.append((name, requirement))
                todo.append(requirement.name)
    return seen, requirements


def test_what_the_install_adds_needs_no_other_version_of_a_colab_package():
    """With every preinstalled package held, the install can only succeed if nothing it adds asks for
    another version of one: checked against the recorded Colab versions, dependencies included."""
    book = [r for r in project(ROOT / "book")["dependencies"] if Requirement(r).name != "anoclip"]
    wanted = [Requirement(r) for r in project()["dependencies"] + book]
    assert all(requirement_ok(r) for r in wanted), [str(r) for r in wanted if not requirement_ok(r)]
    added, requirements = _closure(["anoclip", "anoclip-book"])
    assert {"open_clip_torch", "ftfy"} <= added  # what Colab lacks is added (the walk reaches it)
    assert [f"{who}: {r}" for who, r in requirements if not requirement_ok(r)] == []
    helpers, helper_requirements = _closure([Requirement(spec).name for spec in setup_cells.OTTER_MISSING_ON_COLAB])
    assert [f"{who}: {r}" for who, r in helper_requirements if not requirement_ok(r)] == []


def test_the_install_cell_holds_every_preinstalled_package(tmp_path, monkeypatch):
    """Run the generated cell as Colab would (google.colab present), with pip replaced by a recorder."""
    import importlib.metadata
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append(command) or types.SimpleNamespace(returncode=0))
    source = setup_cells.install_source(load_settings(ROOT), otter=True)
    exec(compile(source, "install-cell", "exec"), {"__name__": "__main__"})
    constraints = dict(line.lower().split("==", 1) for line in Path("/tmp/anoclip-colab-constraints.txt").read_text().split())
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"].lower()
        if name not in setup_cells.INSTALLED_HERE:  # held at exactly the version the runtime imports
            assert constraints.get(name) == importlib.metadata.version(name).lower(), name
    assert not set(constraints) & setup_cells.INSTALLED_HERE  # what the cells install may be reinstalled
    assert len(calls) == 3 and all(command[command.index("--constraint") + 1] == "/tmp/anoclip-colab-constraints.txt" for command in calls)
    assert "--no-deps" in calls[1] and setup_cells.OTTER in calls[1]


def test_otter_grader_is_installed_without_replacing_colab_packages():
    """otter-grader's own pins (ipywidgets 8, wrapt < 2) are the only ones Colab violates; they are skipped."""
    import importlib.metadata

    assert project(ROOT / "book")["optional-dependencies"]["classroom"] == [setup_cells.OTTER]
    requirements = [Requirement(line) for line in importlib.metadata.requires("otter-grader")
                    if "extra ==" not in line and "emscripten" not in line]
    violated = {r.name for r in requirements if not requirement_ok(r)}
    assert violated == {"ipywidgets", "wrapt"}
    missing = {r.name: str(r.specifier) for r in requirements if r.name.lower() not in COLAB}
    installed = {Requirement(spec).name: str(Requirement(spec).specifier) for spec in setup_cells.OTTER_MISSING_ON_COLAB}
    assert {name: spec for name, spec in missing.items() if name != "python-on-whales"} == installed  # docker only
    for package in installed:  # and their own requirements keep Colab's packages too
        for line in importlib.metadata.requires(package) or []:
            requirement = Requirement(line)
            if requirement.marker is None:
                assert requirement_ok(requirement), (package, line)
    source = setup_cells.install_source(load_settings(ROOT), otter=True)
    assert '"--no-deps", ' + repr(setup_cells.OTTER) in source and "--constraint" in source


def test_the_command_line_warns_about_the_placeholder_and_reports_bad_settings(tmp_path, capsys):
    from anoclip_book.editions.__main__ import main

    assert main(["--root", str(ROOT), "check"]) == 0
    out, err = capsys.readouterr()
    assert "Colab edition on branch colab" in out and "WARNING" in err and PLACEHOLDER_URL in err
    assert main(["--root", str(write_config(tmp_path, "https://gitlab.com/x/y")), "colab"]) == 2
    assert "repository.url" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2 and "No .ipynb" in capsys.readouterr().err
