"""Loading open_clip models: pretrained tags, local checkpoint files, random weights on request.

Three promises shape this module:

* The real loading path stays exactly what a Colab user needs: an open_clip tag such as
  ``laion400m_e32`` is downloaded once, into ``$ANOCLIP_CACHE/weights`` (default
  ``~/.cache/anoclip``), so one setting moves the weights (e.g. into Google Drive).  Tags that
  ``anoclip/data/sources.json`` lists are fetched from ``ANOCLIP_MIRROR`` first, then from the
  table's URLs, then from the Hugging Face copy the table names, always checked against the
  registered SHA-256 (prefix); other open_clip tags get the same treatment with the URL and
  hub entry open_clip itself knows.
* Offline, loading fails fast (seconds, not a hanging socket) with a message that lists each
  place tried and says how to pass a local checkpoint file instead.
* Random weights are never a silent fallback: they come only from ``pretrained=None`` (the
  ``anoclip-tiny`` test model is asked for by name: the CLI's ``--smoke``, the book's smoke mode).
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Union
from urllib.parse import urlparse

import open_clip
import torch

from . import env
from .data.errors import DataError
from .data.sources import Attempt, Source, SourcesExhaustedError, default_table, describe_failure, fetch
from .env import DEFAULT_MODEL, DEFAULT_PRETRAINED

TINY_MODEL = "anoclip-tiny"
RANDOM_WEIGHTS_SEED = 0

_TINY_CONFIG = Path(__file__).with_name("model_configs") / f"{TINY_MODEL}.json"
_CONNECT_TIMEOUT_S = 10.0
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")
_OPEN_CLIP_RANDOM_INIT = "No pretrained weights loaded"


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


def _offline_hint(name: str) -> str:
    return (
        f"In Python: AnoCLIP.from_pretrained({name!r}, pretrained='/path/to/checkpoint'); on the command "
        f"line: `anoclip ... --model {name} --pretrained /path/to/checkpoint`. For a quick offline run with "
        "a tiny random model (numbers meaningless): `anoclip ... --smoke`, or ANOCLIP_SMOKE=1 for the book."
    )


def _unlisted_source(name: str, tag: str, tag_config: dict) -> Optional[Source]:
    """A one-off table row for an open_clip tag that ``sources.json`` does not list.

    The checksum comes from open_clip's release URL as open_clip itself checks it: OpenAI URLs
    name the full SHA-256 in their folder, open_clip releases end their file name with a prefix.
    """
    url = tag_config.get("url", "")
    if not url:
        return None
    file = os.path.basename(urlparse(url).path)
    full = url.split("/")[-2] if "openaipublic" in url else None
    prefix = os.path.splitext(file)[0].split("-")[-1] if "mlfoundations" in url else None
    return Source(
        id=f"weights/{name}/{tag}", kind="weights", title=f"CLIP {name} / {tag} (open_clip's release URL)",
        file=file, urls=(url,), sha256=full, sha256_prefix=prefix, hf_hub=tag_config.get("hf_hub") or None,
        model=name, tag=tag, manual=f"Download {file} from {url}.",
    )


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


def _from_hf_hub(hub: str, cache_dir: Path) -> str:
    """Fetch an open_clip Hugging Face entry: the cache first, the network only if reachable."""
    from huggingface_hub import constants, hf_hub_download

    repo_id, filename = os.path.split(hub)  # "org/repo/" names the repository's default file
    candidates = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    errors = []
    for local_only in (True, False):
        if not local_only and (env.hf_offline() or not _reachable(constants.ENDPOINT)):
            errors.append(f"not cached, and {constants.ENDPOINT} is not reachable (or HF_HUB_OFFLINE is set)")
            break
        for candidate in candidates:
            try:
                return hf_hub_download(
                    repo_id, candidate, cache_dir=str(cache_dir), local_files_only=local_only,
                    etag_timeout=_CONNECT_TIMEOUT_S,
                )
            except Exception as err:  # huggingface_hub raises many types; all mean "not here"
                errors.append(f"{candidate}: {type(err).__name__}")
    raise WeightsUnavailableError("; ".join(errors[-1:]))


def resolve_checkpoint(name: str, pretrained: str, cache_dir: Optional[str] = None) -> str:
    """Turn an open_clip tag or a file path into a local checkpoint file path.

    ``cache_dir`` is the folder for downloaded weights (default ``$ANOCLIP_CACHE/weights``;
    Hugging Face downloads go into its ``huggingface`` subfolder).  A tag is looked for there,
    then in ``ANOCLIP_MIRROR``, then at each URL of its row in ``sources.json`` (or open_clip's
    release URL for unlisted tags), then on the Hugging Face hub; ``HF_HUB_OFFLINE=1`` skips the
    network but not the mirror.

    Raises:
        FileNotFoundError: ``pretrained`` looks like a path but no file is there.
        ValueError: ``pretrained`` is neither a file nor a tag that open_clip or the sources table
            knows for ``name``.
        WeightsUnavailableError: no source gave the (verified) weights; the message lists each.
    """
    if os.path.isfile(pretrained):
        return pretrained
    tag_config = open_clip.get_pretrained_cfg(name, pretrained)
    listed = default_table().weights(name, pretrained)  # a table row serves a tag open_clip does not know, too
    if not tag_config and listed is None:
        if _looks_like_path(pretrained):
            raise FileNotFoundError(
                f"Checkpoint file not found: {pretrained}. Check the path, or pass an open_clip tag "
                f"such as {open_clip.list_pretrained_tags_by_model(name)[:4]}."
            )
        raise ValueError(
            f"{pretrained!r} is neither a checkpoint file nor an open_clip tag for {name}. "
            f"Known tags: {open_clip.list_pretrained_tags_by_model(name)}."
        )
    folder = Path(cache_dir).expanduser() if cache_dir else env.cache_dir() / "weights"
    source = listed or _unlisted_source(name, pretrained, tag_config)
    hub = source.hf_hub if source is not None else tag_config.get("hf_hub")
    attempts: List[Attempt] = []
    if source is not None:
        try:
            offline = "HF_HUB_OFFLINE is set" if env.hf_offline() else None
            return str(fetch(source, folder, offline=offline, in_place=True, timeout=_CONNECT_TIMEOUT_S))
        except SourcesExhaustedError as err:
            attempts = err.attempts
        except DataError as err:  # e.g. the cached file itself is wrong, or the disk is full: the reader decides
            raise WeightsUnavailableError(f"{err} {_offline_hint(name)}") from err
    if hub:
        try:
            return _from_hf_hub(hub, folder / "huggingface")
        except WeightsUnavailableError as err:
            attempts.append(Attempt(f"Hugging Face hub https://huggingface.co/{hub.rstrip('/')}", str(err)))
    if source is None:  # open_clip knows this tag only on the hub: no file name to look for
        tried = "; ".join(f"{a.where}: {a.reason}" for a in attempts) or "open_clip lists no download for it"
        raise WeightsUnavailableError(
            f"Could not get the {name} / {pretrained} weights ({tried}). Download them by hand on a machine "
            "with internet access and pass the file. " + _offline_hint(name)
        )
    raise WeightsUnavailableError(
        f"Could not get the {name} / {pretrained} weights.\n{describe_failure(source, attempts, folder / source.file)}\n"
        + _offline_hint(name)
    )


def _torchscript_state(checkpoint: str, clip: torch.nn.Module) -> Optional[Dict[str, torch.Tensor]]:
    """The tensors of a TorchScript archive (OpenAI's CLIP releases), or None for any other file.

    ``torch.load(weights_only=True)``, which open_clip uses, refuses TorchScript archives; they
    are read with ``torch.jit.load`` (TorchScript, not pickled Python), and only the tensors whose
    names the open_clip model has are kept (plus anything else, so that a wrong file still fails).
    """
    if not zipfile.is_zipfile(checkpoint):
        return None
    with zipfile.ZipFile(checkpoint) as archive:
        if not any(name.endswith("/constants.pkl") for name in archive.namelist()):
            return None
    state = torch.jit.load(checkpoint, map_location="cpu").state_dict()
    kept = clip.state_dict()
    dropped = ("input_resolution", "context_length", "vocab_size")
    return {key: value for key, value in state.items() if key in kept or not (key in dropped or key.endswith("attn_mask"))}


def _first_line(err: BaseException) -> str:
    """The first line of an error's message (torch's run over many), or its type when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _load_state(clip: torch.nn.Module, checkpoint: str, name: str) -> None:
    """Load a checkpoint strictly, turning open_clip's key/shape assertions into a clear error."""
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as scratch:
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # torch notes it on files it refuses
            source, state = checkpoint, _torchscript_state(checkpoint, clip)
            if state is not None:  # open_clip's own loader (position embeddings, conversions) reads a plain copy
                source = os.path.join(scratch, "state_dict.pt")
                torch.save(state, source)
                del state  # open_clip reads its own copy back: never two copies of the weights at once
            open_clip.load_checkpoint(clip, source, strict=True)
    except (RuntimeError, KeyError, AssertionError, ValueError) as err:
        raise CheckpointMismatchError(
            f"Checkpoint {checkpoint} does not fit the {name} architecture ({_first_line(err)} ...). "
            "Pass the architecture the checkpoint was trained with (e.g. --model ViT-B-16 for an "
            "OpenAI ViT-B/16 file); open_clip.list_models() lists the names."
        ) from err
    except Exception as err:  # unreadable file: pickle errors, truncated zip archives
        # torch's own text suggests weights_only=False (running the file's code): never pass that on.
        reason = "it holds objects other than tensors" if "weights_only" in str(err) else _first_line(err)
        raise CheckpointMismatchError(
            f"Cannot read checkpoint {checkpoint} ({type(err).__name__}: {reason}). It is damaged, truncated or not a "
            "CLIP checkpoint; download it again (its SHA-256 is in `anoclip sources`)."
        ) from err


