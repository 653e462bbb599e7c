"""AnoCLIP end to end on the tiny model: preprocessing, predictions, configs, smoke mode."""
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from anoclip import AnoCLIP, AnoCLIPConfig, scoring
from anoclip.data.images import ImageReadError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's published normalisation
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def test_predict_shapes_and_ranges(tiny, images):
    prediction = tiny.predict(images, "bottle")
    assert prediction.anomaly_maps.shape == (3, 64, 64)
    assert prediction.patch_scores.shape == (3, 8, 8)
    assert prediction.image_scores.shape == (3,)
    for tensor in (prediction.anomaly_maps, prediction.patch_scores, prediction.image_scores):
        assert torch.isfinite(tensor).all() and tensor.min() >= 0 and tensor.max() <= 1
    assert prediction.tta_losses is None


def test_predict_recomputed_step_by_step(tiny, images):
    model = tiny.with_config(image_views=1)
    prediction = model.predict(images, "bottle")
    encoding = model.encode_image(images)
    prototypes = model.text_prototypes("bottle")
    unit = encoding.patches / encoding.patches.norm(dim=-1, keepdim=True)
    patch = torch.softmax(unit @ prototypes.T, dim=-1)[..., 1].reshape(3, 8, 8)
    assert torch.allclose(prediction.patch_scores, patch, atol=1e-6)
    assert torch.allclose(prediction.anomaly_maps, scoring.upsample(scoring.smooth_mean3(patch), (64, 64)), atol=1e-6)
    cls = encoding.cls / encoding.cls.norm(dim=-1, keepdim=True)
    assert torch.allclose(prediction.image_scores, torch.softmax(cls @ prototypes.T, -1)[:, 1], atol=1e-6)


def test_image_score_views_use_vanilla_clip_on_22_views(tiny, images):
    prototypes = tiny.text_prototypes("bottle")
    with torch.no_grad():
        views = scoring.augment_views(images, 22)
        cls = torch.stack([tiny.clip.encode_image(v) for v in views])
    expected = scoring.abnormal_probability(cls, prototypes).mean(0)
    assert torch.allclose(tiny.predict(images, "bottle").image_scores, expected, atol=1e-5)


def test_predictions_do_not_leak_between_images(tiny, images):
    together = tiny.predict(images, "bottle")
    alone = tiny.predict(images[1:2], "bottle")
    assert torch.allclose(together.anomaly_maps[1], alone.anomaly_maps[0], atol=1e-5)
    assert torch.allclose(together.image_scores[1], alone.image_scores[0], atol=1e-5)


def test_temperature_changes_values_not_patch_ranking(tiny, images):
    cold = tiny.with_config(temperature=0.01).predict(images, "bottle")
    warm = tiny.predict(images, "bottle")
    order_cold = cold.patch_scores.flatten(1).argsort(dim=1)
    order_warm = warm.patch_scores.flatten(1).argsort(dim=1)
    assert torch.equal(order_cold, order_warm)
    assert cold.patch_scores.std() > warm.patch_scores.std()


def test_preprocess_matches_manual_pipeline(tiny):
    array = (np.random.default_rng(0).random((40, 90, 3)) * 255).astype(np.uint8)
    resized = np.asarray(Image.fromarray(array).resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255
    expected = (torch.from_numpy(resized).permute(2, 0, 1) - torch.tensor(OPENAI_MEAN)[:, None, None]) / torch.tensor(OPENAI_STD)[:, None, None]
    got = tiny.preprocess(array)
    assert got.shape == (1, 3, 64, 64)
    assert torch.allclose(got[0], expected, atol=1e-6)


def test_preprocess_odd_image_modes(tiny, tmp_path):
    rng = np.random.default_rng(0)
    gray = (rng.random((30, 30)) * 255).astype(np.uint8)
    sixteen = (gray.astype(np.uint16) * 257)
    paths = {
        "gray": Image.fromarray(gray, "L"),
        "rgba": Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), "RGBA"),
        "palette": Image.fromarray(gray, "L").convert("P"),
        "sixteen": Image.fromarray(sixteen),
        "binary": Image.fromarray(gray > 128),
    }
    files = []
    for name, image in paths.items():
        files.append(tmp_path / f"{name}.png")
        image.save(files[-1])
    batch = tiny.preprocess(files)
    assert batch.shape == (5, 3, 64, 64) and torch.isfinite(batch).all()
    # Grayscale, opaque RGBA and 16-bit versions of the same picture preprocess identically.
    assert torch.allclose(batch[0], batch[1], atol=1e-6)
    assert torch.allclose(batch[0], batch[3], atol=1e-6)
    # Numpy inputs: uint16 and float arrays are scaled, not clipped.
    assert torch.allclose(tiny.preprocess(sixteen)[0], batch[0], atol=1e-6)
    assert torch.allclose(tiny.preprocess(gray.astype(np.float32) / 255)[0], batch[0], atol=1e-5)


