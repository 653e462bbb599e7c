"""Evaluation geometry: short-side resize, tiling, merging, mask resizing; the VisA path."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from anoclip import TTAConfig
from anoclip.bench import BenchSetting, run_benchmark
from anoclip.data import build_meta, write_meta
from anoclip.protocol import TileLayout, image_tiles, resize_map, resize_mask, resized_shape, short_side_size, tile_offsets
from anoclip.tta import adapt_tokens, image_seed


def test_short_side_and_offsets():
    assert short_side_size(1000, 1500, 240) == (240, 360)  # VisA-like landscape
    assert short_side_size(1500, 1000, 240) == (360, 240)  # portrait: tiles run down the image
    assert resized_shape(700, 700, 240, "square") == (240, 240)
    assert tile_offsets(360, 240) == [0, 120]
    assert tile_offsets(240, 240) == [0]
    assert tile_offsets(600, 240) == [0, 180, 360]  # wider than 2 tiles: the middle is covered too
    with pytest.raises(ValueError):
        resized_shape(10, 10, 4, "crop")


@pytest.mark.parametrize("size", [(50, 80), (80, 50), (40, 40)])
def test_tiles_cover_the_resized_image_and_merge_back(size):
    height, width = size
    rgb = Image.fromarray((np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8))
    tiles, layout = image_tiles(rgb, 20)
    shape = layout.shape
    assert shape == short_side_size(height, width, 20) and tiles.shape[1:] == (3, 20, 20)
    assert layout.count == tiles.shape[0] and layout.side == 20
    # Merging the tiles' first channel gives back the resized image's first channel exactly,
    # and leading dimensions (here the three channels at once) are merged alike.
    merged = layout.merge(tiles[:, 0])
    assert torch.allclose(layout.merge(tiles.transpose(0, 1))[0], merged)
    from anoclip.protocol import normalize

    full = normalize(rgb.resize((shape[1], shape[0]), Image.BILINEAR))[0]
    assert torch.allclose(merged, full, atol=1e-6)


def test_merge_averages_overlaps():
    maps = torch.stack([torch.zeros(4, 4), torch.ones(4, 4)])
    merged = TileLayout((0, 2), 2, (4, 6), 4).merge(maps)
    assert torch.equal(merged[0], torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))
    portrait = TileLayout((0, 2), 1, (6, 4), 4).merge(maps)
    assert torch.equal(portrait[:, 0], torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))


def test_merged_logits_upsample_each_tile_then_average_the_overlap():
    """Reference: the official recipe written out, one tile and one channel at a time."""
    layout, grid = TileLayout((0, 4), 2, (8, 12), 8), (2, 2)
    logits = torch.randn(3, 2 * 4, 2, generator=torch.Generator().manual_seed(0))  # 3 images, 2 tiles of 2×2
    got = layout.merged_logits(logits, grid)
    assert got.shape == (3, 8 * 12, 2)
    for image in range(3):
        for channel in range(2):
            total, count = torch.zeros(8, 12), torch.zeros(8, 12)
            for tile, offset in enumerate((0, 4)):
                patch = logits[image, tile * 4:(tile + 1) * 4, channel].view(1, 1, 2, 2)
                up = torch.nn.functional.interpolate(patch, size=(8, 8), mode="bilinear", align_corners=True)[0, 0]
                total[:, offset:offset + 8] += up
                count[:, offset:offset + 8] += 1
            assert torch.allclose(got[image, :, channel], (total / count).flatten(), atol=1e-6)


def test_resize_mask_is_the_official_bilinear_then_half():
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    expected = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((4, 4), Image.BILINEAR)) / 255 > 0.5
    assert np.array_equal(resize_mask(mask, (4, 4)), expected)
    assert resize_mask(mask, (8, 8)) is mask


def test_tiles_share_one_adapter_per_image(tiny):
    """predict(tiling=...) adapts both tiles' tokens with one adapter, its loss on the merged pixels."""
    cold = tiny.with_config(temperature=0.01, image_views=1)
    tiles = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    layout = TileLayout((0, 32), 2, (64, 96), 64)
    tokens = cold.encode_image(tiles).patches
    bank = cold.text_bank("bottle")
    for tile_loss, view in (("tokens", None), ("merged-pixels", lambda z: layout.merged_logits(z, cold.grid))):
        config = TTAConfig(steps=3, lr=1e-2, tile_loss=tile_loss)
        prediction = cold.predict(tiles, "bottle", tta=config, tiling=layout)
        seeds = [image_seed(config.seed, tiles[:2]), image_seed(config.seed, tiles[2:])]
        joint = adapt_tokens(tokens.reshape(2, 128, -1), bank.prototypes, bank.sentences, config, 0.01,
                             seeds=seeds, loss_view=view).tokens.reshape(4, 64, -1)
        unit = joint / joint.norm(dim=-1, keepdim=True)
        expected = torch.softmax(unit @ bank.prototypes.T / 0.01, -1)[..., 1].reshape(4, 8, 8)
        assert torch.allclose(prediction.patch_scores, expected, atol=1e-5), tile_loss
        assert prediction.tta_losses.shape == (2, 3)
    pixels = cold.predict(tiles, "bottle", tta=TTAConfig(steps=3, lr=1e-2), tiling=layout).patch_scores
    token_loss = cold.predict(tiles, "bottle", tta=TTAConfig(steps=3, lr=1e-2, tile_loss="tokens"), tiling=layout).patch_scores
    assert not torch.allclose(pixels, token_loss, atol=1e-6)  # the loss's resolution matters
    with pytest.raises(ValueError, match="tiles"):
        cold.predict(tiles[:3], "bottle", tta=TTAConfig(steps=3), tiling=layout)


