"""Normal-image memories and transductive scoring: brute-force recomputations, protocols, files."""
import json
import math

import numpy as np
import pytest
import torch

from anoclip.bench import BenchSetting, ResultsMismatchError, draw_shots, mean_over_categories, run_benchmark
from anoclip.data import Meta, make_synthetic_dataset, render_synthetic
from anoclip.memory import MemoryBank, MemoryFileError


def brute_force_nearest(query, bank_images):
    """Every query patch against every patch of every bank image: (N, images) distances (1 - cos) / 2."""
    out = np.zeros((len(query), len(bank_images)))
    for p, patch in enumerate(query):
        for j, image in enumerate(bank_images):
            out[p, j] = min((1 - float(np.dot(patch, t) / np.linalg.norm(patch) / np.linalg.norm(t))) / 2 for t in image)
    return out


def random_tokens(generator, *shape):
    return torch.randn(*shape, generator=generator)


def test_the_memory_score_is_the_distance_to_the_nearest_normal_patch_by_brute_force():
    generator = torch.Generator().manual_seed(0)
    normal = torch.nn.functional.normalize(random_tokens(generator, 3, 6, 8), dim=-1)
    bank = MemoryBank(normal, digests=[1, 2, 3], kind="normal")
    query = random_tokens(generator, 2, 5, 8)  # not unit: the bank normalises queries itself
    got = bank.scores(query, digests=[7, 8])
    for image in range(2):
        nearest = brute_force_nearest(query[image].numpy(), normal.numpy())
        assert np.allclose(got[image].numpy(), nearest.min(axis=1), atol=1e-6)


def test_the_mutual_score_averages_the_closest_share_of_the_other_images_by_brute_force():
    generator = torch.Generator().manual_seed(1)
    tokens = torch.nn.functional.normalize(random_tokens(generator, 11, 4, 6), dim=-1)
    bank = MemoryBank(tokens, digests=list(range(11)), kind="unlabelled")
    got = bank.scores(tokens, digests=list(range(11)))  # every query is a bank image: leave it out
    closest = math.ceil(0.3 * 10)
    for image in range(11):
        others = [tokens[j].numpy() for j in range(11) if j != image]
        nearest = brute_force_nearest(tokens[image].numpy(), others)
        expected = np.sort(nearest, axis=1)[:, :closest].mean(axis=1)
        assert np.allclose(got[image].numpy(), expected, atol=1e-6), image


def test_an_image_is_never_compared_with_itself_and_a_lone_one_is_refused(tiny):
    images = [render_synthetic("bottle", "good", i, image_size=64)[2] for i in range(3)]
    bank = tiny.memory(images, "bottle")
    own = tiny.predict(images[:1], "bottle", memory=bank, fusion="memory").memory_scores
    assert float(own.min()) > 1e-4  # its own patches (distance 0) were left out
    alone = tiny.memory(images[:1], "bottle")
    with pytest.raises(ValueError, match="no image besides the one scored"):
        tiny.predict(images[:1], "bottle", memory=alone)


def test_a_memory_travels_with_its_setting_and_is_refused_for_another(tiny, tmp_path):
    images = [render_synthetic("pill", "good", i, image_size=64)[2] for i in range(2)]
    bank = tiny.memory(images, "pill", views=22)
    assert bank.tokens.shape[:2] == (2, 22 * tiny.grid[0] * tiny.grid[1])  # the 22 views of each image
    path = bank.save(tmp_path / "pill.memory")
    loaded = MemoryBank.load(path)
    assert torch.allclose(loaded.tokens.float(), bank.tokens, atol=2e-3) and loaded.setting == bank.setting
    assert list(loaded.digests) == list(bank.digests)
    with pytest.raises(MemoryFileError, match="class_name"):
        tiny.predict(images, "bottle", memory=loaded)
    with pytest.raises(MemoryFileError, match="method"):
        tiny.predict(images, "pill", "clip-patch", memory=loaded)
    (tmp_path / "junk.memory").write_bytes(b"nothing")
    with pytest.raises(MemoryFileError, match="junk.memory"):
        MemoryBank.load(tmp_path / "junk.memory")
    with pytest.raises(ValueError, match="no patch tokens"):
        tiny.memory(images, "pill", "winclip")


