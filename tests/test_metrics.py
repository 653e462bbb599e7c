"""anoclip.metrics against brute-force threshold sweeps, literal reimplementations and scikit-learn.

The references below loop over every distinct threshold (no searchsorted, no sorting tricks), so
they share no code path with the module.  Data are drawn from a few score levels so that ties
between normal and anomalous pixels are frequent -- the case where shortcuts go wrong.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import measure
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from anoclip import metrics
from anoclip.metrics import (
    MetricInputError,
    PixelScores,
    UndefinedMetricWarning,
    aupro,
    aupro_cflow,
    image_ap,
    image_aupr_trapezoid,
    image_auroc,
    image_f1_max,
    pixel_ap,
    pixel_auroc,
    pixel_f1_max,
)

SEEDS = [0, 1, 2]
SHAPES = {
    "stack-9x11": [(9, 11)] * 6,
    "stack-16x16": [(16, 16)] * 4,
    "mixed-sizes": [(7, 12), (13, 5), (10, 10), (4, 9), (12, 12)],
}


# ------------------------------------------------------------------------------ data


def make_category(seed: int, shapes, levels: int = 6):
    """Maps drawn from `levels` score levels (many ties), masks with blobs, one normal image."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index, shape in enumerate(shapes):
        mask = rng.random(shape) < 0.18
        if index == 0:
            mask[:] = False  # an anomaly-free image: its pixels count as normal
        level = rng.integers(0, levels, size=shape) + 2 * mask * rng.integers(0, 2, size=shape)
        maps.append((level / (levels + 1)).astype(np.float32))
        masks.append(mask)
    return maps, masks


def make_continuous_category(seed: int, shapes):
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for shape in shapes:
        mask = rng.random(shape) < 0.2
        maps.append((rng.random(shape) + 0.4 * mask).astype(np.float32))
        masks.append(mask)
    return maps, masks


def flatten(maps, masks):
    scores = np.concatenate([np.asarray(m, dtype=np.float32).ravel() for m in maps])
    truth = np.concatenate([np.asarray(m, dtype=bool).ravel() for m in masks])
    return scores, truth


# ------------------------------------------------------------------------------ brute force


def thresholds_descending(scores):
    return sorted(set(scores.tolist()), reverse=True)


def brute_roc_auc(scores, truth):
    pos, neg = scores[truth], scores[~truth]
    xs, ys = [0.0], [0.0]
    for t in thresholds_descending(scores):
        xs.append(np.sum(neg >= t) / neg.size)
        ys.append(np.sum(pos >= t) / pos.size)
    return sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(len(xs) - 1))


def brute_pr_points(scores, truth):
    """(threshold, tp, fp) at every distinct threshold, highest first."""
    pos, neg = scores[truth], scores[~truth]
    return [(t, int(np.sum(pos >= t)), int(np.sum(neg >= t))) for t in thresholds_descending(scores)]


def brute_ap(scores, truth):
    n_pos = int(truth.sum())
    total, previous_recall = 0.0, 0.0
    for _, tp, fp in brute_pr_points(scores, truth):
        recall = tp / n_pos
        total += (recall - previous_recall) * tp / (tp + fp)
        previous_recall = recall
    return total


def brute_f1_max(scores, truth):
    n_pos = int(truth.sum())
    best = 0.0
    for _, tp, fp in brute_pr_points(scores, truth):
        precision, recall = tp / (tp + fp), tp / n_pos
        if precision + recall > 0:
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def brute_aupr_trapezoid(scores, truth):
    """scikit-learn's curve rebuilt by hand: thresholds down to full recall, then (0, 1)."""
    n_pos = int(truth.sum())
    recalls, precisions = [0.0], [1.0]
    for _, tp, fp in brute_pr_points(scores, truth):
        recalls.append(tp / n_pos)
        precisions.append(tp / (tp + fp))
        if tp == n_pos:
            break
    return sum(
        (recalls[i + 1] - recalls[i]) * (precisions[i + 1] + precisions[i]) / 2
        for i in range(len(recalls) - 1)
    )


def regions_of(masks):
    """Pixel coordinates of every 8-connected region (skimage's default for 2-D), per image."""
    found = []
    for index, mask in enumerate(masks):
        for region in measure.regionprops(measure.label(np.asarray(mask, dtype=np.uint8))):
            found.append((index, region.coords))
    return found


