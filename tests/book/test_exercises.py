"""The public assignment checks accept correct solutions and name the typical mistakes.

Every "student" function here is written independently, the way a student would: a correct
solution, then the same solution with one typical mistake. A check must give the correct one
full marks and fail the buggy one with the message for *that* mistake. The checks compare with
stored summaries (``book/anoclip_book/exercises/expected.json``); these tests recompute that file from
the reference implementations (``book/assignments/reference``, which are not in the package) and
check the references against the package's own implementations.
"""
import copy
import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from anoclip_book import exercises as ex
from anoclip import metrics, prompts, tta
from anoclip_book.exercises import results

ASSIGNMENTS = Path(__file__).resolve().parents[2] / "book" / "assignments"
sys.path.insert(0, str(ASSIGNMENTS))
from reference import aupro as ref_aupro  # noqa: E402
from reference import prompt_ensemble as ref_prompts  # noqa: E402
from reference import tta_loss as ref_tta  # noqa: E402
from reference import vv_attention as ref_vv  # noqa: E402


def failed_messages(result):
    return " ".join(check.message for check in result.failed)


def assert_full_marks(result):
    assert result.implemented and result.passed, result.summary()
    assert result.score == 1.0 and result.points == result.max_points


def assert_mistake(result, fragment):
    assert not result.passed and result.score < 1.0
    assert fragment in failed_messages(result), result.summary()


# ------------------------------------------------------------------------------------ results


def test_not_implemented_stub_scores_zero_without_raising():
    def stub(*args, **kwargs):
        raise NotImplementedError("write me")

    for checker, solution in ((ex.check_vv_attention, ref_vv.vv_attention),
                              (ex.check_prompt_ensemble, ref_prompts.reference_prototypes),
                              (ex.check_aupro, metrics.aupro),
                              (ex.check_tta_loss, ref_tta.reference_loss)):
        result = checker(stub)
        assert not result.implemented and result.score == 0.0 and not result.passed
        assert "not implemented yet" in result.summary()
        assert "not implemented yet" in result._repr_html_()
        # the same points are at stake whether or not the function is implemented
        assert result.max_points == checker(solution).max_points


def test_a_crashing_function_is_reported_with_its_error_not_raised():
    def crashes(maps, masks, fpr_limit=0.3):
        return maps.undefined_attribute

    result = ex.check_aupro(crashes)
    assert result.implemented and result.score == 0.0
    assert "raised AttributeError" in failed_messages(result)
    assert "maps.undefined_attribute" in failed_messages(result)  # the student's own line


def test_result_round_trips_through_a_dict_and_renders():
    result = ex.check_aupro(metrics.aupro)
    again = ex.CheckResult.from_dict(result.to_dict())
    assert again.to_dict() == result.to_dict()
    assert "✓" in result.summary() and "100 %" in result.summary()
    assert "a3" in result._repr_html_()


