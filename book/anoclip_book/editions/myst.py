"""MyST Markdown → the Markdown Colab renders.

Colab shows MyST roles and directives as raw text, so the Colab and classroom editions rewrite
them, cell by cell, from the same sources the site is built from:

* ``{glue:text}`name:fmt``` → ``**[name]**``; the cell that glues ``name`` prints
  ``[name] = <value formatted with fmt>`` (:func:`anoclip_book.glue`, formats collected here);
* ``{cite:p}`` / ``{cite:t}`` → linked author-year text (:mod:`.citations`);
* ``{doc}`` → a link to the chapter in the Colab edition (other pages: the site), titled like
  the site; ``{ref}`` → a link to the labelled exercise or section on the site;
* ``{numref}`` → "Figure 2.3" and ``{eq}`` → "(2.1)", the numbers the site shows (chapters are
  numbered by the table of contents, figures and labelled equations in their order in the
  chapter); a reference to another page links to it on the site;
* ``{figure}`` → an ``<img>`` of the file in the repository (SVG sources render in Colab's
  Markdown from their raw GitHub address) and its caption, "**Figure 2.3.** ...";
* ``$$ ... $$ (label)`` and a labelled ``{math}`` → ``$$ ... \\tag{2.1} $$``;
* ``{exercise}`` → a heading "Exercise N" and its text; ``{solution}`` → a collapsed
  ``<details>`` block; admonitions → block quotes (a ``predict`` one, the chapters' "Predict, then
  run" prompts, → a block quote led by its bold title); ``{math}`` → ``$$``; ``(label)=`` targets go.

A code cell whose figure the site captions (cell metadata ``figure``, :mod:`anoclip_book.cell_figures`)
is followed in the Colab edition by its caption, numbered like the site's (:mod:`.notebooks`).

Anything else is an error naming the notebook and the syntax, so a new MyST feature in a chapter
cannot slip into the Colab edition as raw text.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from .citations import Bibliography

# a role, or an inline code span (left as it is: `{D}` in code is no role), whichever comes first
ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:+-]*)\}`(?P<body>[^`]*)`|(?P<code>(?P<ticks>`+).+?(?P=ticks))")
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:+-]+)\}\s*(?P<argument>.*?)\s*$")
PLAIN_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})")
TARGET = re.compile(r"^\s*\((?P<label>[\w:.+-]+)\)=\s*$")
EQUATION_LABEL = re.compile(r"\$\$\s*\((?P<label>[\w:.+-]+)\)\s*$")  # the end of `$$ ... $$ (label)`
OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*)$")
LINK_TEXT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^>]+)>$", re.DOTALL)
PREDICT = "predict"  # the class of the chapters' "Predict, then run" admonitions
ADMONITIONS = {"admonition", "note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}


class MystError(ValueError):
    """MyST syntax the editions cannot render for Colab; the message names the notebook."""


@dataclass(frozen=True)
class CellFigure:
    """The figure a code cell shows, as its metadata names and captions it (``{"figure": {...}}``)."""

    name: str
    caption: str


def _number(chapter: Optional[int], count: int) -> str:
    """"2.3" in chapter 2, "3" on an unnumbered page: Sphinx's numbering at ``numfig_secnum_depth: 1``."""
    return f"{chapter}.{count}" if chapter is not None else str(count)


@dataclass
class Targets:
    """What links resolve to, collected from all documents before any is converted.

    ``titles``: docname → first heading (with the chapter's number, as the site's table of
    contents shows it); ``notebooks``: docnames in the Colab edition; ``labels``: label →
    (docname, link text), for exercises ("Exercise N"), ``(label)=`` targets, figures
    ("Figure 2.3") and labelled equations ("(2.1)").
    """

    titles: Dict[str, str] = field(default_factory=dict)
    notebooks: set = field(default_factory=set)
    labels: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    # Sphinx counts the figures (and equations) of all unnumbered pages together, in the order
    # of the table of contents: the welcome page's are Figure 1 and 2, an assignment's Figure 3.
    _unnumbered: Dict[str, int] = field(default_factory=lambda: {"figure": 0, "equation": 0})

    def add_document(self, docname: str, parts: Sequence[Union[str, CellFigure]], notebook: bool,
                     chapter: Optional[int] = None) -> None:
        """Register a document's title, exercises, targets, figures and labelled equations.

        ``parts`` are its markdown cells and the figures of its code cells, in page order;
        ``chapter`` is its number in the table of contents (None: not numbered). Documents are
        added in the order of the table of contents.
        """
        if notebook:
            self.notebooks.add(docname)
        number = 0
        figures, equations = (0, 0) if chapter is not None else (self._unnumbered["figure"], self._unnumbered["equation"])
        for part in parts:
            if isinstance(part, CellFigure):
                figures += 1
                self.labels[part.name] = (docname, f"Figure {_number(chapter, figures)}")
                continue
            lines = part.splitlines()
            for index, line in enumerate(lines):
                if docname not in self.titles and line.startswith("# "):
                    title = line[2:].strip()
                    self.titles[docname] = f"{chapter}. {title}" if chapter is not None else title
                opened = FENCE_OPEN.match(line)
                options = _options(lines[index + 1:]) if opened else {}
                if opened and opened["name"] == "figure" and options.get("name"):
                    figures += 1
                    self.labels[options["name"]] = (docname, f"Figure {_number(chapter, figures)}")
                if (opened and opened["name"] == "math" and options.get("label")) or EQUATION_LABEL.search(line):
                    equations += 1
                    label = options["label"] if opened else EQUATION_LABEL.search(line)["label"]
                    self.labels[label] = (docname, f"({_number(chapter, equations)})")
                if opened and opened["name"] == "exercise":
                    number += 1
                    if options.get("label"):
                        self.labels[options["label"]] = (docname, f"Exercise {number}")
                target = TARGET.match(line)
                if target:
                    heading = next((l.lstrip("#").strip() for l in lines[index + 1:] if l.startswith("#")), target["label"])
                    self.labels[target["label"]] = (docname, heading)
        if chapter is None:
            self._unnumbered.update(figure=figures, equation=equations)


