"""The text side's speed-ups: a trimmed text tower and a disk cache, both giving the same numbers."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from anoclip import AnoCLIP, prompts
from anoclip.prompts import build_sentences, encode_sentences, encode_tokens


@pytest.fixture(scope="module")
def sentences():
    normal, abnormal = build_sentences("bottle")
    return normal + abnormal


def test_trimmed_text_tower_equals_clip_encode_text(tiny, sentences):
    with torch.inference_mode():
        expected = tiny.clip.encode_text(tiny.tokenizer(sentences)).float()
        got = encode_sentences(tiny.clip, tiny.tokenizer, sentences, batch_size=100)
    assert len(sentences) == 924 and got.shape == expected.shape
    # What the method uses are unit vectors: equal to 1e-6. Raw values agree to float rounding.
    assert (F.normalize(got, dim=-1) - F.normalize(expected, dim=-1)).abs().max() < 1e-6
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture
def own_tiny():
    """A private tiny model for tests that patch it (the shared ``tiny`` must stay untouched)."""
    return AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")


def test_trimming_runs_only_up_to_the_longest_sentence(own_tiny, monkeypatch):
    tiny = own_tiny
    tokens = tiny.tokenizer(["a photo of a bottle", "a bottle"])
    seen = []
    original = tiny.clip.transformer.forward
    monkeypatch.setattr(tiny.clip.transformer, "forward", lambda x, **kw: seen.append(x.shape[1]) or original(x, **kw))
    with torch.inference_mode():
        trimmed = encode_tokens(tiny.clip, tokens)
        full = tiny.clip.encode_text(tokens)
    longest = int(tokens.argmax(dim=-1).max()) + 1  # start + 5 words + end = 7
    assert seen == [longest, 77] and longest == 7
    assert torch.allclose(trimmed, full, atol=1e-5)


def test_sentences_come_back_in_their_order_whatever_the_length_batching(tiny):
    mixed = ["a bottle", "a very long description of a damaged glass bottle with a crack on its neck", "a pill"]
    with torch.inference_mode():
        together = encode_sentences(tiny.clip, tiny.tokenizer, mixed, batch_size=2)
        one_by_one = torch.cat([tiny.clip.encode_text(tiny.tokenizer([s])).float() for s in mixed])
    assert torch.allclose(together, one_by_one, atol=1e-5)


def test_towers_it_cannot_reason_about_run_encode_text_unchanged(own_tiny, monkeypatch):
    tiny = own_tiny
    tokens = tiny.tokenizer(["a bottle"])
    monkeypatch.setattr(tiny.clip, "attn_mask", None)  # not causal: padding could matter
    calls = []
    monkeypatch.setattr(tiny.clip, "encode_text", lambda t: calls.append(t) or torch.zeros(1, 32))
    encode_tokens(tiny.clip, tokens)
    assert len(calls) == 1


@pytest.fixture
def checkpointed(tiny, tmp_path):
    """The tiny model saved as a checkpoint file, so that it has weights to key a cache by."""
    path = tmp_path / "tiny.pt"
    torch.save(tiny.clip.state_dict(), path)
    return path


def test_text_banks_are_cached_on_disk_by_weights_and_prompt_setting(checkpointed, monkeypatch):
    first = AnoCLIP.from_pretrained("anoclip-tiny", str(checkpointed), device="cpu")
    bank = first.text_bank("bottle")
    second = AnoCLIP.from_pretrained("anoclip-tiny", str(checkpointed), device="cpu")  # a fresh process's view
    monkeypatch.setattr(prompts, "encode_sentences", lambda *a, **k: pytest.fail("the text tower ran again"))
    again = second.text_bank("bottle")
    assert torch.equal(again.prototypes, bank.prototypes) and torch.equal(again.sentences, bank.sentences)
    assert again.normal_count == bank.normal_count == 462
    with pytest.raises(pytest.fail.Exception):  # another prompt setting is another entry
        second.with_config(ensemble="normalize-then-mean").text_bank("bottle")
    assert second.weights_sha256 == first.weights_sha256 and len(second.weights_sha256) == 64


def test_other_weights_never_read_another_checkpoints_entry(checkpointed, tmp_path):
    first = AnoCLIP.from_pretrained("anoclip-tiny", str(checkpointed), device="cpu")
    bank = first.text_bank("bottle")
    state = {name: tensor + 0.01 for name, tensor in first.clip.state_dict().items()}
    other = tmp_path / "other.pt"
    torch.save(state, other)
    changed = AnoCLIP.from_pretrained("anoclip-tiny", str(other), device="cpu")
    assert changed.cache_key(kind="text") != first.cache_key(kind="text")
    assert not torch.allclose(changed.text_bank("bottle").prototypes, bank.prototypes)


def test_random_weights_are_not_cached_on_disk(tiny):
    assert tiny.weights_sha256 is None and tiny.cache_key(kind="text") is None


def test_a_second_process_reads_the_cache(checkpointed, tmp_path, monkeypatch):
    """The disk cache as a new process sees it (``benchmarks/text_speed.py`` times this)."""
    monkeypatch.setenv("ANOCLIP_CACHE", str(tmp_path / "cache"))
    AnoCLIP.from_pretrained("anoclip-tiny", str(checkpointed), device="cpu").text_bank("grid")
    code = (
        "import sys; import anoclip.prompts as p; from anoclip import AnoCLIP\n"
        "p.encode_sentences = lambda *a, **k: sys.exit('the text tower ran')\n"
        f"AnoCLIP.from_pretrained('anoclip-tiny', {str(checkpointed)!r}, device='cpu').text_bank('grid')\n"
        "print('cached')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cached"


CLASS = "pcb1"


def test_every_setting_that_changes_the_prototypes_changes_both_cache_keys(tmp_path, monkeypatch):
    """The text bank's key and the image-score store's key both come from ``text_setting``.

    For each config field, another value is tried: where it changes the prototypes (recomputed
    from scratch here, no cache), both keys must change too, else a stale entry would be reused.
    """
    from anoclip.bench import BenchSetting, image_score_store
    from anoclip.config import AnoCLIPConfig

    monkeypatch.setenv("ANOCLIP_CACHE", str(tmp_path / "cache"))
    checkpoint = tmp_path / "tiny.pt"
    torch.save(AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu").clip.state_dict(), checkpoint)
    model = AnoCLIP.from_pretrained("anoclip-tiny", str(checkpoint), device="cpu")  # pretrained: keys exist
    setting = BenchSetting.create("mvtec")
    alternatives = {
        "temperature": 0.01, "ensemble": "normalize-then-mean", "prompts": "plain", "clean_names": True,
        "texture_classes": frozenset({CLASS}), "smoothing": "none", "sigma": 2.0, "image_views": 1, "amp": "bf16",
    }
    assert set(alternatives) == {f.name for f in __import__("dataclasses").fields(AnoCLIPConfig)}

    def prototypes(config):
        return model._encode_text(CLASS, config, texture=config.text_setting(CLASS)["texture"])["prototypes"]

    def keys(config):
        variant = model.with_config(config)
        return tuple(sorted(config.text_setting(CLASS).items())), image_score_store(variant, setting, CLASS, tmp_path).path

    base = AnoCLIPConfig()  # CLASS has a spelled-out name (clean_names) and is an object (texture_classes)
    changing = []
    for name, value in alternatives.items():
        other = base.replace(**{name: value})
        if not torch.equal(prototypes(other), prototypes(base)):
            changing.append(name)
            assert all(a != b for a, b in zip(keys(other), keys(base))), name
    assert set(changing) == {"ensemble", "prompts", "clean_names", "texture_classes"}