def clipped_area(xs, ys, limit):
    area = 0.0
    for x0, x1, y0, y1 in zip(xs[:-1], xs[1:], ys[:-1], ys[1:]):
        if x0 >= limit:
            break
        if x1 <= limit:
            area += (x1 - x0) * (y0 + y1) / 2
        else:
            y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y_limit) / 2
    return area


def brute_aupro(maps, masks, fpr_limit=0.3):
    """MVTec AUPRO over ALL distinct thresholds of normal and anomalous scores."""
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    regions = regions_of(masks)
    normal = np.concatenate([m[~np.asarray(k, bool)] for m, k in zip(maps, masks)])
    union = np.concatenate([m.ravel() for m in maps])
    xs, ys = [0.0], [0.0]
    for t in thresholds_descending(union):
        overlaps = [np.mean(maps[i][coords[:, 0], coords[:, 1]] >= t) for i, coords in regions]
        xs.append(np.sum(normal >= t) / normal.size)
        ys.append(float(np.mean(overlaps)))
    return clipped_area(xs, ys, fpr_limit) / fpr_limit


def literal_cflow_pro(maps, masks, fpr_limit=0.3, steps=200):
    """Line-by-line restatement of ``cal_pro_score``: thresholds, per-region loops, rescale, auc."""
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    masks = [np.asarray(k, dtype=bool) for k in masks]
    low = min(m.min() for m in maps)
    high = max(m.max() for m in maps)
    delta = (high - low) / steps
    regions = regions_of(masks)
    n_normal = sum(int((~k).sum()) for k in masks)
    pros, fprs = [], []
    for k in range(steps):
        th = low + k * delta
        binary = [m > th for m in maps]
        per_region = [binary[i][c[:, 0], c[:, 1]].sum() / len(c) for i, c in regions]
        false_positives = sum(int(np.logical_and(~k_, b).sum()) for k_, b in zip(masks, binary))
        pros.append(np.mean(per_region))
        fprs.append(false_positives / n_normal)
    pros, fprs = np.array(pros), np.array(fprs)
    keep = fprs < fpr_limit
    fprs = fprs[keep]
    fprs = (fprs - fprs.min()) / (fprs.max() - fprs.min())
    return auc(fprs, pros[keep])


