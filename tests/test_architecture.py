"""The package's shape: calls and imports run one way.

An import graph is built from the source of every module of ``anoclip`` (function-level imports
included, since they are dependencies too) and checked for cycles; the direction rules of the
design sketch are asserted on it.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "anoclip"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


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


def test_the_graph_sees_function_level_imports(graph):
    assert "anoclip.model" in graph["anoclip.book.chapters"]  # load_model imports it inside a function
    assert "anoclip.methods" in graph["anoclip.model"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_package_has_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_localizers_never_reach_back_into_the_model(graph):
    localizers = [name for name in graph if name.startswith("anoclip.methods")]
    for name in localizers:
        assert not graph[name] & {"anoclip.model", "anoclip.bench", "anoclip.book", "anoclip.cli"}, name


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

    for light in ("anoclip.config", "anoclip.env", "anoclip.data.registry", "anoclip.metrics", "anoclip.published"):
        assert not reachable(light) & heavy, light
