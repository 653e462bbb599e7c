"""anoclip_book.viz: attention statistics against brute force, figures, and the widget explorers.

Explorer tests drive the controls the way a reader does (``explorer.layer.value = 2``) and check
that what is drawn equals an independent computation from the model's taps/predictions, and
that forward passes are cached (callbacks only redraw).
"""
import datetime
import itertools
from pathlib import Path
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from anoclip import AnoCLIP
from anoclip_book import REHEARSAL_BANNER, SMOKE_BANNER
from anoclip.methods import get_method
from anoclip.data import load_sample, make_synthetic_dataset, Meta
from anoclip.protocol import resize_mask
from anoclip.calibration import Thresholds
from anoclip_book.calibration_checks import RegionDetection
from anoclip_book.viz import (
    AttentionExplorer,
    HeatmapExplorer,
    UploadExplorer,
    attention_from_patch,
    attention_received,
    block_locality,
    cls_weight,
    cosine_matrix,
    defect_patch,
    group_similarity,
    layer_locality,
    method_atlas,
    plot_attention_layers,
    plot_before_after,
    plot_calibration,
    plot_cross_class_rates,
    plot_decisions,
    plot_detection_by_size,
    plot_locality,
    plot_map_grid,
    plot_metric_bars,
    plot_metric_curve,
    plot_patch_maps,
    plot_score_strips,
    plot_similarity_heatmap,
    plot_temperature_effect,
    query_similarity,
    sentence_domains,
    shuffle_blocks,
    tile_copies,
    token_index,
    uniform_locality,
    uploaded_images,
)

GRID = (3, 4)
THRESHOLDS = Thresholds(0.5, 0.5, 0.01, 100, "bottle", "anoclip", None, {})


def random_attention(heads=2, grid=GRID, seed=0):
    tokens = 1 + grid[0] * grid[1]
    logits = np.random.default_rng(seed).normal(size=(heads, tokens, tokens))
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def brute_force_locality(attention, grid, radius, sinks):
    """Loops over heads and query patches, written independently of the vectorised code."""
    heads = attention.shape[0]
    cells = [(r, c) for r in range(grid[0]) for c in range(grid[1])]
    totals = {"self_mass": [], "neighbourhood_mass": [], "mean_distance": [], "cls_mass": [], "sink_mass": []}
    for h in range(heads):
        received = [np.mean([attention[h, 1 + q, 1 + k] for q in range(len(cells))]) for k in range(len(cells))]
        top = sorted(range(len(cells)), key=lambda k: -received[k])[:sinks]
        for q, (qr, qc) in enumerate(cells):
            row = attention[h, 1 + q]
            totals["self_mass"].append(row[1 + q])
            totals["cls_mass"].append(row[0])
            totals["neighbourhood_mass"].append(
                sum(row[1 + k] for k, (kr, kc) in enumerate(cells) if max(abs(kr - qr), abs(kc - qc)) <= radius)
            )
            weighted = sum(row[1 + k] * math.hypot(kr - qr, kc - qc) for k, (kr, kc) in enumerate(cells))
            totals["mean_distance"].append(weighted / row[1:].sum())
            totals["sink_mass"].append(sum(row[1 + k] for k in top))
    return {name: float(np.mean(values)) for name, values in totals.items()}


# ------------------------------------------------------------------ attention statistics


def test_token_index_and_patch_attention_match_direct_indexing():
    attention = random_attention()
    assert token_index(0, 0, GRID) == 1 and token_index(2, 3, GRID) == 12
    for row, col in itertools.product(range(GRID[0]), range(GRID[1])):
        expected = attention.mean(0)[1 + row * GRID[1] + col, 1:].reshape(GRID)
        np.testing.assert_allclose(attention_from_patch(attention, row, col, GRID), expected, rtol=1e-6)
        np.testing.assert_allclose(
            attention_from_patch(torch.from_numpy(attention), row, col, GRID, head=1),
            attention[1, 1 + row * GRID[1] + col, 1:].reshape(GRID), rtol=1e-6,
        )
    assert cls_weight(attention, 1, 2, GRID, head=0) == pytest.approx(attention[0, 1 + 6, 0], rel=1e-6)
    np.testing.assert_allclose(attention_received(attention, GRID), attention.mean(0)[1:, 1:].mean(0).reshape(GRID), rtol=1e-6)


