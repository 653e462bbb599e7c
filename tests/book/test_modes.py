"""The book's switches (anoclip_book.modes), and one reader per environment variable across both packages."""
import ast
import logging
import os
import re
import warnings
from pathlib import Path

import pytest

import anoclip_book
from anoclip import env
from anoclip_book import colab, modes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value, expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                             ("0", False), ("", False), ("no", False)])
def test_smoke_flag_values(monkeypatch, value, expected):
    monkeypatch.setenv(modes.SMOKE_ENV, value)
    assert modes.smoke_mode() is expected


def test_standins_manifest_path_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(modes.STANDINS_ENV, raising=False)
    assert modes.standins() is None
    monkeypatch.setenv(modes.STANDINS_ENV, "~/rehearsal/standins.json")
    assert modes.standins() == tmp_path / "rehearsal" / "standins.json"


def test_bench_plan_is_none_unless_set_and_read_in_lower_case(monkeypatch):
    monkeypatch.delenv(modes.PLAN_ENV, raising=False)
    assert modes.bench_plan() is None
    monkeypatch.setenv(modes.PLAN_ENV, " GPU ")
    assert modes.bench_plan() == "gpu"
    monkeypatch.setenv(modes.PLAN_ENV, "")
    assert modes.bench_plan() is None


def _variable_constants(path: Path):
    """Every string constant in ``path`` that is exactly an ``ANOCLIP_*`` variable name."""
    tree = ast.parse(path.read_text())
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"ANOCLIP_[A-Z_]+", node.value)}


def test_each_variable_is_named_in_one_module_and_listed_for_a_clean_environment():
    """A module that spelled ``os.environ["ANOCLIP_X"]`` itself would escape the rehearsal's clean environment."""
    owners = {ROOT / "anoclip" / "env.py": set(env.VARIABLES), ROOT / "book" / "anoclip_book" / "modes.py": set(modes.VARIABLES)}
    for owner, listed in owners.items():
        assert _variable_constants(owner) == listed, owner
    assert not set(env.VARIABLES) & set(modes.VARIABLES)
    sources = [*(ROOT / "anoclip").rglob("*.py"), *(ROOT / "book" / "anoclip_book").rglob("*.py")]
    strays = {str(path.relative_to(ROOT)): _variable_constants(path) for path in sources if path not in owners}
    assert {path: names for path, names in strays.items() if names} == {}


def test_smoke_for_subprocesses_sets_and_restores(monkeypatch):
    monkeypatch.delenv(modes.SMOKE_ENV, raising=False)
    with modes.smoke_for_subprocesses(True):
        assert modes.smoke_mode()
    assert modes.SMOKE_ENV not in os.environ
    monkeypatch.setenv(modes.SMOKE_ENV, "0")
    with modes.smoke_for_subprocesses(True):
        assert modes.smoke_mode()
    assert not modes.smoke_mode()
    with modes.smoke_for_subprocesses(False):
        assert not modes.smoke_mode()


def test_use_folders_points_the_three_folders_into_one_root(monkeypatch, tmp_path):
    for name in (env.CACHE_ENV, env.DATA_ENV, env.RESULTS_ENV):
        monkeypatch.delenv(name, raising=False)
    folders = colab.use_folders(tmp_path / "drive")
    assert (env.cache_dir(), env.data_dir(), env.results_dir()) == tuple(tmp_path / "drive" / n for n in ("cache", "data", "results"))
    assert all(path.is_dir() for path in folders.values())


def test_the_book_loader_is_where_smoke_mode_is_chosen_quietly(monkeypatch, caplog):
    """A book page announces smoke mode with banners, so loading its model warns nowhere."""
    monkeypatch.setenv(modes.SMOKE_ENV, "1")
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")
        model = anoclip_book.load_model(device="cpu", name="ViT-B-16-plus-240")
    assert (model.name, model.random_weights) == ("anoclip-tiny", True)
    assert not caplog.records
