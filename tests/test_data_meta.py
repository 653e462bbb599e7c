"""meta.json: reading, writing, building from a tree, and loading one sample."""
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageOps

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
    read_mask,
    read_rgb,
    write_meta,
)
from anoclip.data.meta import load_ignore


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


# ----------------------------------------------------------------------------------------------
# EXIF orientation: image and mask always get the same transform


def _exif_fixture(root, orientation, h=6, w=10):
    """A non-square PNG with an EXIF Orientation tag, a marker patch painted red, and its mask."""
    pixels = _rgb(h, w, 60)
    marker = np.zeros((h, w), bool)
    marker[1:3, 6:9] = True  # off-centre and asymmetric, so every flip and turn moves it
    pixels[marker] = (255, 0, 0)
    path = root / "a" / "test" / "cut" / "0.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif)
    _png(root / "a" / "ground_truth" / "cut" / "0_mask.png", marker * 255)
    _png(root / "a" / "ground_truth" / "cut" / "0_ignore.png", np.roll(marker, 1, axis=0) * 255)
    return Sample("a/test/cut/0.png", "a/ground_truth/cut/0_mask.png", "a", "cut", 1, "a/ground_truth/cut/0_ignore.png")


def _red(image):
    pixels = np.asarray(image)
    return (pixels[..., 0] == 255) & (pixels[..., 1] == 0)


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_mode_turns_image_mask_and_ignore_together(tmp_path, orientation):
    sample = _exif_fixture(tmp_path, orientation)
    with Image.open(tmp_path / sample.img_path) as raw:
        expected = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))  # PIL's own reading of the tag
    image, mask = load_sample(tmp_path, sample, orientation="exif")
    np.testing.assert_array_equal(np.asarray(image), expected)
    np.testing.assert_array_equal(mask, _red(image))  # still on the marker
    ignore = load_ignore(tmp_path, sample, orientation="exif")
    stored_mask = read_mask(tmp_path / sample.mask_path)
    stored_ignore = read_mask(tmp_path / sample.ignore_path)
    # The ignore mask is the mask shifted one row down in storage; after the turn it must sit in the
    # same place relative to the turned mask as it does relative to the stored one.
    turned = [np.asarray(ImageOps.exif_transpose(_tagged(m, orientation))) > 0 for m in (stored_mask, stored_ignore)]
    np.testing.assert_array_equal(mask, turned[0])
    np.testing.assert_array_equal(ignore, turned[1])
    if orientation >= 5:
        assert mask.shape == (10, 6)  # a quarter turn swaps height and width


