"""The cells every Colab-ready notebook starts with, generated from the repository setting.

In place of a source's ``colab-setup`` cell: a note on where the notebook comes from; the install
cell (one URL, from ``_config.yml``; it holds every preinstalled package at its version through a
pip constraints file, so nothing preinstalled is replaced and no restart is needed); an optional
Google Drive cell; and the setup cell (GPU check, widget manager, glue printing, and for an
assignment its public tests and otter-grader).
"""
from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence

from .notebooks import Document
from .settings import Settings

# otter-grader pins ipywidgets>=8 and wrapt<2 but runs with Colab's ipywidgets 7.7 and wrapt 2 (its
# checks need neither's newer parts): it is installed without dependencies, plus the ones Colab lacks.
OTTER = "otter-grader>=7,<8"
OTTER_MISSING_ON_COLAB = ("fica>=0.4.1", "ipylab>=1.0.0,<2.0.0", "python-frontmatter>=1.3.0,<2.0.0")
INSTALLED_HERE = frozenset({"anoclip", "anoclip-book", "otter-grader", "fica", "ipylab", "python-frontmatter"})


def _code(source: str, title: Optional[str] = None):
    """A code cell; with ``title`` Colab shows it as a collapsed form (``#@title``)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(f"#@title {title}\n{source}" if title else source)
    if title:
        cell.metadata["cellView"] = "form"
    return cell


def install_source(settings: Settings, otter: bool) -> str:
    """The install cell: ``anoclip`` and ``anoclip-book`` from the repository (and otter-grader for assignments).

    Every distribution the runtime already has is held at its version (a constraints file written
    from the runtime itself, as ``pip freeze`` would list it), so pip may add packages but never
    upgrade, downgrade or replace one: Colab's torch, numpy, requests... stay, and no restart is needed.
    """
    lines = [
        "import sys",
        "",
        'if "google.colab" in sys.modules:  # elsewhere both are installed already (make install)',
        "    import importlib.metadata",
        "    import pathlib",
        "    import re",
        "    import subprocess",
        "",
        "    # hold everything the runtime has: pip may add packages, never change one (no restart needed)",
        "    held = {}",
        f"    ours = {sorted(INSTALLED_HERE)!r}  # what these cells install may be installed again",
        "    for dist in importlib.metadata.distributions():",
        '        name, version = dist.metadata["Name"], dist.version',
        r'        if name and name.lower() not in ours and re.fullmatch(r"[0-9][0-9A-Za-z.+!_-]*", version or ""):',
        '            held.setdefault(name.lower(), f"{name}=={version}")',
        '    constraints = pathlib.Path("/tmp/anoclip-colab-constraints.txt")',
        '    constraints.write_text("\\n".join(sorted(held.values())) + "\\n")',
        "",
        "    def pip(*arguments):",
        '        command = [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", str(constraints), *arguments]',
        "        done = subprocess.run(command, capture_output=True, text=True)",
        "        if done.returncode:",
        "            raise RuntimeError(f\"pip install {' '.join(arguments)} failed:\\n{done.stdout[-2000:]}{done.stderr[-4000:]}\")",
        "",
        f"    PACKAGES = {list(settings.install_targets())!r}",
        "    pip(*PACKAGES)",
    ]
    if otter:
        lines += [
            "    # otter-grader runs the checks; its metadata asks for ipywidgets 8, but it works with Colab's 7.7",
            f"    pip(\"--no-deps\", {OTTER!r})",
            f"    pip(*{OTTER_MISSING_ON_COLAB!r})",
        ]
    lines.append('    print("installed", " and ".join(PACKAGES), f"({len(held)} preinstalled packages held at their versions)")')
    return "\n".join(lines)


DRIVE_SOURCE = """# Optional: keep the CLIP weights, the datasets and the results on Google Drive, so that the next
# session and the next chapter do not download them again. Set USE_DRIVE = True, then run this cell.
USE_DRIVE = False

if USE_DRIVE:
    import anoclip_book

    anoclip_book.use_google_drive()  # MyDrive/anoclip/{cache,data,results}; prints the space it needs"""


def setup_source(glue_formats: Mapping[str, Sequence[str]], tests: Optional[Mapping[str, str]] = None) -> str:
    """The setup cell: GPU check, widgets, glue printing; for assignments the public tests and otter."""
    entries = [f"    {json.dumps(name)}: {json.dumps(list(dict.fromkeys(specs)))}," for name, specs in sorted(glue_formats.items())]
    formats = "{\n" + "\n".join(entries) + "\n}"
    lines = ["import anoclip_book", ""]
    lines.append(f"anoclip_book.colab_setup(glue_formats={formats})" if glue_formats else "anoclip_book.colab_setup()")
    if tests is not None:
        lines += [
            "",
            "# the public tests otter-grader's checks run (the hidden ones live only in the autograder)",
            "import pathlib",
            "",
            f"PUBLIC_TESTS = {dict(tests)!r}",
            "for name, text in PUBLIC_TESTS.items():",
            '    path = pathlib.Path("tests") / name',
            "    path.parent.mkdir(exist_ok=True)",
            "    if not path.exists():",
            "        path.write_text(text)",
            "",
            "import otter",
            "",
            "grader = otter.Notebook()",
        ]
    return "\n".join(lines)


EXPLORERS_NOTE = (" The explorers in this notebook are HTML outputs: their cell computes every view once, then your browser "
                  "draws them with the book's own script. Moving their controls needs no runtime and no network, so they "
                  "keep working offline and after the runtime disconnects.")


def intro_markdown(settings: Settings, document: Document, glued: bool, assignment: bool, edition: str,
                   explorers: bool = False) -> str:
    source = settings.source_url(f"{document.docname}.ipynb")
    third = "checks the GPU and sets up otter-grader's checks" if assignment else "checks the GPU"
    text = (f"**Generated** by `{edition}` from [`{document.docname}.ipynb`]({source}): edit the source, not this copy. "
            "On Colab, use a GPU runtime (*Runtime → Change runtime type → T4 GPU*); the first cell installs the `anoclip` "
            f"package (on Colab only), the second can keep downloads on Google Drive, the third {third}.")
    if glued:
        text += (" Where the book's website prints a number in the text, this notebook shows the number's name in bold "
                 "brackets; the code cell above it prints `[name] = value` when you run it.")
    if explorers:
        text += EXPLORERS_NOTE
    return text


def setup_cells(settings: Settings, document: Document, glue_formats: Mapping[str, Sequence[str]],
                tests: Optional[Mapping[str, str]] = None, edition: str = "make colab", explorers: bool = False) -> list:
    """The cells that replace the source's ``colab-setup`` placeholder (``tests``: an assignment's public
    tests; ``explorers``: the notebook shows inline explorers, and the introduction says they work offline)."""
    import nbformat

    return [
        nbformat.v4.new_markdown_cell(intro_markdown(settings, document, bool(glue_formats), tests is not None, edition, explorers)),
        _code(install_source(settings, otter=tests is not None), "Install the anoclip package (Colab only)"),
        _code(DRIVE_SOURCE, "Optional: Google Drive for weights, data and results"),
        _code(setup_source(glue_formats, tests), "Setup: GPU check" + (", public tests" if tests is not None else "")),
    ]