def test_unreadable_and_missing_files_are_named(tiny, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="broken.png"):
        tiny.preprocess(broken)
    with pytest.raises(ImageReadError, match="missing.png"):
        tiny.preprocess(str(tmp_path / "missing.png"))


def test_wrong_tensor_shape_is_explained(tiny):
    with pytest.raises(ValueError, match="preprocess"):
        tiny.predict(torch.rand(1, 3, 32, 32), "bottle")


def test_config_switches_are_validated():
    with pytest.raises(ValueError, match="smoothing"):
        AnoCLIPConfig(smoothing="median")
    with pytest.raises(ValueError, match="image_views"):
        AnoCLIPConfig(image_views=4)
    with pytest.raises(TypeError, match="Unknown"):
        AnoCLIPConfig().replace(temprature=2)
    config = AnoCLIPConfig(texture_classes={"steel"})
    assert AnoCLIPConfig.from_dict(config.to_dict()) == config


def test_with_config_shares_clip_and_texture_switch(tiny, images):
    other = tiny.with_config(texture_classes={"bottle"})
    assert other.clip is tiny.clip
    assert not torch.allclose(other.text_prototypes("bottle"), tiny.text_prototypes("bottle"))


def test_open_clips_random_init_line_is_dropped_and_random_weights_still_warn(caplog, small_architecture):
    """load_clip builds every model empty before loading weights: open_clip's line would be false."""
    with caplog.at_level(logging.WARNING), pytest.warns(UserWarning, match="RANDOM weights"):
        AnoCLIP.from_pretrained(small_architecture, None, image_size=64, device="cpu")
    assert "No pretrained weights loaded" not in caplog.text
    logging.getLogger().warning("No pretrained weights loaded, said someone else")
    assert "said someone else" in caplog.text  # only the model build is filtered


def test_tta_false_is_unchanged_and_methods_are_checked(tiny, images):
    assert torch.equal(tiny.predict(images, "bottle").anomaly_maps, tiny.predict(images, "bottle", tta=False).anomaly_maps)
    with pytest.raises(ValueError, match="Unknown method"):
        tiny.predict(images, "bottle", method="nope")


@pytest.mark.parametrize("bad, says", [
    (lambda S: torch.zeros(2, 3, S, S, dtype=torch.uint8), "dtype torch.uint8"),
    (lambda S: torch.zeros(0, 3, S, S), "holds no image"),
    (lambda S: torch.zeros(2, 3, S + 1, S), "Expected preprocessed images of shape"),
    (lambda S: [torch.zeros(3, S, S), torch.zeros(3, S, S + 2)], "different shapes"),
    (lambda S: torch.zeros(3, 3, S, S).index_fill_(0, torch.tensor([2]), float("nan")), "Image(s) [2] of the batch"),
    (lambda S: [np.zeros((20, 30, 3)), np.full((20, 30, 3), np.nan)], "Image 1 of 2"),
])
def test_bad_image_inputs_are_one_clear_error(tiny, bad, says):
    with pytest.raises(ValueError) as err:
        tiny.predict(bad(tiny.image_size), "bottle")
    assert says in str(err.value)


def test_float64_and_a_list_of_tensors_are_accepted_as_the_same_images(tiny, images):
    reference = tiny.predict(images, "bottle").anomaly_maps
    assert torch.equal(tiny.predict(images.double(), "bottle").anomaly_maps, tiny.predict(images.double().float(), "bottle").anomaly_maps)
    assert torch.allclose(tiny.predict(list(images), "bottle").anomaly_maps, reference)


@pytest.mark.parametrize("name", [None, 5, b"bottle", "", "   "])
def test_a_class_name_must_be_a_word(tiny, images, name):
    with pytest.raises(ValueError, match="is not a class name"):
        tiny.predict(images, name)
