"""Test-time adaptation: independence, determinism, loss behaviour, CLIP untouched."""
import pytest
import torch

from anoclip import TTAConfig
from anoclip.data.registry import dataset_defaults
from anoclip.tta import adapt_tokens, num_trainable_parameters

SHARP = TTAConfig(steps=8, lr=1e-2)  # a steeper setting so effects are visible on the random model


@pytest.fixture
def cold(tiny):
    """Temperature 0.01 gives the random tiny model's loss a slope (at T=1 it is nearly flat)."""
    return tiny.with_config(temperature=0.01, image_views=1)


def test_loss_decreases_on_the_tiny_model(cold, images):
    prediction = cold.predict(images, "bottle", tta=TTAConfig(steps=10, lr=1e-3))
    losses = prediction.tta_losses
    assert losses.shape == (3, 10)
    assert (losses[:, -1] < losses[:, 0]).all()
    assert (losses[:, 1:] <= losses[:, :-1] + 1e-3).float().mean() > 0.7  # mostly monotone


def test_tta_changes_maps_and_reports_before_after(cold, images):
    plain = cold.predict(images, "bottle")
    adapted = cold.predict(images, "bottle", tta=SHARP)
    assert torch.allclose(adapted.patch_scores_before_tta, plain.patch_scores, atol=1e-6)
    assert torch.allclose(adapted.anomaly_maps_before_tta, plain.anomaly_maps, atol=1e-6)
    assert plain.anomaly_maps_before_tta is None
    assert not torch.allclose(adapted.patch_scores, plain.patch_scores, atol=1e-4)
    assert adapted.anomaly_maps.shape == plain.anomaly_maps.shape
    assert torch.equal(adapted.image_scores, plain.image_scores)  # TTA does not touch the image score


def test_same_seed_same_maps_different_seed_different_maps(cold, images):
    first = cold.predict(images, "bottle", tta=SHARP).anomaly_maps
    again = cold.predict(images, "bottle", tta=SHARP).anomaly_maps
    other = cold.predict(images, "bottle", tta=TTAConfig(steps=8, lr=1e-2, seed=7)).anomaly_maps
    assert torch.equal(first, again)
    assert not torch.allclose(first, other, atol=1e-5)


def test_batch_independence(cold, images):
    a, b = images[:1], images[1:2]
    alone = cold.predict(a, "bottle", tta=SHARP)
    second = cold.predict(torch.cat([b, a]), "bottle", tta=SHARP)
    after_others = cold.predict(torch.cat([images[2:], b, a]), "bottle", tta=SHARP)
    assert torch.allclose(second.anomaly_maps[1], alone.anomaly_maps[0], atol=1e-5)
    assert torch.allclose(after_others.anomaly_maps[2], alone.anomaly_maps[0], atol=1e-5)
    assert torch.allclose(second.tta_losses[1], alone.tta_losses[0], atol=1e-5)
    # ...and sequential calls do not leak optimiser state either.
    assert torch.allclose(cold.predict(a, "bottle", tta=SHARP).anomaly_maps, alone.anomaly_maps, atol=1e-6)


def test_batched_adapters_equal_a_plain_single_adapter_loop(cold, images):
    """Independent reference: nn.Linear + AdamW, one image at a time, written out here."""
    bank = cold.text_bank("bottle")
    tokens = cold.encode_image(images).patches
    config = TTAConfig(steps=3, lr=1e-2, seed=3)
    batched = adapt_tokens(tokens, bank.prototypes, bank.sentences, config, temperature=0.01)
    prompt_bank, prototypes = bank.sentences.clone(), bank.prototypes.clone()
    for index in range(3):
        generator = torch.Generator().manual_seed(3)
        dim, outputs = tokens.shape[-1], prompt_bank.shape[0]
        layer = torch.nn.Linear(dim, outputs)
        with torch.no_grad():
            layer.weight.copy_((torch.rand(outputs, dim, generator=generator) * 2 - 1) / dim ** 0.5)
            layer.bias.copy_((torch.rand(outputs, generator=generator) * 2 - 1) / dim ** 0.5)
        optimiser = torch.optim.AdamW(layer.parameters(), lr=1e-2)
        noise_generator = torch.Generator().manual_seed(4)
        z = tokens[index].clone()

        def adapter(x):
            return 0.5 * x + 0.5 * torch.tanh(layer(x / x.norm(dim=-1, keepdim=True))) @ prompt_bank

        def probs(x):
            return torch.softmax((x / x.norm(dim=-1, keepdim=True)) @ prototypes.T / 0.01, dim=-1)

        for _ in range(3):
            noisy = z + torch.randn(z.shape, generator=noise_generator) * 0.055
            p0, p1 = probs(adapter(z)), probs(adapter(noisy))
            entropy = -(p0 * p0.log()).sum(-1).mean()
            loss = entropy + 0.5 * (-p1[:, 1].log().mean() - p0[:, 0].log().mean())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            expected = adapter(z)
        assert (batched.tokens[index] - expected).abs().max() < 2e-3 * expected.abs().max()


def test_clip_untouched_and_no_grad_on_clip(cold, images):
    before = {name: p.clone() for name, p in cold.clip.state_dict().items()}
    cold.predict(images, "bottle", tta=SHARP)
    assert all(torch.equal(before[name], p) for name, p in cold.clip.state_dict().items())
    assert all(not p.requires_grad and p.grad is None for p in cold.clip.parameters())


def test_linear_adapter_and_parameter_counts(cold, images):
    dim = cold.embed_dim
    prompts = cold.text_bank("bottle").sentences.shape[0]
    assert prompts == 924
    assert num_trainable_parameters(TTAConfig(adapter="text"), dim, prompts) == dim * 924 + 924
    assert num_trainable_parameters(TTAConfig(adapter="linear"), dim, prompts) == dim * dim + dim
    linear = cold.predict(images, "bottle", tta=TTAConfig(adapter="linear", steps=4, lr=1e-2))
    text = cold.predict(images, "bottle", tta=SHARP)
    assert not torch.allclose(linear.patch_scores, text.patch_scores, atol=1e-5)


def test_zero_steps_is_the_initial_adapter_only(cold, images):
    prediction = cold.predict(images, "bottle", tta=TTAConfig(steps=0))
    assert prediction.tta_losses.shape == (3, 0)


def test_dataset_defaults_and_validation():
    assert dataset_defaults("mvtec").tta == TTAConfig(adapter="text", seed=111)
    assert dataset_defaults("VisA").tta == TTAConfig(adapter="linear", seed=42)
    assert dataset_defaults("dagm").tta == dataset_defaults(None).tta == TTAConfig()
    assert TTAConfig() == TTAConfig(steps=5, lr=1e-3, noise_std=0.055, adapter="text")
    with pytest.raises(ValueError, match="adapter"):
        TTAConfig(adapter="mlp")
    with pytest.raises(ValueError, match="residual"):
        TTAConfig(residual=2)


def test_custom_loss_hook(cold, images):
    from anoclip.tta import per_image_loss

    no_contrast = TTAConfig(steps=3, lr=1e-2, contrast_weight=0.0)
    expected = cold.predict(images, "bottle", tta=no_contrast)
    custom = cold.predict(images, "bottle", tta=TTAConfig(steps=3, lr=1e-2),
                          tta_loss=lambda clean, noisy, config: per_image_loss(clean, noisy, no_contrast))
    assert torch.allclose(custom.patch_scores, expected.patch_scores, atol=1e-6)
    assert not torch.allclose(custom.patch_scores, cold.predict(images, "bottle", tta=TTAConfig(steps=3, lr=1e-2)).patch_scores)
