"""Loading open_clip models: pretrained tags, local checkpoint files, random weights on request.

Three promises shape this module:

* The real loading path stays exactly what a Colab user needs: an open_clip tag such as
  ``laion400m_e32`` is downloaded once and cached where open_clip caches it.
* Offline, loading fails fast (seconds, not a hanging socket) with a message that says how to
  pass a local checkpoint file instead.
* Random weights are never a silent fallback: they come only from ``pretrained=None``, the
  ``anoclip-tiny`` test model, or ``ANOCLIP_SMOKE=1``.
"""
from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlparse

import open_clip
import torch

DEFAULT_MODEL = "ViT-B-16-plus-240"
DEFAULT_PRETRAINED = "laion400m_e32"
TINY_MODEL = "anoclip-tiny"
RANDOM_WEIGHTS_SEED = 0

_TINY_CONFIG = Path(__file__).with_name("model_configs") / f"{TINY_MODEL}.json"
_CONNECT_TIMEOUT_S = 10.0
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")

# open_clip's Hugging Face entry for ViT-B-16-plus-240/laion400m_e32 points at the *e31*
# repository. The official AnoCLIP code downloaded the e32 GitHub release, so for these tags
# we take the release URL to get the weights the paper used.
_PREFER_RELEASE_URL = {("ViT-B-16-plus-240", "laion400m_e32")}


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found locally nor downloaded."""


class CheckpointMismatchError(ValueError):
    """A checkpoint file does not fit the requested architecture."""


@dataclass(frozen=True)
class LoadedBackbone:
    """What was loaded, so results can record it (and figures can flag random weights)."""

    clip: torch.nn.Module
    tokenizer: object
    name: str
    pretrained: Optional[str]
    checkpoint: Optional[str]
    image_size: int

    @property
    def random_weights(self) -> bool:
        return self.checkpoint is None


def register_tiny_config() -> None:
    """Make ``anoclip-tiny`` known to open_clip through its public ``add_model_config``."""
    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(_TINY_CONFIG)


def native_image_size(name: str) -> int:
    """The input side the architecture was trained at (240 for ViT-B-16-plus-240)."""
    register_tiny_config()
    config = open_clip.get_model_config(name)
    if config is None:
        raise ValueError(
            f"Unknown open_clip architecture {name!r}. Pick one of open_clip.list_models(), "
            f"e.g. {DEFAULT_MODEL!r}, 'ViT-B-16' or 'ViT-L-14-336'."
        )
    size = config["vision_cfg"].get("image_size", 224)
    return int(size if isinstance(size, int) else size[0])


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or value.lower().endswith(_CHECKPOINT_SUFFIXES)


def _offline_hint(name: str, tag: str, source: str) -> str:
    return (
        f"Download the weights on a machine with internet access ({source}) and pass the file: "
        f"AnoCLIP.from_pretrained({name!r}, pretrained='/path/to/checkpoint') or "
        f"`anoclip ... --model {name} --pretrained /path/to/checkpoint`. "
        "For a quick offline run with a tiny random model (numbers meaningless) set ANOCLIP_SMOKE=1."
    )


def _hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _from_release_url(url: str, cache_dir: Optional[str]) -> str:
    """Fetch an open_clip release URL into open_clip's own cache folder, with a connect timeout."""
    from .data.download import download, sha256sum  # the shared resumable, checksummed downloader

    folder = Path(cache_dir or os.path.expanduser("~/.cache/clip"))
    target = folder / os.path.basename(url)
    # open_clip encodes a SHA-256 (prefix) in its release URLs; check it like open_clip does.
    if "openaipublic" in url:
        expected = url.split("/")[-2]
    elif "mlfoundations" in url:
        expected = os.path.splitext(target.name)[0].split("-")[-1]
    else:
        expected = ""
    if not target.is_file():
        if _hf_offline():
            raise WeightsUnavailableError(f"HF_HUB_OFFLINE is set and {target} is not cached")
        download(url, target, timeout=_CONNECT_TIMEOUT_S)
    if expected and not sha256sum(target).startswith(expected):
        raise WeightsUnavailableError(f"{target} does not match the checksum in its URL ({expected}); delete it and retry.")
    return str(target)


