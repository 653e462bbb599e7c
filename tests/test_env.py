"""Environment settings: one reader per variable, defaults, and no heavy imports."""
import subprocess
import sys
from pathlib import Path

import pytest

from anoclip import env


@pytest.mark.parametrize("value, expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                             ("0", False), ("", False), ("no", False)])
def test_smoke_flag_values(monkeypatch, value, expected):
    monkeypatch.setenv(env.SMOKE_ENV, value)
    assert env.smoke_mode() is expected


def test_folders_default_under_home_and_follow_the_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (env.DATA_ENV, env.RESULTS_ENV, env.CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert env.data_dir() == tmp_path / "anoclip_data"
    assert env.results_dir() == tmp_path / "anoclip_results"
    assert env.cache_dir() == tmp_path / ".cache" / "anoclip"
    monkeypatch.setenv(env.CACHE_ENV, "~/drive/cache")
    monkeypatch.setenv(env.DATA_ENV, str(tmp_path / "d"))
    assert env.cache_dir() == tmp_path / "drive" / "cache"
    assert env.data_dir() == tmp_path / "d"
    monkeypatch.setenv(env.RESULTS_ENV, "  ")  # blank means unset
    assert env.results_dir() == tmp_path / "anoclip_results"


def test_mirror_is_none_unless_set(monkeypatch):
    monkeypatch.delenv(env.MIRROR_ENV, raising=False)
    assert env.mirror() is None
    monkeypatch.setenv(env.MIRROR_ENV, " http://127.0.0.1:8000/ ")
    assert env.mirror() == "http://127.0.0.1:8000/"


def test_reading_the_environment_loads_no_torch():
    code = "import sys, anoclip.env, anoclip.book; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
