"""The benchmark runner end to end on synthetic data with the tiny model."""
import csv
import json
import math
import warnings

import numpy as np
import torch
import pytest

from anoclip import metrics
from anoclip.bench import BenchSetting, ResultsMismatchError, mean_over_categories, run_benchmark, select_samples
from anoclip.methods import get_method
from anoclip.cli import main
from anoclip.data import Meta, load_ignore, load_sample, make_synthetic_dataset
from anoclip.data.meta import Sample
from anoclip.protocol import resize_mask


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "data", n_test_good=3, n_test_defect=3)


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_results_equal_a_direct_recomputation(tiny, dataset, tmp_path):
    results = run_benchmark(tiny, dataset, tmp_path / "out", categories=["bottle"], progress=False)
    model = tiny.with_config(texture_classes={"carpet", "grid"})  # the synthetic registry entry
    meta = Meta.load(dataset)
    maps, masks, scores, labels = [], [], [], []
    for sample in meta.samples("bottle"):
        image, mask = load_sample(dataset, sample)
        prediction = model.predict(model.preprocess(image), "bottle")
        maps.append(prediction.anomaly_maps[0].numpy())
        masks.append(resize_mask(mask, (64, 64)))
        scores.append(float(prediction.image_scores[0]))
        labels.append(sample.anomaly)
    expected = {
        "pixel_auroc": metrics.pixel_auroc(maps, masks),
        "aupro": metrics.aupro(maps, masks),
        "image_auroc": metrics.image_auroc(scores, labels),
        "image_ap": metrics.image_ap(scores, labels),
        "image_aupr_trapezoid": metrics.image_aupr_trapezoid(scores, labels),
    }
    got = results[0].metrics
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name
    assert results[0].images == 6 and results[0].anomalous == 3


def test_pixel_histograms_count_every_pixel_of_every_image_in_score_order(tiny, dataset, tmp_path):
    """scores/<cat>.npz: per image, the normal and anomalous pixels of its map (as the metrics saw it)
    over fine score bins, so that a resample of images can recompute the pixel metrics from counts."""
    run_benchmark(tiny, dataset, tmp_path / "out", categories=["bottle"], progress=False)
    stored = np.load(tmp_path / "out" / "scores" / "bottle.npz")
    model = tiny.with_config(texture_classes={"carpet", "grid"})
    meta = Meta.load(dataset)
    for index, sample in enumerate(meta.samples("bottle")):
        image, mask = load_sample(dataset, sample)
        mask = resize_mask(mask, (64, 64))
        anomaly_map = model.predict(model.preprocess(image), "bottle").anomaly_maps[0].numpy()
        rows = stored["image"] == index
        bins, normal, anomalous = metrics.image_histogram(anomaly_map, mask)
        assert np.array_equal(stored["bin"][rows], bins)
        assert np.array_equal(stored["normal"][rows], normal) and np.array_equal(stored["anomalous"][rows], anomalous)
        assert normal.sum() == (~mask).sum() and anomalous.sum() == mask.sum()
    assert set(np.unique(stored["image"])) == set(range(len(meta.samples("bottle"))))


def test_outputs_resume_and_config(tiny, dataset, tmp_path, monkeypatch):
    out = tmp_path / "out"
    import anoclip.bench as bench

    calls = []
    original = bench.evaluate_category

    def interrupted(model, meta, category, *args, **kwargs):
        if category == "bottle":
            raise KeyboardInterrupt  # the run dies in the middle of the second category
        calls.append(category)
        return original(model, meta, category, *args, **kwargs)

    monkeypatch.setattr(bench, "evaluate_category", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(tiny, dataset, out, categories=["grid", "bottle", "pill"], progress=False)
    assert (out / "categories" / "grid.json").is_file()
    assert not (out / "categories" / "bottle.json").exists()
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))

    monkeypatch.setattr(bench, "evaluate_category", lambda *a, **k: calls.append(a[2]) or original(*a, **k))
    results = run_benchmark(tiny, dataset, out, categories=["grid", "bottle", "pill"], progress=False)
    assert calls == ["grid", "bottle", "pill"]  # grid was not recomputed on resume
    assert [r.category for r in results] == ["grid", "bottle", "pill"]

    rows = read_csv(out / "results.csv")
    assert [r["category"] for r in rows] == ["grid", "bottle", "pill", "mean"]
    mean = mean_over_categories(results)
    assert float(rows[-1]["pixel_auroc"]) == pytest.approx(mean["pixel_auroc"])
    assert float(rows[-1]["pixel_auroc"]) == pytest.approx(np.mean([r.metrics["pixel_auroc"] for r in results]))
    markdown = (out / "results.md").read_text()
    assert "| **mean** |" in markdown and "RANDOM WEIGHTS" in markdown
    assert "img AP (step) | img AUPR (trapz)" in markdown  # both image APs, each named
    assert set(rows[0]) >= {"image_ap", "image_aupr_trapezoid"}
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "synthetic" and config["model"]["config"]["texture_classes"] == ["carpet", "grid"]
    assert config["tta"] is None and config["resolution"] == "official"
    scores = read_csv(out / "scores" / "pill.csv")
    assert len(scores) == 6 and {r["anomaly"] for r in scores} == {"0", "1"}

    with pytest.raises(ResultsMismatchError, match="tta"):
        run_benchmark(tiny, dataset, out, BenchSetting.create("synthetic", tta=True), categories=["grid"], progress=False)