def _reachable(url: str) -> bool:
    """Can we open a TCP connection to the URL's host? Answers in seconds, unlike a download
    client that retries with back-off (huggingface_hub spends ~25 s per file offline)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=_CONNECT_TIMEOUT_S / 2):
            return True
    except OSError:
        return False


def _from_hf_hub(hub: str, cache_dir: Optional[str]) -> str:
    """Fetch an open_clip Hugging Face entry: the cache first, the network only if reachable."""
    from huggingface_hub import constants, hf_hub_download

    repo_id, filename = os.path.split(hub)  # "org/repo/" names the repository's default file
    candidates = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    errors = []
    for local_only in (True, False):
        if not local_only and (_hf_offline() or not _reachable(constants.ENDPOINT)):
            errors.append(f"not cached, and {constants.ENDPOINT} is not reachable (or HF_HUB_OFFLINE is set)")
            break
        for candidate in candidates:
            try:
                return hf_hub_download(
                    repo_id, candidate, cache_dir=cache_dir, local_files_only=local_only,
                    etag_timeout=_CONNECT_TIMEOUT_S,
                )
            except Exception as err:  # huggingface_hub raises many types; all mean "not here"
                errors.append(f"{candidate}: {type(err).__name__}")
    raise WeightsUnavailableError("; ".join(errors[-1:]))


def resolve_checkpoint(name: str, pretrained: str, cache_dir: Optional[str] = None) -> str:
    """Turn an open_clip tag or a file path into a local checkpoint file path.

    Raises:
        FileNotFoundError: ``pretrained`` looks like a path but no file is there.
        ValueError: ``pretrained`` is neither a file nor a tag open_clip knows for ``name``.
        WeightsUnavailableError: the tag's weights are not cached and cannot be downloaded.
    """
    if os.path.isfile(pretrained):
        return pretrained
    tag_config = open_clip.get_pretrained_cfg(name, pretrained)
    if not tag_config:
        if _looks_like_path(pretrained):
            raise FileNotFoundError(
                f"Checkpoint file not found: {pretrained}. Check the path, or pass an open_clip tag "
                f"such as {open_clip.list_pretrained_tags_by_model(name)[:4]}."
            )
        raise ValueError(
            f"{pretrained!r} is neither a checkpoint file nor an open_clip tag for {name}. "
            f"Known tags: {open_clip.list_pretrained_tags_by_model(name)}."
        )
    url, hub = tag_config.get("url", ""), tag_config.get("hf_hub", "")
    use_url = bool(url) and (not hub or (name, pretrained) in _PREFER_RELEASE_URL)
    source = url if use_url else f"https://huggingface.co/{hub.rstrip('/')}"
    try:
        return _from_release_url(url, cache_dir) if use_url else _from_hf_hub(hub, cache_dir)
    except Exception as err:
        reason = err.__cause__ or err  # the network error itself, not a wrapper's advice
        raise WeightsUnavailableError(
            f"Could not get the {name} / {pretrained} weights ({type(reason).__name__}: {reason}). "
            + _offline_hint(name, pretrained, source)
        ) from err


def _load_state(clip: torch.nn.Module, checkpoint: str, name: str) -> None:
    """Load a checkpoint strictly, turning open_clip's key/shape assertions into a clear error."""
    try:
        open_clip.load_checkpoint(clip, checkpoint, strict=True)
    except (RuntimeError, KeyError, AssertionError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointMismatchError(
            f"Checkpoint {checkpoint} does not fit the {name} architecture ({first_line} ...). "
            "Pass the architecture the checkpoint was trained with (e.g. --model ViT-B-16 for an "
            "OpenAI ViT-B/16 file); open_clip.list_models() lists the names."
        ) from err
    except Exception as err:  # unreadable file: pickle errors, truncated zip archives
        raise CheckpointMismatchError(
            f"Cannot read checkpoint {checkpoint}: {type(err).__name__}: {err}. "
            "The file may be truncated; download it again."
        ) from err


def load_clip(
    name: str = DEFAULT_MODEL,
    pretrained: Optional[str] = DEFAULT_PRETRAINED,
    image_size: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    cache_dir: Optional[str] = None,
) -> LoadedBackbone:
    """Build an open_clip model in eval mode, fp32, with weights from a tag, a file or nowhere.

    ``pretrained=None`` explicitly asks for random weights (any architecture); a warning says so.
    ``image_size`` defaults to the architecture's native size; other sizes resize open_clip's
    positional embedding (open_clip does the bicubic interpolation when loading).
    """
    register_tiny_config()
    size = image_size or native_image_size(name)
    checkpoint = resolve_checkpoint(name, pretrained, cache_dir) if pretrained else None
    tag_config = open_clip.get_pretrained_cfg(name, pretrained) if pretrained else {}
    # Random weights are seeded (without touching the caller's RNG state), so a smoke-mode or
    # pretrained=None model is the same in every notebook, test and run.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        clip = open_clip.create_model(
            name,
            pretrained=None,
            force_image_size=size,
            # OpenAI tags were trained with QuickGELU; open_clip only warns on a mismatch.
            force_quick_gelu=bool(tag_config.get("quick_gelu", False)),
        )
    if checkpoint is not None:
        _load_state(clip, checkpoint, name)
    elif name != TINY_MODEL:
        warnings.warn(
            f"{name} has RANDOM weights (pretrained=None): its maps and scores are meaningless.",
            stacklevel=3,
        )
    clip = clip.to(device).eval()
    for parameter in clip.parameters():
        parameter.requires_grad_(False)
    return LoadedBackbone(
        clip=clip,
        tokenizer=open_clip.get_tokenizer(name),
        name=name,
        pretrained=pretrained,
        checkpoint=checkpoint,
        image_size=size,
    )