def _tagged(mask, orientation):
    """A mask as an L image carrying ``orientation``, so PIL's exif_transpose can turn it independently."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    image.getexif()[0x0112] = orientation
    return image


def test_default_reads_stored_pixels_like_the_official_code(tmp_path):
    sample = _exif_fixture(tmp_path, 6)
    with Image.open(tmp_path / sample.img_path) as raw:
        stored = np.asarray(raw.convert("RGB"))  # the official code: Image.open(path).convert("RGB")
    image, mask = load_sample(tmp_path, sample)
    np.testing.assert_array_equal(np.asarray(image), stored)
    np.testing.assert_array_equal(mask, _red(image))
    np.testing.assert_array_equal(load_ignore(tmp_path, sample), read_mask(tmp_path / sample.ignore_path))
    np.testing.assert_array_equal(np.asarray(read_rgb(tmp_path / sample.img_path)), stored)
    photo = read_rgb(tmp_path / sample.img_path, orientation="exif")  # a user's photo, no mask
    assert photo.size == (6, 10)
    with pytest.raises(ValueError) as err:
        load_sample(tmp_path, sample, orientation="auto")
    assert "'none'" in str(err.value) and "'exif'" in str(err.value)


def test_untagged_and_upright_images_are_the_same_in_both_modes(tmp_path):
    for orientation in (1, None):
        root = tmp_path / str(orientation)
        sample = _exif_fixture(root, orientation or 1)
        if orientation is None:
            Image.fromarray(_rgb(6, 10)).save(root / sample.img_path)  # no EXIF block at all
        none_image, none_mask = load_sample(root, sample)
        exif_image, exif_mask = load_sample(root, sample, orientation="exif")
        np.testing.assert_array_equal(np.asarray(none_image), np.asarray(exif_image))
        np.testing.assert_array_equal(none_mask, exif_mask)


# ----------------------------------------------------------------------------------------------
# Optional ignore masks


def test_ignore_path_is_optional_in_meta_json_and_found_by_build_meta(tmp_path):
    _mvtec_tree(tmp_path)
    _png(tmp_path / "obj" / "ground_truth" / "crack" / "2_ignore.png", np.full((4, 4), 255))
    meta = build_meta(tmp_path)
    crack = {i["img_path"]: i for i in meta["test"]["obj"] if i["anomaly"]}
    assert crack["obj/test/crack/2.png"]["ignore_path"] == "obj/ground_truth/crack/2_ignore.png"
    assert "ignore_path" not in crack["obj/test/crack/1.png"]  # the five-key format where there is none
    assert all(set(i) == {"img_path", "mask_path", "cls_name", "specie_name", "anomaly"} for i in meta["test"]["tex"])
    write_meta(tmp_path, meta)
    samples = {s.img_path: s for s in Meta.load(tmp_path).samples("obj")}
    assert samples["obj/test/crack/1.png"].ignore_path == ""
    assert load_ignore(tmp_path, samples["obj/test/crack/1.png"]) is None
    ignore = load_ignore(tmp_path, samples["obj/test/crack/2.png"])
    assert ignore.dtype == bool and ignore.shape == (4, 4) and ignore.all()
    assert samples["obj/test/crack/2.png"].to_dict() == crack["obj/test/crack/2.png"]


def test_ignore_errors_name_the_file(tmp_path):
    _png(tmp_path / "a" / "test" / "cut" / "0.png", _rgb(6, 9))
    _png(tmp_path / "a" / "ground_truth" / "cut" / "0_ignore.png", np.zeros((9, 6)))
    sample = Sample("a/test/cut/0.png", "a/ground_truth/cut/0_mask.png", "a", "cut", 1, "a/ground_truth/cut/0_ignore.png")
    with pytest.raises(MaskSizeError) as err:
        load_ignore(tmp_path, sample)
    assert "0_ignore.png" in str(err.value) and "6x9" in str(err.value)
    item = _item("a/test/cut/0.png", "a/ground_truth/cut/0_mask.png", "a", "cut", 1)
    (tmp_path / "meta.json").write_text(json.dumps({"test": {"a": [{**item, "ignore_path": 3}]}}), encoding="utf-8")
    with pytest.raises(MetaFormatError) as err:
        Meta.load(tmp_path)
    assert "ignore_path=3" in str(err.value)


@pytest.mark.parametrize("category, image", [
    ("../evil", "a.png"), ("../../x", "a.png"), ("/abs", "a.png"), ("a/b", "a.png"), ("..", "a.png"), ("", "a.png"),
    ("ok", "../outside.png"), ("ok", "/etc/passwd"), ("ok", "sub/../../x.png"), ("ok", "C:\\x.png"),
])
def test_names_and_paths_that_would_leave_the_folders_are_refused_on_load(tmp_path, category, image):
    """Category names become result file names, item paths are read under the root: neither may escape."""
    item = {"img_path": image, "mask_path": "", "cls_name": "c", "specie_name": "good", "anomaly": 0}
    (tmp_path / "meta.json").write_text(json.dumps({"test": {category: [item]}}))
    with pytest.raises(MetaFormatError) as err:
        Meta.load(tmp_path)
    assert str(tmp_path / "meta.json") in str(err.value) and "\n" not in str(err.value)


def test_a_hostile_meta_json_writes_nothing_outside_the_results_folder(tmp_path, capsys):
    from anoclip.cli import main

    root = tmp_path / "data"
    root.mkdir()
    item = {"img_path": "a.png", "mask_path": "", "cls_name": "c", "specie_name": "good", "anomaly": 0}
    (root / "meta.json").write_text(json.dumps({"test": {"../../evil": [item]}}))
    before = set(tmp_path.rglob("*"))
    assert main(["bench", "--root", str(root), "--out", str(tmp_path / "r" / "out"), "--smoke"]) == 2
    assert "category name '../../evil'" in capsys.readouterr().err
    assert set(tmp_path.rglob("*")) == before


def test_reading_a_pngs_orientation_does_not_decode_its_pixels(tmp_path, monkeypatch):
    """Pillow decodes a whole PNG to look for EXIF after the pixels: 550 MB for a 12,000² photo, twice."""
    from PIL import PngImagePlugin

    from anoclip.data.images import exif_transpose_of

    plain, tagged = tmp_path / "plain.png", tmp_path / "tagged.png"
    Image.new("RGB", (30, 20)).save(plain)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (30, 20)).save(tagged, exif=exif)
    loads = []
    real = PngImagePlugin.PngImageFile.load
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: loads.append(self) or real(self))
    assert exif_transpose_of(plain) is None and loads == []
    assert exif_transpose_of(tagged) == Image.Transpose.ROTATE_270


def test_an_image_beyond_pillows_bomb_guard_is_a_read_error_naming_it(tmp_path, monkeypatch):
    from anoclip.data.images import ImageReadError

    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is then over twice the limit
    with pytest.raises(ImageReadError, match="big.png is larger than Pillow decodes by default"):
        read_rgb(tmp_path / "big.png")
