"""Chapters 2-3's whole-category ablations (anoclip_book.ablations)."""
import numpy as np
import pytest
import torch

from anoclip import metrics
from anoclip.data import Meta, load_sample, make_synthetic_dataset
from anoclip.methods import get_method
from anoclip.protocol import resize_mask
from anoclip_book import ablations


def test_one_pass_gives_every_start_blocks_tokens_as_the_per_start_encoder(tiny, images):
    blocks = len(tiny.clip.visual.transformer.resblocks)
    starts = list(range(blocks))
    found = ablations.start_block_tokens(tiny, images, starts)
    assert set(found) == {*starts, None}
    for start in starts:
        expected = tiny.encode_image(images, get_method("vv", start=start)).patches
        assert torch.allclose(found[start], expected, atol=1e-5), start
        assert not torch.equal(found[start], found[None])
    assert torch.allclose(found[None], tiny.encode_image(images, "clip-patch").patches, atol=1e-5)
    assert torch.allclose(found[0], tiny.encode_image(images).patches, atol=1e-5)  # start 0 is AnoCLIP
    some = ablations.start_block_tokens(tiny, images, [blocks - 1])
    assert torch.allclose(some[blocks - 1], found[blocks - 1], atol=1e-6)
    with pytest.raises(ValueError, match="outside this ViT's blocks"):
        ablations.start_block_tokens(tiny, images, [blocks])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "data", categories=("grid", "pill"),
                                  n_train=0, n_test_good=3, n_test_defect=2)


def test_a_sweep_scores_every_test_image_as_predict_does(tiny, dataset):
    model = tiny.with_config(image_views=1)
    found = ablations.sweep(
        model, dataset, ["grid", "pill"],
        tokens=lambda x: {start: tokens for start, tokens in ablations.start_block_tokens(model, x, [0]).items()},
        prototypes=lambda category: {family: model.with_config(prompts=family).text_prototypes(category)
                                     for family in ("anoclip", "plain")},
        batch_size=2,
    )
    assert set(found) == {(0, "anoclip"), (0, "plain"), (None, "anoclip"), (None, "plain")}
    meta = Meta.load(dataset)
    for index, category in enumerate(["grid", "pill"]):
        pairs = [load_sample(dataset, sample) for sample in meta.samples(category, "test")]
        x = model.preprocess([image for image, _ in pairs])
        masks = [resize_mask(mask, (model.image_size,) * 2) for _, mask in pairs]
        for (start, family), method in (((0, "plain"), "anoclip"), ((None, "anoclip"), "clip-patch")):
            maps = model.with_config(prompts=family).predict(x, category, method, image_scores=False).anomaly_maps.numpy()
            histograms = found[(start, family)][index]
            assert histograms.exact["auroc"] == pytest.approx(metrics.pixel_auroc(maps, masks), abs=1e-4)
            assert histograms.images == 5 and histograms.labels.sum() == 2