def _wide_dataset(root):
    rng = np.random.default_rng(0)
    for split, defect, count in (("train", "good", 1), ("test", "good", 2), ("test", "bad", 2)):
        folder = root / "candle" / split / defect
        folder.mkdir(parents=True)
        for index in range(count):
            Image.fromarray((rng.random((48, 96, 3)) * 255).astype(np.uint8)).save(folder / f"{index:03d}.png")
            if defect == "bad":
                mask = np.zeros((48, 96), np.uint8)
                mask[10:30, 60 + index:80] = 255
                (root / "candle" / "ground_truth" / "bad").mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask).save(root / "candle" / "ground_truth" / "bad" / f"{index:03d}_mask.png")
    write_meta(root, build_meta(root))
    return root


def test_visa_protocol_on_wide_images(tiny, tmp_path):
    root = _wide_dataset(tmp_path / "wide")
    result = run_benchmark(tiny, root, tmp_path / "out", BenchSetting.create("visa"), progress=False)[0]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["resize"] == "tiles" and config["model"]["config"]["image_views"] == 1
    assert result.images == 4 and 0.0 <= result.metrics["pixel_auroc"] <= 1.0
    with_tta = run_benchmark(tiny, root, tmp_path / "tta", BenchSetting.create("visa", tta=True), progress=False)[0]
    assert json.loads((tmp_path / "tta" / "config.json").read_text())["tta"]["adapter"] == "linear"
    assert with_tta.images == 4


@pytest.mark.parametrize("small, shape", [((15, 15), (1000, 777)), ((64, 64), (3000, 50)), ((7, 9), (513, 1025)), ((8, 8), (8, 8))])
def test_the_strip_wise_mask_equals_thresholding_the_full_size_map(small, shape):
    """A 12,000² photo's mask without its 576 MB float map: the same pixels, bit for bit."""
    from anoclip.protocol import mask_above

    anomaly_map = torch.rand(*small, generator=torch.Generator().manual_seed(sum(shape)))
    for threshold in (0.3, 0.5, float(anomaly_map.flatten()[3])):  # the last one sits exactly on a map value
        expected = (resize_map(anomaly_map, shape) > threshold).numpy()
        assert np.array_equal(mask_above(anomaly_map, shape, threshold, rows=100), expected)


def test_an_overlay_of_a_huge_photo_is_drawn_at_display_size(tmp_path):
    from anoclip.overlays import display_copy, save_overlay

    photo = Image.new("RGB", (6000, 300), (90, 90, 90))
    shown = display_copy(photo, 1024)
    assert shown.size == (1024, 51) and display_copy(Image.new("RGB", (50, 40)), 1024).size == (50, 40)
    outline = np.zeros((300, 6000), bool)
    outline[100:200, 3000:3500] = True
    path = save_overlay(tmp_path / "o.png", photo, np.random.default_rng(0).random((15, 300)), outline=outline)
    with Image.open(path) as written:
        assert written.width < 1200  # about 800 px per panel, whatever the photo's size
