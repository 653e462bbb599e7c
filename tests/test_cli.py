"""The command line end to end (tiny model): localize, calibrate, data from-folder, bench, and their error paths."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anoclip.cli import main


def write_images(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    Image.fromarray((rng.random((50, 70, 3)) * 255).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((rng.random((40, 40)) * 65535).astype(np.uint16)).save(folder / "b.png")
    Image.fromarray((rng.random((30, 30, 4)) * 255).astype(np.uint8), "RGBA").save(folder / "c.png")
    (folder / "corrupt.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_localize_writes_overlays_and_scores(tmp_path, capsys):
    folder = write_images(tmp_path / "imgs")
    out = tmp_path / "out"
    code = main(["localize", str(folder), str(folder / "a.png"), "--class-name", "bottle", "--out", str(out), "--smoke", "--batch-size", "2"])
    assert code == 1  # finished, but one input was skipped
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # a, b, c, corrupt, and a again (disambiguated)
    good = [r for r in rows if not r["error"]]
    bad = [r for r in rows if r["error"]]
    assert len(good) == 4 and len(bad) == 1 and "corrupt.png" in bad[0]["error"]
    assert sorted(r["overlay"] for r in good) == ["a_1_overlay.png", "a_overlay.png", "b_overlay.png", "c_overlay.png"]
    for row in good:
        assert 0.0 <= float(row["image_score"]) <= 1.0
        with Image.open(out / row["overlay"]) as overlay:
            assert overlay.format == "PNG" and overlay.size[0] > 100
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*tmp"))
    err = capsys.readouterr().err
    assert "skipped" in err and "1 input(s) skipped" in err and "Traceback" not in err


def test_localize_reports_missing_inputs(tmp_path, capsys):
    assert main(["localize", str(tmp_path / "nothing"), "--class-name", "x", "--smoke"]) == 2
    assert "No such image or folder" in capsys.readouterr().err


def test_localize_offline_without_weights_exits_with_advice(tmp_path):
    folder = write_images(tmp_path / "imgs")
    env = dict(os.environ, HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    env.pop("ANOCLIP_SMOKE", None)
    result = subprocess.run(
        [sys.executable, "-m", "anoclip.cli", "localize", str(folder / "a.png"), "--class-name", "bottle", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert "--pretrained /path/to/checkpoint" in result.stderr and "Traceback" not in result.stderr


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_localize_refuses_inputs_that_are_not_images_before_loading_a_model(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    assert main(["localize", str(notes), "--class-name", "bottle", "--smoke", "--out", str(tmp_path / "o")]) == 2
    line = error_line(capsys)
    assert "notes.txt" in line and "is an image" in line and "Pass image files" in line
    assert not (tmp_path / "o").exists()


@pytest.fixture
def synthetic_root(tmp_path_factory):
    from anoclip.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("cli") / "syn", categories=("bottle", "grid"),
                                  n_train=1, n_test_good=1, n_test_defect=1)


@pytest.mark.parametrize("extra, expected", [
    (["--method", "nosuchmethod"], "Unknown method 'nosuchmethod'"),
    (["--method", "vv", "--method-option", "begin=2"], "no option(s) ['begin']"),
    (["--categories", "nope"], "Category 'nope' is not in the test split"),
    (["--dataset", "nosuchset"], "Unknown dataset 'nosuchset'"),
    (["--limit", "0"], "limit must be a positive number"),
])
def test_bench_input_errors_are_one_line_before_any_work(synthetic_root, tmp_path, capsys, monkeypatch, extra, expected):
    import anoclip.cli as cli

    monkeypatch.setattr(cli, "_load_model", lambda args: pytest.fail("the model must not be loaded"))
    out = tmp_path / "out"
    assert main(["bench", "--root", str(synthetic_root), "--out", str(out), *extra]) == 2
    assert expected in error_line(capsys)
    assert not out.exists()


def test_bench_smoke_on_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"x")
    assert main(["bench", "--root", str(folder), "--out", str(tmp_path / "o"), "--smoke"]) == 2
    line = error_line(capsys)
    assert str(folder) in line and "empty or new folder" in line


def test_bench_category_without_usable_images_fails_after_finishing_the_others(synthetic_root, tmp_path, capsys):
    import json
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(synthetic_root, root)
    meta = json.loads((root / "meta.json").read_text())
    for item in meta["test"]["grid"]:
        (root / item["img_path"]).write_bytes(b"garbage")
    out = tmp_path / "out"
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke"]) == 1
    line = error_line(capsys)
    assert line.startswith("anoclip: error: grid: none of its 2 test images could be read")
    assert "run the same command again" in line
    assert (out / "categories" / "bottle.json").is_file() and not (out / "categories" / "grid.json").exists()
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke", "--categories", "grid"]) == 2
    assert "grid: none of its 2" in error_line(capsys)


def test_localize_shows_photos_upright_using_their_exif_orientation(tmp_path):
    """A phone photo stored sideways with an EXIF tag is scored as its owner sees it."""
    rng = np.random.default_rng(3)
    stored = Image.fromarray((rng.random((40, 60, 3)) * 255).astype(np.uint8))
    folder = tmp_path / "photos"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored.save(folder / "tagged.png", exif=exif)
    stored.transpose(Image.Transpose.ROTATE_270).save(folder / "upright.png")
    assert main(["localize", str(folder), "--class-name", "bottle", "--smoke", "--out", str(tmp_path / "o")]) == 0
    with open(tmp_path / "o" / "scores.csv") as handle:
        scores = {row["image"].split("/")[-1]: row["image_score"] for row in csv.DictReader(handle)}
    assert scores["tagged.png"] == scores["upright.png"]


def write_normals(folder, count, start=0):
    from anoclip.data import render_synthetic

    folder.mkdir(parents=True)
    for index in range(start, start + count):
        Image.fromarray(render_synthetic("bottle", "good", index, image_size=64)[2]).save(folder / f"n{index:03d}.png")
    return folder


def test_calibrate_then_localize_writes_masks_and_decisions_by_the_rule(tmp_path, tiny):
    from anoclip.calibration import Thresholds
    from anoclip.data.images import read_rgb
    from anoclip.protocol import resize_map

    normal = write_normals(tmp_path / "normal", 19)
    file = tmp_path / "t.json"
    assert main(["calibrate", str(normal), "--class-name", "bottle", "--out", str(file), "--fpr", "0.05", "--smoke"]) == 0
    thresholds = Thresholds.load(file)
    assert thresholds.n_images == 19 and thresholds.fpr == 0.05 and thresholds.class_name == "bottle"
    folder = write_images(tmp_path / "imgs")
    out = tmp_path / "out"
    assert main(["localize", str(folder), "--class-name", "bottle", "--thresholds", str(file), "--smoke", "--out", str(out)]) == 1
    with open(out / "scores.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if not row["error"]]
    assert len(rows) == 3
    for row in rows:
        image = read_rgb(row["image"], orientation="exif")
        with Image.open(out / row["mask"]) as stored:
            mask = np.asarray(stored) > 0
        assert mask.shape == (image.height, image.width)  # at the image's own size, like the overlay
        expected_map = tiny.predict([image], "bottle").anomaly_maps[0]
        expected = resize_map(expected_map, mask.shape).numpy() > thresholds.pixel_threshold
        assert np.mean(mask != expected) < 1e-3  # float rounding at the threshold only
        expected_decision = "anomalous" if float(row["image_score"]) > thresholds.image_threshold else "normal"
        assert row["decision"] == expected_decision


def test_localize_calibrates_from_a_folder_and_keeps_the_thresholds(tmp_path, capsys):
    normal = write_normals(tmp_path / "normal", 9)
    folder = write_normals(tmp_path / "test", 2, start=50)
    out = tmp_path / "out"
    code = main(["localize", str(folder), "--class-name", "bottle", "--calibrate", str(normal), "--fpr", "0.1",
                 "--smoke", "--out", str(out)])
    assert code == 0
    assert "from 9 normal images" in capsys.readouterr().out
    assert (out / "thresholds.json").is_file() and sorted(p.name for p in out.glob("*_mask.png")) == ["n050_mask.png", "n051_mask.png"]


def test_too_few_normal_images_is_one_line_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import anoclip.cli as cli

    monkeypatch.setattr(cli, "_load_model", lambda args: pytest.fail("the model must not be loaded"))
    normal = write_normals(tmp_path / "normal", 3)
    folder = write_images(tmp_path / "imgs")
    for argv in (["localize", str(folder), "--calibrate", str(normal)], ["calibrate", str(normal)]):
        assert main([*argv, "--class-name", "bottle", "--smoke", "--out", str(tmp_path / "o.json")]) == 2
        line = error_line(capsys)
        assert str(normal) in line and "has 3 normal image(s)" in line and "at least 99" in line and "fpr >= 0.25" in line


def test_thresholds_of_another_class_are_refused(tmp_path, capsys):
    normal = write_normals(tmp_path / "normal", 9)
    file = tmp_path / "t.json"
    assert main(["calibrate", str(normal), "--class-name", "bottle", "--out", str(file), "--fpr", "0.1", "--smoke"]) == 0
    folder = write_images(tmp_path / "imgs")
    assert main(["localize", str(folder), "--class-name", "grid", "--thresholds", str(file), "--smoke", "--out", str(tmp_path / "o")]) == 2
    line = error_line(capsys)
    assert str(file) in line and "class_name is 'bottle' in the file, 'grid' here" in line


def test_data_from_folder_then_bench(tmp_path, capsys):
    root = tmp_path / "bottle"
    write_normals(root / "good", 2)
    (root / "scratch").mkdir()
    (root / "masks" / "scratch").mkdir(parents=True)
    from anoclip.data import render_synthetic

    _, _, image, mask = render_synthetic("bottle", "defect", 1, image_size=64)
    Image.fromarray(image).save(root / "scratch" / "s.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / "scratch" / "s.png")
    data = tmp_path / "data"
    assert main(["data", "from-folder", str(root), "--out", str(data)]) == 0
    out = capsys.readouterr().out
    assert "2 normal images and 1 anomalous image" in out and f"anoclip bench --root {data}" in out
    assert main(["bench", "--root", str(data), "--out", str(tmp_path / "results"), "--smoke"]) == 0
    (root / "masks" / "scratch" / "s.png").rename(root / "masks" / "scratch" / "t.png")
    assert main(["data", "from-folder", str(root), "--out", str(tmp_path / "data2")]) == 2
    line = error_line(capsys)
    assert "masks/scratch/t.png" in line and "name(s) no image in scratch/" in line


# ------------------------------------------------------------------ nothing lost, one line for every mistake (issue 18)
def error_lines(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("anoclip:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def one_image(folder, name="x.png", size=(40, 60)):
    folder.mkdir(exist_ok=True)
    seed = sum(map(ord, name))  # different names, different pixels
    Image.fromarray((np.random.default_rng(seed).random((*size, 3)) * 255).astype(np.uint8)).save(folder / name)
    return folder / name


def test_a_second_localize_adds_to_the_same_setting_and_refuses_another(tmp_path, capsys):
    first, second = one_image(tmp_path / "a", "p.png"), one_image(tmp_path / "b", "p.png")
    out = tmp_path / "out"
    base = ["--class-name", "bottle", "--out", str(out), "--smoke"]
    assert main(["localize", str(first), *base]) == 0
    assert main(["localize", str(second), *base]) == 0  # same setting: added, its own overlay name
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert [r["image"] for r in rows] == [str(first), str(second)]
    assert [r["overlay"] for r in rows] == ["p_overlay.png", "p_1_overlay.png"]
    capsys.readouterr()
    assert main(["localize", str(second), "--class-name", "pill", "--out", str(out), "--smoke"]) == 2
    assert "differs in: class_name" in error_lines(capsys) and len(list(csv.DictReader(open(out / "scores.csv")))) == 2
    assert main(["localize", str(second), "--class-name", "pill", "--out", str(out), "--smoke", "--overwrite"]) == 0
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert [r["image"] for r in rows] == [str(second)]
    assert sorted(p.name for p in out.glob("*.png")) == ["p_overlay.png"]  # no orphan of the replaced run


def test_an_interrupted_localize_exits_130_and_a_rerun_resumes(tmp_path, capsys, monkeypatch):
    import anoclip.overlays as overlays

    folder = tmp_path / "imgs"
    for name in ("1.png", "2.png", "3.png"):
        one_image(folder, name)
    real, calls = overlays.save_overlay, []

    def stop_at_the_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(overlays, "save_overlay", stop_at_the_second)
    out = tmp_path / "out"
    assert main(["localize", str(folder), "--class-name", "bottle", "--out", str(out), "--smoke"]) == 130
    assert "interrupted; rerun the same command to resume" in capsys.readouterr().err
    assert len(list(csv.DictReader(open(out / "scores.csv")))) == 1 and not (out / ".anoclip.lock").exists()
    monkeypatch.setattr(overlays, "save_overlay", real)
    assert main(["localize", str(folder), "--class-name", "bottle", "--out", str(out), "--smoke"]) == 0
    assert [Path(r["image"]).name for r in csv.DictReader(open(out / "scores.csv"))] == ["1.png", "2.png", "3.png"]


def test_bad_output_paths_are_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import anoclip.cli as cli

    monkeypatch.setattr(cli, "_load_model", lambda args: pytest.fail("the model must not be loaded"))
    image = one_image(tmp_path / "imgs")
    normal = tmp_path / "normal"
    for index in range(9):
        one_image(normal, f"{index}.png")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["calibrate", str(normal), "--class-name", "bottle", "--fpr", "0.1", "--out", str(tmp_path), "--smoke"]) == 2
    assert "is a folder; pass the thresholds file" in error_lines(capsys)
    assert main(["localize", str(image), "--class-name", "bottle", "--out", str(a_file), "--smoke"]) == 2
    assert "is a file; pass a folder" in error_lines(capsys)
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o555)
    if os.access(readonly, os.W_OK):  # root ignores permissions: make the folder unwritable another way
        monkeypatch.setattr(cli.Path, "mkdir", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
        monkeypatch.setattr("tempfile.TemporaryFile", lambda **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    assert main(["localize", str(image), "--class-name", "bottle", "--out", str(readonly / "out"), "--smoke"]) == 2
    assert "cannot be written (Permission denied)" in error_lines(capsys)
    assert main(["localize", str(image), "--class-name", "", "--out", str(tmp_path / "o"), "--smoke"]) == 2
    assert "is not a class name" in error_lines(capsys)


def test_a_very_wide_photo_is_tiled_with_a_note_and_its_overlay_stays_small(tmp_path, capsys):
    wide = one_image(tmp_path / "imgs", "strip.png", size=(20, 400))  # 20:1
    out = tmp_path / "out"
    normal = tmp_path / "normal"
    for index in range(9):
        one_image(normal, f"{index}.png")
    assert main(["localize", str(wide), "--class-name", "wire", "--out", str(out), "--smoke",
                 "--calibrate", str(normal), "--fpr", "0.1"]) == 0
    assert "scored as 20 square tiles along its long side" in capsys.readouterr().err
    with Image.open(out / "strip_mask.png") as mask:
        assert mask.size == (400, 20)  # the decision at the photo's own size


def test_ctrl_c_anywhere_is_exit_130_and_one_line(tmp_path, capsys, monkeypatch):
    import anoclip.cli as cli

    monkeypatch.setattr(cli, "bench", lambda args: (_ for _ in ()).throw(KeyboardInterrupt))  # the parser binds it
    assert main(["bench", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 130
    err = capsys.readouterr().err
    assert err.strip().endswith("anoclip: interrupted; rerun the same command to resume.") and "Traceback" not in err


def test_localize_with_a_reference_folder_remembers_it_and_calibrates_the_same_way(tmp_path, capsys):
    from anoclip.calibration import Thresholds

    normal = tmp_path / "normal"
    for index in range(9):
        one_image(normal, f"{index}.png")
    image = one_image(tmp_path / "imgs", "x.png")
    out = tmp_path / "out"
    assert main(["localize", str(image), "--class-name", "bottle", "--out", str(out), "--smoke", "--reference", str(normal),
                 "--calibrate", str(normal), "--fpr", "0.1", "--fusion", "memory"]) == 0
    assert "memory: 9 normal images" in capsys.readouterr().out
    thresholds = Thresholds.load(out / "thresholds.json")
    assert (thresholds.memory["kind"], thresholds.memory["images"], thresholds.memory["fusion"]) == ("normal", 9, "memory")
    file = tmp_path / "t.json"  # thresholds made without the memory do not serve a run with it
    assert main(["calibrate", str(normal), "--class-name", "bottle", "--fpr", "0.1", "--out", str(file), "--smoke"]) == 0
    assert main(["localize", str(image), "--class-name", "bottle", "--out", str(tmp_path / "o2"), "--smoke",
                 "--reference", str(normal), "--thresholds", str(file)]) == 2
    assert "memory is None in the file" in capsys.readouterr().err


def test_bench_protocol_flags(tmp_path, capsys):
    from anoclip.data import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path / "data", categories=("grid",), n_train=3)
    out = tmp_path / "r"
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke", "--shots", "2", "--shot-seed", "3"]) == 0
    assert "(few-shot 2, fusion mean)" in capsys.readouterr().out
    assert main(["bench", "--root", str(root), "--out", str(out), "--smoke", "--transductive"]) == 2
    assert "protocol" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one protocol at a time
        main(["bench", "--root", str(root), "--out", str(out), "--shots", "2", "--transductive"])
    assert main(["bench", "--root", str(root), "--out", str(tmp_path / "r2"), "--smoke", "--shots", "5"]) == 2
    assert "has 3 normal training image(s); --shots 5 needs 5" in capsys.readouterr().err
