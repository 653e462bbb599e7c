"""Test-time adaptation: independence, determinism, loss behaviour, CLIP untouched."""
import pytest
import torch

from anoclip import TTAConfig
from anoclip.data.registry import dataset_defaults
from anoclip import scoring
from anoclip.tta import _initial_state, adapt_tokens, image_seed, num_trainable_parameters

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


def test_each_image_gets_its_own_draw_that_depends_only_on_the_image(cold, images):
    """Per-image draws: batch, position and what came before do not change an image's draw."""
    config = TTAConfig()
    seeds = [image_seed(config.seed, image) for image in images]
    weight, bias, noise = _initial_state(config, seeds, 32, 924, 64, torch.device("cpu"))
    for index in range(3):
        alone = _initial_state(config, seeds[index:index + 1], 32, 924, 64, torch.device("cpu"))
        assert torch.equal(alone[0][0], weight[index]) and torch.equal(alone[1][0], bias[index])
        assert torch.equal(alone[2][:, 0], noise[:, index])
    assert not torch.allclose(weight[0], weight[1]) and not torch.allclose(noise[:, 0], noise[:, 1])
    bound = 1 / 32 ** 0.5  # nn.Linear's default initialisation, U(±1/√D)
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("temperature, config, tolerance", [
    (1.0, TTAConfig(), 1e-5),              # faithful: the batch moves a probability by rounding only
    (0.01, SHARP, 5e-3),                   # a steep setting amplifies the rounding of batched products
])
def test_adapted_results_do_not_depend_on_the_batch(tiny, images, temperature, config, tolerance):
    model = tiny.with_config(temperature=temperature, image_views=1)
    tokens = model.encode_image(images).patches
    bank = model.text_bank("bottle")
    seeds = [image_seed(config.seed, image) for image in images]

    def probabilities(index):
        result = adapt_tokens(tokens[index], bank.prototypes, bank.sentences, config, temperature,
                              seeds=[seeds[i] for i in index])
        return scoring.abnormal_probability(result.tokens, bank.prototypes, temperature)

    together, reordered, alone = probabilities([0, 1, 2]), probabilities([2, 0, 1]), probabilities([1])
    assert (together[1] - alone[0]).abs().max() < tolerance
    assert (together[0] - reordered[1]).abs().max() < tolerance
    assert torch.equal(probabilities([1]), alone)  # sequential calls do not leak optimiser state
    zero_shot = scoring.abnormal_probability(tokens[1], bank.prototypes, temperature)
    assert (alone[0] - zero_shot).abs().max() > 50 * tolerance  # ... while TTA itself moves them
    swapped = adapt_tokens(tokens[1:2], bank.prototypes, bank.sentences, config, temperature, seeds=[seeds[0]])
    other_draw = scoring.abnormal_probability(swapped.tokens, bank.prototypes, temperature)
    assert (other_draw[0] - alone[0]).abs().max() > 10 * tolerance  # another image's draw is another result


def test_shared_draws_give_every_image_the_same_draw(cold, images):
    shared = SHARP.replace(draws="shared")
    tokens = cold.encode_image(images).patches
    bank = cold.text_bank("bottle")
    copies = tokens[:1].expand(2, -1, -1)
    result = adapt_tokens(copies, bank.prototypes, bank.sentences, shared, 0.01, seeds=[1, 2])
    assert torch.equal(result.tokens[0], result.tokens[1])  # seeds are ignored: one draw for all
    per_image = adapt_tokens(copies, bank.prototypes, bank.sentences, SHARP, 0.01, seeds=[1, 2])
    assert not torch.allclose(per_image.tokens[0], per_image.tokens[1], atol=1e-4)


def test_predict_seeds_each_image_by_its_pixels(tiny, images):
    model = tiny.with_config(image_views=1)
    alone = model.predict(images[1:2], "bottle", tta=True)
    together = model.predict(images, "bottle", tta=True)
    assert torch.allclose(together.anomaly_maps[1], alone.anomaly_maps[0], atol=1e-5)
    assert torch.allclose(together.tta_losses[1], alone.tta_losses[0], atol=1e-5)
    assert image_seed(111, images[1]) == image_seed(111, images[1].clone()) != image_seed(112, images[1])
    assert image_seed(111, images[1]) != image_seed(111, images[2])


def test_batched_adapters_equal_a_plain_single_adapter_loop(cold, images):
    """Independent reference: nn.Linear + AdamW, one image at a time, written out here."""
    bank = cold.text_bank("bottle")
    tokens = cold.encode_image(images).patches
    config = TTAConfig(steps=3, lr=1e-2, seed=3)
    seeds = [11, 12, 13]
    batched = adapt_tokens(tokens, bank.prototypes, bank.sentences, config, temperature=0.01, seeds=seeds)
    prompt_bank, prototypes = bank.sentences.clone(), bank.prototypes.clone()
    for index in range(3):
        generator = torch.Generator().manual_seed(seeds[index])  # the image's own draw
        dim, outputs = tokens.shape[-1], prompt_bank.shape[0]
        layer = torch.nn.Linear(dim, outputs)
        with torch.no_grad():
            layer.weight.copy_((torch.rand(outputs, dim, generator=generator) * 2 - 1) / dim ** 0.5)
            layer.bias.copy_((torch.rand(outputs, generator=generator) * 2 - 1) / dim ** 0.5)
        optimiser = torch.optim.AdamW(layer.parameters(), lr=1e-2)
        noise_generator = generator
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
    """No step: each image's tokens go through its freshly drawn adapter, recomputed here by hand
    (x' = r x + (1 - r) tanh(W x̂ + b) E with the per-image draw), and nothing is trained."""
    config = TTAConfig(steps=0)
    prediction = cold.predict(images, "bottle", tta=config)
    assert prediction.tta_losses.shape == (3, 0)
    tokens = cold.encode_image(images).patches
    bank = cold.text_bank("bottle")
    seeds = [image_seed(config.seed, image) for image in images]
    weight, bias, _ = _initial_state(config, seeds, tokens.shape[-1], bank.sentences.shape[0], tokens.shape[1], tokens.device)
    for index in range(len(images)):
        x = tokens[index]
        update = torch.tanh(torch.nn.functional.normalize(x, dim=-1) @ weight[index].T + bias[index]) @ bank.sentences
        adapted = config.residual * x + (1 - config.residual) * update
        expected = scoring.patch_scores(adapted[None], bank.prototypes, cold.config.temperature, cold.grid)
        assert torch.allclose(prediction.patch_scores[index], expected[0], atol=1e-5), index
    assert not torch.allclose(prediction.patch_scores, prediction.patch_scores_before_tta, atol=1e-4)


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
