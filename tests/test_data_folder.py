"""`from_folder`: a user's good/ + defect folders (+ masks) become a meta.json data set bench can read."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from anoclip.bench import BenchSetting, run_benchmark
from anoclip.data import (
    DatasetRootError,
    MaskSizeError,
    Meta,
    MissingMaskError,
    OutputExistsError,
    from_folder,
    load_ignore,
    load_sample,
    render_synthetic,
)


def make_folder(root, masks="png", n_good=3, defects=("scratch", "stain"), per_defect=2, size=64):
    """ROOT/good, ROOT/<defect> and (unless masks is None) ROOT/masks/<defect>, from synthetic bottles.

    Returns {relative image path: the planted mask} for the anomalous images.
    """
    truth = {}
    (root / "good").mkdir(parents=True)
    for index in range(n_good):
        Image.fromarray(render_synthetic("bottle", "good", index, image_size=size)[2]).save(root / "good" / f"g{index}.png")
    index = 0
    for defect in defects:
        (root / defect).mkdir()
        for k in range(per_defect):
            _, _, image, mask = render_synthetic("bottle", "defect", index, image_size=size)
            index += 1
            name = f"{defect[:2]}{k}"
            Image.fromarray(image).save(root / defect / f"{name}.jpg", quality=95)
            truth[f"{defect}/{name}.jpg"] = mask
            if masks is None:
                continue
            folder = root / "masks" / defect
            folder.mkdir(parents=True, exist_ok=True)
            if masks == "png":  # alternate the two accepted names and two encodings (0/255 and 0/1)
                target = folder / (f"{name}.png" if k % 2 == 0 else f"{name}_mask.png")
                values = mask.astype(np.uint8) * (255 if k % 2 == 0 else 1)
                Image.fromarray(values, "L").save(target)
            elif masks == "jpg":
                Image.fromarray(mask.astype(np.uint8) * 255, "L").save(folder / f"{name}.jpg", quality=70)
    return truth


def test_folder_with_masks_becomes_a_dataset_with_exact_masks(tmp_path):
    truth = make_folder(tmp_path / "bottle")
    out = from_folder(tmp_path / "bottle", tmp_path / "out")
    meta = Meta.load(out)
    assert meta.categories() == ["bottle"] and meta.info["dataset"] == "custom"
    samples = meta.samples("bottle")
    assert sorted(s.specie_name for s in samples) == ["good"] * 3 + ["scratch"] * 2 + ["stain"] * 2
    assert all(s.img_path.startswith("bottle/test/") for s in samples)
    for sample in samples:
        image, mask = load_sample(out, sample)
        key = f"{sample.specie_name}/{sample.img_path.rsplit('/', 1)[-1]}"
        assert np.array_equal(mask, truth.get(key, np.zeros_like(mask)))  # both names, both encodings
        assert load_ignore(out, sample) is None
    assert any("3 normal images and 4 anomalous images in 2 defect types" in line for line in meta.info["report"])


def test_jpeg_compressed_masks_are_read_at_half_grey(tmp_path):
    truth = make_folder(tmp_path / "bottle", masks="jpg", defects=("hole",), per_defect=1)
    out = from_folder(tmp_path / "bottle", tmp_path / "out")
    sample = next(s for s in Meta.load(out).samples("bottle") if s.anomaly)
    _, mask = load_sample(out, sample)
    planted = truth["hole/ho0.jpg"]
    assert np.count_nonzero(mask != planted) <= 0.02 * planted.size  # JPEG ringing only at the edge


def test_bench_scores_a_users_folder(tiny, tmp_path):
    make_folder(tmp_path / "bottle")
    out = from_folder(tmp_path / "bottle", tmp_path / "data")
    results = run_benchmark(tiny, out, tmp_path / "results", BenchSetting.create("custom"), progress=False)
    assert [r.category for r in results] == ["bottle"] and results[0].images == 7 and results[0].anomalous == 4
    assert all(math.isfinite(results[0].metrics[m]) for m in ("pixel_auroc", "aupro", "image_auroc"))


def test_without_masks_images_count_and_pixels_are_left_out(tiny, tmp_path):
    make_folder(tmp_path / "bottle", masks=None)
    out = from_folder(tmp_path / "bottle", tmp_path / "data")
    meta = Meta.load(out)
    for sample in meta.samples("bottle"):
        image, mask = load_sample(out, sample)
        ignore = load_ignore(out, sample)
        assert not mask.any()
        assert (ignore is not None and ignore.all()) if sample.anomaly else ignore is None
    assert any("no masks/ folder" in line for line in meta.info["report"])
    result = run_benchmark(tiny, out, tmp_path / "results", BenchSetting.create("custom"), progress=False)[0]
    assert result.images == 7 and math.isfinite(result.metrics["image_auroc"])
    assert math.isnan(result.metrics["pixel_auroc"])  # no labelled anomalous pixel: undefined, not invented


@pytest.mark.parametrize("break_it, expected", [
    (lambda r: (r / "masks" / "scratch" / "sc0.png").unlink(), ["without a mask", "scratch/sc0.jpg"]),
    (lambda r: Image.new("L", (64, 64)).save(r / "masks" / "stain" / "typo.png"), ["masks/stain/typo.png", "name(s) no image"]),
    (lambda r: (r / "masks" / "good").mkdir(), ["masks/good/", "no defect folder"]),
    (lambda r: Image.new("L", (64, 64)).save(r / "masks" / "scratch" / "sc0_mask.png"), ["sc0.jpg has two masks"]),
    (lambda r: Image.new("RGB", (64, 64)).save(r / "scratch" / "sc0.png"), ["sc0.jpg, sc0.png share the name"]),
])
def test_unmatched_or_missing_masks_name_the_files(tmp_path, break_it, expected):
    make_folder(tmp_path / "bottle")
    break_it(tmp_path / "bottle")
    with pytest.raises(MissingMaskError) as caught:
        from_folder(tmp_path / "bottle", tmp_path / "out")
    assert all(part in str(caught.value) for part in expected), str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_mask_of_another_size_names_both_files(tmp_path):
    make_folder(tmp_path / "bottle")
    Image.new("L", (32, 64)).save(tmp_path / "bottle" / "masks" / "stain" / "st1_mask.png")
    with pytest.raises(MaskSizeError, match=r"st1_mask.png is 32x64 .*/stain/st1.jpg is 64x64"):
        from_folder(tmp_path / "bottle", tmp_path / "out")


def test_several_categories_and_an_explicit_class_name(tmp_path):
    make_folder(tmp_path / "mine" / "metal nut", n_good=2, defects=("bent",), per_defect=1)
    make_folder(tmp_path / "mine" / "screw", masks=None, n_good=2, defects=("cut",), per_defect=1)
    meta = Meta.load(from_folder(tmp_path / "mine", tmp_path / "two"))
    assert meta.categories() == ["metal nut", "screw"]
    single = Meta.load(from_folder(tmp_path / "mine" / "screw", tmp_path / "one", class_name="wood screw"))
    assert single.categories() == ["wood screw"]
    with pytest.raises(DatasetRootError, match="holds several categories"):
        from_folder(tmp_path / "mine", tmp_path / "three", class_name="nut")


def test_a_folder_without_good_says_what_is_expected(tmp_path):
    (tmp_path / "photos" / "scratch").mkdir(parents=True)
    with pytest.raises(DatasetRootError, match="good/ \\(normal images\\)"):
        from_folder(tmp_path / "photos", tmp_path / "out")


def test_rerun_is_instant_and_a_changed_folder_asks_for_overwrite(tmp_path):
    make_folder(tmp_path / "bottle")
    out = from_folder(tmp_path / "bottle", tmp_path / "out")
    stamp = (out / "meta.json").stat().st_mtime_ns
    assert from_folder(tmp_path / "bottle", out) == out and (out / "meta.json").stat().st_mtime_ns == stamp
    Image.fromarray(render_synthetic("bottle", "good", 9, image_size=64)[2]).save(tmp_path / "bottle" / "good" / "new.png")
    with pytest.raises(OutputExistsError, match="overwrite"):
        from_folder(tmp_path / "bottle", out)
    rebuilt = Meta.load(from_folder(tmp_path / "bottle", out, overwrite=True))
    assert sum(1 for s in rebuilt.samples("bottle") if not s.anomaly) == 4
    assert json.loads((out / "meta.json").read_text())["info"]["options"]["class_name"] is None


def test_output_inside_the_input_is_refused(tmp_path):
    make_folder(tmp_path / "bottle")
    with pytest.raises(Exception, match="overlap"):
        from_folder(tmp_path / "bottle", tmp_path / "bottle" / "prepared")


def test_nested_folders_and_looping_links_are_named_not_dropped(tmp_path):
    import os

    from anoclip.data import DataError

    root = tmp_path / "parts"
    for folder, names in (("good", ["0.png", "1.png"]), ("scratch", ["a.png"]), ("good/batch2", ["x.png"])):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / folder / name)
    os.symlink(root / "scratch" / "loop", root / "scratch" / "loop")
    with pytest.raises(DataError) as err:
        from_folder(root, tmp_path / "out")
    assert "batch2/" in str(err.value) and "would be left out" in str(err.value)
    (root / "good" / "batch2" / "x.png").unlink()
    (root / "good" / "batch2").rmdir()
    with pytest.raises(DataError, match=r"loop \(a broken or looping link\)"):
        from_folder(root, tmp_path / "out")


def test_a_folder_that_is_not_a_dataset_points_at_ROOT_not_at_an_option_it_lacks(tmp_path):
    from anoclip.data import DataError

    (tmp_path / "empty" / "stuff").mkdir(parents=True)
    with pytest.raises(DataError) as err:
        from_folder(tmp_path / "empty", tmp_path / "out")
    assert "--raw" not in str(err.value) and "Pass as ROOT the folder that holds good/" in str(err.value)