def test_corrupt_image_and_missing_mask_are_skipped_and_reported(tiny, dataset, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    meta = Meta.load(copy)
    samples = meta.samples("pill")
    normal = next(s for s in samples if not s.anomaly)
    (copy / normal.img_path).write_bytes(b"garbage")
    anomalous = next(s for s in samples if s.anomaly)
    (copy / anomalous.mask_path).unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_benchmark(tiny, copy, tmp_path / "out", categories=["pill"], progress=False)[0]
    assert result.images == 4 and len(result.skipped) == 2
    reasons = " ".join(item["reason"] for item in result.skipped)
    assert normal.img_path in reasons or "garbage" in reasons or "decode" in reasons.lower()
    assert any(anomalous.mask_path.split("/")[-1] in item["reason"] for item in result.skipped)
    assert any("skipped" in str(w.message) for w in caught)
    assert "Skipped 2 file(s)" in (tmp_path / "out" / "results.md").read_text()
    assert not math.isnan(result.metrics["pixel_auroc"])


def test_limit_keeps_both_classes():
    samples = [Sample(f"{i}.png", "", "c", "good" if i < 6 else "crack", int(i >= 6)) for i in range(10)]
    chosen = select_samples(samples, 4)
    assert len(chosen) == 4 and {s.anomaly for s in chosen} == {0, 1}
    assert chosen == sorted(chosen, key=lambda s: int(s.img_path.split(".")[0]))
    assert select_samples(samples, None) == samples


def test_native_resolution_and_tta(tiny, dataset, tmp_path):
    def run(out, **setting):
        return run_benchmark(tiny, dataset, tmp_path / out, BenchSetting.create("synthetic", limit=4, **setting),
                             categories=["grid"], progress=False)[0]

    native = run("n", resolution="native")
    official = run("o")
    assert native.images == official.images == 4
    assert native.metrics["pixel_auroc"] != official.metrics["pixel_auroc"]
    adapted = run("t", tta=True)
    assert json.loads((tmp_path / "t" / "config.json").read_text())["tta"]["adapter"] == "text"
    assert not math.isnan(adapted.metrics["pixel_auroc"])


def test_method_options_reach_the_method_and_the_config(tiny, dataset, tmp_path):
    def run(out, **setting):
        return run_benchmark(tiny, dataset, tmp_path / out, BenchSetting.create("synthetic", limit=2, **setting),
                             categories=["grid"], progress=False)[0]

    result = run("vv", method="vv", method_options={"start": 2})
    config = json.loads((tmp_path / "vv" / "config.json").read_text())
    assert config["method"] == "vv" and config["method_options"] == {"start": 2}
    # The option changes what runs: "vv" from block 2 gives the maps of the V-V path from block 2 ...
    meta = Meta.load(dataset)
    chosen = select_samples(meta.samples("grid"), 2)
    model = tiny.with_config(texture_classes={"carpet", "grid"})
    maps = [model.predict(model.preprocess(load_sample(dataset, s)[0]), "grid", get_method("vv", start=2)).anomaly_maps[0].numpy()
            for s in chosen]
    masks = [resize_mask(load_sample(dataset, s)[1], (64, 64)) for s in chosen]
    assert result.metrics["pixel_auroc"] == pytest.approx(metrics.pixel_auroc(maps, masks), abs=1e-6)
    # ... and differs from another start.
    assert run("def", method="vv", method_options={"start": 0}).metrics != result.metrics


def test_setting_is_validated_once_before_any_work():
    with pytest.raises(ValueError, match="Unknown method 'nosuch'"):
        BenchSetting.create("synthetic", method="nosuch")
    with pytest.raises(ValueError, match="no option"):
        BenchSetting.create("synthetic", method="vv", method_options={"begin": 1})
    with pytest.raises(ValueError, match="resolution"):
        BenchSetting.create("synthetic", resolution="full")
    with pytest.raises(ValueError, match="limit"):
        BenchSetting.create("synthetic", limit=0)
    visa = BenchSetting.create("VisA", tta=True, tta_seed=5)
    assert (visa.dataset, visa.resize, visa.tta.adapter, visa.tta.seed) == ("visa", "tiles", "linear", 5)
    assert BenchSetting.create(None).dataset == "custom" and BenchSetting.create(None).tta is None


def test_cli_bench_smoke_end_to_end(tmp_path, capsys):
    root, out = tmp_path / "syn", tmp_path / "res"
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke", "--limit", "4", "--categories", "bottle"]) == 0
    printed = capsys.readouterr()
    assert "| bottle |" in printed.out and "NOT meaningful" in printed.err
    assert main(["bench", "--root", str(root), "--out", str(tmp_path / "r2"), "--smoke", "--limit", "2",
                 "--categories", "grid", "--method", "vv", "--method-option", "start=1"]) == 0
    assert json.loads((tmp_path / "r2" / "config.json").read_text())["method_options"] == {"start": 1}
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke", "--categories", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["bench", "--root", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err  # checked before any model is loaded


def test_ignore_masks_are_left_out_of_the_pixel_metrics(tiny, dataset, tmp_path):
    """An MSD-style ignore mask: the benchmark equals a recomputation with those pixels left out."""
    import shutil

    from PIL import Image

    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    meta = json.loads((root / "meta.json").read_text())
    items = meta["test"]["grid"]
    anomalous = next(item for item in items if item["anomaly"])
    mask = np.asarray(Image.open(root / anomalous["mask_path"])) > 0
    ignore = np.zeros_like(mask)
    ignore[: mask.shape[0] // 2] = True  # half the image: defect and normal pixels alike
    ignore_path = anomalous["mask_path"].replace("_mask.png", "_ignore.png")
    Image.fromarray(ignore.astype(np.uint8) * 255).save(root / ignore_path)
    anomalous["ignore_path"] = ignore_path
    (root / "meta.json").write_text(json.dumps(meta))

    result = run_benchmark(tiny, root, tmp_path / "out", categories=["grid"], progress=False)[0]
    model = tiny.with_config(texture_classes={"carpet", "grid"})
    maps, masks, ignores = [], [], []
    for sample in Meta.load(root).samples("grid"):
        image, sample_mask = load_sample(root, sample)
        maps.append(model.predict(model.preprocess(image), "grid").anomaly_maps[0].numpy())
        masks.append(resize_mask(sample_mask, (64, 64)))
        ignored = load_ignore(root, sample)
        ignores.append(np.zeros((64, 64), bool) if ignored is None else resize_mask(ignored, (64, 64)))
    assert result.metrics["pixel_auroc"] == pytest.approx(metrics.pixel_auroc(maps, masks, ignore=ignores), abs=1e-6)
    assert result.metrics["aupro"] == pytest.approx(metrics.aupro(maps, masks, ignore=ignores), abs=1e-6)
    assert result.metrics["pixel_auroc"] != pytest.approx(metrics.pixel_auroc(maps, masks), abs=1e-6)


def test_image_scores_are_computed_once_and_reused_by_every_localizer_and_tta(tiny, dataset, tmp_path, monkeypatch):
    path = tmp_path / "tiny.pt"
    torch.save(tiny.clip.state_dict(), path)
    from anoclip import AnoCLIP

    model = AnoCLIP.from_pretrained("anoclip-tiny", str(path), device="cpu")
    first = run_benchmark(model, dataset, tmp_path / "a", BenchSetting.create("synthetic", limit=4), categories=["grid"],
                          progress=False)[0]
    asked = []
    original = AnoCLIP.predict

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("image_scores", True))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AnoCLIP, "predict", spy)
    for out, setting in (("tta", BenchSetting.create("synthetic", tta=True, limit=4)),
                         ("maskclip", BenchSetting.create("synthetic", method="maskclip", limit=4))):
        again = run_benchmark(model, dataset, tmp_path / out, setting, categories=["grid"], progress=False)[0]
        for name in ("image_auroc", "image_ap", "image_f1_max"):
            assert again.metrics[name] == first.metrics[name]
    assert asked and not any(asked)  # no 22-view pass was repeated
    winclip = run_benchmark(model, dataset, tmp_path / "w", BenchSetting.create("synthetic", method="winclip", limit=4),
                            categories=["grid"], progress=False)[0]
    assert asked[-1] is True  # WinCLIP's own prompts and single view: its own scores
    assert winclip.images == 4


