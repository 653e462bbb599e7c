"""The book's sources as the editions see them: the table of contents, notebooks, and the
rewrites every edition shares (MyST → Markdown, site-only cells, the badge)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

from .citations import Bibliography
from .myst import CellFigure, Context, Targets, caption_cell, convert
from .settings import Settings

TOC_FILE = "_toc.yml"
SETUP_TAG = "colab-setup"  # the source's placeholder cell the editions replace with their setup cells
SITE_ONLY_TAGS = ("remove-cell", "skip-execution")  # what only the site's build needs
ASSIGNMENT_CONFIG = "# ASSIGNMENT CONFIG"
FIGURE_KEY = "figure"  # a code cell's caption and name (anoclip_book.cell_figures)
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


class SourceError(ValueError):
    """A source the editions cannot build from; the message names the file and the fix."""


@dataclass(frozen=True)
class Document:
    """One page of the table of contents."""

    docname: str  # "book/03_prompt_design"
    path: Path
    chapter: Optional[int] = None  # its number in the table of contents, if its part is numbered

    @property
    def notebook(self) -> bool:
        return self.path.suffix == ".ipynb"

    @cached_property
    def assignment(self) -> bool:
        """True for an otter-grader assignment source (a raw cell ``# ASSIGNMENT CONFIG``); read once."""
        return self.notebook and any(
            cell.cell_type == "raw" and cell.source.lstrip().startswith(ASSIGNMENT_CONFIG) for cell in read(self.path).cells)


def read(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def write(nb, path: Path) -> Path:
    """Write an edition's notebook with cell ids numbered in order, so equal inputs give equal files."""
    import nbformat

    from anoclip.fileio import write_text_atomic

    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    return write_text_atomic(path, nbformat.writes(nb) + "\n")


def documents(root: Path) -> List[Document]:
    """Every page of ``_toc.yml`` (jb-book format), in order, with its source file.

    The chapters of a part marked ``numbered`` get their numbers as Jupyter Book gives them
    (counting on across parts, ``use_multitoc_numbering``); their sections and every other page
    get none.
    """
    import yaml

    toc = yaml.safe_load((root / TOC_FILE).read_text(encoding="utf-8"))
    counter = iter(range(1, 10_000))

    def walk(entries, numbered: bool = False, top: bool = True) -> Iterator[tuple]:
        for entry in entries or []:
            if "file" in entry:
                yield entry["file"], next(counter) if numbered and top else None
            yield from walk(entry.get("sections"), numbered, top=False)
            yield from walk(entry.get("chapters"), numbered, top)

    def parts() -> Iterator[tuple]:
        for part in toc.get("parts") or []:
            yield from walk(part.get("chapters"), bool(part.get("numbered")))

    names = [(toc["root"], None), *parts(), *walk(toc.get("chapters"), bool(toc.get("numbered")))]
    found = []
    for name, chapter in names:
        name = name.removesuffix(".ipynb").removesuffix(".md")
        path = next((root / f"{name}{suffix}" for suffix in (".ipynb", ".md") if (root / f"{name}{suffix}").is_file()), None)
        if path is None:
            raise SourceError(f"{root / TOC_FILE} lists {name!r}, but neither {name}.ipynb nor {name}.md exists.")
        found.append(Document(name, path, chapter))
    return found


def markdown_texts(document: Document) -> List[str]:
    if not document.notebook:
        return [document.path.read_text(encoding="utf-8")]
    return [cell.source for cell in read(document.path).cells if cell.cell_type == "markdown"]


def cell_figure(cell) -> Optional[CellFigure]:
    """The figure a code cell's metadata names and captions, if any."""
    spec = cell.get("metadata", {}).get(FIGURE_KEY) if cell.cell_type == "code" else None
    return CellFigure(str(spec["name"]), str(spec["caption"])) if spec else None


def page_parts(document: Document) -> List[Union[str, CellFigure]]:
    """A page's markdown cells and its code cells' figures, in page order (what numbering counts)."""
    if not document.notebook:
        return markdown_texts(document)
    cells = read(document.path).cells
    return [cell.source if cell.cell_type == "markdown" else cell_figure(cell) for cell in cells
            if cell.cell_type == "markdown" or cell_figure(cell)]


def targets(root: Path, docs: Optional[Sequence[Document]] = None) -> Targets:
    """Titles, exercise labels, targets, figures and equations of every page (``docs``:
    :func:`documents` of ``root``, when the caller has them); notebooks are Colab-edition pages."""
    found = Targets()
    for document in documents(root) if docs is None else docs:
        found.add_document(document.docname, page_parts(document), document.notebook, document.chapter)
    return found


def context(root: Path, settings: Settings, document: Document, found: Targets, bibliography: Bibliography) -> Context:
    return Context(
        docname=document.docname,
        where=str(document.path.relative_to(root)),
        targets=found,
        bibliography=bibliography,
        notebook_link=lambda docname: settings.colab_url(f"{docname}.ipynb"),
        page_link=settings.site_page,
        file_link=settings.raw_url,
    )


def bibliography(root: Path, settings: Settings) -> Bibliography:
    return Bibliography(root / settings.bibfile, settings.site_page("book/bibliography"))


def _tidy(markdown: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", markdown).strip("\n")


def convert_cells(nb, ctx: Context) -> None:
    """Rewrite MyST in markdown cells, drop site-only cells, clear outputs, and put each code
    cell's figure caption under it, numbered like the site's (in place)."""
    import nbformat

    kept = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags and SETUP_TAG not in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source = _tidy(convert(cell.source, ctx))
        kept.append(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            figure = cell_figure(cell)
            if figure:
                kept.append(nbformat.v4.new_markdown_cell(_tidy(caption_cell(figure, ctx))))
    nb.cells = kept


def strip_site_tags(nb) -> None:
    """Remove the tags that only steer the site's build (hidden, unexecuted solution cells)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags")
        if tags:
            cell.metadata["tags"] = [tag for tag in tags if tag not in SITE_ONLY_TAGS]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]


def title_index(nb, where: str) -> int:
    """Index of the first markdown cell, which must open with the page's ``# `` title."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if not cell.source.startswith("# "):
                raise SourceError(f"{where}: the first markdown cell must start with the '# ' title line.")
            return index
    raise SourceError(f"{where}: no markdown cell with a title.")


def number_title(nb, document: Document, where: str) -> None:
    """"# CLIP sees ..." → "# 1. CLIP sees ...": the number the site's table of contents gives it."""
    if document.chapter is not None:
        cell = nb.cells[title_index(nb, where)]
        cell.source = f"# {document.chapter}. {cell.source[2:]}"


def add_badge(nb, url: str, where: str) -> None:
    """Put the "Open in Colab" badge under the title (the sources carry none: it is generated)."""
    cell = nb.cells[title_index(nb, where)]
    title, _, rest = cell.source.partition("\n")
    cell.source = f"{title}\n\n{BADGE.format(url=url)}\n{rest}"


def replace_setup_cell(nb, cells: list, where: str) -> None:
    """Put ``cells`` where the source has its ``colab-setup`` placeholder cell."""
    for index, cell in enumerate(nb.cells):
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            nb.cells[index:index + 1] = cells
            return
    raise SourceError(f"{where}: no cell is tagged {SETUP_TAG!r}; the editions put the Colab install cells there "
                      "(a code cell tagged remove-cell and colab-setup, right after the title).")


def colab_metadata(nb) -> None:
    """Ask Colab for a GPU runtime when the notebook is opened."""
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"provenance": [], "gpuType": "T4"}


def make_colab_ready(nb, settings: Settings, document: Document, cells: list, where: str) -> None:
    """What every Colab notebook of an edition gets (in place): ``cells`` in place of the setup
    placeholder, the chapter's number in its title, the launch badge, Colab's notebook metadata."""
    replace_setup_cell(nb, cells, where)
    number_title(nb, document, where)
    add_badge(nb, settings.colab_url(f"{document.docname}.ipynb"), where)
    colab_metadata(nb)