def load_fingerprints():
    spec = importlib.util.spec_from_file_location("fingerprints", ASSIGNMENTS / "reference" / "fingerprints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stored_summaries_are_what_the_references_give_today():
    """expected.json is derived data: recomputing it from the references must reproduce it.

    Compared the way the checkers compare (:func:`results.same`: float32 rounding differs between
    CPUs, e.g. with AVX-512, in the last bits), at a tolerance ten times tighter than theirs."""
    stored = {key: results.expected(key) for key in ("a1", "a2", "a3", "a4")}
    fresh = load_fingerprints().compute()
    for key in stored:
        for case, values in fresh[key].items():
            assert set(values["mistakes"]) == set(stored[key][case]["mistakes"]), (key, case)
            for name in ("expected", *values["mistakes"]):
                want = values["expected"] if name == "expected" else values["mistakes"][name]
                got = stored[key][case]["expected"] if name == "expected" else stored[key][case]["mistakes"][name]
                assert results.same(np.asarray(want, dtype=np.float64), got, rtol=1e-6), (key, case, name)
        if key == "a2":
            assert all(stored[key][c]["sentences"] == fresh[key][c]["sentences"] for c in fresh[key])


def test_every_mistake_has_a_message_and_changes_the_output():
    """A stored mistake the checker cannot name, or one equal to the answer, would be dead weight."""
    messages = {
        "a1": ex.vv_attention.mistake_messages(32, 4), "a2": ex.prompt_ensemble.MISTAKES,
        "a3": ex.aupro.mistake_messages(0.3), "a4": {**ex.tta_loss.LOSS_MISTAKES, **ex.tta_loss.SMOOTH_MISTAKES},
    }
    for key, known in messages.items():
        for case, values in results.expected(key).items():
            for name, value in values["mistakes"].items():
                assert name in known, (key, case, name)
                if key == "a3":  # the checks' own tolerances
                    assert abs(value - values["expected"]) > ex.aupro.ATOL, (key, case, name)
                else:
                    rtol = {"a1": ex.vv_attention.RTOL, "a2": ex.prompt_ensemble.RTOL, "a4": ex.tta_loss.RTOL}[key]
                    assert not results.same(np.asarray(value), values["expected"], rtol), (key, case, name)


def test_the_package_ships_no_reference_solution():
    """The checkers compare with stored summaries; the implementations live outside the package."""
    source = "\n".join(inspect.getsource(module) for module in (ex.vv_attention, ex.prompt_ensemble, ex.aupro, ex.tta_loss, results))
    for name in ("vv_variant", "pro_curve", "exact_aupro", "smoothness(", "per_image_loss", "build_sentences", "prompts.ensemble", "import ensemble",
                 "from ..encoder", "from ..tta", "import ndimage", "reference_prototypes"):
        assert name not in source, name
    shipped = Path(ex.__file__).parent
    assert sorted(p.name for p in shipped.iterdir() if p.suffix in (".py", ".json")) == [
        "__init__.py", "aupro.py", "expected.json", "prompt_ensemble.py", "results.py", "tta_loss.py", "vv_attention.py"]


# ------------------------------------------------------------------------------- a1 V-V attention


def student_vv(block, x, *, scale=True, ln=True, out_proj=True, head_order=True, values=True):
    """V-V attention as a student would write it, one head at a time, with optional mistakes."""
    width = x.shape[-1]
    heads = block.attn.num_heads
    d = width // heads
    h = block.ln_1(x) if ln else x
    w, b = block.attn.in_proj_weight, block.attn.in_proj_bias
    rows = slice(2 * width, 3 * width) if values else slice(0, width)
    v = h @ w[rows].T + b[rows]
    outs = []
    for head in range(heads):
        vh = v[..., head * d:(head + 1) * d]
        logits = vh @ vh.transpose(-1, -2)
        if scale:
            logits = logits / d ** 0.5
        outs.append(torch.softmax(logits, dim=-1) @ vh)
    if head_order:
        merged = torch.cat(outs, dim=-1)
    else:  # stacks heads first and reshapes without moving the axis back
        merged = torch.stack(outs, dim=1).reshape(x.shape)
    if out_proj:
        merged = merged @ block.attn.out_proj.weight.T + block.attn.out_proj.bias
    return merged


def test_vv_checker_accepts_reference_and_independent_solution():
    assert_full_marks(ex.check_vv_attention(ref_vv.vv_attention))
    assert_full_marks(ex.check_vv_attention(student_vv))


def test_vv_reference_is_the_package_encoder_on_other_blocks():
    from anoclip.encoder import attend, attention_weights, out_project, qkv

    for width, heads, seed in ((48, 6, 5), (16, 1, 6)):
        block = ex.vv_attention.random_block(width, heads, seed)
        x = ex.vv_attention.random_tokens(3, 7, width, seed + 1)
        with torch.no_grad():
            _, _, v = qkv(block, block.ln_1(x))
            package = out_project(block, attend(v, v, v, attention_weights(v, v)))
            assert torch.allclose(ref_vv.vv_attention(block, x), package, atol=1e-5)


@pytest.mark.parametrize("mistake, fragment", [
    (dict(scale=False), "forgot the 1/√d scale"),
    (dict(ln=False), "ln_1"),
    (dict(out_proj=False), "forgot the output projection"),
    (dict(head_order=False), "without moving the head axis back"),
    (dict(values=False), "used the queries"),
])
def test_vv_checker_names_the_mistake(mistake, fragment):
    assert_mistake(ex.check_vv_attention(lambda block, x: student_vv(block, x, **mistake)), fragment)


def test_vv_checker_catches_wrong_shape_hardcoded_heads_and_in_place_edits():
    def per_head(block, x):
        width, heads = x.shape[-1], block.attn.num_heads
        v = (block.ln_1(x) @ block.attn.in_proj_weight[2 * width:].T).reshape(x.shape[0], x.shape[1], heads, -1)
        return v.transpose(1, 2)

    assert_mistake(ex.check_vv_attention(per_head), "one output per head")

    def head_width_eight(block, x):
        block = copy.deepcopy(block)
        block.attn.num_heads = x.shape[-1] // 8
        return student_vv(block, x)

    result = ex.check_vv_attention(head_width_eight)
    assert_mistake(result, "hard-coded the head width 8")
    assert [check.passed for check in result.checks] == [True, True, True, False]

    def normalises_in_place(block, x):
        x -= x.mean(dim=-1, keepdim=True)
        return student_vv(block, x)

    assert_mistake(ex.check_vv_attention(normalises_in_place), "in place")

    def ordinary_attention(block, x):
        return block.attention(block.ln_1(x))  # open_clip's own attention call (3.x and 4.x)

    assert_mistake(ex.check_vv_attention(ordinary_attention), "ordinary attention")


def test_reference_guard_flags_the_package_encoder():
    def uses_package(block, x):
        from anoclip.encoder import attend, out_project, qkv

        _, _, v = qkv(block, block.ln_1(x))
        return out_project(block, attend(v, v, v))

    assert_full_marks(ex.check_vv_attention(uses_package))  # the public check does not judge where the code came from
    guard = ("anoclip.encoder", ("qkv", "attend", "attention_weights", "out_project", "encode"), ("anoclip.encoder", "encoder.qkv"))
    assert ex.reference_used(uses_package, *guard) == "anoclip.encoder"
    assert ex.reference_used(student_vv, *guard) is None


# ------------------------------------------------------------------------------ a2 prompt ensemble


def student_sentences(class_name, texture, article_rule=True, domains=None):
    domains = domains or (prompts.TEXTURE_DOMAINS if texture else prompts.OBJECT_DOMAINS)
    out = {"normal": [], "abnormal": []}
    for domain in domains:
        article = "an" if (domain.startswith("industrial") and article_rule) else "a"
        for stem in prompts.TEMPLATE_STEMS:
            template = stem.replace("{A}", article).replace("{D}", domain)
            for key, states in (("normal", prompts.NORMAL_STATES), ("abnormal", prompts.ABNORMAL_STATES)):
                out[key] += [template.format(state.format(class_name)) for state in states]
    return out["normal"], out["abnormal"]


def student_prototypes(embed, class_name, texture, *, order="mean-first", swap=False, article_rule=True, ignore_texture=False):
    normal, abnormal = student_sentences(class_name, False if ignore_texture else texture, article_rule)
    rows = []
    for sentences in (normal, abnormal):
        raw = embed(sentences)
        if order == "mean-first":
            rows.append(raw.mean(0) / raw.mean(0).norm())
        else:
            unit = raw / raw.norm(dim=-1, keepdim=True)
            rows.append(unit.mean(0) / unit.mean(0).norm())
    return torch.stack(rows[::-1] if swap else rows)


def test_prompt_checker_accepts_reference_and_independent_solution():
    assert_full_marks(ex.check_prompt_ensemble(ref_prompts.reference_prototypes))
    assert_full_marks(ex.check_prompt_ensemble(student_prototypes))


def test_prompt_reference_gives_the_package_prototypes(tiny):
    def embed(sentences):
        with torch.no_grad():
            return prompts.encode_sentences(tiny.clip, tiny.tokenizer, sentences)

    assert torch.allclose(ref_prompts.reference_prototypes(embed, "bottle", False), tiny.text_prototypes("bottle").float(), atol=1e-5)


@pytest.mark.parametrize("mistake, fragment", [
    (dict(order="normalise-first"), "normalised in the wrong order"),
    (dict(swap=True), "rows are swapped"),
    (dict(article_rule=False), "Use 'an' before a domain starting with 'industrial'"),
    (dict(ignore_texture=True), "is a texture (texture=True), but you used the domain(s)"),
])
def test_prompt_checker_names_the_mistake(mistake, fragment):
    assert_mistake(ex.check_prompt_ensemble(lambda e, c, t: student_prototypes(e, c, t, **mistake)), fragment)


def test_prompt_checker_catches_missing_normalisation_and_duplicates():
    def unnormalised(embed, class_name, texture):
        normal, abnormal = student_sentences(class_name, texture)
        return torch.stack([embed(normal).mean(0), embed(abnormal).mean(0)])

    assert_mistake(ex.check_prompt_ensemble(unnormalised), "The directions are right: normalise each prototype")

    def encodes_twice(embed, class_name, texture):
        normal, abnormal = student_sentences(class_name, texture)
        embed(normal + abnormal)  # a stray extra call
        return student_prototypes(embed, class_name, texture)

    assert_mistake(ex.check_prompt_ensemble(encodes_twice), "encoded more than once")

    def forgets_one(embed, class_name, texture):
        normal, abnormal = student_sentences(class_name, texture)
        return torch.stack([F.normalize(embed(normal[1:]).mean(0), dim=0), F.normalize(embed(abnormal).mean(0), dim=0)])

    assert_mistake(ex.check_prompt_ensemble(forgets_one), "1 expected sentence(s) are missing")


def test_fake_text_encoder_is_deterministic_and_records_calls():
    encoder = ex.FakeTextEncoder(dim=8)
    first = encoder(["a", "b"])
    assert first.shape == (2, 8)
    assert torch.equal(first, ex.FakeTextEncoder(dim=8)(["a", "b"]))
    assert encoder.sentences == ["a", "b"]
    assert not torch.allclose(first.norm(dim=-1), first.norm(dim=-1)[:1])  # norms differ


# ------------------------------------------------------------------------------------ a3 AUPRO


def student_aupro(maps, masks, fpr_limit=0.3, *, divide=True, interpolate=True, connectivity=8, per_region=True):
    """A readable AUPRO: group pixels by distinct score, walk thresholds from the top."""
    structure = np.ones((3, 3)) if connectivity == 8 else None
    weights, normal = [], []
    regions = []
    for mask in masks:
        labels, count = ndimage.label(mask, structure=structure)
        regions.append((labels, count))
    total_regions = sum(count for _, count in regions)
    for (labels, count), mask in zip(regions, masks):
        sizes = np.bincount(labels.ravel())
        if per_region:
            w = np.where(labels > 0, 1.0 / (total_regions * sizes[labels]), 0.0)
        else:
            w = mask.astype(float) / sum(m.sum() for m in masks)
        weights.append(w.ravel())
        normal.append(~mask.ravel())
    scores = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
    weights, normal = np.concatenate(weights), np.concatenate(normal)
    values, inverse = np.unique(-scores, return_inverse=True)  # descending scores
    fpr = np.concatenate([[0], np.cumsum(np.bincount(inverse, normal)) / normal.sum()])
    pro = np.concatenate([[0], np.cumsum(np.bincount(inverse, weights))])
    keep = fpr <= fpr_limit
    x, y = list(fpr[keep]), list(pro[keep])
    if interpolate and keep.sum() < fpr.size and x[-1] < fpr_limit:
        i = keep.sum()
        y.append(pro[i - 1] + (pro[i] - pro[i - 1]) * (fpr_limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1]))
        x.append(fpr_limit)
    area = np.trapezoid(y, x) if hasattr(np, "trapezoid") else np.trapz(y, x)
    return area / fpr_limit if divide else area


