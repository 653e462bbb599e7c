"""anoclip_book: the precision the chapters run in, glue on Colab, the Drive and GPU cells."""
import sys
import types

import pytest

import anoclip_book as book
from anoclip import env
from anoclip_book import modes


@pytest.mark.parametrize("capability, setting, expected", [
    ((7, 5), "auto", "fp16"),   # T4: no bf16 tensor cores
    ((7, 0), "auto", "fp16"),   # V100
    ((8, 0), "auto", "bf16"),   # A100
    ((8, 9), "auto", "bf16"),   # L4
    ((9, 0), "auto", "bf16"),   # H100/H200
    (None, "auto", None),       # no CUDA device: full precision
    ((8, 0), "fp32", None),     # the named switch back to the faithful default
    ((7, 5), "bf16", "bf16"),   # forced
    (None, "fp16", None),       # nothing to autocast on a CPU
])
def test_autocast_choice(capability, setting, expected):
    assert book.autocast_choice(capability, setting) == expected


def test_precision_setting_is_validated(monkeypatch):
    monkeypatch.delenv(modes.PRECISION_ENV, raising=False)
    assert modes.precision() == "auto"
    monkeypatch.setenv(modes.PRECISION_ENV, " FP32 ")
    assert modes.precision() == "fp32"
    monkeypatch.setenv(modes.PRECISION_ENV, "half")
    with pytest.raises(ValueError) as error:
        modes.precision()
    assert "ANOCLIP_PRECISION='half'" in str(error.value) and "fp32" in str(error.value)


@pytest.mark.parametrize("capability, setting, expected", [((7, 5), None, "fp16"), ((9, 0), None, "bf16"), ((9, 0), "fp32", None)])
def test_load_model_picks_mixed_precision_from_the_device(monkeypatch, capability, setting, expected):
    """A faked compute capability: the choice reaches the model's config, the package default stays fp32."""
    monkeypatch.setattr(book.colab, "cuda_capability", lambda device: capability)
    if setting:
        monkeypatch.setenv(modes.PRECISION_ENV, setting)
    else:
        monkeypatch.delenv(modes.PRECISION_ENV, raising=False)
    model = book.load_model(name="anoclip-tiny", pretrained=None, device="cpu")
    assert model.config.amp == expected
    from anoclip import AnoCLIPConfig

    assert AnoCLIPConfig().amp is None


def test_load_model_keeps_an_explicit_autocast_and_full_precision_without_cuda(monkeypatch):
    from anoclip import AnoCLIPConfig

    monkeypatch.setattr(book.colab, "cuda_capability", lambda device: (7, 5))
    model = book.load_model(name="anoclip-tiny", pretrained=None, device="cpu", config=AnoCLIPConfig(amp="bf16"))
    assert model.config.amp == "bf16"
    monkeypatch.setattr(book.colab, "cuda_capability", lambda device: None)
    assert book.load_model(name="anoclip-tiny", pretrained=None, device="cpu").config.amp is None
    assert book.cuda_capability("cpu") is None


def test_gpu_report_says_what_to_change_without_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert "No GPU" in book.gpu_report() and "CUDA build" in book.gpu_report()
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert "Runtime → Change runtime type" in book.gpu_report()


def test_gpu_report_names_the_device_the_precision_and_the_switch(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    monkeypatch.setattr(book.colab, "cuda_capability", lambda device: (7, 5))
    monkeypatch.delenv(modes.PRECISION_ENV, raising=False)
    report = book.gpu_report()
    assert "Tesla T4" in report and "7.5" in report and "fp16 autocast" in report and "ANOCLIP_PRECISION=fp32" in report


@pytest.fixture
def fake_colab(monkeypatch):
    """google.colab with the two functions the Colab edition calls, recording the calls."""
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    colab.drive = types.SimpleNamespace(mount=lambda path: calls.append(("mount", path)))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(book.pages, "_GLUE_FORMATS", None)
    return calls


def test_colab_setup_enables_widgets_and_glue_prints_the_formats_the_prose_uses(fake_colab, capsys):
    book.colab_setup({"ch4-gap": [".3f", "+.3f", ".3f"], "ch4-n": [","]})
    assert fake_colab == ["widgets"]
    capsys.readouterr()
    book.glue("ch4-gap", 0.04567, display=False)
    book.glue("ch4-n", 12345, display=False)
    book.glue("unused", 1.0, display=False)
    assert capsys.readouterr().out.splitlines() == ["[ch4-gap] = 0.046", "[ch4-gap] = +0.046", "[ch4-n] = 12,345"]


def test_glue_outside_colab_emits_the_myst_nb_bundle(monkeypatch):
    monkeypatch.setattr(book.pages, "_GLUE_FORMATS", None)
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: shown.append((args, kwargs)))
    book.glue("ch9-x", 3, display=False)
    (bundle,), options = shown[0]
    assert bundle == {"application/papermill.record/text/plain": "3"}
    assert options["metadata"]["scrapbook"]["name"] == "ch9-x"


def test_google_drive_holds_weights_data_and_results(fake_colab, monkeypatch, tmp_path, capsys):
    for name in (env.CACHE_ENV, env.DATA_ENV, env.RESULTS_ENV):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "MyDrive").mkdir()
    folders = book.use_google_drive("anoclip", mount_point=tmp_path)
    assert fake_colab == [("mount", str(tmp_path))]
    assert env.cache_dir() == tmp_path / "MyDrive" / "anoclip" / "cache"
    assert env.data_dir() == tmp_path / "MyDrive" / "anoclip" / "data" and env.data_dir().is_dir()
    assert env.results_dir() == folders[env.RESULTS_ENV]
    assert "archives + one extracted copy" in capsys.readouterr().out


def test_google_drive_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(RuntimeError, match="only on Colab.*ANOCLIP_DATA"):
        book.use_google_drive()
