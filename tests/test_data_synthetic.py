"""The synthetic data set: layout, determinism and exact masks."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from anoclip.data import Meta, OutputExistsError, load_sample, make_synthetic_dataset, render_synthetic
from anoclip.data.synthetic import DEFECTS


def _tree_hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def default_set(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "data")


def test_default_layout_and_meta(default_set):
    meta = Meta.load(default_set)
    assert meta.categories() == ["carpet", "grid", "bottle", "pill"]
    assert meta.info == {"dataset": "synthetic", "synthetic": True, "seed": 0, "generator": "anoclip.data.make_synthetic_dataset"}
    for category in meta.categories():
        train, test = meta.samples(category, "train"), meta.samples(category)
        assert len(train) == 8 and all(s.anomaly == 0 and s.specie_name == "good" for s in train)
        good = [s for s in test if not s.anomaly]
        defects = [s for s in test if s.anomaly]
        assert len(good) == 4 and len(defects) == 4
        assert {s.specie_name for s in defects} <= set(DEFECTS[category])
        assert all(s.mask_path == "" for s in good)
        for sample in defects:
            assert sample.img_path == f"{category}/test/{sample.specie_name}/{sample.img_path.rsplit('/', 1)[1]}"
            stem = sample.img_path.rsplit("/", 1)[1][:-4]
            assert sample.mask_path == f"{category}/ground_truth/{sample.specie_name}/{stem}_mask.png"
            with Image.open(default_set / sample.mask_path) as mask:
                assert mask.mode == "L"
                assert set(np.unique(np.asarray(mask)).tolist()) == {0, 255}


def test_all_four_defect_kinds_are_planted(default_set):
    species = {s.specie_name for c in Meta.load(default_set).categories() for s in Meta.load(default_set).samples(c)}
    assert {"scratch", "hole", "stain", "missing"} <= species


def test_masks_are_exactly_the_changed_pixels(default_set):
    meta = Meta.load(default_set)
    for category in meta.categories():
        for sample in meta.samples(category):
            image, mask = load_sample(default_set, sample)
            index = int(sample.img_path.rsplit("/", 1)[1][:-4])
            kind = "defect" if sample.anomaly else "good"
            specie, clean, rendered, rendered_mask = render_synthetic(category, kind, index)
            assert specie == sample.specie_name
            np.testing.assert_array_equal(np.asarray(image), rendered)  # the file is the rendering
            changed = (rendered != clean).any(axis=-1)
            np.testing.assert_array_equal(mask, changed)
            np.testing.assert_array_equal(rendered_mask, changed)
            assert mask.any() == bool(sample.anomaly)


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    kwargs = dict(categories=("grid", "pill"), n_train=2, n_test_good=1, n_test_defect=2, image_size=64)
    first = _tree_hashes(make_synthetic_dataset(tmp_path / "a", seed=3, **kwargs))
    second = _tree_hashes(make_synthetic_dataset(tmp_path / "b", seed=3, **kwargs))
    other = _tree_hashes(make_synthetic_dataset(tmp_path / "c", seed=4, **kwargs))
    assert first == second
    assert first.keys() == other.keys()  # same names: defect types cycle by index, not by seed
    images = [k for k in first if k.endswith(".png") and "/ground_truth/" not in k]
    assert images and all(first[k] != other[k] for k in images)


def test_a_category_does_not_depend_on_the_others(tmp_path):
    alone = _tree_hashes(make_synthetic_dataset(tmp_path / "alone", categories=("pill",), n_train=1))
    mixed = _tree_hashes(make_synthetic_dataset(tmp_path / "mixed", categories=("carpet", "pill"), n_train=1))
    assert {k: v for k, v in alone.items() if k.startswith("pill/")} == {
        k: v for k, v in mixed.items() if k.startswith("pill/")
    }


def test_rerun_replaces_own_output_but_refuses_foreign_folders(tmp_path):
    root = make_synthetic_dataset(tmp_path / "s", categories=("carpet",), n_train=1)
    make_synthetic_dataset(root, categories=("grid",), n_train=1)
    assert Meta.load(root).categories() == ["grid"]
    assert not (root / "carpet").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError):
        make_synthetic_dataset(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError) as err:
        make_synthetic_dataset(tmp_path / "x", categories=("carpet", "zipper"))
    assert "zipper" in str(err.value) and "bottle" in str(err.value)
    with pytest.raises(ValueError):
        render_synthetic("carpet", "defect", 0, image_size=8)


def test_meta_json_is_plain_relative_paths(default_set):
    meta = json.loads((default_set / "meta.json").read_text(encoding="utf-8"))
    paths = [i["img_path"] for split in ("train", "test") for items in meta[split].values() for i in items]
    assert all(not p.startswith("/") and "\\" not in p and (default_set / p).is_file() for p in paths)
