"""anoclip_book.viz's inline explorers, on the Python side: what the page holds equals the model's numbers.

The payload is read back the way the browser reads it (JSON, base64, inflate, running sums) and
compared with independent computations: the taps of a fresh forward pass, fresh predictions,
matplotlib's own colour lookup. Sizes are checked for the book's model with random numbers of its
shapes (ViT-B-16-plus-240), which the build machine cannot run with real weights.
"""
import base64
import json
import re

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from matplotlib.colors import Normalize
from PIL import Image

from anoclip import AnoCLIP, metrics, scoring
from anoclip.config import PROMPT_FAMILIES, SMOOTHING_KINDS
from anoclip.data import make_synthetic_dataset
from anoclip.methods import get_method
from anoclip.protocol import resize_mask
from anoclip_book import REHEARSAL_BANNER, SMOKE_BANNER
from anoclip_book.viz import attention_from_patch, cls_weight, dataset_samples, defect_patch, inline_attention_explorer, inline_heatmap_explorer
from anoclip_book.viz.inline import EXPLORER_BUDGET, PAGE_BUDGET, asset, explorer_html
from anoclip_book.viz.inline_attention import attention_explorer
from anoclip_book.viz.inline_heatmap import ClassMaps, heatmap_explorer, settings
from anoclip_book.viz.packing import chunk, codes, colour_table, decode, running_sum, second_difference, unchunk


def payload(explorer):
    """The JSON an explorer's page carries, as the browser's script parses it."""
    text = re.search(r'<script type="application/json" class="anoclip-explorer-data">(.*?)</script>', explorer.html, re.S).group(1)
    return json.loads(text)


def block_arrays(item, patches):
    """One attention chunk read back as the browser views it: maxima, CLS weights, codes (M, N, N)."""
    raw = unchunk(item)
    matrices = len(raw) // (patches * (8 + patches))
    floats = np.frombuffer(raw[:8 * matrices * patches], "<f4").reshape(2, matrices, patches)
    return floats[0], floats[1], np.frombuffer(raw[8 * matrices * patches:], np.uint8).reshape(matrices, patches, patches)


def sample_arrays(item, size, count):
    """One heat-map chunk read back: per-map low and high, the mask, the codes (settings, S, S)."""
    raw = unchunk(item)
    floats = np.frombuffer(raw[:8 * count], "<f4").reshape(2, count)
    rest = np.frombuffer(raw[8 * count:], np.uint8)
    mask, difference = rest[:size * size].reshape(size, size), rest[size * size:].reshape(count, size, size)
    return floats[0], floats[1], mask, running_sum(difference)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("inline") / "synthetic", categories=("bottle", "grid"),
                                  n_train=0, n_test_good=0, n_test_defect=2)


@pytest.fixture(scope="module")
def defects(dataset):
    samples, names = dataset_samples(dataset, ("bottle", "grid"), per_class=2)
    return samples, names


# ------------------------------------------------------------------ packing


@pytest.mark.parametrize("cmap", ["inferno", "jet"])
def test_codes_pick_the_colour_matplotlib_paints(cmap):
    values = np.random.default_rng(0).normal(0.5, 0.01, size=(3, 500))
    low, high = values.min(axis=1), values.max(axis=1)
    palette = np.frombuffer(base64.b64decode(colour_table(cmap)), np.uint8).reshape(256, 3)
    for row, lo, hi, code in zip(values, low, high, codes(values, low, high)):
        expected = np.round(colormaps[cmap](Normalize(lo, hi)(row))[:, :3] * 255)
        np.testing.assert_array_equal(palette[code], expected)
    flat = codes(np.full((1, 4), 0.5), np.array([0.5]), np.array([0.5]))[0]  # show_map widens a flat range by 1e-6
    np.testing.assert_array_equal(palette[flat], np.round(colormaps[cmap](Normalize(0.5 - 1e-6, 0.5 + 1e-6)(np.full(4, 0.5)))[:, :3] * 255))
    assert set(flat) <= {127, 128}  # the middle colour


def test_codes_and_decode_stay_within_one_bin():
    values = np.random.default_rng(1).random((4, 1000))
    low, high = values.min(axis=1), values.max(axis=1)
    for levels in (256, 64, 16):
        code = codes(values, low, high, levels)
        assert code.max() == levels - 1 and code.min() == 0
        assert np.all(np.abs(decode(code, low, high, levels) - values) <= (high - low)[:, None] / levels / 2 + 1e-12)
    with pytest.raises(ValueError, match="2 to 256 levels"):
        codes(values, low, high, 512)


def test_second_difference_is_undone_by_running_sums():
    maps = np.random.default_rng(2).integers(0, 256, size=(3, 17, 11), dtype=np.uint8)
    np.testing.assert_array_equal(running_sum(second_difference(maps)), maps)
    smooth = (5 + np.add.outer(np.arange(40), np.arange(40))).astype(np.uint8)[None]
    assert np.count_nonzero(second_difference(smooth)) == 2 * 40 - 1  # a plane: only the first row and column are not 0


