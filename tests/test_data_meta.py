"""meta.json: reading, writing, building from a tree, and loading one sample."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from anoclip.data import (
    DatasetRootError,
    MaskSizeError,
    Meta,
    MetaFormatError,
    MissingMaskError,
    Sample,
    UnknownCategoryError,
    build_meta,
    load_sample,
    write_meta,
)


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)


def _rgb(h, w, value=100):
    return np.full((h, w, 3), value, dtype=np.uint8)


def _item(img, mask, cls, specie, anomaly):
    return {"img_path": img, "mask_path": mask, "cls_name": cls, "specie_name": specie, "anomaly": anomaly}


def test_load_missing_root_and_missing_meta_explain_how_to_make_one(tmp_path):
    with pytest.raises(DatasetRootError) as err:
        Meta.load(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetRootError) as err:
        Meta.load(tmp_path / "empty")
    message = str(err.value)
    assert str(tmp_path / "empty" / "meta.json") in message
    assert "prepare_" in message and "make_synthetic_dataset" in message


def test_malformed_json_names_the_file(tmp_path):
    (tmp_path / "meta.json").write_text('{"test": {"a": [', encoding="utf-8")
    with pytest.raises(MetaFormatError) as err:
        Meta.load(tmp_path)
    assert str(tmp_path / "meta.json") in str(err.value)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ([1, 2], "'test' key"),
        ({"test": {"a": {}}}, "list of items"),
        ({"test": {"a": [{"img_path": "x.png"}]}}, "lacks the key"),
        ({"test": {"a": [_item("x.png", "", "a", "good", 2)]}}, "anomaly=2"),
    ],
)
def test_wrong_structure_is_reported(tmp_path, content, fragment):
    (tmp_path / "meta.json").write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(MetaFormatError) as err:
        Meta.load(tmp_path)
    assert fragment in str(err.value)


def test_categories_keep_file_order_and_unknown_category_lists_available(tmp_path):
    meta = {
        "train": {"zeta": [], "alpha": []},
        "test": {
            "zeta": [_item("zeta/test/good/0.png", "", "zeta", "good", 0)],
            "alpha": [_item("alpha/test/cut/0.png", "alpha/ground_truth/cut/0_mask.png", "alpha", "cut", 1)],
        },
        "info": {"synthetic": True},
    }
    write_meta(tmp_path, meta)
    loaded = Meta.load(tmp_path)
    assert loaded.categories() == ["zeta", "alpha"]
    assert loaded.categories("train") == ["zeta", "alpha"]
    assert loaded.samples("alpha") == [Sample("alpha/test/cut/0.png", "alpha/ground_truth/cut/0_mask.png", "alpha", "cut", 1)]
    assert loaded.info == {"synthetic": True}
    assert loaded.root == tmp_path
    with pytest.raises(UnknownCategoryError) as err:
        loaded.samples("beta")
    assert "zeta" in str(err.value) and "alpha" in str(err.value)
    with pytest.raises(ValueError):
        loaded.categories("validation")


def test_write_meta_is_atomic_and_round_trips(tmp_path):
    meta = {"train": {"a": []}, "test": {"a": [_item("a/test/good/0.png", "", "a", "good", 0)]}}
    write_meta(tmp_path, meta)
    assert json.loads((tmp_path / "meta.json").read_text(encoding="utf-8")) == meta
    assert sorted(os.listdir(tmp_path)) == ["meta.json"]  # no temp file left behind
    meta["test"]["a"] = []
    write_meta(tmp_path, meta)
    assert json.loads((tmp_path / "meta.json").read_text(encoding="utf-8"))["test"]["a"] == []


def test_write_meta_failure_keeps_the_old_file(tmp_path):
    good = {"test": {"a": []}}
    write_meta(tmp_path, good)
    with pytest.raises(TypeError):
        write_meta(tmp_path, {"test": {"a": [object()]}})  # not JSON-serialisable
    assert json.loads((tmp_path / "meta.json").read_text(encoding="utf-8")) == good
    assert sorted(os.listdir(tmp_path)) == ["meta.json"]


def _mvtec_tree(root):
    """Stems 1, 2, 10 sort as 1, 10, 2 for images but 10_mask, 1_mask, 2_mask for masks."""
    for stem in ("1", "2", "10"):
        _png(root / "obj" / "test" / "crack" / f"{stem}.png", _rgb(4, 4, int(stem)))
        mask = np.zeros((4, 4), np.uint8)
        mask[0, : int(stem) % 4 + 1] = 255
        _png(root / "obj" / "ground_truth" / "crack" / f"{stem}_mask.png", mask)
    _png(root / "obj" / "test" / "good" / "5.png", _rgb(4, 4))
    _png(root / "obj" / "train" / "good" / "0.png", _rgb(4, 4))
    _png(root / "tex" / "test" / "good" / "0.png", _rgb(4, 4))
    (root / "readme.txt").write_text("not a category")


def test_build_meta_pairs_masks_by_name_not_sorted_index(tmp_path):
    _mvtec_tree(tmp_path)
    meta = build_meta(tmp_path)
    assert list(meta["test"]) == ["obj", "tex"]
    crack = [i for i in meta["test"]["obj"] if i["anomaly"]]
    assert [i["img_path"] for i in crack] == ["obj/test/crack/1.png", "obj/test/crack/10.png", "obj/test/crack/2.png"]
    for item in crack:
        stem = item["img_path"].rsplit("/", 1)[1][:-4]
        assert item["mask_path"] == f"obj/ground_truth/crack/{stem}_mask.png"
        assert item["specie_name"] == "crack" and item["cls_name"] == "obj"
    normal = [i for i in meta["test"]["obj"] if not i["anomaly"]]
    assert normal == [_item("obj/test/good/5.png", "", "obj", "good", 0)]
    assert meta["train"]["obj"] == [_item("obj/train/good/0.png", "", "obj", "good", 0)]
    assert meta["train"]["tex"] == []


def test_build_meta_missing_mask_names_image_and_expected_mask(tmp_path):
    _mvtec_tree(tmp_path)
    os.remove(tmp_path / "obj" / "ground_truth" / "crack" / "10_mask.png")
    with pytest.raises(MissingMaskError) as err:
        build_meta(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "obj" / "test" / "crack" / "10.png") in message
    assert str(tmp_path / "obj" / "ground_truth" / "crack" / "10_mask.png") in message


def test_build_meta_on_a_folder_without_categories(tmp_path):
    with pytest.raises(DatasetRootError) as err:
        build_meta(tmp_path)
    assert "category" in str(err.value)


def test_load_sample_normal_mask_is_h_by_w_for_non_square_images(tmp_path):
    _png(tmp_path / "a" / "test" / "good" / "0.png", _rgb(12, 20))
    image, mask = load_sample(tmp_path, Sample("a/test/good/0.png", "", "a", "good", 0))
    assert image.mode == "RGB" and image.size == (20, 12)
    assert mask.shape == (12, 20) and mask.dtype == bool and not mask.any()


def test_load_sample_anomalous_mask_matches_the_file(tmp_path):
    _png(tmp_path / "a" / "test" / "cut" / "0.png", _rgb(6, 9))
    expected = np.zeros((6, 9), bool)
    expected[2:4, 1:7] = True
    _png(tmp_path / "a" / "ground_truth" / "cut" / "0_mask.png", expected * 255)
    sample = Sample("a/test/cut/0.png", "a/ground_truth/cut/0_mask.png", "a", "cut", 1)
    _, mask = load_sample(tmp_path, sample)
    np.testing.assert_array_equal(mask, expected)


def test_load_sample_errors(tmp_path):
    _png(tmp_path / "a" / "test" / "cut" / "0.png", _rgb(6, 9))
    _png(tmp_path / "a" / "ground_truth" / "cut" / "0_mask.png", np.zeros((9, 6)))
    with pytest.raises(MaskSizeError):
        load_sample(tmp_path, Sample("a/test/cut/0.png", "a/ground_truth/cut/0_mask.png", "a", "cut", 1))
    with pytest.raises(MissingMaskError):
        load_sample(tmp_path, Sample("a/test/cut/0.png", "", "a", "cut", 1))
