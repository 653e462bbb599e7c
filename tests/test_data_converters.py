"""Converters on tiny fixture trees that copy each data set's real raw layout (folder names,
extensions, mask naming, split files), plus the registry, ``prepare`` and the CLI."""
import functools
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anoclip.data import (
    DATASETS,
    DataError,
    DatasetRootError,
    Meta,
    MetaFormatError,
    MissingMaskError,
    MissingSplitFileError,
    OutputExistsError,
    UnknownDatasetError,
    get_dataset,
    load_sample,
    prepare,
    read_mask,
)
from anoclip_book import standins  # the raw layouts of each download
from anoclip.data.converters import bsd, btech, dagm, gc, ksdd2, msd, mvtec, road, rsdd, visa
from anoclip.data import sources
from anoclip.data.meta import load_ignore


def _data_scripts_cli():
    """data_scripts/prepare_cli.py, the scripts' shared command line (beside them, not in the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare_cli", Path(__file__).resolve().parents[1] / "data_scripts" / "prepare_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_parser, main = _data_scripts_cli().build_parser, _data_scripts_cli().main
from anoclip.data.registry import LABEL_TYPES
from anoclip.prompts import prompt_class_name

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# helpers


def _save(path, array, mode=None, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path, **kwargs)
    return path


def _image(path, h=12, w=16, value=90):
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    array = np.clip(value + rng.integers(-20, 20, size=(h, w, 3)), 0, 255)
    return _save(path, array)


def _box_mask(h, w, box):
    mask = np.zeros((h, w), bool)
    y0, y1, x0, x1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def _tree_hash(root):
    """Every path under ``root`` with its content hash: any change to the raw data shows."""
    root = Path(root)
    if root.is_file():
        return hashlib.sha256(root.read_bytes()).hexdigest()
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
        for p in sorted(root.rglob("*"))
    }


def _meta(out):
    return json.loads((out / "meta.json").read_text(encoding="utf-8"))


def _check_masks_binary(out):
    meta = Meta.load(out)
    for category in meta.categories():
        for sample in meta.samples(category):
            if sample.mask_path:
                with Image.open(out / sample.mask_path) as mask:
                    assert mask.format == "PNG" and mask.mode == "L"
                    assert set(np.unique(np.asarray(mask)).tolist()) <= {0, 255}
            load_sample(out, sample)  # image readable, mask matches its size


def _assert_idempotent(convert, raw, out, **options):
    """Run twice: same meta, raw untouched, no leftover staging folder; return the meta."""
    before = _tree_hash(raw)
    first = convert(raw, out, **options)
    meta_text = (first / "meta.json").read_text(encoding="utf-8")
    mtime = (first / "meta.json").stat().st_mtime_ns
    second = convert(raw, out, **options)
    assert second == first == Path(out)
    assert (second / "meta.json").read_text(encoding="utf-8") == meta_text
    assert (second / "meta.json").stat().st_mtime_ns == mtime  # finished work is not redone
    assert _tree_hash(raw) == before
    assert not [p for p in Path(out).parent.iterdir() if p.name.endswith((".partial", ".old"))]
    _check_masks_binary(first)
    return json.loads(meta_text)


def _no_output(out):
    assert not Path(out).exists()
    assert not [p for p in Path(out).parent.iterdir() if p.name.endswith(".partial")]


def _items(meta, category, split="test"):
    return meta[split][category]


# ----------------------------------------------------------------------------------------------
# MVTec AD


def _mvtec_raw(root):
    for category, defect in (("bottle", "broken_large"), ("carpet", "hole")):
        base = root / category
        for i in range(2):
            _image(base / "train" / "good" / f"00{i}.png")
        _image(base / "test" / "good" / "000.png")
        for i, box in enumerate([(2, 5, 3, 9), (6, 10, 1, 4)]):
            _image(base / "test" / defect / f"00{i}.png")
            _save(base / "ground_truth" / defect / f"00{i}_mask.png", _box_mask(12, 16, box) * 255)
    (root / "license.txt").write_text("CC BY-NC-SA 4.0")
    return root


def test_mvtec_folder(tmp_path):
    raw = _mvtec_raw(tmp_path / "mvtec_anomaly_detection")
    meta = _assert_idempotent(mvtec.convert, raw, tmp_path / "out")
    assert list(meta["test"]) == ["bottle", "carpet"]
    assert meta["info"] == {"dataset": "mvtec", "converter": "anoclip.data.converters.mvtec", "options": {}}
    bottle = _items(meta, "bottle")
    assert [i["img_path"] for i in bottle] == [
        "bottle/test/broken_large/000.png",
        "bottle/test/broken_large/001.png",
        "bottle/test/good/000.png",
    ]
    assert [i["anomaly"] for i in bottle] == [1, 1, 0] and bottle[2]["mask_path"] == ""
    assert len(meta["train"]["carpet"]) == 2
    out = tmp_path / "out"
    assert (out / "bottle/test/broken_large/001.png").read_bytes() == (raw / "bottle/test/broken_large/001.png").read_bytes()
    np.testing.assert_array_equal(read_mask(out / bottle[1]["mask_path"]), _box_mask(12, 16, (6, 10, 1, 4)))


def test_mvtec_archive_extraction_is_moved_into_the_output_and_never_linked(tmp_path):
    raw = _mvtec_raw(tmp_path / "src" / "mvtec")
    archive = tmp_path / "dl" / "mvtec_anomaly_detection.tar.xz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:xz") as bundle:
        bundle.add(raw, arcname=".")
    before, raw_before = _tree_hash(archive), _tree_hash(raw)
    from_archive = _meta(mvtec.convert(archive, tmp_path / "a"))
    from_folder = _meta(mvtec.convert(raw, tmp_path / "b"))
    assert from_archive == from_folder
    assert _tree_hash(archive) == before and _tree_hash(raw) == raw_before  # the user's files untouched
    # the extraction cache was consumed: its images now live in the output, and it is gone
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["mvtec_anomaly_detection.tar.xz"]
    for out in (tmp_path / "a", tmp_path / "b"):
        assert all(os.stat(p).st_nlink == 1 for p in out.rglob("*") if p.is_file())  # no hard links anywhere
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    # a re-run with the same options is done at once, without the (deleted) cache
    assert mvtec.convert(archive, tmp_path / "a") == tmp_path / "a"
    assert not (tmp_path / "dl" / "mvtec_anomaly_detection.extracted").exists()


def test_an_interrupted_conversion_discards_its_half_moved_cache(tmp_path, monkeypatch):
    raw = _mvtec_raw(tmp_path / "src" / "mvtec")
    archive = tmp_path / "dl" / "mvtec.tar.xz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:xz") as bundle:
        bundle.add(raw, arcname=".")
    from anoclip.data.converters import common

    calls = []
    real_add_mask = common.DatasetWriter.add_mask

    def failing_add_mask(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the VM went away mid-conversion (after some images moved)
        return real_add_mask(self, *args, **kwargs)

    monkeypatch.setattr(common.DatasetWriter, "add_mask", failing_add_mask)
    with pytest.raises(KeyboardInterrupt):
        mvtec.convert(archive, tmp_path / "out")
    _no_output(tmp_path / "out")
    assert not (tmp_path / "dl" / "mvtec.extracted").exists()  # incomplete, so deleted
    monkeypatch.setattr(common.DatasetWriter, "add_mask", real_add_mask)
    assert _meta(mvtec.convert(archive, tmp_path / "out")) == _meta(mvtec.convert(raw, tmp_path / "ref"))


def test_a_cache_marked_consumed_is_extracted_again(tmp_path):
    raw = _mvtec_raw(tmp_path / "src" / "mvtec")
    archive = tmp_path / "dl" / "mvtec.tar.xz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:xz") as bundle:
        bundle.add(raw, arcname=".")
    from anoclip.data.converters import common

    stale = tmp_path / "dl" / "mvtec.extracted"  # what a killed process leaves: a few files, and the marker
    (stale / "bottle" / "train" / "good").mkdir(parents=True)
    (stale / common.CONSUMED_MARKER).touch()
    meta = _meta(mvtec.convert(archive, tmp_path / "out"))
    assert meta == _meta(mvtec.convert(raw, tmp_path / "ref")) and len(meta["train"]["carpet"]) == 2


def test_mvtec_wrong_root_says_what_was_expected(tmp_path):
    (tmp_path / "photos" / "holiday").mkdir(parents=True)
    with pytest.raises(DatasetRootError) as err:
        mvtec.convert(tmp_path / "photos", tmp_path / "out")
    message = str(err.value)
    assert str(tmp_path / "photos") in message and "bottle/train/good" in message and "--raw" in message
    _no_output(tmp_path / "out")
    with pytest.raises(DatasetRootError):
        mvtec.convert(tmp_path / "does-not-exist", tmp_path / "out")


def test_mvtec_missing_mask_fails_without_publishing(tmp_path):
    raw = _mvtec_raw(tmp_path / "raw")
    os.remove(raw / "carpet" / "ground_truth" / "hole" / "001_mask.png")
    with pytest.raises(MissingMaskError) as err:
        mvtec.convert(raw, tmp_path / "out")
    assert "001_mask.png" in str(err.value)
    _no_output(tmp_path / "out")


def test_output_that_is_not_ours_is_refused(tmp_path):
    raw = _mvtec_raw(tmp_path / "raw")
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputExistsError):
        mvtec.convert(raw, out)
    assert (out / "thesis.tex").read_text() == "precious"
    before = _tree_hash(raw)
    with pytest.raises(DataError) as err:
        mvtec.convert(raw, raw / "converted")  # would write into the raw folder
    assert "overlap" in str(err.value)
    assert _tree_hash(raw) == before


# ----------------------------------------------------------------------------------------------
# VisA


def _visa_raw(root):
    rows = ["object,split,label,image,mask"]
    for obj in ("candle", "pcb1"):
        base = root / obj / "Data"
        for i in range(3):
            _image(base / "Images" / "Normal" / f"000{i}.JPG")
            rows.append(f"{obj},{'train' if i < 2 else 'test'},normal,{obj}/Data/Images/Normal/000{i}.JPG,")
        _image(base / "Images" / "Anomaly" / "000.JPG")
        palette = Image.fromarray(_box_mask(12, 16, (3, 7, 2, 9)).astype(np.uint8), mode="P")
        palette.putpalette([0, 0, 0, 255, 255, 255])
        (base / "Masks" / "Anomaly").mkdir(parents=True)
        palette.save(base / "Masks" / "Anomaly" / "000.png")
        rows.append(f"{obj},test,anomaly,{obj}/Data/Images/Anomaly/000.JPG,{obj}/Data/Masks/Anomaly/000.png")
    (root / "split_csv").mkdir(parents=True)
    (root / "split_csv" / "1cls.csv").write_text("\n".join(rows) + "\n")
    return root


def test_visa(tmp_path):
    raw = _visa_raw(tmp_path / "VisA_20220922")
    meta = _assert_idempotent(visa.convert, raw, tmp_path / "out")
    assert list(meta["test"]) == ["candle", "pcb1"]
    assert [i["img_path"] for i in meta["train"]["candle"]] == ["candle/train/good/0000.JPG", "candle/train/good/0001.JPG"]
    test = _items(meta, "pcb1")
    assert [(i["img_path"], i["specie_name"], i["anomaly"]) for i in test] == [
        ("pcb1/test/anomaly/000.JPG", "anomaly", 1),
        ("pcb1/test/good/0002.JPG", "good", 0),
    ]
    # Palette masks with values 0/1 become 0/255.
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / test[0]["mask_path"]), _box_mask(12, 16, (3, 7, 2, 9)))


def test_visa_missing_split_csv_says_where_to_get_it(tmp_path):
    raw = _visa_raw(tmp_path / "visa")
    csv_file = tmp_path / "1cls.csv"
    os.replace(raw / "split_csv" / "1cls.csv", csv_file)
    with pytest.raises(MissingSplitFileError) as err:
        visa.convert(raw, tmp_path / "out")
    assert "amazon-science/spot-diff" in str(err.value) and "1cls.csv" in str(err.value)
    _no_output(tmp_path / "out")
    out = visa.convert(raw, tmp_path / "out", split_csv=csv_file)  # a CSV kept outside the raw folder
    assert Meta.load(out).categories() == ["candle", "pcb1"]


def test_visa_bad_csv_columns(tmp_path):
    raw = _visa_raw(tmp_path / "visa")
    (raw / "split_csv" / "1cls.csv").write_text("object,image\ncandle,x.JPG\n")
    with pytest.raises(MetaFormatError) as err:
        visa.convert(raw, tmp_path / "out")
    assert "split" in str(err.value) and "label" in str(err.value)


# ----------------------------------------------------------------------------------------------
# DAGM 2007


def _dagm_raw(root):
    for number in (1, 2, 10):
        for split, n, defective in (("Train", 4, (3,)), ("Test", 6, (2, 5))):
            folder = root / f"Class{number}" / split
            for i in range(1, n + 1):
                _image(folder / f"{i:04d}.PNG", 16, 16)
            lines = ["1"]
            for i in defective:
                _save(folder / "Label" / f"{i:04d}_label.PNG", _box_mask(16, 16, (4, 9, 5, 12)) * 255)
                lines.append(f"{i}\t1\t{i:04d}.PNG\t0\t{i:04d}_label.PNG")
            (folder / "Label" / "Labels.txt").write_text("\n".join(lines) + "\n")
    return root


def test_dagm_balanced_split(tmp_path):
    raw = _dagm_raw(tmp_path / "DAGM_KaggleUpload")
    meta = _assert_idempotent(dagm.convert, raw, tmp_path / "out")
    assert list(meta["test"]) == ["class1", "class2", "class10"]  # numeric, not string, order
    assert meta["info"]["options"] == {"normals": "balanced", "seed": 0}
    for category in meta["test"]:
        test = _items(meta, category)
        anomalous = [i for i in test if i["anomaly"]]
        assert [i["img_path"].rsplit("/", 1)[1] for i in anomalous] == ["0002.PNG", "0005.PNG"]
        assert len([i for i in test if not i["anomaly"]]) == 2  # as many normals as anomalies
        normal_names = {i["img_path"].rsplit("/", 1)[1] for i in test if not i["anomaly"]}
        assert normal_names <= {"0001.PNG", "0003.PNG", "0004.PNG", "0006.PNG"}
        train = [i["img_path"].rsplit("/", 1)[1] for i in meta["train"][category]]
        assert train == ["0001.PNG", "0002.PNG", "0004.PNG"]  # the defective 0003 is not trained on
    # The seeded draw depends on file names only: a copy elsewhere gives the same split.
    copy = _dagm_raw(tmp_path / "elsewhere" / "dagm")
    assert _meta(dagm.convert(copy, tmp_path / "out2")) == meta
    other_seed = _meta(dagm.convert(raw, tmp_path / "out3", seed=5))
    assert other_seed["info"]["options"]["seed"] == 5


def test_dagm_all_normals_and_option_change_needs_overwrite(tmp_path):
    raw = _dagm_raw(tmp_path / "dagm")
    dagm.convert(raw, tmp_path / "out")
    with pytest.raises(OutputExistsError) as err:
        dagm.convert(raw, tmp_path / "out", normals="all")
    assert "overwrite" in str(err.value)
    meta = _meta(dagm.convert(raw, tmp_path / "out", normals="all", overwrite=True))
    assert len([i for i in _items(meta, "class2") if not i["anomaly"]]) == 4
    with pytest.raises(ValueError):
        dagm.convert(raw, tmp_path / "other", normals="some")
    subset = _meta(dagm.convert(raw, tmp_path / "subset", classes=[10, 1]))
    assert list(subset["test"]) == ["class1", "class10"] and subset["info"]["options"]["classes"] == [1, 10]
    with pytest.raises(DatasetRootError) as err:
        dagm.convert(raw, tmp_path / "none", classes=[4])
    assert "[4]" in str(err.value)


# ----------------------------------------------------------------------------------------------
# KolektorSDD2


def _ksdd2_raw(root):
    for split, n, defective in (("train", 5, (1,)), ("test", 6, (0, 4))):
        for i in range(n):
            stem = f"{10000 + 100 * (split == 'test') + i}"
            _image(root / split / f"{stem}.png", 20, 8)
            mask = _box_mask(20, 8, (5, 9, 2, 6)) if i in defective else np.zeros((20, 8), bool)
            _save(root / split / f"{stem}_GT.png", mask * 255)
    return root


def test_ksdd2(tmp_path):
    raw = _ksdd2_raw(tmp_path / "KolektorSDD2")
    meta = _assert_idempotent(ksdd2.convert, raw, tmp_path / "out")
    assert list(meta["test"]) == ["metal_surface"]
    test = _items(meta, "metal_surface")
    assert [i["img_path"] for i in test if i["anomaly"]] == [
        "metal_surface/test/anomaly/10100.png",
        "metal_surface/test/anomaly/10104.png",
    ]
    assert len([i for i in test if not i["anomaly"]]) == 2
    assert len(meta["train"]["metal_surface"]) == 4
    _, mask = load_sample(tmp_path / "out", Meta.load(tmp_path / "out").samples("metal_surface")[0])
    np.testing.assert_array_equal(mask, _box_mask(20, 8, (5, 9, 2, 6)))


def test_ksdd2_missing_mask(tmp_path):
    raw = _ksdd2_raw(tmp_path / "ksdd2")
    os.remove(raw / "test" / "10103_GT.png")
    with pytest.raises(MissingMaskError) as err:
        ksdd2.convert(raw, tmp_path / "out")
    assert "10103_GT.png" in str(err.value)


# ----------------------------------------------------------------------------------------------
# RSDDs


def _rsdd_raw(root):
    for subset, count, size in (("Type-I RSDDs dataset", 2, (40, 10)), ("Type-II RSDDs dataset", 1, (50, 8))):
        h, w = size
        for i in range(1, count + 1):
            _image(root / subset / "Rail surface images" / f"rail_{i}.jpg", h, w)
            mask = _box_mask(h, w, (10, 20, 2, 7)) if i == 1 else np.zeros((h, w), bool)
            _save(root / subset / "GroundTruth" / f"rail_{i}.jpg", mask * 255, quality=75)  # JPEG noise
    return root


def test_rsdd(tmp_path):
    raw = _rsdd_raw(tmp_path / "RSDDs dataset")
    meta = _assert_idempotent(rsdd.convert, raw, tmp_path / "out")
    assert list(meta["test"]) == ["rail_type1", "rail_type2"]
    t1 = _items(meta, "rail_type1")
    assert [(i["img_path"], i["anomaly"]) for i in t1] == [
        ("rail_type1/test/anomaly/rail_1.jpg", 1),
        ("rail_type1/test/good/rail_2.jpg", 0),
    ]
    mask = read_mask(tmp_path / "out" / t1[0]["mask_path"])
    expected = _box_mask(40, 10, (10, 20, 2, 7))
    assert (mask & expected).sum() / (mask | expected).sum() > 0.9  # JPEG ringing removed by the threshold


# ----------------------------------------------------------------------------------------------
# BSData


def _labelme(path, shapes, h, w):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "4.5.6", "shapes": shapes, "imageHeight": h, "imageWidth": w}))


def _bsd_raw(root):
    names = [f"01_2009{i:02d}_277500_315_crop_{1 + (i % 2)}" for i in range(6)]
    for name in names:
        _image(root / "data" / f"{name}.jpg", 20, 30)
    rect = {"label": "Pitting", "points": [[4, 5], [10, 8]], "shape_type": "rectangle"}
    triangle = {"label": "Pitting", "points": [[2, 2], [20, 2], [2, 15]], "shape_type": "polygon"}
    _labelme(root / "label" / f"{names[0]}.json", [rect], 20, 30)
    _labelme(root / "label" / f"{names[3]}.json", [triangle], 20, 30)
    (root / "README.md").write_text("BSData")
    return root, names


def test_bsd(tmp_path):
    raw, names = _bsd_raw(tmp_path / "BSData")
    meta = _assert_idempotent(bsd.convert, raw, tmp_path / "out", seed=1)
    test = _items(meta, "ball_screw")
    anomalous = [i for i in test if i["anomaly"]]
    assert [i["img_path"] for i in anomalous] == [f"ball_screw/test/pitting/{names[k]}.jpg" for k in (0, 3)]
    normal_test = {i["img_path"].rsplit("/", 1)[1] for i in test if not i["anomaly"]}
    train = {i["img_path"].rsplit("/", 1)[1] for i in meta["train"]["ball_screw"]}
    assert len(normal_test) == 2 and len(train) == 2 and not normal_test & train
    assert normal_test | train == {f"{n}.jpg" for n in (names[1], names[2], names[4], names[5])}
    rect_mask = read_mask(tmp_path / "out" / anomalous[0]["mask_path"])
    expected = np.zeros((20, 30), bool)
    expected[5:9, 4:11] = True  # PIL rectangles include both corners
    np.testing.assert_array_equal(rect_mask, expected)
    triangle = read_mask(tmp_path / "out" / anomalous[1]["mask_path"])
    assert triangle[3, 3] and not triangle[14, 19] and 100 < triangle.sum() < 150  # area ~ 18*13/2
    # No image_data.json here: the fallback puts every annotated image in test, and says so.
    assert meta["info"]["split"]["anomalies"] == "all annotated"
    assert "image_data.json was not found" in " ".join(meta["info"]["report"])


def _split_entries(raw):
    return json.loads((raw / "image_data.json").read_text(encoding="utf-8"))["images"]


def test_bsd_uses_the_authors_split_from_image_data_json(tmp_path, capsys):
    raw = standins.bsdata(tmp_path / "dl", n_annotated=(3, 2), n_unannotated=6)
    authors_test = {e["filename"] for e in _split_entries(raw) if e["train_test_split"] == "test"}
    authors_train = {e["filename"] for e in _split_entries(raw) if e["train_test_split"] == "train"}
    out = prepare("bsd", tmp_path / "out", raw=raw)
    meta = _meta(out)
    test = _items(meta, "ball_screw")
    assert {i["img_path"].rsplit("/", 1)[1] for i in test if i["anomaly"]} == authors_test
    normal_test = {i["img_path"].rsplit("/", 1)[1] for i in test if not i["anomaly"]}
    train = {i["img_path"].rsplit("/", 1)[1] for i in meta["train"]["ball_screw"]}
    assert len(normal_test) == 2 and len(train) == 4  # balanced: as many normals as the 2 anomalies
    assert not (normal_test | train) & (authors_test | authors_train)  # annotated images never pose as normal
    assert meta["info"]["split"] == {
        "anomalies": "image_data.json", "normals": "seeded draw (seed 0)", "test_anomalous": 2,
        "test_normal": 2, "train_normal": 4, "annotated_unused": 3,
    }  # fmt: skip
    assert "image_data.json (the authors' train_test_split)" in capsys.readouterr().out
    # The stray copy in data/BSD/test/ is not a second sample.
    assert len(test) + len(meta["train"]["ball_screw"]) == 2 + 2 + 4
    for sample in Meta.load(out).samples("ball_screw"):
        if sample.anomaly:  # the stand-in's polygons are rectangles painted into the image
            label = json.loads((raw / "label" / (Path(sample.img_path).stem + ".json")).read_text())
            (x0, y0), _, (x1, y1), _ = label["shapes"][0]["points"]
            np.testing.assert_array_equal(
                read_mask(out / sample.mask_path), _box_mask(24, 48, (int(y0), int(y1) + 1, int(x0), int(x1) + 1))
            )


def test_bsd_falls_back_to_the_seeded_split_and_checks_the_split_file(tmp_path):
    raw = standins.bsdata(tmp_path / "dl", with_split_file=False)
    meta = _meta(bsd.convert(raw, tmp_path / "out"))
    assert meta["info"]["split"]["test_anomalous"] == 5 and meta["info"]["split"]["annotated_unused"] == 0
    with pytest.raises(MissingSplitFileError) as err:
        bsd.convert(raw, tmp_path / "strict", split="authors")
    assert "image_data.json" in str(err.value) and "split='all'" in str(err.value)
    raw = standins.bsdata(tmp_path / "dl2")
    entries = _split_entries(raw)
    entries[0]["annotations"] = None  # disagrees with label/
    (raw / "image_data.json").write_text(json.dumps({"images": entries}), encoding="utf-8")
    with pytest.raises(MetaFormatError) as err:
        bsd.convert(raw, tmp_path / "bad")
    assert entries[0]["filename"] in str(err.value) and "split='all'" in str(err.value)
    assert len(_items(_meta(bsd.convert(raw, tmp_path / "all", split="all")), "ball_screw")) == 10
    with pytest.raises(ValueError):
        bsd.convert(raw, tmp_path / "x", split="authors-only")




# ----------------------------------------------------------------------------------------------
# GC10-DET


def _voc(path, boxes):
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        for n, a, b, c, d in boxes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation><filename>{path.stem}.jpg</filename>{objects}</annotation>")


def _gc_raw(root):
    for folder, name in (("1", "img_01_425005600_00001"), ("6", "img_02_425005600_00002"), ("7", "img_03_425005600_00003")):
        _image(root / folder / f"{name}.jpg", 16, 24)
    _voc(root / "lable" / "img_01_425005600_00001.xml", [("1_chongkong", 2, 3, 5, 6)])
    _voc(root / "lable" / "img_02_425005600_00002.xml", [("2_hanfeng", 1, 1, 2, 2), ("6_siban", 10, 4, 20, 12)])
    return root


def test_gc_boxes_become_masks(tmp_path):
    raw = _gc_raw(tmp_path / "GC10-DET")
    meta = _assert_idempotent(gc.convert, raw, tmp_path / "out")
    test = _items(meta, "steel_plate")
    assert [(i["specie_name"], i["anomaly"]) for i in test] == [("good", 0), ("punching_hole", 1), ("silk_spot", 1)]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / test[1]["mask_path"]), _box_mask(16, 24, (2, 6, 1, 5)))
    two = read_mask(tmp_path / "out" / test[2]["mask_path"])
    assert two.sum() == 4 + 11 * 9 and two[0, 0] and two[3:12, 9:20].all()
    assert meta["info"]["images_without_annotation"] == {"count": 1, "files": ["7/img_03_425005600_00003.jpg"]}


def test_gc_merges_names_found_in_two_class_folders(tmp_path, capsys):
    raw = standins.gc10det(tmp_path / "archive", n_per_class=2, duplicates=1, without_xml=1)
    duplicate = next((raw / "1").glob("*.jpg")).name
    assert (raw / "6" / duplicate).is_file() and len(list(raw.glob("*/*.jpg"))) == 21
    assert len(list((raw / "lable").glob("*.xml"))) == 19
    out = prepare("gc", tmp_path / "out", raw=raw)  # used to stop: two sources, one output file
    meta = _meta(out)
    test = _items(meta, "steel_plate")
    assert len(test) == 20 and sum(i["anomaly"] for i in test) == 19
    assert meta["info"]["merged_duplicates"] == {
        "count": 1,
        "files": {duplicate: {"kept": f"1/{duplicate}", "dropped": [f"6/{duplicate}"], "identical": True}},
    }
    assert meta["info"]["images_without_annotation"]["count"] == 1
    assert {i["specie_name"] for i in test} == set(gc.CLASS_NAMES.values()) | {"good"}
    printed = capsys.readouterr().out
    assert duplicate in printed and "All copies are identical" in printed and "without an XML file" in printed


def test_gc_without_class_folders_next_to_the_boxes_is_an_error(tmp_path):
    raw = tmp_path / "gc10det"
    _voc(raw / "label" / "label" / "img_01_425005600_00001.xml", [("1_chongkong", 2, 3, 5, 6)])
    _image(raw / "images" / "images" / "punching_hole" / "img_01_425005600_00001.jpg", 16, 24)
    with pytest.raises(DatasetRootError) as err:
        gc.convert(raw, tmp_path / "out")  # another Kaggle copy's layout: not silently empty
    assert "no class folders" in str(err.value)
    _no_output(tmp_path / "out")


def test_gc_keeps_the_copy_in_its_annotated_class_folder_and_flags_differing_copies(tmp_path):
    raw = standins.gc10det(tmp_path / "archive", n_per_class=1, duplicates=1, without_xml=0)
    duplicate = next((raw / "1").glob("*.jpg"))
    xml_file = raw / "lable" / f"{duplicate.stem}.xml"
    xml_file.write_text(xml_file.read_text().replace("1_chongkong", "6_siban"))
    _image(raw / "6" / duplicate.name, 20, 40)  # same name, other pixels, same size
    meta = _meta(gc.convert(raw, tmp_path / "out"))
    merged = meta["info"]["merged_duplicates"]["files"][duplicate.name]
    assert merged == {"kept": f"6/{duplicate.name}", "dropped": [f"1/{duplicate.name}"], "identical": False}
    assert (tmp_path / "out" / "steel_plate" / "test" / "silk_spot" / duplicate.name).read_bytes() == (
        raw / "6" / duplicate.name
    ).read_bytes()
    assert "differ in content" in " ".join(meta["info"]["report"])


# ----------------------------------------------------------------------------------------------
# MSD


def _msd_raw(root):
    names = {"Oil_0001": 1, "Scr_0001": 2, "Sta_0001": 3, "Oil_0002": 1}
    for name, cls in names.items():
        _image(root / "JPEGImages" / f"{name}.jpg", 9, 16)
        labels = _box_mask(9, 16, (2, 6, 3, 10)).astype(np.uint8) * cls
        labels[0, 0] = 255 if name == "Sta_0001" else 0  # VOC boundary value
        palette = Image.fromarray(labels, mode="P")
        palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [224, 224, 192] * 252)
        (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
        palette.save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "test.txt").write_text("Oil_0001\nScr_0001\nSta_0001\n")
    _image(root / "good" / "good_01.jpg", 9, 16)
    return root


def test_msd(tmp_path):
    raw = _msd_raw(tmp_path / "MSD")
    meta = _assert_idempotent(msd.convert, raw, tmp_path / "out")
    test = _items(meta, "phone_screen")
    assert sorted((i["specie_name"], i["anomaly"]) for i in test) == [("good", 0), ("oil", 1), ("scratch", 1), ("stain", 1)]
    stain = next(i for i in test if i["specie_name"] == "stain")
    assert read_mask(tmp_path / "out" / stain["mask_path"]).sum() == 4 * 7  # the 255 pixel is not defect
    ignore = read_mask(tmp_path / "out" / stain["ignore_path"])
    assert ignore.sum() == 1 and ignore[0, 0]
    assert [i for i in test if i["specie_name"] != "stain" and "ignore_path" in i] == []
    # The lone 255 pixel touches no defect label: a free-standing void region, reported by name.
    assert meta["info"]["void"]["free_region_images"] == {"Sta_0001.png": 1}
    assert meta["info"]["void"]["treated_as"] == "ignore"
    everything = _meta(msd.convert(raw, tmp_path / "all", split="all"))
    assert len(_items(everything, "phone_screen")) == 5
    counted = _meta(msd.convert(raw, tmp_path / "as-defect", void="defect"))
    stain = next(i for i in _items(counted, "phone_screen") if i["specie_name"] == "stain")
    assert read_mask(tmp_path / "as-defect" / stain["mask_path"]).sum() == 4 * 7 + 1 and "ignore_path" not in stain


def _labels(path):
    with Image.open(path) as image:
        return np.asarray(image)


def test_msd_voc_borders_become_ignore_masks(tmp_path, capsys):
    raw = standins.msd(tmp_path / "dl", n_per_class=2, border=2)
    standins.msd_good(raw, n=2)
    out = prepare("msd", tmp_path / "out", raw=raw)
    meta = Meta.load(out)
    samples = meta.samples("phone_screen")
    anomalous = [s for s in samples if s.anomaly]
    assert len(anomalous) == 3 and len(samples) == 5  # test.txt: one per class; good.zip: 2
    assert sorted(s.specie_name for s in anomalous) == ["oil", "scratch", "stain"]
    for sample in anomalous:
        labels = _labels(raw / "SegmentationClass" / (Path(sample.img_path).stem + ".png"))
        image, mask = load_sample(out, sample)
        np.testing.assert_array_equal(mask, (labels > 0) & (labels < 255))
        np.testing.assert_array_equal(load_ignore(out, sample), labels == 255)
        assert not (mask & load_ignore(out, sample)).any()
    info = meta.info["void"]
    assert info["images_with_void"] == 3 and info["free_region_images"] == {} and info["void_only_images"] == []
    assert "In 3 of them 255 only borders the defect labels" in capsys.readouterr().out


def test_msd_255_as_the_only_label_is_read_as_the_defect(tmp_path):
    raw = standins.msd(tmp_path / "dl", n_per_class=1)
    path = raw / "SegmentationClass" / "Sta_0001.png"
    with Image.open(path) as image:
        labels = np.asarray(image).copy()
        palette = image.getpalette()
    labels[(labels > 0) & (labels < 255)] = 255  # a 0/255 binary mask: 255 is all there is
    relabelled = Image.fromarray(labels, mode="P")
    relabelled.putpalette(palette)
    relabelled.save(path)
    meta = _meta(msd.convert(raw, tmp_path / "out"))
    stain = next(i for i in _items(meta, "phone_screen") if i["img_path"].endswith("Sta_0001.jpg"))
    assert stain["anomaly"] == 1 and stain["specie_name"] == "defect" and "ignore_path" not in stain
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / stain["mask_path"]), labels == 255)
    assert meta["info"]["void"]["void_only_images"] == ["Sta_0001.png"]
    assert "255 is the only label" in " ".join(meta["info"]["report"])


def test_msd_rejects_masks_that_are_not_class_indices(tmp_path):
    raw = standins.msd(tmp_path / "dl", n_per_class=1)
    path = raw / "SegmentationClass" / "Oil_0001.png"
    with Image.open(path) as image:
        labels = np.asarray(image).copy()
    labels[0, 0] = 7
    Image.fromarray(labels, mode="L").save(path)
    with pytest.raises(MetaFormatError) as err:
        msd.convert(raw, tmp_path / "out")
    assert "Oil_0001.png" in str(err.value) and "[7]" in str(err.value)
    Image.fromarray(np.stack([labels] * 3, axis=-1)).save(path)
    with pytest.raises(MetaFormatError) as err:
        msd.convert(raw, tmp_path / "out")
    assert "RGB image" in str(err.value)


def test_msd_missing_split_list(tmp_path):
    raw = _msd_raw(tmp_path / "MSD")
    os.remove(raw / "ImageSets" / "Segmentation" / "test.txt")
    with pytest.raises(MissingSplitFileError) as err:
        msd.convert(raw, tmp_path / "out")
    assert "test.txt" in str(err.value) and "all" in str(err.value)


# ----------------------------------------------------------------------------------------------
# Road


def test_road_crackforest_converts_the_labelled_images_and_names_the_others(tmp_path, capsys):
    from scipy.io import loadmat

    raw = standins.crackforest(tmp_path / "dl", n_labelled=4, n_unlabelled=(2, 3))
    meta = _assert_idempotent(road.convert, raw, tmp_path / "out")
    test = _items(meta, "road")
    assert [i["img_path"] for i in test] == [f"road/test/crack/{n:03d}.jpg" for n in range(1, 5)]
    unlabelled = ["image/201.jpg", "image/202.jpg", "image/301.jpg", "image/302.jpg", "image/303.jpg"]
    assert meta["info"]["unlabelled_images"] == {"count": 5, "files": unlabelled}
    for item in test:
        stem = item["img_path"].rsplit("/", 1)[1][:-4]
        segmentation = loadmat(raw / "groundTruth" / f"{stem}.mat")["groundTruth"][0, 0]["Segmentation"]
        np.testing.assert_array_equal(read_mask(tmp_path / "out" / item["mask_path"]), np.isin(segmentation, (2, 4)))
    last = loadmat(raw / "groundTruth" / "004.mat")["groundTruth"][0, 0]["Segmentation"]
    assert set(np.unique(last)) == {1, 2, 3, 4}  # the real files' extra segments are reproduced
    assert not read_mask(tmp_path / "out" / test[3]["mask_path"])[last == 3].any()  # enclosed road stays road
    assert meta["info"]["mask_labels"]["files_with_enclosed_road"] == 1
    assert (tmp_path / "out" / "road/test/crack/001.jpg").read_bytes() == (raw / "image" / "001.jpg").read_bytes()
    capsys.readouterr()
    prepare("road", tmp_path / "out", raw=raw)  # a re-run still says what was left out
    printed = capsys.readouterr().out
    assert "5 of 9 images have no ground truth" in printed and "image/303.jpg" in printed


def test_road_rejects_unknown_crackforest_labels(tmp_path):
    from scipy.io import savemat

    raw = standins.crackforest(tmp_path / "dl", n_labelled=2, n_unlabelled=(0, 0))
    segmentation = np.ones((32, 48), np.uint8)
    segmentation[3, 3] = 9
    savemat(raw / "groundTruth" / "002.mat", {"groundTruth": {"Segmentation": segmentation}})
    with pytest.raises(MetaFormatError) as err:
        road.convert(raw, tmp_path / "out")
    assert "002.mat" in str(err.value) and "[9]" in str(err.value)


def test_road_image_and_mask_folders(tmp_path):
    raw = tmp_path / "crack500"
    _image(raw / "images" / "a.png", 8, 8)
    labels = Image.fromarray(_box_mask(8, 8, (1, 3, 1, 7)).astype(np.uint8), mode="P")
    labels.putpalette([0, 0, 0, 128, 0, 0])  # class 1 drawn dark red: a label, not a grey level
    (raw / "masks").mkdir(parents=True)
    labels.save(raw / "masks" / "a_mask.png")
    _image(raw / "images" / "b.png", 8, 8)
    without_b = _meta(road.convert(raw, tmp_path / "partial"))
    assert [i["img_path"] for i in _items(without_b, "road")] == ["road/test/crack/a.png"]
    assert without_b["info"]["unlabelled_images"] == {"count": 1, "files": ["images/b.png"]}
    _save(raw / "masks" / "b.png", np.zeros((8, 8)))
    meta = _assert_idempotent(road.convert, raw, tmp_path / "out")
    test = _items(meta, "road")
    assert [i["anomaly"] for i in test] == [1, 0] and "unlabelled_images" not in meta["info"]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / test[0]["mask_path"]), _box_mask(8, 8, (1, 3, 1, 7)))
    for mask in (raw / "masks").iterdir():
        mask.rename(mask.with_name("x" + mask.name))  # no image has a mask: the wrong folder pair
    with pytest.raises(MissingMaskError) as err:
        road.convert(raw, tmp_path / "none")
    assert "None of the 2 images" in str(err.value) and str(raw / "masks") in str(err.value)


# ----------------------------------------------------------------------------------------------
# BTech / BTAD


def _btech_raw(root):
    base = root / "BTech_Dataset_transformed"
    for product, ext, mask_ext in (("01", "bmp", "png"), ("02", "png", "png"), ("03", "bmp", "bmp")):
        for split, folder in (("train", "ok"), ("test", "ok"), ("test", "ko")):
            for i in range(2):
                _image(base / product / split / folder / f"000{i}.{ext}", 10, 10)
        for i in range(2):
            _save(base / product / "ground_truth" / "ko" / f"000{i}.{mask_ext}", _box_mask(10, 10, (i, i + 3, 2, 6)) * 255)
    return root


def test_btech_zip(tmp_path):
    raw = _btech_raw(tmp_path / "src")
    archive = tmp_path / "btad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(raw.rglob("*")):
            bundle.write(path, path.relative_to(raw).as_posix())
    meta = _assert_idempotent(btech.convert, archive, tmp_path / "out")
    assert list(meta["test"]) == ["01", "02", "03"]
    three = _items(meta, "03")
    assert [(i["img_path"], i["specie_name"]) for i in three] == [
        ("03/test/good/0000.bmp", "good"),
        ("03/test/good/0001.bmp", "good"),
        ("03/test/ko/0000.bmp", "ko"),
        ("03/test/ko/0001.bmp", "ko"),
    ]
    assert three[3]["mask_path"] == "03/ground_truth/ko/0001_mask.png"
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / three[3]["mask_path"]), _box_mask(10, 10, (1, 4, 2, 6)))
    assert len(meta["train"]["02"]) == 2


def test_btech_missing_mask(tmp_path):
    raw = _btech_raw(tmp_path / "btad")
    os.remove(raw / "BTech_Dataset_transformed" / "02" / "ground_truth" / "ko" / "0001.png")
    with pytest.raises(MissingMaskError) as err:
        btech.convert(raw, tmp_path / "out")
    assert "0001" in str(err.value)
    _no_output(tmp_path / "out")


# ----------------------------------------------------------------------------------------------
# Registry, prepare() and the command line

SUITE = ("mvtec", "visa", "dagm", "rsdd", "ksdd2", "bsd", "gc", "msd", "road", "btech")


def test_registry_covers_the_suite_with_consistent_entries():
    assert set(DATASETS) == set(SUITE) | {"synthetic"}
    for name, info in DATASETS.items():
        assert info.name == name and callable(info.converter)
        assert info.labels in LABEL_TYPES
        assert info.defaults.tta.adapter in ("text", "linear") and info.defaults.resize in ("square", "tiles")
        assert info.defaults.textures <= set(info.categories), name
        assert (info.sha256 is None) or (info.download_url is not None and len(info.sha256) == 64)
    assert get_dataset("mvtec").defaults.textures == {"carpet", "grid", "leather", "tile", "wood"}
    visa = get_dataset("visa").defaults
    assert (visa.tta.adapter, visa.tta.seed, visa.image_views, visa.resize) == ("linear", 42, 1, "tiles")
    mvtec = get_dataset("mvtec").defaults
    assert (mvtec.tta.adapter, mvtec.tta.seed, mvtec.image_views, mvtec.resize) == ("text", 111, 22, "square")
    assert get_dataset("dagm").labels == "coarse ellipses" and get_dataset("gc").labels == "boxes"
    # The official macaroni1/2 → "macaroni" renaming has one owner, the prompts.
    assert get_dataset("visa").defaults.prompt_name("macaroni2") == "macaroni2"
    assert prompt_class_name(get_dataset("visa").defaults.prompt_name("macaroni2")) == "macaroni"
    assert get_dataset("visa").defaults.prompt_name("pcb1") == "pcb1"
    assert get_dataset("synthetic").defaults.textures == {"carpet", "grid"}


def test_unknown_dataset_lists_names():
    with pytest.raises(UnknownDatasetError) as err:
        get_dataset("mvtec2")
    assert all(name in str(err.value) for name in SUITE)


def test_prepare_without_raw_explains_how_to_get_the_data(tmp_path):
    with pytest.raises(DataError) as err:
        prepare("dagm", tmp_path / "dagm")
    assert "--raw" in str(err.value) and "hci.iwr.uni-heidelberg.de" in str(err.value)
    with pytest.raises(DataError) as err:
        prepare("gc", tmp_path / "gc", download=True)
    assert "cannot be downloaded automatically" in str(err.value)
    assert Meta.load(prepare("synthetic", tmp_path / "syn", n_train=1)).info["synthetic"] is True


def _serve(folder):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return httpd


def test_prepare_download_end_to_end(tmp_path, monkeypatch):
    raw = _btech_raw(tmp_path / "src")
    served = tmp_path / "www"
    served.mkdir()
    with zipfile.ZipFile(served / "btad.zip", "w") as bundle:
        for path in sorted(raw.rglob("*")):
            bundle.write(path, path.relative_to(raw).as_posix())
    digest = hashlib.sha256((served / "btad.zip").read_bytes()).hexdigest()
    httpd = _serve(served)
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/btad.zip"
        table = sources.SourceTable([sources.Source(id="btad", kind="dataset", title="BTAD (test copy)", file="btad.zip",
                                                    urls=(url,), sha256=digest)])
        monkeypatch.setattr(sources, "default_table", lambda: table)
        out = prepare("btech", tmp_path / "data" / "btech", download=True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (tmp_path / "data" / "downloads" / "btad.zip").is_file()
    assert Meta.load(out).categories() == ["01", "02", "03"]


def test_cli_prints_a_clear_error_instead_of_a_traceback(tmp_path, capsys):
    status = main("mvtec", ["--out", str(tmp_path / "out"), "--raw", str(tmp_path / "missing")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error:") and "Traceback" not in captured.err
    assert str(tmp_path / "missing") in captured.err


def test_cli_prints_what_the_conversion_left_out(tmp_path, capsys):
    raw = standins.crackforest(tmp_path / "dl", n_labelled=2, n_unlabelled=(1, 1))
    assert main("road", ["--out", str(tmp_path / "out"), "--raw", str(raw)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("note: Road cracks") and "image/201.jpg, image/301.jpg" in lines[0]
    assert lines[-1].startswith("Road cracks (assumed CrackForest) ready:")


def test_an_output_of_an_older_converter_revision_is_not_taken_as_current(tmp_path):
    raw = standins.msd(tmp_path / "dl", n_per_class=1)
    out = msd.convert(raw, tmp_path / "out")
    meta = _meta(out)
    assert meta["info"]["revision"] == msd.REVISION
    del meta["info"]["revision"]  # what the first MSD converter (255 counted as defect) wrote
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(OutputExistsError) as err:
        msd.convert(raw, out)
    assert "overwrite" in str(err.value)
    assert _meta(msd.convert(raw, out, overwrite=True))["info"]["revision"] == msd.REVISION
    assert msd.convert(raw, out) == out  # findings in info do not make a finished output look different


def test_findings_cannot_overwrite_the_identity_of_a_conversion(tmp_path):
    from anoclip.data.converters.common import DatasetWriter

    writer = DatasetWriter(tmp_path / "out", dataset="road", options={})
    for key in ("options", "dataset", "report"):
        with pytest.raises(ValueError):
            writer.report(key, 1, "x")


def test_cli_help_says_where_to_get_the_data(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser("visa").parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "spot-diff" in text and "--split-csv" in text and "Licence" in text


def test_data_script_runs_from_a_clone(tmp_path):
    raw = _dagm_raw(tmp_path / "dagm")
    result = subprocess.run(
        [sys.executable, str(REPO / "data_scripts" / "prepare_dagm.py"), "--out", str(tmp_path / "out"), "--raw", str(raw)]
        + ["--normals", "all", "--classes", "2", "10"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _meta(tmp_path / "out")["info"]["options"] == {"normals": "all", "seed": 0, "classes": [2, 10]}
    scripts = sorted(p.name for p in (REPO / "data_scripts").glob("prepare_*.py") if p.name != "prepare_cli.py")
    assert scripts == sorted(f"prepare_{n}.py" for n in SUITE)


def test_converter_choices_reach_the_data_scripts():
    assert build_parser("msd").parse_args(["--out", "o", "--raw", "r", "--void", "defect"]).void == "defect"
    assert build_parser("bsd").parse_args(["--out", "o", "--raw", "r", "--split", "all"]).split == "all"
    with pytest.raises(SystemExit):
        build_parser("visa").parse_args(["--out", "o", "--void", "defect"])  # not a VisA option
