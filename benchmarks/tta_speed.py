"""Cost of test-time adaptation: predict(tta=True) vs zero-shot predict, measured in one run.

Target (TTA issue): with 5 steps, TTA adds at most 50 % to the zero-shot per-image time at
batch 8 on CPU (ViT-B-16-plus-240 at 240 px, random weights). Reported for the fast image score
(1 view) and the faithful one (22 views), plus the peak extra memory of TTA.

    python benchmarks/tta_speed.py                 # CPU, the issue's setting
    python benchmarks/tta_speed.py --device cuda   # peak extra memory then from the CUDA allocator

Memory on CPU: each mode runs in a fresh child process and reports its peak RSS; the difference
is TTA's extra peak. On CUDA: torch.cuda.max_memory_allocated around each call.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch


def _build(args):
    from anoclip import AnoCLIP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AnoCLIP.from_pretrained(args.model, None, device=args.device).with_config(image_views=args.views)
    model.text_bank("bottle")  # the one-off text encoding is not part of per-image time
    images = torch.randn(args.batch, 3, model.image_size, model.image_size, device=args.device)
    return model, images


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def worker(args) -> dict:
    """One child: run one mode a few times; report time per image and peak memory."""
    model, images = _build(args)
    tta = args.worker == "tta"
    model.predict(images, "bottle", tta=tta)  # warm-up
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.repeats):
        _sync(args.device)
        start = time.perf_counter()
        model.predict(images, "bottle", tta=tta)
        _sync(args.device)
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if args.device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"ms_per_image": 1000 * statistics.median(times) / args.batch, "peak_mb": peak / 2**20}


def interleaved(args) -> dict:
    """Both modes in this process, alternating, for a drift-free time ratio."""
    model, images = _build(args)
    model.predict(images, "bottle"), model.predict(images, "bottle", tta=True)
    plain, adapted = [], []
    for _ in range(args.repeats):
        for tta, store in ((False, plain), (True, adapted)):
            _sync(args.device)
            start = time.perf_counter()
            model.predict(images, "bottle", tta=tta)
            _sync(args.device)
            store.append(time.perf_counter() - start)
    return {"zero_shot": 1000 * statistics.median(plain) / args.batch, "tta": 1000 * statistics.median(adapted) / args.batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--views", type=int, default=1, choices=[1, 22])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", choices=["plain", "tta"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    times = interleaved(args)
    memory = {}
    for mode in ("plain", "tta"):
        command = [sys.executable, __file__, "--worker", mode, "--model", args.model, "--batch", str(args.batch),
                   "--views", str(args.views), "--repeats", "1", "--device", args.device]
        memory[mode] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    ratio = times["tta"] / times["zero_shot"]
    print(f"{args.model}, batch {args.batch}, {args.views} view(s), device {args.device}, random weights, "
          f"median of {args.repeats} interleaved runs")
    print(f"zero-shot predict   {times['zero_shot']:8.1f} ms/img")
    print(f"predict(tta=True)   {times['tta']:8.1f} ms/img   (+{100 * (ratio - 1):.0f} %, target <= +50 %)")
    print(f"peak memory         zero-shot {memory['plain']['peak_mb']:.0f} MB, TTA {memory['tta']['peak_mb']:.0f} MB "
          f"-> TTA extra {memory['tta']['peak_mb'] - memory['plain']['peak_mb']:.0f} MB "
          f"({'CUDA allocator' if args.device.startswith('cuda') else 'peak RSS of a fresh process'})")


if __name__ == "__main__":
    main()