# ------------------------------------------------------------------ nothing lost, nothing mixed (issue 18)
def test_a_category_with_skipped_files_is_recomputed_once_they_are_back(tiny, dataset, tmp_path, capsys):
    """Its partial numbers are not taken for final: the CLI exits 1, and the next run scores it again."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    normal = next(s for s in Meta.load(copy).samples("pill") if not s.anomaly)
    original = (copy / normal.img_path).read_bytes()
    (copy / normal.img_path).unlink()
    out = tmp_path / "out"
    args = ["bench", "--root", str(copy), "--out", str(out), "--smoke", "--categories", "pill", "grid"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 1
    captured = capsys.readouterr()
    assert "incomplete" in captured.err and "pill" in captured.err and "Traceback" not in captured.err
    assert "INCOMPLETE" in (out / "results.md").read_text()
    rows = {r["category"]: r for r in read_csv(out / "results.csv")}
    assert (rows["pill"]["complete"], rows["grid"]["complete"], rows["mean"]["complete"]) == ("no", "yes", "no")
    first = json.loads((out / "categories" / "pill.json").read_text())
    assert first["images"] == 5 and len(first["skipped"]) == 1

    (copy / normal.img_path).write_bytes(original)  # the file is back
    assert main(args) == 0
    again = json.loads((out / "categories" / "pill.json").read_text())
    assert again["images"] == 6 and again["skipped"] == []
    assert "INCOMPLETE" not in (out / "results.md").read_text()
    assert {r["complete"] for r in read_csv(out / "results.csv")} == {"yes"}


def test_an_interrupted_run_says_so_in_its_report(tiny, dataset, tmp_path, monkeypatch):
    import anoclip.bench as bench

    original = bench.evaluate_category

    def stop_at_bottle(model, meta, category, *args, **kwargs):
        if category == "bottle":
            raise KeyboardInterrupt
        return original(model, meta, category, *args, **kwargs)

    monkeypatch.setattr(bench, "evaluate_category", stop_at_bottle)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(tiny, dataset, out, categories=["grid", "bottle"], progress=False)
    markdown = (out / "results.md").read_text()
    assert "INCOMPLETE: interrupted; 1 of 2 categories finished (missing: bottle)" in markdown
    assert read_csv(out / "results.csv")[-1]["complete"] == "no"
    assert not (out / ".anoclip.lock").exists()  # the lock goes with the run


def test_one_run_at_a_time_holds_a_results_folder(tiny, dataset, tmp_path, capsys):
    """A second run (say, --overwrite with another setting) is refused while the first writes; the
    lock names its holder, and a lock left by a process that no longer runs is taken over."""
    import os
    import socket

    from anoclip.fileio import LOCK_NAME, FolderBusyError

    out = tmp_path / "out"
    out.mkdir()
    live = {"host": socket.gethostname(), "pid": os.getpid(), "command": "bench synthetic --tta", "started": "now"}
    (out / LOCK_NAME).write_text(json.dumps(live))
    with pytest.raises(FolderBusyError, match=f"process {os.getpid()}.*bench synthetic --tta"):
        run_benchmark(tiny, dataset, out, categories=["grid"], overwrite=True, progress=False)
    assert not (out / "config.json").exists()  # nothing was touched
    assert main(["bench", "--root", str(dataset), "--out", str(out), "--smoke", "--categories", "grid"]) == 2
    assert "is in use by another run" in capsys.readouterr().err

    dead = subprocess_pid_that_has_exited()
    (out / LOCK_NAME).write_text(json.dumps({**live, "pid": dead}))
    results = run_benchmark(tiny, dataset, out, categories=["grid"], progress=False)
    assert [r.category for r in results] == ["grid"] and not (out / LOCK_NAME).exists()


def subprocess_pid_that_has_exited() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_result_files_honour_the_umask(tiny, dataset, tmp_path):
    import os
    import stat

    previous = os.umask(0o027)
    try:
        run_benchmark(tiny, dataset, tmp_path / "out", categories=["grid"], progress=False)
    finally:
        os.umask(previous)
    for name in ("config.json", "results.csv", "results.md", "categories/grid.json", "scores/grid.csv"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o640, name