def test_aupro_checker_accepts_reference_and_independent_solution():
    assert_full_marks(ex.check_aupro(metrics.aupro))
    assert_full_marks(ex.check_aupro(student_aupro))


@pytest.mark.parametrize("mistake, fragment", [
    (dict(divide=False), "forgot to divide the area by fpr_limit"),
    (dict(interpolate=False), "off by the interpolation at FPR 0.3"),
    (dict(connectivity=4), "4-connectivity"),
    (dict(per_region=False), "averaged over pixels, not regions"),
])
def test_aupro_checker_names_the_mistake(mistake, fragment):
    assert_mistake(ex.check_aupro(lambda maps, masks, fpr_limit=0.3: student_aupro(maps, masks, fpr_limit, **mistake)), fragment)


def test_aupro_checker_recognises_cflow_ignored_limit_and_untied_sorting():
    assert_mistake(ex.check_aupro(metrics.aupro_cflow), "'cflow' AUPRO")
    assert_mistake(ex.check_aupro(lambda maps, masks, fpr_limit=0.3: student_aupro(maps, masks)), "ignores fpr_limit")

    def ignores_ties(maps, masks, fpr_limit=0.3):
        # every pixel its own threshold, anomalous pixels first among equal scores
        jitter = np.stack([m.astype(np.float64) * 1e-9 for m in masks])
        return student_aupro(maps.astype(np.float64) + jitter, masks, fpr_limit)

    result = ex.check_aupro(ignores_ties)
    assert_mistake(result, "DISTINCT thresholds")
    assert [check.passed for check in result.checks][:4] == [True, True, True, True]