def test_fusion_is_the_mean_or_the_memory_alone(tiny):
    images = [render_synthetic("grid", kind, 0, image_size=64)[2] for kind in ("good", "defect")]
    bank = tiny.memory([render_synthetic("grid", "good", i, image_size=64)[2] for i in range(1, 4)], "grid")
    zero = tiny.predict(images, "grid")
    mean = tiny.predict(images, "grid", memory=bank)
    alone = tiny.predict(images, "grid", memory=bank, fusion="memory")
    assert torch.allclose(alone.patch_scores, alone.memory_scores)
    assert torch.allclose(mean.patch_scores, (zero.patch_scores + alone.memory_scores) / 2, atol=1e-6)
    assert torch.allclose(mean.image_scores, (zero.image_scores + alone.memory_scores.flatten(1).amax(1)) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="fusion"):
        tiny.predict(images, "grid", memory=bank, fusion="max")


@pytest.fixture(scope="module")
def sixteen(tmp_path_factory):
    """The synthetic set with 16 test images per category (8 normal, 8 with a planted defect)."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn16") / "data", n_test_good=8, n_test_defect=8)


def test_normal_images_and_the_unlabelled_test_set_each_buy_more_than_the_zero_shot_maps(tiny, sixteen, tmp_path):
    """Random weights, so a demonstration of the mechanism, not a result: on planted defects the
    memory alone finds what the random text side cannot."""
    def mean_pixel_auroc(name, **protocol):
        setting = BenchSetting.create("synthetic", **protocol)
        return mean_over_categories(run_benchmark(tiny, sixteen, tmp_path / name, setting, progress=False))["pixel_auroc"]

    zero_shot = mean_pixel_auroc("zero")
    few_shot = mean_pixel_auroc("shots", shots=4, fusion="memory")
    transductive = mean_pixel_auroc("transductive", transductive=True, fusion="memory")
    assert few_shot >= 0.80 and few_shot >= zero_shot + 0.15, (few_shot, zero_shot)
    assert transductive >= 0.75 and transductive >= zero_shot + 0.15, (transductive, zero_shot)


def test_shots_come_from_the_training_split_reproducibly_and_protocols_are_recorded_and_never_mixed(tiny, sixteen, tmp_path):
    meta = Meta.load(sixteen)
    test_paths = {s.img_path for c in meta.categories() for s in meta.samples(c, "test")}
    first = draw_shots(meta.samples("pill", "train"), 4, 7, "pill")
    assert first == draw_shots(meta.samples("pill", "train"), 4, 7, "pill")
    assert first != draw_shots(meta.samples("pill", "train"), 4, 8, "pill")
    assert not {s.img_path for s in first} & test_paths and all(not s.anomaly for s in first)
    with pytest.raises(ValueError, match="has 8 normal training image"):
        draw_shots(meta.samples("pill", "train"), 9, 0, "pill")

    out = tmp_path / "out"
    setting = BenchSetting.create("synthetic", shots=2, shot_seed=7)
    (result,) = run_benchmark(tiny, sixteen, out, setting, categories=["pill"], progress=False)
    assert result.shots == [s.img_path for s in draw_shots(meta.samples("pill", "train"), 2, 7, "pill")]
    config = json.loads((out / "config.json").read_text())
    assert (config["protocol"], config["shots"], config["fusion"]) == ("few-shot 2", 2, "mean")
    assert "(few-shot 2, fusion mean)" in (out / "results.md").read_text().splitlines()[0]
    assert {row.split(",")[-1] for row in (out / "results.csv").read_text().splitlines()[1:]} == {"few-shot 2"}
    with pytest.raises(ResultsMismatchError, match="protocol"):
        run_benchmark(tiny, sixteen, out, BenchSetting.create("synthetic", transductive=True), categories=["pill"], progress=False)
    with pytest.raises(ValueError, match="one protocol"):
        BenchSetting.create("synthetic", shots=2, transductive=True)
    with pytest.raises(ValueError, match="needs 99"):
        run_benchmark(tiny, sixteen, tmp_path / "o2", BenchSetting.create("synthetic", shots=99), progress=False)
    assert not (tmp_path / "o2" / "categories").exists()  # refused before any work


def test_copies_of_the_scored_image_in_the_bank_count_as_the_image_itself():
    generator = torch.Generator().manual_seed(2)
    tokens = torch.nn.functional.normalize(random_tokens(generator, 3, 4, 6), dim=-1)
    bank = MemoryBank(torch.stack([tokens[0], tokens[0], tokens[1]]), digests=[5, 5, 6], kind="normal")
    got = bank.scores(tokens[:1], digests=[5])
    expected = brute_force_nearest(tokens[0].numpy(), [tokens[1].numpy()]).min(axis=1)
    assert np.allclose(got[0].numpy(), expected, atol=1e-6)