def test_bad_patch_head_and_shape_are_explained():
    attention = random_attention()
    with pytest.raises(ValueError, match="outside the 3×4 patch grid"):
        attention_from_patch(attention, 3, 0, GRID)
    with pytest.raises(ValueError, match="2 heads"):
        attention_from_patch(attention, 0, 0, GRID, head=2)
    with pytest.raises(ValueError, match="Index the batch first"):
        attention_from_patch(attention[None], 0, 0, GRID)


@pytest.mark.parametrize("radius,sinks", [(1, 3), (2, 1)])
def test_block_locality_equals_brute_force(radius, sinks):
    attention = random_attention(heads=3, seed=radius)
    got = block_locality(attention, GRID, radius=radius, sinks=sinks)
    expected = brute_force_locality(attention, GRID, radius, sinks)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-5), name


def test_locality_extremes():
    tokens = 1 + GRID[0] * GRID[1]
    identity = np.eye(tokens)[None]
    assert block_locality(identity, GRID) == pytest.approx(
        {"self_mass": 1.0, "neighbourhood_mass": 1.0, "mean_distance": 0.0, "cls_mass": 0.0, "sink_mass": 5 / 12}
    )
    # Uniform on a 3×3 grid: 4 corners see 4 cells, 4 edges 6, the centre 9, out of 10 tokens.
    uniform = uniform_locality((3, 3), radius=1, sinks=2)
    assert uniform["neighbourhood_mass"] == pytest.approx((4 * 4 + 4 * 6 + 9) / 9 / 10)
    assert uniform["cls_mass"] == pytest.approx(0.1) and uniform["sink_mass"] == pytest.approx(0.2)


def test_layer_locality_averages_images_and_marks_missing_blocks():
    first, second = random_attention(seed=1), random_attention(seed=2)
    stats = layer_locality([None, np.stack([first, second]), first], GRID)
    assert np.isnan(stats.mean_distance[0])
    expected = (block_locality(first, GRID)["mean_distance"] + block_locality(second, GRID)["mean_distance"]) / 2
    assert stats.mean_distance[1] == pytest.approx(expected)
    assert stats.sink_mass[2] == pytest.approx(block_locality(first, GRID)["sink_mass"])
    assert len(stats.as_rows()["cls_mass"]) == 3


def test_query_similarity_equals_brute_force_and_is_one_for_identical_rows():
    attention = random_attention(heads=2, seed=4)
    rows = attention[1, 1:, 1:]
    pairs = [
        rows[i] @ rows[j] / (np.linalg.norm(rows[i]) * np.linalg.norm(rows[j]))
        for i in range(len(rows)) for j in range(len(rows)) if i != j
    ]
    assert query_similarity(attention, GRID, head=1) == pytest.approx(np.mean(pairs), rel=1e-6)
    tokens = attention.shape[-1]
    assert query_similarity(np.full((1, tokens, tokens), 1 / tokens), GRID) == pytest.approx(1.0)


def test_defect_patch_finds_the_most_covered_patch():
    mask = np.zeros((30, 40), bool)
    mask[21:30, 12:17] = True  # rows 21-29 → patch row 2; cols 12-16 → mostly patch col 1
    assert defect_patch(mask, GRID) == (2, 1)


# ------------------------------------------------------------------ text helpers


def test_group_similarity_equals_brute_force():
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(6, 5))
    labels = ["a", "b", "a", "b", "b", "a"]
    groups, matrix = group_similarity(embeddings, labels)
    cosine = cosine_matrix(embeddings)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(cosine, unit @ unit.T, rtol=1e-6)
    assert groups == ["a", "b"]
    a, b = [0, 2, 5], [1, 3, 4]
    assert matrix[0, 1] == pytest.approx(np.mean([cosine[i, j] for i in a for j in b]))
    assert matrix[1, 1] == pytest.approx(np.mean([cosine[i, j] for i in b for j in b if i != j]))


