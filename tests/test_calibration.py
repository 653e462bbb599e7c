"""Thresholds from normal images: the quantile rule, its guarantees, files, and region detection."""
import json
import math

import numpy as np
import pytest
import torch

from anoclip import TTAConfig
from anoclip.calibration import (
    ANOMALOUS,
    NORMAL,
    Thresholds,
    ThresholdsFileError,
    TooFewNormalImagesError,
    minimum_images,
    quantile_threshold,
    rank,
    setting_of,
)
from anoclip.data import render_synthetic
from anoclip_book.calibration_checks import (  # the book's checks of the guarantee
    achieved_fpr, expected_fpr, image_fpr_spread, pixel_fpr_spread, region_detections,
)


def test_threshold_is_the_conformal_order_statistic_by_brute_force():
    rng = np.random.default_rng(0)
    for n, fpr in ((99, 0.01), (19, 0.05), (50, 0.1), (1000, 0.01), (37, 0.2)):
        scores = rng.normal(size=n)
        k = next(k for k in range(1, n + 1) if k >= (1 - fpr) * (n + 1) - 1e-9)  # smallest k with k >= (1-a)(n+1)
        threshold = quantile_threshold(scores, fpr)
        assert threshold == np.sort(scores)[k - 1] and rank(n, fpr) == k
        assert np.sum(scores > threshold) == n - k <= fpr * (n + 1)  # never more than the rule allows


def test_ties_at_the_threshold_count_as_normal():
    scores = np.array([0.5] * 150 + [0.7] * 50)
    threshold = quantile_threshold(scores, 0.01)
    assert threshold == 0.7 and achieved_fpr(scores, threshold) == 0.0  # the tied top values are not flagged
    thresholds = Thresholds(0.6, 0.5, 0.01, 200, "bottle", "anoclip", None, {})
    assert thresholds.decisions([0.5, 0.5000001, 0.2]) == [NORMAL, ANOMALOUS, NORMAL]
    assert thresholds.pixel_masks(np.array([[0.6, 0.61]])).tolist() == [[False, True]]


def test_minimum_images_is_the_smallest_count_the_rule_can_use():
    for fpr in (0.01, 0.02, 0.05, 0.1, 0.25, 0.3):
        brute = next(n for n in range(1, 10_000) if rank(n, fpr) <= n)
        assert minimum_images(fpr) == brute
    assert (minimum_images(0.01), minimum_images(0.05), minimum_images(0.1)) == (99, 19, 9)


def test_too_few_images_is_a_clear_error():
    with pytest.raises(TooFewNormalImagesError) as caught:
        quantile_threshold(np.arange(20.0), 0.01)
    message = str(caught.value)
    assert "has 20 normal image(s)" in message and "at least 99" in message and "fpr >= 0.0476" in message
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantile_threshold(np.arange(200.0), 1.5)


def test_expected_rate_and_spread_match_a_simulation():
    """The Beta-binomial mean and spread of the held-out rate, against 20,000 simulated calibrations."""
    rng = np.random.default_rng(1)
    n, m, fpr, trials = 40, 30, 0.05, 20_000
    calibration = rng.random((trials, n))
    held_out = rng.random((trials, m))
    k = rank(n, fpr)
    thresholds = np.sort(calibration, axis=1)[:, k - 1]
    rates = (held_out > thresholds[:, None]).mean(axis=1)
    mean, spread = expected_fpr(n, fpr), image_fpr_spread(n, m, fpr)
    assert mean <= fpr and abs(rates.mean() - mean) < 4 * spread / math.sqrt(trials)
    assert abs(rates.std() / spread - 1) < 0.03
    # Within three standard deviations: the tolerance the end-to-end test uses.
    assert np.mean(np.abs(rates - mean) <= 3 * spread) > 0.97


@pytest.fixture(scope="module")
def fast(tiny):
    """One image view: the rule is the same for any score, and 22 views cost 22 forward passes."""
    return tiny.with_config(image_views=1)


@pytest.fixture(scope="module")
def normal_images():
    """Exchangeable normal images: synthetic bottles drawn with independent seeds."""
    return [render_synthetic("bottle", "good", index, image_size=64)[2] for index in range(100)]


def test_held_out_normal_images_follow_the_target_rate(fast, normal_images):
    n, fpr = 40, 0.05
    thresholds = fast.calibrate(normal_images[:n], "bottle", fpr=fpr, batch_size=20)
    assert thresholds.n_images == n and thresholds.fpr == fpr
    held_out = fast.predict(normal_images[n:], "bottle")
    maps, scores = held_out.anomaly_maps.numpy(), held_out.image_scores.numpy()
    m = len(scores)
    image_rate = achieved_fpr(scores, thresholds.image_threshold)
    assert abs(image_rate - expected_fpr(n, fpr)) <= 3 * image_fpr_spread(n, m, fpr)
    per_image = [achieved_fpr(anomaly_map, thresholds.pixel_threshold) for anomaly_map in maps]
    assert abs(np.mean(per_image) - fpr) <= 3 * pixel_fpr_spread(per_image, n)
    # On the calibration images themselves the pooled rule never flags more than fpr of the pixels.
    calibration = fast.predict(normal_images[:n], "bottle").anomaly_maps.numpy()
    assert achieved_fpr(calibration, thresholds.pixel_threshold) <= fpr