@dataclass
class Context:
    """Everything one document's conversion needs; ``glue_formats`` collects what its prose glues."""

    docname: str
    where: str
    targets: Targets
    bibliography: Bibliography
    notebook_link: Callable[[str], str]  # docname of a Colab-edition notebook → its link
    page_link: Callable[[str, str], str]  # (docname, anchor) → the site's page
    file_link: Callable[[str], str] = str  # a repository path → where Colab's Markdown can load it
    glue_formats: Dict[str, List[str]] = field(default_factory=dict)
    _exercises: Dict[str, int] = field(default_factory=dict)
    _count: int = 0

    def error(self, message: str) -> MystError:
        return MystError(f"{self.where}: {message}")


def _options(lines: Sequence[str]) -> Dict[str, str]:
    """The ``:key: value`` lines that open a directive's body."""
    options: Dict[str, str] = {}
    for line in lines:
        found = OPTION.match(line)
        if not found:
            break
        options[found["key"]] = found["value"].strip()
    return options


def _split_link(body: str) -> Tuple[Optional[str], str]:
    found = LINK_TEXT.match(body.strip())
    return (found["text"].strip() or None, found["target"].strip()) if found else (None, body.strip())


def _docname(context: Context, target: str) -> str:
    target = target.removesuffix(".ipynb").removesuffix(".md")
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(context.docname), target))


def _role(match: re.Match, context: Context) -> str:
    if match["code"]:
        return match["code"]
    name, body = match["name"], match["body"]
    if name in ("glue", "glue:", "glue:text", "glue:md"):
        key, _, spec = body.partition(":")
        context.glue_formats.setdefault(key.strip(), []).append(spec.strip())
        return f"**[{key.strip()}]**"
    if name in ("cite", "cite:p", "cite:ps"):
        return context.bibliography.parenthetical([k.strip() for k in body.split(",")], context.where)
    if name in ("cite:t", "cite:ts"):
        return context.bibliography.textual([k.strip() for k in body.split(",")], context.where)
    if name == "doc":
        text, target = _split_link(body)
        docname = _docname(context, target)
        if docname not in context.targets.titles:
            raise context.error(f"{{doc}}`{body}` points at {docname!r}, which is not a page of the book.")
        link = context.notebook_link(docname) if docname in context.targets.notebooks else context.page_link(docname, "")
        return f"[{text or context.targets.titles[docname]}]({link})"
    if name == "ref":
        text, label = _split_link(body)
        if label not in context.targets.labels:
            raise context.error(f"{{ref}}`{body}`: no exercise or target is labelled {label!r}.")
        docname, default = context.targets.labels[label]
        return f"[{text or default}]({context.page_link(docname, label)})"
    if name in ("numref", "eq"):
        return _numbered(name, body, context)
    if name in ("math",):
        return f"${body}$"
    raise context.error(f"the role {{{name}}}`{body}` has no Colab rendering; add one to book/anoclip_book/editions/myst.py or avoid it.")


def _numbered(role: str, body: str, context: Context) -> str:
    """``{numref}`` → "Figure 2.3" (or its own text with ``{number}``), ``{eq}`` → "(2.1)"; linked to
    the site when the figure or equation is on another page."""
    text, label = _split_link(body)
    found = context.targets.labels.get(label)
    kind = "figure" if role == "numref" else "equation"
    if found is None or not (found[1].startswith("Figure ") if role == "numref" else found[1].startswith("(")):
        raise context.error(f"{{{role}}}`{body}`: no {kind} of the book is labelled {label!r}.")
    docname, shown = found
    if text is not None:
        shown = text.replace("{number}", shown.removeprefix("Figure ").strip("()"))
    return shown if docname == context.docname else f"[{shown}]({context.page_link(docname, label)})"


