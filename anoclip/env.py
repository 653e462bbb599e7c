"""Settings read from the environment, in one place.

Every ``ANOCLIP_*`` variable the package and its CLI honour is read here, so that a reader can
see at a glance what can be moved (e.g. into Google Drive on Colab) and nothing else has to
parse the environment. The module imports nothing heavy: the CLI, the data scripts and the tests
read these settings without loading torch.

==================  ==========================  ==============================================
variable            default                     what it holds
==================  ==========================  ==============================================
ANOCLIP_DATA        ~/anoclip_data              downloaded archives and prepared datasets
ANOCLIP_RESULTS     ~/anoclip_results           benchmark results (resumable)
ANOCLIP_CACHE       ~/.cache/anoclip            CLIP weights and cached text embeddings
ANOCLIP_MIRROR      unset                       a base URL or folder tried first for downloads
ANOCLIP_MODEL       ViT-B-16-plus-240           the architecture ``anoclip prefetch`` fetches
ANOCLIP_PRETRAINED  laion400m_e32               its open_clip tag, or a local checkpoint file
HF_HUB_OFFLINE      off                         (Hugging Face's) no network for CLIP weights
==================  ==========================  ==============================================

The library never reads a smoke switch: a caller asks for the tiny random model by name (the
CLI's ``--smoke``, the book's model loader). The book's own switches (smoke mode, rehearsal,
plan, precision) live in ``anoclip_book.modes``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

DATA_ENV = "ANOCLIP_DATA"
RESULTS_ENV = "ANOCLIP_RESULTS"
CACHE_ENV = "ANOCLIP_CACHE"
MIRROR_ENV = "ANOCLIP_MIRROR"
MODEL_ENV = "ANOCLIP_MODEL"
PRETRAINED_ENV = "ANOCLIP_PRETRAINED"
HF_OFFLINE_ENV = "HF_HUB_OFFLINE"
#: Every ANOCLIP_* variable above, e.g. for a rehearsal that must start from a clean environment.
VARIABLES = (DATA_ENV, RESULTS_ENV, CACHE_ENV, MIRROR_ENV, MODEL_ENV, PRETRAINED_ENV)

DEFAULT_MODEL = "ViT-B-16-plus-240"
DEFAULT_PRETRAINED = "laion400m_e32"

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def value(name: str) -> Optional[str]:
    """The variable's value with surrounding blanks removed; blank counts as unset."""
    text = os.environ.get(name, "").strip()
    return text or None


def _folder(name: str, default: Path) -> Path:
    text = value(name)
    return Path(text).expanduser() if text else default.expanduser()


def data_dir() -> Path:
    """Where datasets and their downloads live: ``$ANOCLIP_DATA`` or ``~/anoclip_data``."""
    return _folder(DATA_ENV, Path.home() / "anoclip_data")


def results_dir() -> Path:
    """Where benchmark results are kept (resumable): ``$ANOCLIP_RESULTS`` or ``~/anoclip_results``."""
    return _folder(RESULTS_ENV, Path.home() / "anoclip_results")


def cache_dir() -> Path:
    """Weights and cached text embeddings: ``$ANOCLIP_CACHE`` or ``~/.cache/anoclip``."""
    return _folder(CACHE_ENV, Path.home() / ".cache" / "anoclip")


def mirror() -> Optional[str]:
    """``$ANOCLIP_MIRROR``: a base URL or a local folder tried first for every download, or None."""
    return value(MIRROR_ENV)


def model_name() -> str:
    """The open_clip architecture ``anoclip prefetch`` (and the book) load: ``$ANOCLIP_MODEL``."""
    return value(MODEL_ENV) or DEFAULT_MODEL


def pretrained() -> str:
    """``$ANOCLIP_PRETRAINED``: an open_clip tag or a checkpoint file (``~`` expanded)."""
    text = value(PRETRAINED_ENV)
    return os.path.expanduser(text) if text else DEFAULT_PRETRAINED


def hf_offline() -> bool:
    """``HF_HUB_OFFLINE`` (Hugging Face's own switch): load CLIP weights without the network."""
    return flag(HF_OFFLINE_ENV)