def test_sentence_domains():
    domains = ("industrial photo", "industrial image")
    assert sentence_domains(["an industrial image of a bottle", "a cropped industrial photo of the x"], domains) == [
        "industrial image", "industrial photo",
    ]
    with pytest.raises(ValueError, match="contains 0"):
        sentence_domains(["a photo of a bottle"], domains)


# ------------------------------------------------------------------ figures


def _figures():
    attention = random_attention()
    image = np.full((24, 32, 3), 128, np.uint8)
    maps = {"q-k": [attention_from_patch(attention, 1, 1, GRID)] * 2, "v-v": [None, attention_from_patch(attention, 0, 1, GRID)]}
    stats = {"q-k": layer_locality([attention, attention], GRID)}
    mask = np.zeros((24, 32), bool)
    mask[5:10, 5:12] = True
    return [
        plot_patch_maps(image, {"a": maps["q-k"][0], "b": maps["q-k"][1]}, GRID, patch=(1, 1), notes={"a": "x"},
                        panel_patches={"b": (0, 2)}),
        plot_attention_layers(image, maps, GRID, (1, 1), [0, 1]),
        plot_locality(stats, uniform=uniform_locality(GRID)),
        plot_map_grid([image, image], {"m": [np.random.rand(8, 8), np.random.rand(24, 32)]}, [mask, None], ["x", "y"]),
        plot_metric_curve([0, 1], {"s": [0.5, 0.7]}, "x", "y", references={"ref": 0.6}),
        plot_metric_bars({"g": {"a": 0.5, "b": 0.7}}, "y"),
        plot_similarity_heatmap(np.eye(3), ["a", "b", "c"]),
        plot_temperature_effect(np.linspace(-0.03, 0.03, 50)),
        plot_calibration(THRESHOLDS, np.random.rand(3, 8, 8), np.random.rand(3), others={"test": [0.2, 0.9]}),
        plot_decisions([image, image], [np.random.rand(8, 8)] * 2, [0.1, 0.9], THRESHOLDS, names=["a", "b"], masks=[mask, None]),
        plot_detection_by_size({"x": [RegionDetection(0, 10, 0.9, True), RegionDetection(0, 300, 0.1, False)]}, 64),
        plot_cross_class_rates(np.array([[0.01, 0.5], [0.0, 0.01]]), ["a", "b"], 0.01),
        plot_before_after([0.5, 0.6], [0.55, 0.4], colour=[1.0, 2.0], label="AUROC"),
        plot_score_strips({"a": [0.1, 0.2], "b": [0.3]}, threshold=0.25),
    ]


def test_figures_carry_the_smoke_banner_only_in_smoke_mode(monkeypatch):
    monkeypatch.delenv("ANOCLIP_SMOKE", raising=False)
    for fig in _figures():
        assert isinstance(fig, Figure)
        assert SMOKE_BANNER not in [text.get_text() for text in fig.texts]
    monkeypatch.setenv("ANOCLIP_SMOKE", "1")
    for fig in _figures():
        assert [text.get_text() for text in fig.texts].count(SMOKE_BANNER) == 1


def test_a_rehearsal_stamps_its_own_banner_and_smoke_mode_wins(monkeypatch, tmp_path):
    monkeypatch.delenv("ANOCLIP_SMOKE", raising=False)
    monkeypatch.setenv("ANOCLIP_STANDINS", str(tmp_path / "standins.json"))  # a rehearsal is under way
    for fig in _figures():
        texts = [text.get_text() for text in fig.texts]
        assert texts.count(REHEARSAL_BANNER) == 1 and SMOKE_BANNER not in texts
    monkeypatch.setenv("ANOCLIP_SMOKE", "1")
    for fig in _figures():
        texts = [text.get_text() for text in fig.texts]
        assert texts.count(SMOKE_BANNER) == 1 and REHEARSAL_BANNER not in texts


def test_map_grid_has_one_row_per_method_plus_images():
    image = np.zeros((16, 16, 3), np.uint8)
    fig = plot_map_grid([image] * 3, {"a": [np.zeros((4, 4))] * 3, "b": [np.ones((4, 4))] * 3})
    assert len(fig.axes) == 3 * 3


