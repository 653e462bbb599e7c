"""The switches only the book reads: smoke mode, a rehearsal's stand-ins, chapter 6's plan, precision.

==================  ==========================  ==============================================
variable            default                     what it holds
==================  ==========================  ==============================================
ANOCLIP_SMOKE       off                         tiny random CLIP + synthetic data (CI, offline)
ANOCLIP_STANDINS    unset                       a rehearsal's manifest of declared stand-in files
ANOCLIP_PLAN        from the hardware           chapter 6's benchmark plan: cpu or gpu
ANOCLIP_PRECISION   auto                        the chapters' CUDA autocast: auto (bf16 from compute
                                                capability 8.0, fp16 below), fp16, bf16 or fp32
==================  ==========================  ==============================================

The library (``anoclip``) reads none of them: smoke mode is chosen here, by the book's model
loader (:func:`anoclip_book.load_model`), and by ``anoclip --smoke`` on the command line.
The library's own variables (data, results, cache, mirror, model) are in :mod:`anoclip.env`.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from anoclip.env import flag, value

SMOKE_ENV = "ANOCLIP_SMOKE"
STANDINS_ENV = "ANOCLIP_STANDINS"
PLAN_ENV = "ANOCLIP_PLAN"
PRECISION_ENV = "ANOCLIP_PRECISION"
#: The book's variables, e.g. for a rehearsal that must start from a clean environment.
VARIABLES = (SMOKE_ENV, STANDINS_ENV, PLAN_ENV, PRECISION_ENV)
PRECISIONS = ("auto", "fp16", "bf16", "fp32")


def smoke_mode() -> bool:
    """True when ``ANOCLIP_SMOKE`` asks for the tiny random model and synthetic data."""
    return flag(SMOKE_ENV)


def standins() -> Optional[Path]:
    """``$ANOCLIP_STANDINS``: the manifest in which a rehearsal declares its stand-in files.

    Only this explicit manifest (never a mirror) can make a download accept a file that differs
    from its registered checksum; see :mod:`anoclip_book.substitution`.
    """
    text = value(STANDINS_ENV)
    return Path(text).expanduser() if text else None


def bench_plan() -> Optional[str]:
    """``$ANOCLIP_PLAN``: the benchmark plan chapter 6 runs (lower case), or None to choose it
    from the hardware. Which names exist is :func:`anoclip_book.bench_plans`' business, and
    :func:`anoclip_book.choose_plan` checks it."""
    text = value(PLAN_ENV)
    return text.lower() if text else None


def precision() -> str:
    """``$ANOCLIP_PRECISION``: how :func:`anoclip_book.load_model` runs on CUDA.

    ``auto`` (the default) picks mixed precision from the GPU, ``fp32`` keeps the faithful full
    precision of the package default, ``fp16``/``bf16`` force one autocast type. The package
    itself (``AnoCLIPConfig.amp``) never reads this: only the book's chapters do.
    """
    text = (value(PRECISION_ENV) or "auto").lower()
    if text not in PRECISIONS:
        raise ValueError(
            f"{PRECISION_ENV}={os.environ[PRECISION_ENV]!r} is not one of {list(PRECISIONS)}; "
            f"set it to fp32 for full precision, or unset it for the automatic choice."
        )
    return text


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