# ------------------------------------------------------------------------------ pixel metrics


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_pixel_rank_metrics_match_brute_force_and_sklearn(seed, shapes):
    maps, masks = make_category(seed, shapes)
    scores, truth = flatten(maps, masks)
    expected_auroc = brute_roc_auc(scores, truth)
    assert pixel_auroc(maps, masks) == pytest.approx(expected_auroc, abs=1e-12)
    assert expected_auroc == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)

    expected_ap = brute_ap(scores, truth)
    assert pixel_ap(maps, masks) == pytest.approx(expected_ap, abs=1e-12)
    assert expected_ap == pytest.approx(average_precision_score(truth, scores), abs=1e-12)

    precision, recall, _ = precision_recall_curve(truth, scores)
    with np.errstate(invalid="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    assert pixel_f1_max(maps, masks) == pytest.approx(brute_f1_max(scores, truth), abs=1e-12)
    assert pixel_f1_max(maps, masks) == pytest.approx(np.max(f1[np.isfinite(f1)]), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_aupro_matches_brute_force_over_all_thresholds(seed, shapes):
    maps, masks = make_category(seed, shapes)
    for limit in (0.3, 0.05, 1.0):
        assert aupro(maps, masks, fpr_limit=limit) == pytest.approx(
            brute_aupro(maps, masks, limit), abs=1e-10
        )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_pro_at_counts_each_threshold_by_brute_force(seed, shapes):
    """FPR and PRO at given thresholds: normal pixels and each 8-connected region, counted directly."""
    maps, masks = make_category(seed, shapes)
    scores = PixelScores()
    for anomaly_map, mask in zip(maps, masks):
        scores.add(anomaly_map, mask)
    regions = []
    for anomaly_map, mask in zip(maps, masks):
        labels = measure.label(mask, connectivity=2)
        regions += [anomaly_map[labels == k] for k in range(1, labels.max() + 1)]
    normal = np.concatenate([m[~k] for m, k in zip(maps, masks)])
    values = np.unique(np.concatenate([m.ravel() for m in maps]))
    thresholds = np.concatenate([values, values[:3] - 1.0, [values.max() + 1.0], np.linspace(values.min(), values.max(), 7)])
    fpr, pro = scores.pro_at(thresholds)
    for t, f, p in zip(thresholds, fpr, pro):
        assert f == pytest.approx(np.mean(normal >= t), abs=1e-12)
        assert p == pytest.approx(np.mean([np.mean(r >= t) for r in regions]), abs=1e-12)


def test_pro_at_refuses_data_without_a_curve():
    scores = PixelScores()
    scores.add(np.zeros((4, 4), np.float32), np.zeros((4, 4), bool))
    with pytest.raises(metrics.MetricInputError, match="PRO curve is undefined"):
        scores.pro_at([0.5])


@pytest.mark.parametrize("seed", SEEDS)
def test_aupro_on_continuous_scores_matches_brute_force(seed):
    maps, masks = make_continuous_category(seed, [(8, 9), (6, 11), (10, 4)])
    assert aupro(maps, masks) == pytest.approx(brute_aupro(maps, masks), abs=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_aupro_cflow_matches_literal_reimplementation(seed, shapes):
    maps, masks = make_continuous_category(seed, shapes)
    assert aupro_cflow(maps, masks) == pytest.approx(literal_cflow_pro(maps, masks), abs=1e-10)
    tied_maps, tied_masks = make_category(seed, shapes, levels=12)
    assert aupro_cflow(tied_maps, tied_masks, fpr_limit=0.5, steps=37) == pytest.approx(
        literal_cflow_pro(tied_maps, tied_masks, fpr_limit=0.5, steps=37), abs=1e-10
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("divisor", [1, 10])
def test_aupro_cflow_with_scores_on_the_threshold_grid(seed, divisor):
    # Scores k / divisor with min 0 and max 10 / divisor put pixels exactly on (divisor 1) or
    # within float32 rounding of (divisor 10) the thresholds, where "map > th" is decided.
    rng = np.random.default_rng(seed)
    shapes = [(9, 9), (7, 11), (10, 6)]
    masks = [rng.random(shape) < 0.25 for shape in shapes]
    maps = [
        ((rng.integers(0, 8, size=m.shape) + 3 * m * rng.integers(0, 2, size=m.shape)) / divisor)
        .astype(np.float32)
        for m in masks
    ]
    maps[0][0, 0], maps[0][0, 1] = 0.0, np.float32(10 / divisor)
    for limit in (0.3, 0.6):
        assert aupro_cflow(maps, masks, fpr_limit=limit, steps=10) == pytest.approx(
            literal_cflow_pro(maps, masks, fpr_limit=limit, steps=10), abs=1e-12
        )


def test_aupro_by_hand_on_a_1x4_image_with_a_diagonal_segment():
    # Region = the two left pixels; normal pixels tie with one region pixel at 0.4.
    # Curve: (0,0) -> (0,0.5) -> (0.5,1) -> (1,1); at FPR 0.3 the diagonal is at PRO 0.8.
    maps = [np.array([[0.8, 0.4, 0.4, 0.0]], dtype=np.float32)]
    masks = [np.array([[1, 1, 0, 0]])]
    assert aupro(maps, masks) == pytest.approx(0.3 * (0.5 + 0.8) / 2 / 0.3)
    assert aupro(maps, masks, fpr_limit=1.0) == pytest.approx(0.5 * 0.75 + 0.5 * 1.0)
    assert aupro(maps, masks, fpr_limit=0.5) == pytest.approx(0.5 * 0.75 / 0.5)


def test_aupro_of_perfect_and_inverted_maps():
    rng = np.random.default_rng(3)
    masks = [rng.random((10, 10)) < 0.3 for _ in range(3)]
    perfect = [m.astype(np.float32) for m in masks]
    inverted = [1.0 - p for p in perfect]
    assert aupro(perfect, masks) == pytest.approx(1.0)
    assert aupro(inverted, masks) == pytest.approx(0.0)
    assert pixel_auroc(perfect, masks) == 1.0
    assert pixel_auroc(inverted, masks) == 0.0


def test_two_diagonal_pixels_form_one_region():
    # (0,1) and (1,2) touch only at a corner: one region of 3 pixels with 8-connectivity.
    mask = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
    score = np.array([[0.9, 0.9, 0.5], [0.0, 0.0, 0.2], [0.0, 0.0, 0.0]], dtype=np.float32)
    accumulated = PixelScores()
    accumulated.add(score, mask)
    assert accumulated.n_regions == 1
    # PRO is 2/3 from FPR 0 to 1/6 (the normal pixel at 0.5), then 1.  With two 4-connected
    # regions it would be mean(1, 0) = 0.5 instead of 2/3.
    assert accumulated.aupro() == pytest.approx((1 / 6 * 2 / 3 + (0.3 - 1 / 6) * 1.0) / 0.3)


def test_pixel_scores_accumulated_image_by_image_equals_one_shot_functions():
    maps, masks = make_category(5, SHAPES["mixed-sizes"])
    accumulated = PixelScores()
    for anomaly_map, mask in zip(maps[:2], masks[:2]):
        accumulated.add(anomaly_map, mask)
    accumulated.pixel_auroc()  # metrics in between must not freeze the accumulated state
    for anomaly_map, mask in zip(maps[2:], masks[2:]):
        accumulated.add(anomaly_map, mask)
    expected = {
        "pixel_auroc": pixel_auroc(maps, masks),
        "pixel_ap": pixel_ap(maps, masks),
        "pixel_f1_max": pixel_f1_max(maps, masks),
        "aupro": aupro(maps, masks),
        "aupro_cflow": aupro_cflow(maps, masks),
    }
    assert accumulated.all() == expected
    assert accumulated.n_images == len(maps)
    assert accumulated.n_normal + accumulated.n_anomalous == sum(m.size for m in maps)


@pytest.mark.parametrize("block", [1, 3, 8])
def test_blockwise_walk_over_anomalous_scores_matches_brute_force(monkeypatch, block):
    # Blocks much smaller than the runs of tied scores: carries between blocks and block
    # boundaries that must be pushed past a run of equal values are all exercised.
    monkeypatch.setattr(metrics, "_BLOCK", block)
    maps, masks = make_category(8, SHAPES["mixed-sizes"], levels=4)
    scores, truth = flatten(maps, masks)
    assert pixel_auroc(maps, masks) == pytest.approx(brute_roc_auc(scores, truth), abs=1e-12)
    assert pixel_ap(maps, masks) == pytest.approx(brute_ap(scores, truth), abs=1e-12)
    assert pixel_f1_max(maps, masks) == pytest.approx(brute_f1_max(scores, truth), abs=1e-12)
    for limit in (0.3, 1.0):
        assert aupro(maps, masks, limit) == pytest.approx(brute_aupro(maps, masks, limit), abs=1e-10)
    assert aupro_cflow(maps, masks, 0.5, 9) == pytest.approx(
        literal_cflow_pro(maps, masks, 0.5, 9), abs=1e-10
    )
    labels = truth[:200]
    assert image_aupr_trapezoid(scores[:200], labels) == pytest.approx(
        brute_aupr_trapezoid(scores[:200], labels), abs=1e-12
    )


def test_stacked_array_list_and_integer_masks_agree():
    maps, masks = make_category(7, SHAPES["stack-16x16"])
    stacked_maps, stacked_masks = np.stack(maps).astype(np.float64), np.stack(masks).astype(np.uint8)
    assert pixel_auroc(stacked_maps, stacked_masks) == pixel_auroc(maps, masks)
    assert aupro(stacked_maps, stacked_masks) == aupro(maps, masks)


def test_large_category_grows_buffers_and_matches_sklearn():
    rng = np.random.default_rng(11)
    maps = [rng.random((150, 160)).astype(np.float32) for _ in range(4)]
    masks = [np.zeros((150, 160), dtype=bool) for _ in range(4)]
    for index, mask in enumerate(masks[1:]):
        mask[20 + 10 * index : 60, 30:90] = True
        maps[index + 1][mask] += 0.3
    scores, truth = flatten(maps, masks)
    assert pixel_auroc(maps, masks) == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    assert pixel_ap(maps, masks) == pytest.approx(average_precision_score(truth, scores), abs=1e-12)


def test_growing_array_keeps_outside_views_valid():
    grower = metrics._GrowingArray(np.float32)
    first = np.arange(10, dtype=np.float32)
    grower.append(first)
    held = grower.view()  # a live view forces the copy path instead of an in-place resize
    more = np.arange(200_000, dtype=np.float32)
    grower.append(more)
    np.testing.assert_array_equal(held, first)
    np.testing.assert_array_equal(grower.view(), np.concatenate([first, more]))


def test_metrics_are_in_unit_interval_and_deterministic():
    maps, masks = make_continuous_category(4, SHAPES["stack-9x11"])
    first = PixelScores()
    second = PixelScores()
    for anomaly_map, mask in zip(maps, masks):
        first.add(anomaly_map, mask)
        second.add(anomaly_map, mask)
    values = first.all()
    assert values == second.all()
    assert all(0.0 <= v <= 1.0 for v in values.values())


# ------------------------------------------------------------------------------ image metrics


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("continuous", [False, True])
def test_image_metrics_match_brute_force_and_sklearn(seed, continuous):
    rng = np.random.default_rng(seed)
    labels = rng.random(60) < 0.6
    if continuous:
        scores = rng.random(60) + 0.3 * labels
    else:
        scores = rng.integers(0, 5, size=60) / 4 + 0.25 * labels * rng.integers(0, 2, size=60)
    assert image_auroc(scores, labels) == pytest.approx(brute_roc_auc(scores, labels), abs=1e-12)
    assert image_auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert image_ap(scores, labels) == pytest.approx(brute_ap(scores, labels), abs=1e-12)
    assert image_ap(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    assert image_f1_max(scores, labels) == pytest.approx(brute_f1_max(scores, labels), abs=1e-12)
    precision, recall, _ = precision_recall_curve(labels, scores)
    assert image_aupr_trapezoid(scores, labels) == pytest.approx(
        brute_aupr_trapezoid(scores, labels), abs=1e-12
    )
    assert image_aupr_trapezoid(scores, labels) == pytest.approx(auc(recall, precision), abs=1e-12)


def test_image_aupr_trapezoid_differs_from_step_ap_when_precision_varies():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 0, 0, 1])
    assert image_aupr_trapezoid(scores, labels) != pytest.approx(image_ap(scores, labels))


# ------------------------------------------------------------------------------ edge cases

PIXEL_FUNCTIONS = [pixel_auroc, pixel_ap, pixel_f1_max, aupro, aupro_cflow]
IMAGE_FUNCTIONS = [image_auroc, image_ap, image_f1_max, image_aupr_trapezoid]


@pytest.mark.parametrize("function", PIXEL_FUNCTIONS)
def test_no_anomalous_pixel_gives_nan_and_warning(function):
    maps = [np.random.default_rng(i).random((5, 5)) for i in range(3)]
    masks = [np.zeros((5, 5), bool)] * 3
    with pytest.warns(UndefinedMetricWarning, match="none of the 3 masks has an anomalous pixel"):
        assert math.isnan(function(maps, masks))


@pytest.mark.parametrize("function", PIXEL_FUNCTIONS)
def test_no_normal_pixel_gives_nan_and_warning(function):
    maps = [np.random.default_rng(i).random((5, 5)) for i in range(2)]
    masks = [np.ones((5, 5), bool)] * 2
    with pytest.warns(UndefinedMetricWarning, match="every pixel of the 2 masks is anomalous"):
        assert math.isnan(function(maps, masks))


@pytest.mark.parametrize("function", PIXEL_FUNCTIONS)
def test_constant_maps_give_nan_and_warning(function):
    maps = [np.full((4, 4), 0.5)] * 2
    masks = [np.eye(4, dtype=bool)] * 2
    with pytest.warns(UndefinedMetricWarning, match="a constant map cannot rank pixels"):
        assert math.isnan(function(maps, masks))


def test_empty_pixel_scores_warn():
    with pytest.warns(UndefinedMetricWarning, match="no image was added"):
        assert math.isnan(PixelScores().pixel_auroc())


def test_cflow_with_no_kept_threshold_gives_nan():
    # Every normal pixel sits at the maximum, so FPR = 1 at all 200 thresholds.
    maps = [np.array([[1.0, 1.0], [0.2, 0.6]])]
    masks = [np.array([[0, 0], [1, 1]])]
    with pytest.warns(UndefinedMetricWarning, match="only 0 of the 200 thresholds"):
        assert math.isnan(aupro_cflow(maps, masks))


def test_cflow_with_constant_kept_fpr_gives_nan():
    # Every normal pixel sits at the minimum: FPR = 0 at all thresholds, rescaling divides by 0.
    maps = [np.array([[0.0, 0.0], [0.2, 0.6]])]
    masks = [np.array([[0, 0], [1, 1]])]
    with pytest.warns(UndefinedMetricWarning, match="same FPR"):
        assert math.isnan(aupro_cflow(maps, masks))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_map_raises_naming_the_image(bad):
    maps = [np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3))]
    maps[2][1, 1] = bad
    masks = [np.eye(3, dtype=bool)] * 3
    with pytest.raises(ValueError, match="Image 2: the map contains NaN or inf"):
        pixel_auroc(maps, masks)


def test_shape_mismatch_raises_naming_index_and_shapes():
    maps = [np.zeros((4, 4)), np.zeros((4, 5))]
    masks = [np.zeros((4, 4), bool), np.zeros((5, 4), bool)]
    with pytest.raises(MetricInputError, match=r"Image 1: map shape \(4, 5\) does not match "
                                               r"mask shape \(5, 4\)"):
        aupro(maps, masks)


def test_count_mismatch_and_bad_arrays_raise():
    with pytest.raises(MetricInputError, match="Image 2 has no mask"):
        pixel_ap([np.zeros((2, 2))] * 3, [np.zeros((2, 2), bool)] * 2)
    with pytest.raises(MetricInputError, match="Image 1 has no map"):
        pixel_ap([np.zeros((2, 2))], [np.zeros((2, 2), bool)] * 2)
    with pytest.raises(MetricInputError, match=r"maps\[None\]"):
        pixel_auroc(np.zeros((4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(MetricInputError, match="2-D"):
        pixel_auroc([np.zeros((1, 4, 4))], [np.zeros((1, 4, 4))])
    with pytest.raises(MetricInputError, match=r"Image 0: the mask has values other than 0/1"):
        pixel_auroc([np.zeros((2, 2))], [np.array([[0, 255], [0, 0]])])
    with pytest.raises(MetricInputError, match="fpr_limit"):
        aupro([np.eye(2)], [np.eye(2)], fpr_limit=0.0)


def test_failed_add_leaves_accumulator_unchanged():
    accumulated = PixelScores()
    accumulated.add(np.eye(3), np.eye(3, dtype=bool))
    with pytest.raises(MetricInputError, match="Image 1"):
        accumulated.add(np.full((3, 3), np.nan), np.eye(3, dtype=bool))
    assert (accumulated.n_images, accumulated.n_normal, accumulated.n_anomalous) == (1, 6, 3)


@pytest.mark.parametrize("function", IMAGE_FUNCTIONS)
def test_image_metric_edge_cases(function):
    scores = np.array([0.1, 0.4, 0.3])
    with pytest.warns(UndefinedMetricWarning, match="none of the 3 images is anomalous"):
        assert math.isnan(function(scores, [0, 0, 0]))
    with pytest.warns(UndefinedMetricWarning, match="all 3 images are anomalous"):
        assert math.isnan(function(scores, [1, 1, 1]))
    with pytest.warns(UndefinedMetricWarning, match="a constant score cannot rank images"):
        assert math.isnan(function([0.2, 0.2, 0.2], [0, 1, 0]))
    with pytest.raises(ValueError, match="The score of image 1 is nan"):
        function([0.1, np.nan, 0.3], [0, 1, 0])
    with pytest.raises(MetricInputError, match="The label of image 2 is 2"):
        function(scores, [0, 1, 2])
    with pytest.raises(MetricInputError, match="equal length"):
        function(scores, [0, 1])


# ------------------------------------------------------------------------------ ignored pixels
#
# The reference for ignore masks deletes the ignored pixels: the rank metrics run on the kept
# pixels only, the AUPRO regions are those of mask & ~ignore and its normals the kept normal
# pixels.  A second check needs no reference at all: ignoring whole edge columns must give
# exactly the metrics of the maps with those columns cut off.


def make_ignores(seed: int, shapes, fraction: float = 0.15):
    """Random ignore masks that hit anomalous and normal pixels alike; one image ignores nothing."""
    rng = np.random.default_rng(1000 + seed)
    ignores = [rng.random(shape) < fraction for shape in shapes]
    ignores[-1] = None
    return ignores


def kept_pixels(maps, masks, ignores):
    """Flat scores and truth of the pixels that are not ignored."""
    keep = [np.ones(m.shape, bool) if skip is None else ~skip for m, skip in zip(maps, ignores)]
    scores = np.concatenate([np.asarray(m, dtype=np.float32)[k] for m, k in zip(maps, keep)])
    truth = np.concatenate([np.asarray(t, dtype=bool)[k] for t, k in zip(masks, keep)])
    return scores, truth


def brute_aupro_deleting(maps, masks, ignores, fpr_limit=0.3):
    """``brute_aupro`` with the ignored pixels deleted from the regions, the normals and the thresholds."""
    keep = [np.ones(m.shape, bool) if skip is None else ~skip for m, skip in zip(maps, ignores)]
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    regions = regions_of([np.asarray(t, bool) & k for t, k in zip(masks, keep)])
    normal = np.concatenate([m[~np.asarray(t, bool) & k] for m, t, k in zip(maps, masks, keep)])
    kept = np.concatenate([m[k] for m, k in zip(maps, keep)])
    xs, ys = [0.0], [0.0]
    for t in thresholds_descending(kept):
        overlaps = [np.mean(maps[i][coords[:, 0], coords[:, 1]] >= t) for i, coords in regions]
        xs.append(np.sum(normal >= t) / normal.size)
        ys.append(float(np.mean(overlaps)))
    return clipped_area(xs, ys, fpr_limit) / fpr_limit


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_ignored_pixels_are_deleted_from_the_rank_metrics(seed, shapes):
    maps, masks = make_category(seed, shapes)
    ignores = make_ignores(seed, shapes)
    scores, truth = kept_pixels(maps, masks, ignores)
    assert pixel_auroc(maps, masks, ignore=ignores) == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    assert pixel_auroc(maps, masks, ignore=ignores) == pytest.approx(brute_roc_auc(scores, truth), abs=1e-12)
    assert pixel_ap(maps, masks, ignore=ignores) == pytest.approx(average_precision_score(truth, scores), abs=1e-12)
    assert pixel_f1_max(maps, masks, ignore=ignores) == pytest.approx(brute_f1_max(scores, truth), abs=1e-12)
    assert pixel_auroc(maps, masks, ignore=ignores) != pytest.approx(pixel_auroc(maps, masks), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_aupro_with_ignore_matches_brute_force_on_the_kept_regions(seed, shapes):
    maps, masks = make_category(seed, shapes)
    ignores = make_ignores(seed, shapes)
    for limit in (0.3, 1.0):
        assert aupro(maps, masks, limit, ignore=ignores) == pytest.approx(
            brute_aupro_deleting(maps, masks, ignores, limit), abs=1e-10
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_ignoring_edge_columns_equals_cutting_them_off(seed):
    maps, masks = make_continuous_category(seed, [(8, 9), (6, 11), (10, 7)])
    ignores = []
    for index, (anomaly_map, mask) in enumerate(zip(maps, masks)):
        anomaly_map[:, -2:] = 10.0 if index else -5.0  # extremes: they would move the cflow min/max
        mask[:, -2:] = index % 2 == 0  # anomalous columns that would join regions, normal ones elsewhere
        skip = np.zeros(mask.shape, bool)
        skip[:, -2:] = True
        ignores.append(skip)
    cut_maps, cut_masks = [m[:, :-2] for m in maps], [k[:, :-2] for k in masks]
    with_ignore = PixelScores()
    for anomaly_map, mask, skip in zip(maps, masks, ignores):
        with_ignore.add(anomaly_map, mask, ignore=skip.astype(np.uint8))
    cut = PixelScores()
    for anomaly_map, mask in zip(cut_maps, cut_masks):
        cut.add(anomaly_map, mask)
    assert with_ignore.all(steps=50) == cut.all(steps=50)
    assert (with_ignore.n_normal, with_ignore.n_anomalous, with_ignore.n_regions) == (
        cut.n_normal, cut.n_anomalous, cut.n_regions
    )
    assert aupro_cflow(maps, masks, steps=50, ignore=ignores) == cut.aupro_cflow(steps=50)
    assert abs(pixel_auroc(maps, masks) - cut.pixel_auroc()) > 0.01  # the cut-off columns do matter


def test_an_ignored_line_splits_a_region_in_two():
    mask = np.zeros((5, 7), bool)
    mask[1:4, 1:6] = True
    skip = np.zeros_like(mask)
    skip[:, 3] = True
    scores = PixelScores()
    scores.add(mask.astype(np.float32), mask, ignore=skip)
    assert (scores.n_regions, scores.n_anomalous, scores.n_normal) == (2, 12, 35 - 15 - 5 + 3)


def test_ignoring_every_anomalous_pixel_leaves_the_metrics_undefined():
    maps, masks = make_category(3, SHAPES["stack-9x11"])
    ignores = [np.asarray(mask, bool) for mask in masks]
    with pytest.warns(UndefinedMetricWarning, match="none of the 6 masks has an anomalous pixel"):
        assert math.isnan(pixel_auroc(maps, masks, ignore=ignores))


def test_bad_ignore_masks_raise_naming_the_image():
    accumulated = PixelScores()
    accumulated.add(np.eye(3), np.eye(3, dtype=bool), ignore=np.zeros((3, 3), bool))
    with pytest.raises(MetricInputError, match=r"Image 1: ignore mask shape \(3, 4\)"):
        accumulated.add(np.eye(3), np.eye(3, dtype=bool), ignore=np.zeros((3, 4), bool))
    with pytest.raises(MetricInputError, match="Image 1: the ignore mask has values other than 0/1"):
        accumulated.add(np.eye(3), np.eye(3, dtype=bool), ignore=np.full((3, 3), 255))
    assert (accumulated.n_images, accumulated.n_normal, accumulated.n_anomalous) == (1, 6, 3)
    with pytest.raises(MetricInputError, match="Image 1 has no ignore entry"):
        pixel_auroc([np.eye(2)] * 2, [np.eye(2, dtype=bool)] * 2, ignore=[None])


def test_all_walks_the_precision_recall_curve_once(monkeypatch):
    from anoclip import metrics as module

    maps, masks = make_category(4, SHAPES["mixed-sizes"])
    scores = PixelScores()
    for anomaly_map, mask in zip(maps, masks):
        scores.add(anomaly_map, mask)
    walks = []
    real = module._precision_recall_sorted
    monkeypatch.setattr(module, "_precision_recall_sorted", lambda neg, pos: walks.append(1) or real(neg, pos))
    values = scores.all()
    assert len(walks) == 1
    assert (values["pixel_ap"], values["pixel_f1_max"]) == (pixel_ap(maps, masks), pixel_f1_max(maps, masks))


def test_score_bins_are_monotone_fine_and_count_every_pixel():
    rng = np.random.default_rng(5)
    scores = np.sort(np.concatenate([rng.normal(0, 3, 2000), [0.0, -0.0, 0.5, 0.5 + 1e-5, 1.0]]))
    bins = metrics.score_bins(scores)
    assert np.all(np.diff(bins) >= 0)  # sorted scores, sorted bins: negative ones included
    assert metrics.score_bins(np.array([0.5]))[0] != metrics.score_bins(np.array([0.5 + 1e-5]))[0]  # 2^-16 wide near 0.5
    assert metrics.score_bins(np.array([0.5]))[0] == metrics.score_bins(np.array([0.5 + 5e-6]))[0]
    anomaly_map, mask = rng.random((12, 10)), rng.random((12, 10)) < 0.2
    ignore = np.zeros_like(mask)
    ignore[0] = True
    values, normal, anomalous = metrics.image_histogram(anomaly_map, mask, ignore)
    assert np.all(np.diff(values) > 0)
    assert normal.sum() == (~mask[1:]).sum() and anomalous.sum() == mask[1:].sum()
    expected = metrics.score_bins(anomaly_map[1:][mask[1:]])
    assert np.array_equal(np.repeat(values, anomalous), np.sort(expected))
