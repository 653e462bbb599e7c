"""Environment settings: one reader per variable, defaults, and no heavy imports."""
import re
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


def test_model_and_weights_default_to_the_paper_and_follow_the_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (env.MODEL_ENV, env.PRETRAINED_ENV):
        monkeypatch.delenv(name, raising=False)
    assert (env.model_name(), env.pretrained()) == ("ViT-B-16-plus-240", "laion400m_e32")
    assert (env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED) == ("ViT-B-16-plus-240", "laion400m_e32")
    monkeypatch.setenv(env.MODEL_ENV, " ViT-B-16 ")
    monkeypatch.setenv(env.PRETRAINED_ENV, "openai")
    assert (env.model_name(), env.pretrained()) == ("ViT-B-16", "openai")
    monkeypatch.setenv(env.PRETRAINED_ENV, "~/weights/clip.pt")  # a local checkpoint file
    assert env.pretrained() == str(tmp_path / "weights" / "clip.pt")
    monkeypatch.setenv(env.MODEL_ENV, "")
    assert env.model_name() == "ViT-B-16-plus-240"


def test_backbone_takes_its_defaults_from_env():
    from anoclip import backbone

    assert (backbone.DEFAULT_MODEL, backbone.DEFAULT_PRETRAINED) == (env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED)


def test_standins_manifest_and_hub_offline_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(env.STANDINS_ENV, raising=False)
    assert env.standins() is None
    monkeypatch.setenv(env.STANDINS_ENV, "~/rehearsal/standins.json")
    assert env.standins() == tmp_path / "rehearsal" / "standins.json"
    monkeypatch.setenv(env.HF_OFFLINE_ENV, "1")
    assert env.hf_offline()
    monkeypatch.setenv(env.HF_OFFLINE_ENV, "0")
    assert not env.hf_offline()


def test_bench_plan_is_none_unless_set_and_read_in_lower_case(monkeypatch):
    monkeypatch.delenv(env.PLAN_ENV, raising=False)
    assert env.bench_plan() is None
    monkeypatch.setenv(env.PLAN_ENV, " GPU ")
    assert env.bench_plan() == "gpu"
    monkeypatch.setenv(env.PLAN_ENV, "")
    assert env.bench_plan() is None


def test_variables_lists_every_anoclip_variable_this_module_reads():
    quoted = set(re.findall(r'"(ANOCLIP_[A-Z_]+)"', Path(env.__file__).read_text()))
    assert set(env.VARIABLES) == quoted and len(env.VARIABLES) == len(quoted)


def test_reading_the_environment_loads_no_torch():
    code = "import sys, anoclip.env, anoclip.book, anoclip.data.sources; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


def test_smoke_for_subprocesses_sets_and_restores(monkeypatch):
    monkeypatch.delenv(env.SMOKE_ENV, raising=False)
    with env.smoke_for_subprocesses(True):
        assert env.smoke_mode()
    assert env.SMOKE_ENV not in __import__("os").environ
    monkeypatch.setenv(env.SMOKE_ENV, "0")
    with env.smoke_for_subprocesses(True):
        assert env.smoke_mode()
    assert not env.smoke_mode()
    with env.smoke_for_subprocesses(False):
        assert not env.smoke_mode()


def test_use_folders_points_the_three_folders_into_one_root(monkeypatch, tmp_path):
    for name in (env.CACHE_ENV, env.DATA_ENV, env.RESULTS_ENV):
        monkeypatch.delenv(name, raising=False)
    folders = env.use_folders(tmp_path / "drive")
    assert (env.cache_dir(), env.data_dir(), env.results_dir()) == tuple(tmp_path / "drive" / n for n in ("cache", "data", "results"))
    assert all(path.is_dir() for path in folders.values())