def test_chunks_hold_their_arrays_back_to_back():
    floats, bytes_ = np.array([1.5, -2.0], np.float32), np.array([7, 0, 255], np.uint8)
    raw = unchunk(chunk(floats, bytes_))
    np.testing.assert_array_equal(np.frombuffer(raw[:8], "<f4"), floats)
    assert list(raw[8:]) == [7, 0, 255]


# ------------------------------------------------------------------ the attention explorer


def test_attention_page_holds_every_block_head_and_query_of_the_taps(tiny, defects):
    samples, names = defects
    images = [image for image, _ in samples["bottle"]]
    explorer = inline_attention_explorer(tiny, images, names=names["bottle"], masks=[mask for _, mask in samples["bottle"]])
    data = payload(explorer)
    size, grid = tiny.image_size, tuple(tiny.grid)
    patches = grid[0] * grid[1]
    assert explorer.kind == "attention" and '<div class="anoclip-explorer" data-explorer="attention">' in explorer.html
    assert data["levels"] == explorer.levels == 256 and data["omitted"] == 0 and explorer.shown == 2
    assert [item["name"] for item in data["images"]] == names["bottle"]
    heads = tiny.clip.visual.transformer.resblocks[0].attn.num_heads
    assert data["heads"] == heads and data["blocks"] == len(tiny.clip.visual.transformer.resblocks)
    for index, image in enumerate(images):
        item = data["images"][index]
        shown = image.resize((size, size), Image.BILINEAR)
        mask = resize_mask(samples["bottle"][index][1], (size, size))
        assert mask.any() and tuple(item["start"]) == defect_patch(mask, grid)
        np.testing.assert_array_equal(np.frombuffer(unchunk(item["mask"]), np.uint8).reshape(size, size), mask)
        taps = AnoCLIP.encode_image(tiny, tiny.preprocess([shown]), taps=True).taps
        for path, maps in (("q-k", taps.qk_attention), ("v-v", taps.vv_attention)):
            for block, attention in enumerate(maps):
                high, cls, code = block_arrays(item["chunks"][path][block], patches)
                last = block == data["blocks"] - 1
                assert len(code) == (1 + heads if last else 1)
                for matrix, head in enumerate([None] + (list(range(heads)) if last else [])):
                    for query in (0, patches // 2, patches - 1):
                        row, col = divmod(query, grid[1])
                        expected = attention_from_patch(attention[0], row, col, grid, head).ravel()
                        np.testing.assert_allclose(high[matrix, query], expected.max(), rtol=1e-5)
                        np.testing.assert_allclose(cls[matrix, query], cls_weight(attention[0], row, col, grid, head), rtol=1e-5)
                        assert np.abs(decode(code[matrix, query], 0.0, high[matrix, query]) - expected).max() <= expected.max() / 256


def test_attention_page_marks_blocks_where_the_vv_path_is_off(tiny, defects):
    samples, _ = defects
    data = payload(inline_attention_explorer(tiny, [samples["grid"][0][0]], method=get_method("vv", start=2)))
    item = data["images"][0]
    assert item["chunks"]["v-v"][:2] == [None, None] and all(item["chunks"]["v-v"][2:])
    assert item["mask"] is None and item["start"] == [tiny.grid[0] // 2, tiny.grid[1] // 2] and item["name"] == "image 0"


def random_attention(rng, heads, tokens, spread):
    logits = rng.normal(0.0, spread, (heads, tokens, tokens)).astype(np.float32)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def test_the_books_model_fits_the_page_budget_leaving_images_out_only_when_it_must():
    """ViT-B-16-plus-240: 240 px, 15×15 patches, 12 blocks of 14 heads, random attention (diffuse, like random weights)."""
    rng = np.random.default_rng(0)
    grid, blocks, heads = (15, 15), 12, 14
    tokens = 1 + grid[0] * grid[1]
    attention = [{path: [random_attention(rng, heads, tokens, 1.0) for _ in range(blocks)] for path in ("q-k", "v-v")}
                 for _ in range(2)]
    images = [Image.fromarray(rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)) for _ in range(2)]
    explorer = attention_explorer(attention, images, grid)
    data = payload(explorer)
    assert explorer.size <= EXPLORER_BUDGET < PAGE_BUDGET
    # random weights attend almost uniformly, which deflate cannot shrink: two images need more than
    # the budget even at 16 levels, so the second image is left out, and the page says so
    assert explorer.shown == 1 and data["omitted"] == 1 and len(data["images"]) == 1 and "1 image(s)" in explorer.summary
    with pytest.raises(ValueError, match="over its budget of 0.50 MB"):
        attention_explorer(attention[:1], images[:1], grid, budget=500_000)


def test_the_books_heat_maps_fit_the_page_budget():
    """Eight 240-px samples under every setting (4 prompt families x 3 smoothings x TTA off/on), from random
    15×15 patch scores through the real smoothing: random maps compress worst, and still all eight fit at 64 levels."""
    rng = np.random.default_rng(3)
    mask = np.zeros((240, 240), bool)
    mask[100:140, 60:90] = True

    def found():
        scores = torch.tensor(0.5 + 0.01 * rng.standard_normal((4, 15, 15)), dtype=torch.float32)
        maps = np.stack([scoring.anomaly_maps(scores, (240, 240), smoothing).numpy() for _, smoothing, _ in settings()])
        return ClassMaps([Image.fromarray(rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)) for _ in range(4)], [mask] * 4,
                         maps, [f"#{i}" for i in range(4)])

    explorer = heatmap_explorer({"bottle": found(), "grid": found()}, "anoclip", "mean3")
    assert len(settings()) == 24 and explorer.size <= EXPLORER_BUDGET and explorer.shown == 8 and explorer.levels >= 64


