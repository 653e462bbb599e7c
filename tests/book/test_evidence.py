"""Bootstrap intervals over images and the finding sentences (anoclip_book.evidence)."""
import numpy as np
import pytest

from anoclip import metrics
from anoclip_book import evidence
from anoclip_book.evidence import Estimate, Histograms, PixelEvidence


def category(seed, images=8, side=10, levels=None, shift=0.0):
    """Maps and masks of a small category: half the images anomalous, defects scoring higher on average.

    ``levels`` quantises the scores to that many grey levels, so that distinct scores never share a fine bin.
    """
    rng = np.random.default_rng(seed)
    maps, masks, labels = [], [], []
    for index in range(images):
        mask = np.zeros((side, side), bool)
        anomalous = index % 2 == 0
        if anomalous:
            row, col = rng.integers(0, side - 3, 2)
            mask[row:row + rng.integers(1, 4), col:col + rng.integers(1, 4)] = True
        values = rng.random((side, side)) * 0.6 + 0.4 * mask * rng.random() + shift * mask
        if levels:
            values = np.round(values * levels) / levels
        maps.append(values.astype(np.float32))
        masks.append(mask)
        labels.append(anomalous)
    return maps, masks, np.array(labels)


def evidence_of(maps, masks, labels, max_bins=evidence.BINS):
    collected = PixelEvidence()
    for anomaly_map, mask, label in zip(maps, masks, labels):
        collected.add(anomaly_map, mask, label)
    return collected.histograms(max_bins)


def brute_force(name, maps, masks, weights):
    """The metric of one resample, recomputed exactly on its images (an image drawn k times counts k times)."""
    drawn = [index for index, count in enumerate(weights.astype(int)) for _ in range(count)]
    function = {"auroc": metrics.pixel_auroc, "ap": metrics.pixel_ap, "f1_max": metrics.pixel_f1_max}[name]
    return function([maps[i] for i in drawn], [masks[i] for i in drawn])


@pytest.mark.parametrize("name", evidence.METRICS)
def test_every_resample_equals_the_brute_force_metric_of_its_images(name):
    """With scores on 32 grey levels no bin holds two distinct scores: the histogram metric of a resample
    is the exact metric of its pixels, for AUROC, AP and F1-max alike."""
    maps, masks, labels = category(3, levels=32)
    histograms = evidence_of(maps, masks, labels)
    weights = evidence.resample_weights(labels, 40, np.random.default_rng(1))
    ours = histograms.resampled(name, weights)
    expected = [brute_force(name, maps, masks, row) for row in weights]
    assert ours == pytest.approx(expected, abs=1e-12)


def test_the_interval_is_the_percentile_interval_of_the_brute_force_bootstrap():
    maps, masks, labels = category(4, levels=32)
    histograms = evidence_of(maps, masks, labels)
    found = evidence.estimate("auroc", [histograms], resamples=200, seed=7)
    weights = evidence.resample_weights(labels, 200, np.random.default_rng(7))  # the draws estimate() makes
    values = [brute_force("auroc", maps, masks, row) for row in weights]
    assert (found.low, found.high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)
    assert found.value == metrics.pixel_auroc(maps, masks)  # the point estimate is the exact metric


def test_resamples_keep_the_number_of_anomalous_and_normal_images():
    labels = np.array([True, True, True, False, False])
    weights = evidence.resample_weights(labels, 100, np.random.default_rng(0))
    assert np.all(weights[:, labels].sum(1) == 3) and np.all(weights[:, ~labels].sum(1) == 2)
    assert len({tuple(row) for row in weights}) > 20  # actual resampling, not the same draw


def test_on_continuous_scores_the_binned_metrics_stay_within_the_binning_of_the_exact_ones():
    """Full sample, continuous scores, few bins: AUROC within the tie bound of anoclip.metrics, AP and F1 close."""
    maps, masks, labels = category(5, images=12, side=24)
    for max_bins in (256, evidence.BINS):
        histograms = evidence_of(maps, masks, labels, max_bins)
        assert histograms.normal.shape[1] <= max_bins
        ones = np.ones((1, len(labels)))
        bound = histograms.tie_bound()
        assert bound <= 2.0 / max_bins
        assert abs(histograms.resampled("auroc", ones)[0] - metrics.pixel_auroc(maps, masks)) <= bound + 1e-12
        assert histograms.resampled("ap", ones)[0] == pytest.approx(metrics.pixel_ap(maps, masks), abs=20.0 / max_bins)
        assert histograms.resampled("f1_max", ones)[0] == pytest.approx(metrics.pixel_f1_max(maps, masks), abs=20.0 / max_bins)
    assert histograms.exact["auroc"] == metrics.pixel_auroc(maps, masks)


def test_image_scores_give_the_exact_image_metrics_ties_included():
    rng = np.random.default_rng(2)
    scores = np.round(rng.random(30), 1)  # many ties
    labels = rng.random(30) < 0.4
    histograms = Histograms.from_image_scores(scores, labels)
    assert histograms.exact["auroc"] == pytest.approx(metrics.image_auroc(scores, labels), abs=1e-12)
    assert histograms.exact["ap"] == pytest.approx(metrics.image_ap(scores, labels), abs=1e-12)
    assert histograms.exact["f1_max"] == pytest.approx(metrics.image_f1_max(scores, labels), abs=1e-12)