class _DropRandomInitLine(logging.Filter):
    """Drops open_clip's "No pretrained weights loaded ..." record and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_OPEN_CLIP_RANDOM_INIT)


@contextlib.contextmanager
def _without_open_clip_random_init_log() -> Iterator[None]:
    """Create the model without open_clip's "initialized randomly" log line.

    :func:`load_clip` always builds the architecture empty and loads the checkpoint itself, so
    open_clip logs that line for every model, pretrained ones included, and it reaches the
    book's pages as stderr. The line is false for a pretrained model and redundant for random
    weights, which :func:`load_clip` announces with its own warning (except for the tiny test
    model, random by definition). A logger's filter sees only the records logged through that
    logger, so the filter sits on both loggers open_clip has used: its ``open_clip.factory``
    module logger (open_clip 4) and the root logger's module-level ``logging.warning`` (up to
    3.x). The latter calls ``logging.basicConfig`` when the root logger has no handler; while
    the model is built, Python's own last-resort stderr handler stands in, so that call
    configures nothing and open_clip's other warnings are still printed.
    """
    root = logging.getLogger()
    loggers = (root, logging.getLogger("open_clip.factory"))
    drop = _DropRandomInitLine()
    placeholder = None if root.handlers else (logging.lastResort or logging.NullHandler())
    if placeholder is not None:
        root.addHandler(placeholder)
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)
        if placeholder is not None:
            root.removeHandler(placeholder)


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
    with torch.random.fork_rng(devices=[]), _without_open_clip_random_init_log():
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