def _tagged(line: str, context: Context) -> str:
    """``... $$ (label)`` → ``... \\tag{2.1} $$``: the equation's number where the site prints it."""
    found = EQUATION_LABEL.search(line)
    if not found:
        return line
    number = _numbered("eq", found["label"], context).strip("()")
    return f"{line[:found.start()].rstrip()} \\tag{{{number}}} $$"


def _inline(line: str, context: Context) -> str:
    return ROLE.sub(lambda match: _role(match, context), _tagged(line, context))


def _closing(lines: List[str], start: int, fence: str) -> int:
    """Index of the line closing a fence opened with ``fence`` (same character, at least as long)."""
    char, size = fence[0], len(fence)
    closing = re.compile(rf"^\s*{re.escape(char)}{{{size},}}\s*$")
    for index in range(start, len(lines)):
        if closing.match(lines[index]):
            return index
    return -1


def _directive(name: str, argument: str, body: List[str], context: Context) -> List[str]:
    options: Dict[str, str] = {}
    while body and OPTION.match(body[0]):
        found = OPTION.match(body[0])
        options[found["key"]] = found["value"].strip()
        body = body[1:]
    content = convert("\n".join(body), context).strip("\n")
    if name == "exercise":
        context._count += 1
        if options.get("label"):
            context._exercises[options["label"]] = context._count
        title = f"#### Exercise {context._count}" + (f": {_inline(argument, context)}" if argument else "")
        return ["", title, "", content, ""]
    if name == "solution":
        number = context._exercises.get(argument)
        if number is None:
            raise context.error(f"{{solution}} {argument!r} follows no exercise labelled so in this notebook.")
        return ["", "<details>", f"<summary><b>Solution to Exercise {number}</b> (click to show)</summary>", "", content, "",
                "</details>", ""]
    if name in ADMONITIONS:
        title = _inline(argument, context) if name == "admonition" else name.capitalize()
        quoted = [f"> {line}" if line.strip() else ">" for line in content.splitlines()]
        if PREDICT in options.get("class", "").split():  # a prompt inside the flow: its title leads its first line
            first = quoted[0][2:] if quoted and quoted[0] != ">" else ""
            return ["", f"> 🤔 **{title.rstrip(':')}:** {first}".rstrip(), *quoted[1:], ""]
        return ["", f"> **{title}**", ">", *quoted, ""]
    if name == "math":
        tag = f" \\tag{{{_numbered('eq', options['label'], context).strip('()')}}}" if options.get("label") else ""
        return ["$$", "\n".join(body).strip() + tag, "$$"]
    if name == "figure":
        return _figure(argument, options, content, context)
    raise context.error(f"the directive {{{name}}} has no Colab rendering; add one to book/anoclip_book/editions/myst.py or avoid it.")


def _figure(path: str, options: Dict[str, str], caption: str, context: Context) -> List[str]:
    """An ``<img>`` of the figure's file in the repository, then "**Figure 2.3.** caption"."""
    if not options.get("name"):
        raise context.error(f"the figure {path!r} has no :name:; every figure is numbered and referred to by it.")
    source = posixpath.normpath(posixpath.join(posixpath.dirname(context.docname), path))
    alt = options.get("alt", "").replace('"', "&quot;")
    number = _numbered("numref", options["name"], context)
    return ["", f'<img src="{context.file_link(source)}" alt="{alt}">', "", f"**{number}.** {caption}".rstrip(), ""]


def caption_cell(figure: CellFigure, context: Context) -> str:
    """The Markdown under a code cell's figure in the Colab edition: its number and caption."""
    return f"**{_numbered('numref', figure.name, context)}.** {convert(figure.caption, context)}"


def convert(text: str, context: Context) -> str:
    """One markdown cell's MyST rewritten as plain Markdown (code blocks are left as they are)."""
    lines = text.splitlines()
    out: List[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = FENCE_OPEN.match(line)
        plain = PLAIN_FENCE.match(line) if not opened else None
        if opened:
            end = _closing(lines, index + 1, opened["fence"])
            if end < 0:
                raise context.error(f"the {{{opened['name']}}} block opened by {line.strip()!r} is never closed.")
            out += _directive(opened["name"], opened["argument"], lines[index + 1:end], context)
            index = end + 1
        elif plain:
            end = _closing(lines, index + 1, plain["fence"])
            end = len(lines) - 1 if end < 0 else end
            out += lines[index:end + 1]
            index = end + 1
        elif TARGET.match(line):
            index += 1
        else:
            out.append(_inline(line, context))
            index += 1
    return "\n".join(out)
