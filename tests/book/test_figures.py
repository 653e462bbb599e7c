"""Figures and equations of the book: drawn, captioned, named, numbered and referred to.

The static checks read the sources; one test builds a two-page book with Jupyter Book (no
execution: the notebook carries its outputs) to check what anoclip_book.cell_figures makes of a
code cell's figure metadata, and that an uncaptioned figure fails a ``-W`` build.
"""
import base64
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from anoclip_book.editions import notebooks
from anoclip_book.editions.myst import CellFigure

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "book" / "figures"
SVG = "{http://www.w3.org/2000/svg}"
FIGURE_DIRECTIVE = re.compile(r"^`{3,}\{figure\} (?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)\n?(?P<caption>(?:.+\n?)+?)`{3,}",
                              re.MULTILINE)


def pages():
    return notebooks.documents(ROOT)


def text_of(document):
    return "\n".join(part for part in notebooks.page_parts(document) if isinstance(part, str))


def figures_of(document):
    """(name, caption) of every figure of a page: markdown directives and captioned code cells."""
    found = []
    for part in notebooks.page_parts(document):
        if isinstance(part, CellFigure):
            found.append((part.name, part.caption))
            continue
        for match in FIGURE_DIRECTIVE.finditer(part + "\n"):
            options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", match["options"], re.MULTILINE))
            found.append((options.get("name", ""), match["caption"].strip()))
    return found


def test_the_drawn_figures_are_svg_sources_readable_on_any_theme():
    """Real <text> (searchable, translatable), a viewBox, a title for screen readers, a white background."""
    drawn = sorted(FIGURES.glob("*.svg"))
    assert len(drawn) >= 4
    for path in drawn:
        root = ElementTree.parse(path).getroot()
        assert root.tag == f"{SVG}svg" and len(root.get("viewBox").split()) == 4, path.name
        width, height = (float(value) for value in root.get("viewBox").split()[2:])
        assert 600 <= width <= 800, path.name  # drawn for the book's column, about 700 px
        assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None, path.name
        background = root.find(f"{SVG}rect")
        assert background.get("fill") == "#ffffff" and float(background.get("width")) == width, path.name
        assert len(root.findall(f".//{SVG}text")) >= 10, path.name
        assert not root.findall(f".//{SVG}image") and not root.findall(f".//{SVG}script"), path.name


def test_every_drawn_figure_is_placed_in_the_book_once():
    placed = [match["path"] for document in pages() for part in notebooks.page_parts(document) if isinstance(part, str)
              for match in FIGURE_DIRECTIVE.finditer(part + "\n")]
    assert sorted(Path(path).name for path in placed) == sorted(path.name for path in FIGURES.glob("*.svg"))
    where = {Path(match["path"]).stem: document.docname for document in pages()
             for match in FIGURE_DIRECTIVE.finditer(text_of(document) + "\n")}
    assert where == {"pipeline": "book/00_welcome", "dual_path_block": "book/02_value_wise_attention",
                     "prompt_ensemble": "book/03_prompt_design", "test_time_adapter": "book/05_test_time_adaptation"}


def test_every_figure_is_named_captioned_and_referred_to_by_number_on_its_page():
    names = []
    for document in pages():
        text = text_of(document)
        for name, caption in figures_of(document):
            assert name.startswith("fig-") and len(caption) > 40, (document.docname, name, caption[:60])
            assert re.search(r"\{numref\}`(?:[^`<]*<)?" + re.escape(name) + r">?`", text), (document.docname, name)
            names.append(name)
    assert len(names) == len(set(names)) and len(names) >= 40


def test_the_key_equations_of_chapters_2_to_5_are_labelled_and_referred_to():
    labelled = {}
    for document in pages():
        text = text_of(document)
        labels = re.findall(r"\$\$\s*\((eq-[\w-]+)\)\s*$", text, re.MULTILINE)
        labelled[document.docname] = labels
        for label in labels:
            assert f"{{eq}}`{label}`" in text, (document.docname, label)
    for chapter in ("02_value_wise_attention", "03_prompt_design", "04_maps_and_metrics", "05_test_time_adaptation"):
        assert len(labelled[f"book/{chapter}"]) >= 2, chapter


def test_the_chapters_are_numbered_by_the_table_of_contents_not_by_their_titles():
    numbered = {d.docname: d.chapter for d in pages() if d.chapter is not None}
    assert numbered["book/01_clip_global_vs_local"] == 1 and numbered["book/07_your_images"] == 7
    assert list(numbered.values()) == list(range(1, len(numbered) + 1))
    for document in pages():
        title = next(line for line in text_of(document).splitlines() if line.startswith("# "))
        assert not re.match(r"# \d+\.", title), title  # the site prints the number; a second one would repeat it