def test_brute_force_reference_agrees_with_the_metrics_module_on_other_data():
    rng = np.random.default_rng(9)
    masks = rng.random((5, 12, 12)) > 0.85
    maps = (rng.random((5, 12, 12)) + masks * rng.random((5, 12, 12))).astype(np.float32)
    for limit in (0.05, 0.3, 1.0):
        assert ref_aupro.exact_aupro(maps, masks, limit) == pytest.approx(metrics.aupro(maps, masks, limit), abs=1e-9)


# --------------------------------------------------------------------------------- a4 TTA loss


def student_loss(clean, noisy, entropy_weight=1.0, contrast_weight=0.5, smooth_weight=0.0, grid=None, *,
                 swap=False, entropy_sign=1.0, patch_sum=False, clamp=True, horizontal_only=False, abs_diff=False):
    log = (lambda p: p.clamp_min(1e-12).log()) if clamp else torch.log
    reduce = (lambda t: t.sum(1)) if patch_sum else (lambda t: t.mean(1))
    entropy = reduce(-(clean * log(clean)).sum(-1))
    normal_index, abnormal_index = (1, 0) if swap else (0, 1)
    contrast = reduce(-log(clean[..., normal_index])) + reduce(-log(noisy[..., abnormal_index]))
    loss = entropy_sign * entropy_weight * entropy + contrast_weight * contrast
    if smooth_weight:
        a = clean[..., 1].reshape(clean.shape[0], *grid)
        pairs = [(a[:, :, 1:] - a[:, :, :-1]).flatten(1)]
        if not horizontal_only:
            pairs.append((a[:, 1:] - a[:, :-1]).flatten(1))
        diffs = torch.cat(pairs, 1)
        loss = loss + smooth_weight * (diffs.abs() if abs_diff else diffs ** 2).mean(1)
    return loss


