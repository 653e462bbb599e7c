"""Settings read from the environment, in one place.

Every ``ANOCLIP_*`` variable the package, the CLI and the book honour is read here, so that a
reader can see at a glance what can be moved (e.g. into Google Drive on Colab) and nothing else
has to parse the environment. The module imports nothing heavy: the CLI, the data scripts and
the tests read these switches without loading torch.

=================  ==========================  ===============================================
variable           default                     what it holds
=================  ==========================  ===============================================
ANOCLIP_SMOKE      off                         tiny random CLIP + synthetic data (CI, offline)
ANOCLIP_DATA       ~/anoclip_data              downloaded archives and prepared datasets
ANOCLIP_RESULTS    ~/anoclip_results           benchmark results (resumable)
ANOCLIP_CACHE      ~/.cache/anoclip            CLIP weights and cached text embeddings
ANOCLIP_MIRROR     unset                       a base URL or folder tried first for downloads
=================  ==========================  ===============================================
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

SMOKE_ENV = "ANOCLIP_SMOKE"
DATA_ENV = "ANOCLIP_DATA"
RESULTS_ENV = "ANOCLIP_RESULTS"
CACHE_ENV = "ANOCLIP_CACHE"
MIRROR_ENV = "ANOCLIP_MIRROR"

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def _folder(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else default.expanduser()


def smoke_mode() -> bool:
    """True when ``ANOCLIP_SMOKE`` asks for the tiny random model and synthetic data."""
    return flag(SMOKE_ENV)


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
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value or None
