"""Settings read from the environment, in one place.

Every ``ANOCLIP_*`` variable the package, the CLI and the book honour is read here, so that a
reader can see at a glance what can be moved (e.g. into Google Drive on Colab) and nothing else
has to parse the environment. The module imports nothing heavy: the CLI, the data scripts and
the tests read these switches without loading torch.

==================  ==========================  ==============================================
variable            default                     what it holds
==================  ==========================  ==============================================
ANOCLIP_SMOKE       off                         tiny random CLIP + synthetic data (CI, offline)
ANOCLIP_DATA        ~/anoclip_data              downloaded archives and prepared datasets
ANOCLIP_RESULTS     ~/anoclip_results           benchmark results (resumable)
ANOCLIP_CACHE       ~/.cache/anoclip            CLIP weights and cached text embeddings
ANOCLIP_MIRROR      unset                       a base URL or folder tried first for downloads
ANOCLIP_MODEL       ViT-B-16-plus-240           the architecture the book and prefetch load
ANOCLIP_PRETRAINED  laion400m_e32               its open_clip tag, or a local checkpoint file
ANOCLIP_STANDINS    unset                       a rehearsal's manifest of declared stand-in files
ANOCLIP_PLAN        from the hardware           chapter 6's benchmark plan: cpu or gpu
ANOCLIP_PRECISION   auto                        the book's CUDA autocast: auto (bf16 from compute
                                                capability 8.0, fp16 below), fp16, bf16 or fp32
HF_HUB_OFFLINE      off                         (Hugging Face's) no network for CLIP weights
==================  ==========================  ==============================================

The default model names live here as plain strings so that :mod:`anoclip.backbone` (which
imports torch) and the light CLI and book helpers share one owner of them.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

SMOKE_ENV = "ANOCLIP_SMOKE"
DATA_ENV = "ANOCLIP_DATA"
RESULTS_ENV = "ANOCLIP_RESULTS"
CACHE_ENV = "ANOCLIP_CACHE"
MIRROR_ENV = "ANOCLIP_MIRROR"
MODEL_ENV = "ANOCLIP_MODEL"
PRETRAINED_ENV = "ANOCLIP_PRETRAINED"
STANDINS_ENV = "ANOCLIP_STANDINS"
PLAN_ENV = "ANOCLIP_PLAN"
PRECISION_ENV = "ANOCLIP_PRECISION"
HF_OFFLINE_ENV = "HF_HUB_OFFLINE"
#: Every ANOCLIP_* variable above, e.g. for a rehearsal that must start from a clean environment.
VARIABLES = (
    SMOKE_ENV, DATA_ENV, RESULTS_ENV, CACHE_ENV, MIRROR_ENV, MODEL_ENV, PRETRAINED_ENV, STANDINS_ENV, PLAN_ENV, PRECISION_ENV,
)

DEFAULT_MODEL = "ViT-B-16-plus-240"
DEFAULT_PRETRAINED = "laion400m_e32"
PRECISIONS = ("auto", "fp16", "bf16", "fp32")

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def _value(name: str) -> Optional[str]:
    """The variable's value with surrounding blanks removed; blank counts as unset."""
    value = os.environ.get(name, "").strip()
    return value or None


def _folder(name: str, default: Path) -> Path:
    value = _value(name)
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
    return _value(MIRROR_ENV)


def model_name() -> str:
    """The open_clip architecture the book and ``anoclip prefetch`` load: ``$ANOCLIP_MODEL``."""
    return _value(MODEL_ENV) or DEFAULT_MODEL


def pretrained() -> str:
    """``$ANOCLIP_PRETRAINED``: an open_clip tag or a checkpoint file (``~`` expanded)."""
    value = _value(PRETRAINED_ENV)
    return os.path.expanduser(value) if value else DEFAULT_PRETRAINED


def standins() -> Optional[Path]:
    """``$ANOCLIP_STANDINS``: the manifest in which a rehearsal declares its stand-in files.

    Only this explicit manifest (never a mirror) can make a download accept a file that differs
    from its registered checksum; see :mod:`anoclip.data.sources`.
    """
    value = _value(STANDINS_ENV)
    return Path(value).expanduser() if value else None


def bench_plan() -> Optional[str]:
    """``$ANOCLIP_PLAN``: the benchmark plan chapter 6 runs (lower case), or None to choose it
    from the hardware.  Which names exist is :func:`anoclip.book.bench_plans`' business, and
    :func:`anoclip.book.choose_plan` checks it."""
    value = _value(PLAN_ENV)
    return value.lower() if value else None


def hf_offline() -> bool:
    """``HF_HUB_OFFLINE`` (Hugging Face's own switch): load CLIP weights without the network."""
    return flag(HF_OFFLINE_ENV)


def precision() -> str:
    """``$ANOCLIP_PRECISION``: how the book's :func:`anoclip.book.load_model` runs on CUDA.

    ``auto`` (the default) picks mixed precision from the GPU, ``fp32`` keeps the faithful full
    precision of the package default, ``fp16``/``bf16`` force one autocast type. The package
    itself (``AnoCLIPConfig.amp``) never reads this: only the book's chapters do.
    """
    value = (_value(PRECISION_ENV) or "auto").lower()
    if value not in PRECISIONS:
        raise ValueError(
            f"{PRECISION_ENV}={os.environ[PRECISION_ENV]!r} is not one of {list(PRECISIONS)}; "
            f"set it to fp32 for full precision, or unset it for the automatic choice."
        )
    return value


def use_folders(root: Path) -> Dict[str, Path]:
    """Point ``ANOCLIP_CACHE``, ``ANOCLIP_DATA`` and ``ANOCLIP_RESULTS`` at ``root/{cache,data,results}``.

    What the Colab edition's Google Drive cell calls: every reader above then sees the new
    folders (they read the environment at each call), and so do the subprocesses a chapter
    starts. Returns the variables it set.
    """
    folders = {CACHE_ENV: root / "cache", DATA_ENV: root / "data", RESULTS_ENV: root / "results"}
    for name, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    return folders


@contextmanager
def smoke_for_subprocesses(enabled: bool) -> Iterator[None]:
    """Within the block, ``ANOCLIP_SMOKE=1`` when ``enabled`` (for kernels started meanwhile), then as before.

    Grading executes each handed-in notebook in a fresh kernel, which inherits this process's
    environment: smoke mode there makes a notebook's demo cells run in seconds without weights.
    """
    before = os.environ.get(SMOKE_ENV)
    if enabled:
        os.environ[SMOKE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SMOKE_ENV, None)
        else:
            os.environ[SMOKE_ENV] = before