def test_tta_loss_checker_accepts_reference_and_independent_solution():
    assert_full_marks(ex.check_tta_loss(ref_tta.reference_loss))
    assert_full_marks(ex.check_tta_loss(student_loss))


def test_tta_reference_is_the_package_loss_plus_the_new_term():
    clean, noisy, _, _ = ex.tta_loss.probabilities(4, 12, seed=7)
    config = tta.TTAConfig(entropy_weight=0.7, contrast_weight=1.3)
    assert torch.allclose(ref_tta.reference_loss(clean, noisy, 0.7, 1.3), tta.per_image_loss(clean, noisy, config))
    assert torch.allclose(ref_tta.reference_loss(clean, noisy, 0.7, 1.3, 0.4, (3, 4)), student_loss(clean, noisy, 0.7, 1.3, 0.4, (3, 4)))


@pytest.mark.parametrize("mistake, fragment", [
    (dict(swap=True), "swapped the pseudo-labels"),
    (dict(entropy_sign=-1.0), "entropy term has the wrong sign"),
    (dict(patch_sum=True), "summed over the patches"),
    (dict(clamp=False), "clamp before the log"),
    (dict(horizontal_only=True), "only compares horizontal neighbours"),
    (dict(abs_diff=True), "uses |Δp|"),
])
def test_tta_loss_checker_names_the_mistake(mistake, fragment):
    assert_mistake(ex.check_tta_loss(lambda *args: student_loss(*args, **mistake)), fragment)


