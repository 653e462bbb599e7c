"""Text prompts: state words, domain-aware templates, prompt families and ensembling.

AnoCLIP describes each class twice, as *normal* and as *abnormal*, with many sentences, and
averages their CLIP text embeddings into one "prototype" per state. Its templates inject a
*domain* phrase ("industrial photo", "manufacturing image"…) so the text side speaks about
inspection images rather than web photos; textures get surface-flavoured domains.

Families (``AnoCLIPConfig.prompts``):

* ``"anoclip"`` — the faithful ensemble: 3 domains × 22 templates × 7 states = 462 sentences per
  state, templates outside and states inside, exactly as the official code builds them
  (including its article slips such as "a abnormal bottle").
* ``"anoclip-generic"`` — the same templates and states with three generic domain phrases
  (photo, picture, image) for every class: it changes only the domain phrases.
* ``"plain"`` — one template, "a photo of a [state] [class]", with the same 7 states.
* ``"winclip"`` — WinCLIP-style generic ensemble: "photo" templates with a full stop,
  7 normal and 4 abnormal states. We keep the 22 paired templates; anomalib's copy has 21
  ("a jpeg corrupted photo of the {}." twice, no "a cropped photo of a {}.").
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

import open_clip
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import ENSEMBLE_ORDERS, MVTEC_TEXTURES, PROMPT_FAMILIES

NORMAL_STATES: Tuple[str, ...] = (
    "normal {}", "flawless {}", "perfect {}", "unblemished {}",
    "{} without flaw", "{} without defect", "{} without damage",
)
ABNORMAL_STATES: Tuple[str, ...] = (
    "damaged {}", "abnormal {}", "imperfect {}", "blemished {}",
    "{} with flaw", "{} with defect", "{} with damage",
)
WINCLIP_NORMAL_STATES: Tuple[str, ...] = (
    "{}", "flawless {}", "perfect {}", "unblemished {}",
    "{} without flaw", "{} without defect", "{} without damage",
)
WINCLIP_ABNORMAL_STATES: Tuple[str, ...] = (
    "damaged {}", "{} with flaw", "{} with defect", "{} with damage",
)

OBJECT_DOMAINS: Tuple[str, ...] = ("industrial photo", "industrial image", "manufacturing image")
TEXTURE_DOMAINS: Tuple[str, ...] = ("industrial photo", "textural photo", "surface picture")
GENERIC_DOMAINS: Tuple[str, ...] = ("photo", "picture", "image")  # the "anoclip-generic" family

# The 22 template stems. "{A}" is the article before the domain, "{D}" the domain phrase and
# "{}" the state phrase. The qualifier stems keep the official a/the pattern verbatim.
TEMPLATE_STEMS: Tuple[str, ...] = (
    "a cropped {D} of the {}", "a cropped {D} of a {}",
    "a close-up {D} of a {}", "a close-up {D} of the {}",
    "a bright {D} of a {}", "a bright {D} of the {}",
    "a dark {D} of the {}", "a dark {D} of a {}",
    "a jpeg corrupted {D} of a {}", "a jpeg corrupted {D} of the {}",
    "a blurry {D} of the {}", "a blurry {D} of a {}",
    "{A} {D} of a {}", "{A} {D} of the {}",
    "{A} {D} of a small {}", "{A} {D} of the small {}",
    "{A} {D} of a large {}", "{A} {D} of the large {}",
    "{A} {D} of the {} for visual inspection", "{A} {D} of a {} for visual inspection",
    "{A} {D} of the {} for anomaly detection", "{A} {D} of a {} for anomaly detection",
)

# The only renaming the official code does; the "clean" variant goes further.
_FAITHFUL_NAMES: Dict[str, str] = {"macaroni1": "macaroni", "macaroni2": "macaroni"}
_CLEAN_NAMES: Dict[str, str] = {
    "pcb1": "printed circuit board", "pcb2": "printed circuit board",
    "pcb3": "printed circuit board", "pcb4": "printed circuit board",
    "pipe_fryum": "pipe fryum", "chewinggum": "chewing gum",
}


def check_class_name(class_name: object) -> str:
    """``class_name`` if it is a word the prompts can use: a non-empty string (not None, a number, bytes)."""
    if not isinstance(class_name, str) or not class_name.strip():
        raise ValueError(
            f"class_name={class_name!r} is not a class name; pass the object or texture as a non-empty string, "
            "e.g. 'bottle' or 'carpet'."
        )
    return class_name


def prompt_class_name(class_name: str, clean: bool = False) -> str:
    """The object word that goes into prompts.

    Faithful: the raw folder name (``metal_nut`` keeps its underscore), only macaroni1/2 become
    "macaroni". ``clean=True`` also spells out VisA's abbreviations and drops underscores and
    trailing digits — a cheap ablation the official code never ran.
    """
    if not clean:
        return _FAITHFUL_NAMES.get(class_name, class_name)
    if class_name in _CLEAN_NAMES:
        return _CLEAN_NAMES[class_name]
    return re.sub(r"\d+$", "", class_name).replace("_", " ").strip() or class_name


def _anoclip_templates(domains: Tuple[str, ...]) -> List[str]:
    templates = []
    for domain in domains:
        article = "an" if domain[0] in "aeiou" else "a"  # the official rule ("an" before "industrial") in general
        templates.extend(stem.replace("{A}", article).replace("{D}", domain) for stem in TEMPLATE_STEMS)
    return templates


def _winclip_templates() -> List[str]:
    return [stem.replace("{A}", "a").replace("{D}", "photo") + "." for stem in TEMPLATE_STEMS]


def build_sentences(
    class_name: str,
    family: str = "anoclip",
    texture: bool | None = None,
    clean_names: bool = False,
) -> Tuple[List[str], List[str]]:
    """All prompt sentences of a class: (normal_sentences, abnormal_sentences).

    Args:
        class_name: raw category name (e.g. ``"metal_nut"``, ``"macaroni1"``).
        family: ``"anoclip"`` (faithful, 462 each), ``"anoclip-generic"`` (462 each), ``"plain"`` (7 each)
            or ``"winclip"``.
        texture: use texture/surface domains; ``None`` means "is it one of MVTec's textures".
        clean_names: see :func:`prompt_class_name`.
    """
    if family not in PROMPT_FAMILIES:
        raise ValueError(f"Unknown prompt family {family!r}; choose one of {PROMPT_FAMILIES}.")
    name = prompt_class_name(class_name, clean_names)
    if texture is None:
        texture = class_name in MVTEC_TEXTURES
    if family in ("anoclip", "anoclip-generic"):
        domains = GENERIC_DOMAINS if family == "anoclip-generic" else TEXTURE_DOMAINS if texture else OBJECT_DOMAINS
        templates = _anoclip_templates(domains)
        normal_states, abnormal_states = NORMAL_STATES, ABNORMAL_STATES
    elif family == "plain":
        templates = ["a photo of a {}"]
        normal_states, abnormal_states = NORMAL_STATES, ABNORMAL_STATES
    else:
        templates = _winclip_templates()
        normal_states, abnormal_states = WINCLIP_NORMAL_STATES, WINCLIP_ABNORMAL_STATES

    def sentences(states: Tuple[str, ...]) -> List[str]:
        return [template.format(state.format(name)) for template in templates for state in states]

    return sentences(normal_states), sentences(abnormal_states)


def ensemble(embeddings: Tensor, order: str = "mean-then-normalize") -> Tensor:
    """Collapse (K, D) sentence embeddings into one unit vector (D,).

    The official AnoCLIP code averages the raw embeddings and normalises the mean (as WinCLIP
    re-implementations do); APRIL-GAN, its parent code, normalises each sentence first. The two differ when sentence norms differ: the first
    lets long-norm sentences weigh more.
    """
    if order == "mean-then-normalize":
        return F.normalize(embeddings.mean(dim=0), dim=-1)
    if order == "normalize-then-mean":
        return F.normalize(F.normalize(embeddings, dim=-1).mean(dim=0), dim=-1)
    raise ValueError(f"Unknown ensemble order {order!r}; choose one of {ENSEMBLE_ORDERS}.")


def _end_positions(clip: torch.nn.Module, tokens: Tensor) -> Tensor:
    """Index of each sequence's pooled token: the end-of-text token, as open_clip pools it."""
    if clip.text_pool_type == "eos":
        return (tokens == clip.text_eos_id).int().argmax(dim=-1)
    return tokens.argmax(dim=-1)  # "argmax": the end-of-text token has the largest id


