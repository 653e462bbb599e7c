"""Prompt sentences, families and ensembling."""
import pytest
import torch
import torch.nn.functional as F

from anoclip import prompts
from anoclip.prompts import build_sentences, ensemble, prompt_class_name


@pytest.mark.parametrize("name", ["bottle", "carpet", "pcb1", "metal_nut"])
def test_faithful_family_has_462_sentences_per_state(name):
    normal, abnormal = build_sentences(name)
    assert len(normal) == len(abnormal) == 462
    assert len(set(normal)) == 462 and len(set(abnormal)) == 462


def test_object_sentences_match_the_official_construction():
    normal, abnormal = build_sentences("bottle")
    assert normal[0] == "a cropped industrial photo of the normal bottle"
    assert normal[1] == "a cropped industrial photo of the flawless bottle"  # states vary fastest
    assert normal[6] == "a cropped industrial photo of the bottle without damage"
    assert normal[7] == "a cropped industrial photo of a normal bottle"
    assert "an industrial photo of a abnormal bottle" in abnormal  # the official article slip
    assert "a manufacturing image of the bottle with defect for anomaly detection" in abnormal
    assert "an industrial image of the small unblemished bottle" in normal
    assert not any("textural" in s or "surface" in s for s in normal + abnormal)
    assert not any(s.endswith(".") for s in normal)


def test_textures_use_surface_domains():
    normal, _ = build_sentences("carpet")
    assert "a textural photo of a perfect carpet" in normal
    assert "a blurry surface picture of the carpet without flaw" in normal
    assert not any("manufacturing" in s for s in normal)
    forced, _ = build_sentences("steel", texture=True)
    assert "a textural photo of a normal steel" in forced


def test_domain_counts():
    normal, _ = build_sentences("bottle")
    for domain in ("industrial photo", "industrial image", "manufacturing image"):
        assert sum(f" {domain} " in f" {s} " for s in normal) == 22 * 7


def test_class_names():
    assert prompt_class_name("macaroni1") == prompt_class_name("macaroni2") == "macaroni"
    assert prompt_class_name("metal_nut") == "metal_nut"
    assert prompt_class_name("pcb3") == "pcb3"
    assert prompt_class_name("pcb3", clean=True) == "printed circuit board"
    assert prompt_class_name("metal_nut", clean=True) == "metal nut"
    assert build_sentences("macaroni2")[0][0].endswith("normal macaroni")


def test_other_families():
    normal, abnormal = build_sentences("bottle", family="plain")
    assert normal[0] == "a photo of a normal bottle" and len(normal) == len(abnormal) == 7
    normal, abnormal = build_sentences("bottle", family="winclip")
    assert len(normal) == 22 * 7 and len(abnormal) == 22 * 4
    assert normal[0] == "a cropped photo of the bottle."
    assert "a photo of a damaged bottle." in abnormal
    with pytest.raises(ValueError, match="family"):
        build_sentences("bottle", family="fancy")


def test_the_generic_family_changes_only_the_domain_phrases():
    """Sentence for sentence, "anoclip-generic" is the faithful ensemble with another domain phrase
    (and the article that phrase takes), for objects and textures alike."""
    from anoclip.prompts import GENERIC_DOMAINS, OBJECT_DOMAINS, TEXTURE_DOMAINS

    for name, domains in (("bottle", OBJECT_DOMAINS), ("carpet", TEXTURE_DOMAINS)):
        faithful = build_sentences(name)
        generic = build_sentences(name, family="anoclip-generic")
        for ours, theirs in zip(faithful, generic):
            assert len(ours) == len(theirs) == 462
            for position, (sentence, other) in enumerate(zip(ours, theirs)):
                index = position // (22 * 7)  # templates outside: one domain per 22 × 7 sentences
                article = "an" if GENERIC_DOMAINS[index][0] in "aeiou" else "a"
                old_article = "an" if domains[index].startswith("industrial") else "a"
                expected = sentence.replace(f"{old_article} {domains[index]}", f"{article} {GENERIC_DOMAINS[index]}", 1)
                assert other == expected.replace(domains[index], GENERIC_DOMAINS[index], 1)
    assert "an image of a damaged bottle" in build_sentences("bottle", family="anoclip-generic")[1]


def test_ensemble_orders_against_direct_computation():
    torch.manual_seed(0)
    embeddings = torch.randn(5, 8) * torch.linspace(0.5, 3.0, 5)[:, None]
    mean_first = embeddings.mean(0) / embeddings.mean(0).norm()
    unit = embeddings / embeddings.norm(dim=1, keepdim=True)
    norm_first = unit.mean(0) / unit.mean(0).norm()
    assert torch.allclose(ensemble(embeddings, "mean-then-normalize"), mean_first, atol=1e-6)
    assert torch.allclose(ensemble(embeddings, "normalize-then-mean"), norm_first, atol=1e-6)
    assert not torch.allclose(mean_first, norm_first, atol=1e-3)


def test_text_prototypes_match_encoding_and_are_cached(tiny, monkeypatch):
    model = tiny.with_config(prompts="plain")
    normal, abnormal = build_sentences("screw", family="plain")
    with torch.no_grad():
        raw = model.clip.encode_text(model.tokenizer(normal + abnormal))
    expected = torch.stack([F.normalize(raw[:7].mean(0), dim=0), F.normalize(raw[7:].mean(0), dim=0)])
    first = model.text_prototypes("screw")
    assert first.shape == (2, model.embed_dim)
    assert torch.allclose(first, expected, atol=1e-5)
    assert torch.allclose(first.norm(dim=1), torch.ones(2), atol=1e-6)

    calls = []
    original = prompts.encode_sentences
    monkeypatch.setattr(prompts, "encode_sentences", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert model.text_prototypes("screw") is first  # second call: no text encoding at all
    assert not calls
    model.with_config(prompts="plain", ensemble="normalize-then-mean").text_prototypes("screw")
    assert len(calls) == 1  # a different prompt setting is a different cache entry


def test_text_bank_holds_unit_sentence_embeddings(tiny):
    bank = tiny.with_config(prompts="plain").text_bank("nut")
    assert bank.sentences.shape == (14, tiny.embed_dim) and bank.normal_count == 7
    assert torch.allclose(bank.sentences.norm(dim=1), torch.ones(14), atol=1e-5)
