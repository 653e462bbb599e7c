"""The packages' shape: calls and imports run one way.

An import graph is built from the source of every module of ``anoclip`` and of the book's
``anoclip_book`` (function-level imports included, since they are dependencies too) and checked
for cycles; the direction rules of the design sketch are asserted on it, first of all that the
library never imports the book's tooling.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "anoclip", ROOT / "book" / "anoclip_book")


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path, package): path for package in PACKAGES for path in package.rglob("*.py")}


def imports_of(name: str, path: Path, known) -> set:
    """Package modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("anoclip"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("anoclip"):
                target = node.module
            else:
                continue
            submodules = {f"{target}.{alias.name}" for alias in node.names} & set(known)
            found.update(submodules)
            if len(submodules) < len(node.names):  # some name is an attribute of ``target`` itself
                found.add(target)
    return {target for target in found if target in known and target != name}


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None (iterative depth-first search)."""
    state = {}
    for root in graph:
        if root in state:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_the_graph_sees_function_level_and_relative_imports_of_both_packages(graph):
    assert "anoclip.model" in graph["anoclip_book.chapters"]  # load_model imports it inside a function
    assert "anoclip.methods" in graph["anoclip.model"]
    assert "anoclip_book.pages" in graph["anoclip_book.viz.canvas"]  # ``from ..pages import``
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_packages_have_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_the_library_never_imports_the_books_tooling(graph):
    """``pip install anoclip`` ships no module of the book, so nothing in it may reach one."""
    library = [name for name in graph if name.split(".")[0] == "anoclip"]
    assert len(library) > 30
    for name in library:
        assert not {target for target in graph[name] if target.split(".")[0] == "anoclip_book"}, name


def test_a_stray_import_of_the_book_would_be_seen(tmp_path):
    module = tmp_path / "anoclip" / "stray.py"
    module.parent.mkdir()
    module.write_text("def f():\n    import anoclip_book.viz\n")
    assert imports_of("anoclip.stray", module, {"anoclip_book", "anoclip_book.viz", "anoclip.stray"}) == {"anoclip_book.viz"}


def test_localizers_never_reach_back_into_the_model(graph):
    localizers = [name for name in graph if name.startswith("anoclip.methods")]
    for name in localizers:
        assert not graph[name] & {"anoclip.model", "anoclip.bench", "anoclip.cli"}, name


def test_light_modules_stay_light(graph):
    """Settings, vocabularies and the data layer load without the model (and without torch)."""
    heavy = {"anoclip.model", "anoclip.encoder", "anoclip.scoring", "anoclip.tta", "anoclip.methods"}

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for child in graph[todo.pop()] - seen:
                seen.add(child)
                todo.append(child)
        return seen

    for light in ("anoclip.config", "anoclip.env", "anoclip.data.registry", "anoclip.metrics", "anoclip_book.published",
                  "anoclip_book.modes"):
        assert not reachable(light) & heavy, light


def test_the_wheel_is_thin_and_holds_nothing_of_the_book(tmp_path):
    """``pip wheel --no-deps .`` at the root: the anoclip distribution, at most 10,000 lines of Python."""
    import importlib.util
    import subprocess
    import sys
    import zipfile

    import shutil

    source = tmp_path / "source"  # a clean copy: a stale build/ in the checkout would leak old modules into the wheel
    shutil.copytree(ROOT / "anoclip", source / "anoclip", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]  # offline when it can
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "--quiet", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("anoclip-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        python = [name for name in names if name.endswith(".py")]
        lines = sum(archive.read(name).decode("utf-8").count("\n") for name in python)
    assert {name.split("/")[0] for name in names} == {"anoclip", wheel.name.split("-py3")[0] + ".dist-info"}
    assert not [name for name in names if "anoclip_book" in name or name.endswith((".ipynb", ".csv"))]
    assert len(python) > 30 and lines <= 10_000, lines
