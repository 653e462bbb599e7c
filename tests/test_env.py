"""Environment settings: one reader per variable, defaults, and no heavy imports."""
import subprocess
import sys
from pathlib import Path

import pytest

from anoclip import env


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


def test_hub_offline_switch(monkeypatch):
    monkeypatch.setenv(env.HF_OFFLINE_ENV, "1")
    assert env.hf_offline()
    monkeypatch.setenv(env.HF_OFFLINE_ENV, "0")
    assert not env.hf_offline()


def test_the_library_reads_no_smoke_switch(monkeypatch):
    """``ANOCLIP_SMOKE`` is the book's: the model asked for is the model returned."""
    from anoclip import AnoCLIP

    monkeypatch.setenv("ANOCLIP_SMOKE", "1")
    model = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu", image_size=48)
    assert (model.name, model.image_size, model.random_weights) == ("anoclip-tiny", 48, True)
    calls = []
    monkeypatch.setattr("anoclip.model.load_clip", lambda name, pretrained, **kw: calls.append((name, pretrained)) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        AnoCLIP.from_pretrained("ViT-B-16", "openai")
    assert calls == [("ViT-B-16", "openai")]  # not swapped for the tiny model


def test_reading_the_environment_loads_no_torch():
    code = "import sys, anoclip.env, anoclip_book, anoclip.data.sources; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