def test_a_paired_difference_of_a_method_with_itself_is_exactly_zero_and_a_better_method_is_up():
    maps, masks, labels = category(6, images=10)
    same = evidence_of(maps, masks, labels)
    zero = evidence.estimate("auroc", [same], [same], resamples=100)
    assert (zero.value, zero.low, zero.high) == (0.0, 0.0, 0.0)
    better_maps = [m + 0.3 * k for m, k in zip(maps, masks)]
    better = evidence.estimate("auroc", [evidence_of(better_maps, masks, labels)], [same], resamples=300)
    assert better.value == pytest.approx(metrics.pixel_auroc(better_maps, masks) - metrics.pixel_auroc(maps, masks))
    assert evidence.direction(better) == "up" and better.low <= better.value <= better.high


def test_the_mean_over_categories_resamples_each_category_and_needs_the_same_images():
    first, second = evidence_of(*category(8)), evidence_of(*category(9, images=6))
    both = evidence.estimate("auroc", [first, second], resamples=200)
    assert both.value == pytest.approx((first.exact["auroc"] + second.exact["auroc"]) / 2)
    assert both.categories == 2 and both.images == 14 and both.low < both.value < both.high
    with pytest.raises(ValueError, match="other images"):
        evidence.estimate("auroc", [first], [second])
    again = evidence.estimate("auroc", [first, second], resamples=200)
    assert (again.low, again.high) == (both.low, both.high)  # seeded


def test_histograms_from_the_bench_layout_equal_those_collected_here(tmp_path):
    maps, masks, labels = category(10)
    collected = evidence_of(maps, masks, labels)
    rows = [metrics.image_histogram(m, k) for m, k in zip(maps, masks)]
    image = np.concatenate([np.full(bins.size, i) for i, (bins, _, _) in enumerate(rows)])
    stored = Histograms.from_bins(image, *(np.concatenate(parts) for parts in zip(*rows)), labels, collected.exact)
    assert np.array_equal(stored.normal, collected.normal) and np.array_equal(stored.anomalous, collected.anomalous)


def sample(value, low, high):
    return Estimate(value, low, high, images=120)


@pytest.mark.parametrize("found, wording", [
    (sample(0.052, 0.031, 0.070), "the v-v path raises pixel AUROC by 5.2 points (95 % CI 3.1 to 7.0, bootstrap over 120 images)"),
    (sample(-0.052, -0.070, -0.031), "the v-v path lowers pixel AUROC by 5.2 points (95 % CI 3.1 to 7.0, bootstrap over 120 images)"),
    (sample(0.004, -0.012, 0.019), "the v-v path makes no difference to pixel AUROC within ±1.9 points (95 % CI −1.2 to 1.9, "
                                   "bootstrap over 120 images)"),
    (sample(0.013, -0.0004, 0.027), "the v-v path makes no difference to pixel AUROC within ±2.7 points (95 % CI 0.0 to 2.7, "
                                    "bootstrap over 120 images)"),
])
def test_the_sentence_is_decided_by_the_interval(found, wording):
    assert evidence.change_sentence(found, "the v-v path", "pixel AUROC") == wording


def test_gap_and_value_sentences():
    ours = sample(0.889, 0.880, 0.897)
    assert evidence.value_sentence(ours, "pixel AUROC") == "pixel AUROC is 88.9 % (95 % CI 88.0 to 89.7, bootstrap over 120 images)"
    gap = ours.shifted(-0.906)
    assert evidence.gap_sentence(gap, "our pixel AUROC", "the published 90.6 %") == (
        "our pixel AUROC is 1.7 points below the published 90.6 % (95 % CI 0.9 to 2.6, bootstrap over 120 images)")
    assert evidence.gap_sentence(ours.shifted(-0.89), "ours", "theirs").startswith("ours matches theirs within ±1.0 points")
    undefined = sample(float("nan"), float("nan"), float("nan"))
    assert "undefined" in evidence.change_sentence(undefined, "x", "pixel AUROC")


def test_the_evidence_a_bench_run_stored_reproduces_its_metrics(tiny, tmp_path):
    from anoclip.bench import run_benchmark
    from anoclip.data import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path / "data", categories=("grid",), n_train=0, n_test_good=3, n_test_defect=3)
    (result,) = run_benchmark(tiny.with_config(image_views=1), root, tmp_path / "out", progress=False)
    found = evidence.bench_histograms(tmp_path / "out", "grid")
    ones = np.ones((1, 6))
    for name, (kind, metric) in evidence.RESAMPLED.items():
        assert found[kind].exact[metric] == result.metrics[name]
        assert found[kind].resampled(metric, ones)[0] == pytest.approx(result.metrics[name], abs=2e-3), name
    assert list(found["pixel"].labels) == list(found["image"].labels) and found["pixel"].labels.sum() == 3
    assert evidence.bench_histograms(tmp_path / "out", "bottle") is None


def test_the_mean_of_per_unit_values_and_of_two_independent_groups():
    rng = np.random.default_rng(3)
    values = rng.normal(0.2, 1.0, 400)
    found = evidence.mean_estimate(values)
    assert found.value == pytest.approx(values.mean()) and found.low < 0.2 < found.high
    assert found.high - found.low == pytest.approx(2 * 1.96 / 20, rel=0.2)  # the normal theory width, 2 · 1.96 σ/√n
    hits, misses = np.ones(30), np.r_[np.ones(10), np.zeros(20)]
    difference = evidence.mean_estimate(misses, hits)
    assert difference.value == pytest.approx(-2 / 3) and evidence.direction(difference) == "down"
    assert np.isnan(evidence.mean_estimate([], hits).value)