def test_calibrate_refuses_too_few_images_before_encoding_any(fast, normal_images, monkeypatch):
    monkeypatch.setattr(type(fast), "predict", lambda *a, **k: pytest.fail("no image may be encoded"))
    with pytest.raises(TooFewNormalImagesError, match="normal_images has 5 normal image"):
        fast.calibrate(normal_images[:5], "bottle", fpr=0.05)


def test_thresholds_round_trip_and_refuse_another_setting(fast, normal_images, tmp_path):
    thresholds = fast.calibrate(normal_images[:19], "bottle", fpr=0.05, tta=TTAConfig(steps=1))
    path = thresholds.save(tmp_path / "t.json")
    same = setting_of(fast, "bottle", tta=TTAConfig(steps=1).to_dict())
    assert Thresholds.load(path, same) == thresholds
    assert json.loads(path.read_text())["model"]["model"] == "anoclip-tiny"
    refusals = {
        "class_name is 'bottle' in the file, 'grid' here": setting_of(fast, "grid", tta=TTAConfig(steps=1).to_dict()),
        "tta is": setting_of(fast, "bottle"),
        "model.config.temperature is 1.0 in the file, 0.01 here": setting_of(fast.with_config(temperature=0.01), "bottle",
                                                                            tta=TTAConfig(steps=1).to_dict()),
        "method is 'anoclip' in the file, 'maskclip' here": setting_of(fast, "bottle", "maskclip", TTAConfig(steps=1).to_dict()),
    }
    for expected, setting in refusals.items():
        with pytest.raises(ThresholdsFileError) as caught:
            Thresholds.load(path, setting)
        assert str(path) in str(caught.value) and expected in str(caught.value) and "calibrate again" in str(caught.value)


def test_unreadable_thresholds_files_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ThresholdsFileError, match="bad.json is not a thresholds JSON"):
        Thresholds.load(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"test": {}}))
    with pytest.raises(ThresholdsFileError, match="not a thresholds file written by anoclip"):
        Thresholds.load(other)
    with pytest.raises(ThresholdsFileError, match="No thresholds file"):
        Thresholds.load(tmp_path / "missing.json")


def test_calibrate_equals_the_rule_on_predict_outputs(fast, normal_images):
    images = normal_images[:19]
    thresholds = fast.calibrate(images, "bottle", fpr=0.05, batch_size=7)
    prediction = fast.predict(images, "bottle")
    pixels = np.sort(prediction.anomaly_maps.numpy().ravel())
    scores = np.sort(prediction.image_scores.numpy())
    k_pixels, k_images = rank(pixels.size, 0.05), rank(19, 0.05)
    assert thresholds.pixel_threshold == pytest.approx(float(pixels[k_pixels - 1]), abs=1e-7)
    assert thresholds.image_threshold == pytest.approx(float(scores[k_images - 1]), abs=1e-7)
    assert thresholds.model == fast.describe() and thresholds.method == "anoclip" and thresholds.tta is None
    assert fast.calibrate(torch.stack([fast.preprocess(i)[0] for i in images]), "bottle", fpr=0.05) == thresholds


def test_region_detections_by_hand():
    masks = np.zeros((2, 10, 10), bool)
    masks[0, 1:3, 1:3] = True          # region A, 4 pixels
    masks[0, 6:9, 6] = True            # region B, 3 pixels
    masks[0, 3, 3] = True              # diagonal neighbour of A: 8-connected, so part of A
    maps = np.zeros((2, 10, 10))
    maps[0, 7, 6] = 0.9                # inside B only
    maps[1, 5, 5] = 0.99               # a normal image: no region, nothing to find
    found = region_detections(maps, masks, threshold=0.5)
    assert sorted((r.area, r.detected, r.max_score) for r in found) == [(3, True, 0.9), (5, False, 0.0)]
    assert {r.image for r in found} == {0}


@pytest.mark.parametrize("field, value, says", [
    ("image_threshold", float("nan"), "image_threshold=nan"), ("pixel_threshold", float("inf"), "pixel_threshold=inf"),
    ("image_threshold", "0.5", "image_threshold='0.5'"), ("pixel_threshold", None, "pixel_threshold=None"),
    ("image_threshold", 1.5, "image_threshold=1.5"), ("fpr", -0.05, "fpr=-0.05"), ("fpr", 5, "fpr=5"),
    ("n_images", "twenty", "n_images='twenty'"), ("n_images", 0, "n_images=0"), ("n_images", 3, "has 3 normal image"),
    ("class_name", "", "class_name=''"), ("tta", "yes", "tta='yes'"),
])
def test_a_thresholds_file_with_a_meaningless_value_is_refused_naming_it(tmp_path, field, value, says):
    """NaN flags nothing, Infinity masks nothing: every value is checked where it enters, in one line."""
    from anoclip.calibration import FORMAT, FORMAT_VERSION, ThresholdsFileError

    good = {"format": FORMAT, "version": FORMAT_VERSION, "pixel_threshold": 0.5, "image_threshold": 0.6, "fpr": 0.1,
            "n_images": 20, "class_name": "bottle", "method": "anoclip", "tta": None, "model": {}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**good, field: value}))
    with pytest.raises(ThresholdsFileError) as err:
        Thresholds.load(path)
    assert str(path) in str(err.value) and says in str(err.value) and "anoclip calibrate" in str(err.value)
    path.write_text(json.dumps(good))
    assert Thresholds.load(path).n_images == 20
