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


SMALL_ARCHITECTURE = "test-vit-small"


@pytest.fixture(scope="session")
def small_architecture(tmp_path_factory):
    """A registered open_clip ViT that is not the tiny test model (for messages about "real"
    architectures) yet builds in milliseconds: 2 blocks of width 32, unlike ViT-B-32's 88 M parameters."""
    import json

    import open_clip

    path = tmp_path_factory.mktemp("configs") / f"{SMALL_ARCHITECTURE}.json"
    path.write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }))
    open_clip.add_model_config(path)
    return SMALL_ARCHITECTURE


def _write_mvtec_category(root, category):
    """Write `root/<category>/` in MVTec AD's per-category layout: one good train image, one good and
    one `crack` test image, and the crack's mask; the pixels depend on the category name only."""
    import numpy as np
    from PIL import Image

    base = root / category
    rng = np.random.default_rng(len(category))
    for split, defect in (("train", "good"), ("test", "good"), ("test", "crack")):
        (base / split / defect).mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(base / split / defect / "000.png")
    (base / "ground_truth" / "crack").mkdir(parents=True)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    Image.fromarray(mask).save(base / "ground_truth" / "crack" / "000_mask.png")
    return base


@pytest.fixture(scope="session")
def mvtec_category():
    """The writer of a small MVTec AD category tree, for the download and sample-data tests."""
    return _write_mvtec_category