# ------------------------------------------------------------------ the heat-map explorer


def test_heatmap_page_holds_every_setting_of_every_sample(tiny, defects):
    samples, names = defects
    model = tiny.with_config(prompts="plain")
    explorer = inline_heatmap_explorer(model, samples, names)
    data = payload(explorer)
    size = model.image_size
    keys = [f"{p}|{s}|{int(t)}" for p, s, t in settings()]
    assert explorer.kind == "heatmap" and data["prompts"] == list(PROMPT_FAMILIES) and data["smoothings"] == list(SMOOTHING_KINDS)
    assert data["initial"] == {"prompts": "plain", "smoothing": model.config.smoothing}
    assert [item["name"] for item in data["samples"]] == [f"{c} {n}" for c in names for n in names[c]]
    checked = {("plain", "none", False), ("winclip", "mean3", False), ("anoclip", "gaussian", True)}
    for class_name in ("bottle", "grid"):
        x = model.preprocess([image.resize((size, size), Image.BILINEAR) for image, _ in samples[class_name]])
        masks = [resize_mask(mask, (size, size)) for _, mask in samples[class_name]]
        for prompts, smoothing, tta in checked:
            key = f"{prompts}|{smoothing}|{int(tta)}"
            expected = model.with_config(prompts=prompts, smoothing=smoothing, image_views=1).predict(x, class_name, tta=tta).anomaly_maps.numpy()
            low, high, q90 = data["ranges"][class_name][key]
            assert (low, high) == (pytest.approx(float(expected.min()), abs=1e-6), pytest.approx(float(expected.max()), abs=1e-6))
            assert q90 == pytest.approx(float(np.quantile(expected, 0.9)), abs=1e-5)
            for index, item in enumerate(s for s in data["samples"] if s["class"] == class_name):
                lows, highs, mask, code = sample_arrays(item["chunk"], size, len(keys))
                np.testing.assert_array_equal(mask, masks[index])
                k = keys.index(key)
                values = decode(code[k].reshape(1, -1), lows[k:k + 1], highs[k:k + 1]).reshape(size, size)
                assert np.abs(values - expected[index]).max() <= (highs[k] - lows[k]) / 256 + 1e-5
                assert item["auroc"][key] == pytest.approx(metrics.pixel_auroc([expected[index]], [masks[index]]), abs=1e-4)


def test_heatmap_explorer_refuses_empty_input(tiny):
    with pytest.raises(ValueError, match="every class"):
        inline_heatmap_explorer(tiny, {"bottle": []})
    with pytest.raises(ValueError, match="at least one image"):
        inline_attention_explorer(tiny, [])


# ------------------------------------------------------------------ the page: banners, script, no network


def test_the_page_carries_the_banner_of_its_build(monkeypatch, tmp_path):
    monkeypatch.delenv("ANOCLIP_SMOKE", raising=False)
    monkeypatch.delenv("ANOCLIP_STANDINS", raising=False)
    real = explorer_html("heatmap", {}, "x")
    assert SMOKE_BANNER not in real and REHEARSAL_BANNER not in real and 'class="anoclip-explorer-banner"' not in real
    monkeypatch.setenv("ANOCLIP_STANDINS", str(tmp_path / "standins.json"))
    assert REHEARSAL_BANNER in explorer_html("heatmap", {}, "x")
    monkeypatch.setenv("ANOCLIP_SMOKE", "1")
    smoke = explorer_html("attention", {"name": "</script><b>"}, "x")
    assert SMOKE_BANNER in smoke and REHEARSAL_BANNER not in smoke
    assert smoke.count("</script>") == 2  # the data cannot close its own script element
    with pytest.raises(ValueError, match="Unknown explorer"):
        explorer_html("upload", {}, "x")


def test_the_script_fetches_nothing_and_names_no_banner():
    """The banner comes from the build (rehearsal pages are checked for it); the script loads nothing."""
    for name in ("explorers.js", "explorers.css"):
        text = asset(name)
        for forbidden in ("http:", "https:", "//cdn", "fetch(", "XMLHttpRequest", "import(", "require(", "</script", "SMOKE", "REHEARSAL"):
            assert forbidden not in text, (name, forbidden)
