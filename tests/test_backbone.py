"""Weights: local checkpoints, wrong architectures and the offline error path."""
import subprocess
import sys
import time

import pytest
import torch

from anoclip import AnoCLIP
from anoclip.backbone import CheckpointMismatchError, WeightsUnavailableError, native_image_size


def test_offline_default_model_fails_fast_with_instructions(tmp_path):
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        AnoCLIP.from_pretrained(cache_dir=str(tmp_path), device="cpu")
    assert time.monotonic() - start < 20
    message = str(info.value)
    assert "pretrained='/path/to/checkpoint'" in message and "ANOCLIP_SMOKE=1" in message
    assert "laion400m_e32" in message


def test_offline_failure_without_the_offline_flag_is_also_fast(tmp_path):
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
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "UNAVAILABLE" in result.stdout and "huggingface.co" in result.stdout
    assert time.monotonic() - start < 40  # includes interpreter start and a random ViT-B-16 build


def test_local_checkpoint_round_trip(tmp_path):
    source = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    path = tmp_path / "tiny.pt"
    torch.save(source.clip.state_dict(), path)
    loaded = AnoCLIP.from_pretrained("anoclip-tiny", str(path), device="cpu")
    assert not loaded.random_weights and loaded.pretrained == str(path)
    for name, tensor in source.clip.state_dict().items():
        assert torch.equal(tensor, loaded.clip.state_dict()[name])


def test_wrong_architecture_checkpoint_is_a_clear_error(tmp_path):
    source = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    path = tmp_path / "tiny.pt"
    torch.save(source.clip.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match="does not fit the ViT-B-32"):
        AnoCLIP.from_pretrained("ViT-B-32", str(path), device="cpu")


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


def test_random_weights_warn_for_real_architectures():
    with pytest.warns(UserWarning, match="RANDOM weights"):
        model = AnoCLIP.from_pretrained("ViT-B-32", None, image_size=64, device="cpu")
    assert model.random_weights and model.grid == (2, 2)


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
    (tmp_path / "vit_b_16_plus_240-laion400m_e32-699c4b84.pt").write_bytes(b"not the real weights")
    with pytest.raises(WeightsUnavailableError, match="does not match the checksum"):
        AnoCLIP.from_pretrained(cache_dir=str(tmp_path), device="cpu")