# ------------------------------------------------------------------ explorers


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("viz") / "synthetic", categories=("bottle", "grid"), n_train=0, n_test_good=1, n_test_defect=2)


@pytest.fixture(scope="module")
def defects(dataset):
    samples = [s for s in Meta.load(dataset).samples("bottle") if s.anomaly]
    return [load_sample(dataset, s) for s in samples]


def count_calls(monkeypatch, target, name):
    calls = []
    original = getattr(target, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_attention_explorer_redraws_what_the_taps_say(tiny, defects, monkeypatch):
    images = [image for image, _ in defects]
    masks = [mask for _, mask in defects]
    encodes = count_calls(monkeypatch, tiny, "encode_image")
    explorer = AttentionExplorer(tiny, images, names=["one", "two"], masks=masks, interactive=False)
    size, grid = tiny.image_size, tiny.grid
    assert (explorer.row.value, explorer.col.value) == defect_patch(resize_mask(masks[0], (size, size)), grid)
    taps = AnoCLIP.encode_image(tiny, tiny.preprocess([images[0].resize((size, size), Image.BILINEAR)]), taps=True).taps

    def expected(path, layer, head, row, col):
        maps = taps.qk_attention if path == "q-k" else taps.vv_attention
        weights = maps[layer][0]
        weights = weights.mean(0) if head is None else weights[head]
        return weights[1 + row * grid[1] + col, 1:].reshape(grid).numpy()

    first_png = explorer.view.widget.value
    explorer.layer.value = 2
    assert explorer.state["layer"] == 2
    np.testing.assert_allclose(explorer.attention_map, expected("q-k", 2, None, explorer.row.value, explorer.col.value), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(explorer.heat.get_array()), explorer.attention_map)
    assert explorer.view.widget.value != first_png
    explorer.head.value = 1
    explorer.path.value = "v-v"
    explorer.row.value, explorer.col.value = 0, 3
    np.testing.assert_allclose(explorer.attention_map, expected("v-v", 2, 1, 0, 3), rtol=1e-5, atol=1e-7)
    assert len(encodes) == 1  # one forward for image 0, whatever the controls did

    explorer.image.value = 1
    assert len(encodes) == 2
    explorer.image.value = 0
    assert len(encodes) == 2


def test_attention_explorer_shows_where_the_vv_path_is_off(tiny, defects):
    explorer = AttentionExplorer(tiny, [defects[0][0]], interactive=False, method=get_method("vv", start=2))
    explorer.path.value = "v-v"
    explorer.layer.value = 1
    assert explorer.heat is None and np.isnan(explorer.attention_map).all()
    explorer.layer.value = 2
    assert explorer.heat is not None and np.isfinite(explorer.attention_map).all()


def test_attention_explorer_click_picks_the_patch(tiny, defects):
    explorer = AttentionExplorer(tiny, [defects[0][0]], interactive=False)
    size, (rows, cols) = tiny.image_size, tiny.grid
    renders = []
    explorer.view.refresh = lambda: renders.append(explorer.state)
    # Centre of patch (row 5, col 2), in image pixel coordinates.
    event = SimpleNamespace(inaxes=explorer.image_axes, xdata=(2.5) * size / cols, ydata=(5.5) * size / rows)
    explorer.on_click(event)
    assert (explorer.row.value, explorer.col.value) == (5, 2)
    assert len(renders) == 1  # both sliders moved, one redraw
    explorer.on_click(SimpleNamespace(inaxes=explorer.map_axes, xdata=size - 0.01, ydata=0.0))
    assert (explorer.row.value, explorer.col.value) == (0, cols - 1)
    for ignored in (SimpleNamespace(inaxes=explorer.colour_axes, xdata=1.0, ydata=1.0),
                    SimpleNamespace(inaxes=None, xdata=None, ydata=None)):
        explorer.on_click(ignored)
    assert (explorer.row.value, explorer.col.value) == (0, cols - 1) and len(renders) == 2


def test_heatmap_explorer_caches_forward_passes_and_redraws_post_processing(tiny, defects, monkeypatch):
    model = tiny.with_config(prompts="plain")  # small prompt sets keep the test fast
    predicts = count_calls(monkeypatch, AnoCLIP, "predict")
    explorer = HeatmapExplorer(model, {"bottle": defects, "grid": defects[:1]}, interactive=False)
    size = (model.image_size, model.image_size)
    x = model.preprocess([image.resize(size, Image.BILINEAR) for image, _ in defects])
    assert len(predicts) == 1
    first_png = explorer.view.widget.value

    explorer.smoothing.value = "none"
    explorer.index.value = 1
    explorer.opacity.value = 0.8
    assert len(predicts) == 1  # post-processing only
    assert explorer.view.widget.value != first_png
    independent = model.with_config(smoothing="none", image_views=1).predict(x, "bottle")
    np.testing.assert_allclose(explorer.anomaly_map, independent.anomaly_maps[1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(explorer.heat.get_array()), explorer.anomaly_map)
    assert explorer.heat.get_alpha() == 0.8

    calls = len(predicts)
    explorer.prompts.value = "winclip"
    assert len(predicts) == calls + 1  # a new prompt family needs one forward
    winclip = model.with_config(prompts="winclip", smoothing="none", image_views=1).predict(x, "bottle")
    np.testing.assert_allclose(explorer.anomaly_map, winclip.anomaly_maps[1].numpy(), rtol=1e-5, atol=1e-6)
    explorer.prompts.value = "plain"
    explorer.prompts.value = "winclip"
    assert len(predicts) == calls + 2  # both families cached; +1 is the independent check above

    low, high = explorer.threshold.min, explorer.threshold.max
    maps = explorer.class_maps()
    assert (low, high) == (pytest.approx(float(maps.min())), pytest.approx(float(maps.max())))
    explorer.threshold.value = (low + high) / 2
    np.testing.assert_array_equal(explorer.predicted_region, explorer.anomaly_map >= explorer.threshold.value)

    explorer.prompts.value = "plain"
    explorer.tta.value = True
    tta = model.with_config(smoothing="none", image_views=1).predict(x, "bottle", tta=True)
    np.testing.assert_allclose(explorer.anomaly_map, tta.anomaly_maps[1].numpy(), rtol=1e-4, atol=1e-5)

    explorer.class_name.value = "grid"
    assert explorer.index.value == 0 and explorer.index.max == 0
    assert explorer.state["class_name"] == "grid"


def test_heatmap_explorer_from_dataset_takes_anomalous_images_only(tiny, dataset):
    explorer = HeatmapExplorer.from_dataset(tiny.with_config(prompts="plain"), dataset, ["grid"], per_class=1, interactive=False)
    assert list(explorer.images) == ["grid"] and len(explorer.images["grid"]) == 1
    assert explorer.masks["grid"][0].any()  # the one image is defective
    assert explorer.images["grid"][0].size == (tiny.image_size, tiny.image_size)


def test_explorers_refuse_empty_input(tiny):
    with pytest.raises(ValueError, match="at least one image"):
        AttentionExplorer(tiny, [], interactive=False)
    with pytest.raises(ValueError, match="every class"):
        HeatmapExplorer(tiny, {"bottle": []}, interactive=False)


# ------------------------------------------------------------------ chapter 7: decisions, limits, uploads


def test_decision_titles_follow_the_rule():
    image = np.zeros((8, 8, 3), np.uint8)
    fig = plot_decisions([image] * 3, [np.zeros((8, 8))] * 3, [0.4, 0.5, 0.6], THRESHOLDS)
    titles = [ax.get_title() for ax in fig.axes[3:6]]
    assert [title.splitlines()[1] for title in titles] == ["normal", "normal", "anomalous"]  # a tie is normal


def test_detection_bars_count_the_regions_by_brute_force():
    areas = [1, 3, 4, 5, 40, 64, 200]   # pixels; the patch is 4x4 = 16 px
    found = [False, False, True, True, True, False, True]
    fig = plot_detection_by_size({"s": [RegionDetection(0, a, 0.0, f) for a, f in zip(areas, found)]}, 16)
    bars = fig.axes[0].patches
    edges = [2.0 ** k for k in range(-4, 5)]  # 1/16 ... 16 patches
    for bar, low, high in zip(bars, edges[:-1], edges[1:]):
        inside = [f for a, f in zip(areas, found) if low <= a / 16 < high]
        assert (np.isnan(bar.get_height()) and not inside) or bar.get_height() == pytest.approx(np.mean(inside))


def test_shuffled_blocks_are_the_same_tiles_elsewhere_and_copies_repeat():
    image = (np.random.default_rng(0).random((30, 30, 3)) * 255).astype(np.uint8)
    shuffled = np.asarray(shuffle_blocks(image, 3, seed=1))
    tiles = lambda a: sorted(a[r:r + 10, c:c + 10].tobytes() for r in (0, 10, 20) for c in (0, 10, 20))
    assert tiles(shuffled) == tiles(image) and not np.array_equal(shuffled, image)
    copies = np.asarray(tile_copies(image, 2)).astype(int)
    assert copies.shape == image.shape
    assert np.abs(copies[:15, :15] - copies[15:, 15:]).max() <= 1


def test_method_atlas_has_every_method_and_tta_with_the_models_maps(tiny, defects, monkeypatch):
    import anoclip_book.viz.limits as limits
    from anoclip.config import TTAConfig

    captured = {}
    monkeypatch.setattr(limits, "plot_map_grid", lambda images, rows, **kw: captured.update(rows=rows, notes=kw["notes"]))
    images = [image for image, _ in defects]
    method_atlas(tiny, images, ["bottle", "grid"], masks=[mask for _, mask in defects], methods=["anoclip", "maskclip"])
    assert list(captured["rows"]) == ["anoclip", "maskclip", "anoclip + TTA"]
    fast = tiny.with_config(image_views=1)
    x = fast.preprocess([images[1].resize((64, 64), Image.BILINEAR)])
    expected = {"maskclip": fast.predict(x, "grid", "maskclip").anomaly_maps[0],
                "anoclip + TTA": fast.predict(x, "grid", tta=TTAConfig()).anomaly_maps[0]}
    for name, anomaly_map in expected.items():
        assert np.allclose(captured["rows"][name][1], anomaly_map.numpy(), atol=1e-6)
    assert captured["notes"]["anoclip"][0].startswith("px AUROC")


def png_bytes(image):
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploaded_images_reads_both_ipywidgets_formats():
    good = png_bytes(np.zeros((5, 6, 3), np.uint8))
    eight = ({"name": "a.png", "content": memoryview(good)}, {"name": "notes.txt", "content": memoryview(b"hi")})
    seven = {"a.png": {"content": good, "metadata": {}}, "notes.txt": {"content": b"hi", "metadata": {}}}
    for value in (eight, seven):
        images, rejected = uploaded_images(value)
        assert [name for name, _ in images] == ["a.png"] and images[0][1].size == (6, 5) and rejected == ["notes.txt"]


def upload(widget, named):
    """Put images into a FileUpload as a browser upload does, in either ipywidgets.

    ipywidgets 8 holds a tuple of dicts in ``value``; in ipywidgets 7 (Colab's 7.7.1) ``value`` is
    read-only and is rebuilt from ``metadata`` and ``data`` when the front end bumps ``_counter``.
    """
    files = [(name, png_bytes(image)) for name, image in named]
    if hasattr(widget, "_counter"):
        widget.metadata = [{"name": name, "type": "image/png", "size": len(content), "lastModified": 0} for name, content in files]
        widget.data = [content for _, content in files]
        widget._counter += 1
    else:
        widget.value = tuple({"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
                              "last_modified": datetime.datetime(2026, 1, 1)} for name, content in files)


def test_upload_explorer_decides_with_uploaded_normals_or_says_why_not(tiny, defects):
    from anoclip.data import render_synthetic

    fast = tiny.with_config(image_views=1)
    initial = [("example", defects[0][0])]
    explorer = UploadExplorer(fast, initial, "bottle", fpr=0.1)
    assert explorer.state["names"] == ["example"] and explorer.state["decisions"] is None
    assert "upload at least 9 normal images" in explorer.message.value and explorer.picture.value
    mine = [render_synthetic("bottle", "defect", i, image_size=64)[2] for i in range(2)]
    upload(explorer.upload, [(f"m{i}.png", m) for i, m in enumerate(mine)])
    normals = [render_synthetic("bottle", "good", i, image_size=64)[2] for i in range(9)]
    upload(explorer.normal_upload, [(f"n{i}.png", n) for i, n in enumerate(normals)])
    explorer.button.click()
    thresholds = fast.calibrate(normals, "bottle", fpr=0.1)
    scores = fast.predict(mine, "bottle").image_scores.numpy()
    assert explorer.state["names"] == ["m0.png", "m1.png"] and explorer.state["thresholds"] == thresholds
    assert explorer.state["decisions"] == thresholds.decisions(scores)
    explorer.class_name.value = "grid"
    upload(explorer.normal_upload, [])
    explorer.button.click()
    assert explorer.state["decisions"] is None and "'grid'" in explorer.message.value  # bottle's thresholds are not grid's


# ------------------------------------------------------------------ book helpers the chapters render with


def test_book_table_formats_numbers_and_scrolls_instead_of_overflowing():
    import pandas as pd

    from anoclip_book import table

    frame = pd.DataFrame({"score": [0.123456, float("nan")], "images": [3, 40], "note": ["a", "b"]}, index=["x", "y"])
    html = table(frame).data
    assert "overflow-x: auto" in html and "0.123" in html and "0.1234" not in html and "–" in html
    assert ">40<" in html.replace(" ", "") and "40.000" not in html  # integers stay integers
    assert "12.35 %" in table(100 * frame[["score"]], floats="{:.2f} %").data


def test_benchmark_results_prefers_a_full_run_of_the_same_model(tmp_path, monkeypatch, tiny):
    import json

    from anoclip_book import benchmark_results

    monkeypatch.setenv("ANOCLIP_RESULTS", str(tmp_path))
    assert benchmark_results("synthetic", tiny) is None

    def run(folder, categories, limit=None, tta=None, model=None):
        record = {"dataset": "synthetic", "method": "anoclip", "method_options": {}, "tta": tta, "limit": limit,
                  "model": model or {"model": tiny.name, "pretrained": tiny.pretrained, "image_size": tiny.image_size}}
        (folder / "categories").mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(record))
        for category in categories:
            result = {"category": category, "metrics": {"pixel_auroc": 0.5}, "images": 2, "anomalous": 1, "seconds": 0.1}
            (folder / "categories" / f"{category}.json").write_text(json.dumps(result))

    run(tmp_path / "quick", ["bottle", "grid", "pill"], limit=6)
    run(tmp_path / "smoke" / "full", ["bottle"])
    run(tmp_path / "tta", ["bottle", "grid", "pill", "carpet"], tta={"steps": 5})
    run(tmp_path / "other", ["bottle", "grid", "pill", "carpet"], model={"model": "ViT-B-16", "pretrained": "openai", "image_size": 224})
    folder, results = benchmark_results("synthetic", tiny)
    assert folder == tmp_path / "smoke" / "full" and [r.category for r in results] == ["bottle"]
    assert benchmark_results("synthetic", tiny, tta=True)[0] == tmp_path / "tta"
    assert benchmark_results("mvtec", tiny) is None


def test_table_cells_escape_text_and_keep_their_markup():
    import pandas as pd

    from anoclip_book.viz.tables import code, home_path, html_table, link, text

    frame = pd.DataFrame([{"name": text("a<b & c"), "where": link("site", "https://x.org/?a=1&b=2"), "cmd": code("ls <dir>"),
                           "value": 12.345}])
    page = html_table(frame, floats="{:.1f}", min_width="40em").data
    assert "a&lt;b &amp; c" in page and '<a href="https://x.org/?a=1&amp;b=2">site</a>' in page
    assert "<code>ls &lt;dir&gt;</code>" in page and "12.3" in page and "12.345" not in page
    assert 'style="min-width: 40em"' in page and "min-width" not in html_table(frame).data
    assert home_path(Path.home() / "data") == "~/data" and home_path("/elsewhere/data") == "/elsewhere/data"