def test_tta_loss_checker_catches_batch_mean_detached_loss_and_ignored_weights():
    assert_mistake(ex.check_tta_loss(lambda *args: student_loss(*args).mean()), "one loss per image")
    assert_mistake(ex.check_tta_loss(lambda *args: student_loss(*args).detach()), "not connected to its inputs")
    assert_mistake(ex.check_tta_loss(lambda c, n, ew, cw, sw, g: student_loss(c, n, 1.0, 0.5, sw, g)), "ignores entropy_weight")


def test_as_tta_loss_runs_the_package_tta_with_a_student_loss(tiny, images):
    config = tta.TTAConfig(steps=2)
    expected = tiny.predict(images, "bottle", tta=config)
    same = tiny.predict(images, "bottle", tta=config, tta_loss=ex.as_tta_loss(student_loss, 0.0, tiny.grid))
    assert torch.allclose(same.tta_losses, expected.tta_losses, atol=1e-6)
    assert torch.allclose(same.patch_scores, expected.patch_scores, atol=1e-6)
    calls = []
    spy = ex.as_tta_loss(lambda *args: calls.append(args[4:]) or student_loss(*args), 2.0, tiny.grid)
    smoother = tiny.predict(images, "bottle", tta=config, tta_loss=spy)
    assert calls == [(2.0, tiny.grid)] * 2
    assert not torch.allclose(smoother.tta_losses, expected.tta_losses)
    assert torch.equal(tiny.predict(images, "bottle", tta=config).tta_losses, expected.tta_losses)  # nothing left changed


# ------------------------------------------------------------------------------ reference guard


def test_reference_guard_sees_globals_closures_and_imports_inside_the_function():
    reference = metrics.aupro
    guard = ("anoclip.metrics", ("aupro", "aupro_cflow", "PixelScores"), ("anoclip.metrics", "metrics.aupro", "PixelScores"))

    def via_closure(maps, masks, fpr_limit=0.3):
        return reference(maps, masks, fpr_limit)

    def via_global(maps, masks, fpr_limit=0.3):
        return metrics.aupro(maps, masks, fpr_limit)

    def via_import(maps, masks, fpr_limit=0.3):
        from anoclip.metrics import aupro as imported

        return imported(maps, masks, fpr_limit)

    for fn in (metrics.aupro, via_closure, via_global, via_import):
        assert ex.reference_used(fn, *guard), fn
    assert ex.reference_used(student_aupro, *guard) is None
