"""Shared fixtures. Tests never touch the network: the hub is offline and weights are random."""
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("ANOCLIP_SMOKE", None)
os.environ["ANOCLIP_CACHE"] = tempfile.mkdtemp(prefix="anoclip-test-cache-")  # never the user's cache

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session")
def tiny():
    """The tiny random CLIP wrapped in AnoCLIP with faithful defaults (shared, read-only)."""
    from anoclip import AnoCLIP

    return AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")  # seeded random weights


@pytest.fixture
def images(tiny):
    """Three preprocessed random images at the tiny model's input size."""
    generator = torch.Generator().manual_seed(1)
    return torch.randn(3, 3, tiny.image_size, tiny.image_size, generator=generator)