CONFIG = """title: figures test
execute:
  execute_notebooks: "off"
sphinx:
  extra_extensions: [anoclip_book.cell_figures]
  config:
    numfig_secnum_depth: 1
    numfig_format: {figure: "Figure %s"}
    math_eqref_format: "({number})"
"""
TOC = """format: jb-book
root: intro
parts:
  - caption: Chapters
    numbered: 1
    chapters:
      - file: chapter
  - caption: Back matter
    chapters:
      - file: back
"""
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def notebook(cells):
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def code(index, outputs, figure=None):
    return {"cell_type": "code", "id": f"c{index}", "execution_count": 1, "source": "draw()",
            "metadata": {"figure": figure} if figure else {}, "outputs": outputs}


def image():
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG, "text/plain": "<Figure>"}}


def table():
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<table><tr><td>7</td></tr></table>",
                                                                    "text/plain": "table"}}


def build(folder: Path, cells) -> subprocess.CompletedProcess:
    (folder / "_config.yml").write_text(CONFIG)
    (folder / "_toc.yml").write_text(TOC)
    (folder / "pixel.png").write_bytes(base64.b64decode(PNG))
    (folder / "intro.md").write_text("# Intro\n\nSee {numref}`fig-two`, {eq}`eq-one` and {numref}`fig-intro`.\n\n"
                                     "```{figure} pixel.png\n:name: fig-intro\n\nA drawn figure.\n```\n")
    (folder / "back.md").write_text("# Back\n\n{numref}`fig-back`\n\n```{figure} pixel.png\n:name: fig-back\n\nAnother.\n```\n")
    (folder / "chapter.ipynb").write_text(json.dumps(notebook(cells)))
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'book'}", "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(folder), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures-book")
    cells = [
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# A chapter\n\n$$ a = 1 $$ (eq-one)\n\nSee {numref}`fig-one`."},
        code(1, [image()], {"name": "fig-one", "caption": "One image, with $x^2$ and {eq}`eq-one`."}),
        code(2, [table(), image(), image()], {"name": "fig-two", "caption": "A table stays out; two images, one figure."}),
    ]
    result = build(folder, cells)
    return result, (folder / "_build" / "html" / "chapter.html")


def test_a_captioned_cell_becomes_one_numbered_figure_and_its_table_stays_outside(built):
    result, page = built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = page.read_text()
    figures = re.findall(r'<figure class="cell-figure[^"]*" id="(fig-[\w-]+)">(.*?)</figure>', html, re.DOTALL)
    assert [name for name, _ in figures] == ["fig-one", "fig-two"]
    assert figures[0][1].count("<img") == 1 and figures[1][1].count("<img") == 2
    assert "Figure 1.1" in figures[0][1] and "Figure 1.2" in figures[1][1] and "(1.1)" in figures[0][1]
    assert "<table" not in figures[1][1] and "<table" in html
    intro = (page.parent / "intro.html").read_text()
    assert "Figure 1.2" in intro and "(1.1)" in intro


def test_the_editions_number_figures_and_equations_as_sphinx_does(built):
    """Chapter figures count per chapter; those of unnumbered pages count on together in toc order."""
    result, page = built
    folder = page.parents[2]
    labels = notebooks.targets(folder).labels
    site = {}
    for html in (page.parent / name for name in ("intro.html", "chapter.html", "back.html")):
        text = html.read_text()
        site.update(re.findall(r'<figure[^>]*id="(fig-[\w-]+)"[^>]*>.*?<span class="caption-number">([^<]*?)\s*</span>', text, re.S))
        site.update((label, f"({number})") for label, number in
                    re.findall(r'id="equation-(eq-[\w-]+)".*?<span class="eqno">\(([^)]*)\)', text, re.S))
    assert site == {"fig-intro": "Figure 1", "fig-one": "Figure 1.1", "fig-two": "Figure 1.2", "fig-back": "Figure 2",
                    "eq-one": "(1.1)"}
    assert {label: labels[label][1] for label in site} == site


def test_a_figure_without_a_caption_fails_the_build(tmp_path):
    result = build(tmp_path, [{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# A chapter\n\n$$ a = 1 $$ (eq-one)"},
                              code(1, [image()]), code(2, [image()], {"name": "fig-two", "caption": "Named."})])
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "cell 1 shows a figure without a caption" in output
