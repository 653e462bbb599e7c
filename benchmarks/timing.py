"""Wall-clock timing shared by the benchmark scripts (CUDA work is synchronised around it)."""
from __future__ import annotations

import time
from typing import Callable, List

import torch


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(function: Callable[[], object], device: str) -> float:
    """Seconds one call of ``function`` takes, including the GPU work it queued."""
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def timed_repeats(function: Callable[[], object], repeats: int, device: str) -> List[float]:
    return [timed(function, device) for _ in range(repeats)]
