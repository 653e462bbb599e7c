"""Weights: local checkpoints, wrong architectures, the offline error path, the sources table,
mirrors for checkpoints, and ANOCLIP_MODEL / ANOCLIP_PRETRAINED (stand-ins: tests/book/test_substitution.py)."""
import os
import subprocess
import sys
from urllib.parse import urlparse

import open_clip
import pytest
import torch

from anoclip import AnoCLIP, env
from anoclip.backbone import CheckpointMismatchError, WeightsUnavailableError, native_image_size, resolve_checkpoint
from anoclip.data.sources import default_table

DEFAULT_FILE = "vit_b_16_plus_240-laion400m_e32-699c4b84.pt"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (env.MIRROR_ENV, env.MODEL_ENV, env.PRETRAINED_ENV, env.CACHE_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu").clip.state_dict(), path)
    return path


def test_offline_default_model_fails_with_instructions(tmp_path):
    """How fast it fails is measured in benchmarks/offline_failure.py, not asserted here."""
    with pytest.raises(WeightsUnavailableError) as info:
        AnoCLIP.from_pretrained(cache_dir=str(tmp_path), device="cpu")
    message = str(info.value)
    assert "pretrained='/path/to/checkpoint'" in message and "ANOCLIP_SMOKE=1" in message
    assert "laion400m_e32" in message


def test_offline_failure_without_the_offline_flag_is_also_an_error_with_the_url(tmp_path):
    """No HF_HUB_OFFLINE: the download itself must fail (no network here) within seconds."""
    code = (
        "import anoclip, sys\n"
        "try:\n"
        f"    anoclip.AnoCLIP.from_pretrained('ViT-B-16', 'openai', cache_dir={str(tmp_path)!r}, device='cpu')\n"
        "except anoclip.backbone.WeightsUnavailableError as err:\n"
        "    print('UNAVAILABLE', err); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "HF_HUB_OFFLINE"}
    env["HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "UNAVAILABLE" in result.stdout and "huggingface.co" in result.stdout


def test_local_checkpoint_round_trip(tmp_path):
    source = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    path = tmp_path / "tiny.pt"
    torch.save(source.clip.state_dict(), path)
    loaded = AnoCLIP.from_pretrained("anoclip-tiny", str(path), device="cpu")
    assert not loaded.random_weights and loaded.pretrained == str(path)
    for name, tensor in source.clip.state_dict().items():
        assert torch.equal(tensor, loaded.clip.state_dict()[name])


def test_wrong_architecture_checkpoint_is_a_clear_error(tmp_path, small_architecture):
    source = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    path = tmp_path / "tiny.pt"
    torch.save(source.clip.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match=f"does not fit the {small_architecture}"):
        AnoCLIP.from_pretrained(small_architecture, str(path), device="cpu")


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointMismatchError, match="broken.pt"):
        AnoCLIP.from_pretrained("anoclip-tiny", str(path), device="cpu")


def test_missing_file_and_unknown_tag(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        AnoCLIP.from_pretrained("anoclip-tiny", str(tmp_path / "nothere.pt"), device="cpu")
    with pytest.raises(ValueError, match="Known tags"):
        AnoCLIP.from_pretrained("ViT-B-16-plus-240", "laion5b_e99", device="cpu")
    with pytest.raises(ValueError, match="Unknown open_clip architecture"):
        native_image_size("ViT-Q-99")


def test_native_sizes():
    assert native_image_size("ViT-B-16-plus-240") == 240
    assert native_image_size("ViT-L-14-336") == 336
    assert native_image_size("anoclip-tiny") == 64


def test_random_weights_warn_for_real_architectures(small_architecture):
    with pytest.warns(UserWarning, match="RANDOM weights"):
        model = AnoCLIP.from_pretrained(small_architecture, None, image_size=64, device="cpu")
    assert model.random_weights and model.grid == (4, 4)


def test_random_weights_are_seeded_without_touching_the_callers_rng():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    second = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    for name, tensor in first.clip.state_dict().items():
        assert torch.equal(tensor, second.clip.state_dict()[name])


def test_cached_release_file_with_a_wrong_checksum_is_refused(tmp_path):
    (tmp_path / DEFAULT_FILE).write_bytes(b"not the real weights")
    with pytest.raises(WeightsUnavailableError) as err:
        AnoCLIP.from_pretrained(cache_dir=str(tmp_path), device="cpu")
    assert "expected one starting 699c4b84" in str(err.value) and "Delete it" in str(err.value)
    assert (tmp_path / DEFAULT_FILE).read_bytes() == b"not the real weights"  # left for the reader


def test_listed_weights_are_the_files_open_clip_names():
    rows = [row for row in default_table() if row.kind == "weights"]
    assert {(row.model, row.tag) for row in rows} >= {("ViT-B-16-plus-240", "laion400m_e32"), ("ViT-B-16", "openai")}
    for row in rows:
        config = open_clip.get_pretrained_cfg(row.model, row.tag)
        url = config["url"]
        if not url:  # open_clip 4 lists only the Hugging Face copy of the OpenAI weights
            assert "openai" in row.tag and row.hf_hub and row.hf_hub.strip("/") == config["hf_hub"].strip("/"), row.id
            continue
        assert os.path.basename(urlparse(url).path) == row.file, row.id
        if "openaipublic" in url:
            assert row.sha256 == url.split("/")[-2] and all(row.sha256 in u for u in row.urls)
        else:
            assert row.sha256_prefix and url in row.urls


def test_the_default_weights_come_from_the_cache_folder_named_by_ANOCLIP_CACHE(tmp_path, monkeypatch):
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "drive" / "cache"))
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_checkpoint(env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED)
    message = str(err.value)  # HF_HUB_OFFLINE=1 (conftest): nothing but the cache and a mirror is tried
    assert str(tmp_path / "drive" / "cache" / "weights" / DEFAULT_FILE) in message
    assert "not tried: offline" in message and "huggingface" not in message.lower()


def test_a_mirror_never_hands_over_wrong_weights(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / DEFAULT_FILE).write_bytes(b"renamed random weights")
    monkeypatch.setenv(env.MIRROR_ENV, str(mirror))
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_checkpoint(env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED, cache_dir=str(tmp_path / "cache"))
    assert f"ANOCLIP_MIRROR {mirror / DEFAULT_FILE}: SHA-256" in str(err.value)
    assert "--pretrained FILE" in str(err.value) and not (tmp_path / "cache" / DEFAULT_FILE).exists()


def test_book_and_prefetch_load_what_ANOCLIP_MODEL_and_PRETRAINED_name(tiny_checkpoint, monkeypatch, capsys):
    from anoclip_book import load_model
    from anoclip.cli import main

    monkeypatch.setenv(env.MODEL_ENV, "anoclip-tiny")
    monkeypatch.setenv(env.PRETRAINED_ENV, str(tiny_checkpoint))
    model = load_model(device="cpu")
    assert not model.random_weights and model.pretrained == str(tiny_checkpoint)
    assert main(["prefetch"]) == 0
    assert capsys.readouterr().out.strip() == f"anoclip-tiny / {tiny_checkpoint} weights: {tiny_checkpoint}"
    assert load_model(name="anoclip-tiny", pretrained=None, device="cpu").random_weights  # arguments win


def test_a_damaged_checkpoint_never_passes_on_the_advice_to_run_its_code(tmp_path):
    """torch suggests retrying with weights_only=False, i.e. executing the file: the message must not."""
    import pickle

    for name, payload in (("junk.pt", b"not a checkpoint" * 8), ("objects.pt", pickle.dumps({"w": tmp_path}))):
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(CheckpointMismatchError) as err:
            AnoCLIP.from_pretrained("anoclip-tiny", str(tmp_path / name), device="cpu")
        message = str(err.value)
        assert str(tmp_path / name) in message and "download it again" in message
        assert "weights_only" not in message and "\n" not in message


def test_a_torchscript_checkpoint_like_openais_releases_loads(tmp_path):
    """OpenAI's CLIP .pt files are TorchScript archives, which torch.load(weights_only=True) refuses."""
    import warnings

    source = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracing warns about data-dependent control flow
        traced = torch.jit.trace(source.clip, (torch.zeros(1, 3, 64, 64), source.tokenizer(["a"])), check_trace=False)
    traced.save(str(tmp_path / "ViT-tiny.pt"))
    loaded = AnoCLIP.from_pretrained("anoclip-tiny", str(tmp_path / "ViT-tiny.pt"), device="cpu")
    assert not loaded.random_weights
    assert all(torch.equal(tensor, source.clip.state_dict()[name]) for name, tensor in loaded.clip.state_dict().items())
