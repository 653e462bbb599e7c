"""Cost of test-time adaptation: predict(tta=True) vs zero-shot predict, measured in one run.

Target (TTA issue): with 5 steps, TTA adds at most 50 % to the zero-shot per-image time at
batch 8 on CPU (ViT-B-16-plus-240 at 240 px, random weights). Reported for the fast image score
(1 view) or the faithful one (``--views 22``), with the peak extra memory of TTA.

    python benchmarks/tta_speed.py                 # CPU, the issue's setting
    python benchmarks/tta_speed.py --device cuda

Memory is the transient peak of one predict call above what was allocated before it: on CUDA from
the allocator (max_memory_allocated), on CPU from the process's resident set size sampled every
2 ms by a thread (Linux /proc). TTA's extra peak is the difference between the two modes.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import warnings

import torch
from timing import timed

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def transient_peak(function, device: str) -> float:
    """Bytes allocated at the peak of ``function()`` above the level before it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        function()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before, peak, running = _rss(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        function()
    finally:
        running[0] = False
        sampler.join()
    return max(peak[0], _rss()) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--views", type=int, default=1, choices=[1, 22])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from anoclip import AnoCLIP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AnoCLIP.from_pretrained(args.model, None, device=args.device).with_config(image_views=args.views)
    model.text_bank("bottle")  # the one-off text encoding is not part of per-image time
    images = torch.randn(args.batch, 3, model.image_size, model.image_size, device=args.device)

    def run(tta: bool):
        return lambda: model.predict(images, "bottle", tta=tta)

    run(False)(), run(True)()  # warm-up
    times = {False: [], True: []}
    for _ in range(args.repeats):  # interleaved, so drift affects both modes alike
        for tta in (False, True):
            times[tta].append(timed(run(tta), args.device))
    peaks = {tta: max(transient_peak(run(tta), args.device) for _ in range(2)) for tta in (False, True)}
    plain, adapted = (1000 * statistics.median(times[t]) / args.batch for t in (False, True))
    mb = {t: peaks[t] / 2**20 for t in peaks}
    print(f"{args.model}, batch {args.batch}, {args.views} view(s), device {args.device}, random weights, "
          f"median of {args.repeats} interleaved runs")
    print(f"zero-shot predict   {plain:8.1f} ms/img")
    print(f"predict(tta=True)   {adapted:8.1f} ms/img   (+{100 * (adapted / plain - 1):.0f} %, target <= +50 %)")
    print(f"transient peak      zero-shot {mb[False]:.0f} MB, TTA {mb[True]:.0f} MB -> TTA extra {mb[True] - mb[False]:.0f} MB "
          f"({'CUDA allocator' if args.device.startswith('cuda') else 'sampled resident set size'})")


if __name__ == "__main__":
    main()