def _can_trim(clip: torch.nn.Module) -> bool:
    """A standard open_clip text tower whose causal mask makes tokens after the end irrelevant."""
    return (
        isinstance(clip, open_clip.CLIP)
        and getattr(clip, "attn_mask", None) is not None
        and getattr(clip, "text_pool_type", None) in ("argmax", "eos")
    )


def encode_tokens(clip: torch.nn.Module, tokens: Tensor) -> Tensor:
    """``clip.encode_text(tokens)`` computed only up to the batch's longest sentence: (K, D).

    The text tower is causal — token ``i`` attends to tokens ``0..i`` only — and the embedding is
    read at the end-of-text token, so the padding after the longest sentence cannot change it.
    Running ``L`` positions instead of the full context (77) saves most of the work for short
    prompts. Towers this reasoning does not cover (custom text encoders, non-causal masks) run
    ``clip.encode_text`` unchanged.
    """
    if not _can_trim(clip):
        return clip.encode_text(tokens)
    ends = _end_positions(clip, tokens)
    length = int(ends.max()) + 1
    cast_dtype = clip.transformer.get_cast_dtype()
    x = clip.token_embedding(tokens[:, :length]).to(cast_dtype) + clip.positional_embedding[:length].to(cast_dtype)
    x = clip.ln_final(clip.transformer(x, attn_mask=clip.attn_mask[:length, :length]))
    pooled = x[torch.arange(x.shape[0], device=x.device), ends]
    if clip.text_projection is None:
        return pooled
    if isinstance(clip.text_projection, torch.nn.Linear):
        return clip.text_projection(pooled)
    return pooled @ clip.text_projection


def encode_sentences(clip: torch.nn.Module, tokenizer, sentences: List[str], batch_size: int = 256) -> Tensor:
    """Raw (un-normalised) CLIP text embeddings (K, D), in batches to bound memory.

    Sentences are batched by length (then put back in order), so each batch is trimmed to
    little more than its own sentences (:func:`encode_tokens`).
    """
    device = next(clip.parameters()).device
    tokens = tokenizer(sentences)
    order = _end_positions(clip, tokens).argsort(stable=True) if _can_trim(clip) else torch.arange(len(sentences))
    encoded = torch.cat([encode_tokens(clip, tokens[chunk].to(device)).float() for chunk in order.split(batch_size)])
    embeddings = torch.empty_like(encoded)
    embeddings[order.to(device)] = encoded
    return embeddings
