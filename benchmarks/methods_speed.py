"""Per-image time of every localizer relative to AnoCLIP, measured in one run.

Setting (methods issue): CPU, ViT-B-16-plus-240 at 240 px, random weights, ``image_views=1`` for
every method so the comparison is about localization, not the 22-view image score. Each method
runs ``AnoCLIP.predict`` once as warm-up (which also caches its text prototypes), then the
methods are timed in interleaved rounds (the order rotates each round) so machine drift affects
all of them alike; the table gives the median and the best round, the latter being the more
robust on a machine shared with other work. WinCLIP is expected to cost many times AnoCLIP: it re-runs the
transformer for every 2×2 and 3×3 window (196 + 169 = 365 short sequences per image on the
15×15 grid).

    python benchmarks/methods_speed.py                       # batch 2, 3 rounds
    python benchmarks/methods_speed.py --batch 8 --repeats 5 --methods anoclip winclip
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import torch
from tqdm import tqdm

from anoclip import AnoCLIP
from anoclip.methods import available_methods
from anoclip.methods.winclip import WINCLIP_SCALES, window_indices
from timing import timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--methods", nargs="+", default=None, help="subset of methods (anoclip is always timed)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(available_methods())
    if args.methods is not None:
        names = ["anoclip"] + [name for name in args.methods if name != "anoclip"]
    unknown = sorted(set(names) - set(available_methods()))
    if unknown:
        parser.error(f"unknown methods {unknown}; available: {sorted(available_methods())}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AnoCLIP.from_pretrained(args.model, None, image_size=args.image_size, device=args.device)
    model = model.with_config(image_views=1)
    x = torch.randn(args.batch, 3, model.image_size, model.image_size, device=args.device)

    def run(name: str):
        return lambda: model.predict(x, "bottle", method=name)

    for name in tqdm(names, desc="warm-up"):
        run(name)()
    seconds = {name: [] for name in names}
    with tqdm(total=args.repeats * len(names), desc="timing") as progress:
        for round_index in range(args.repeats):
            offset = round_index % len(names)  # rotate the order so no method always runs first
            for name in names[offset:] + names[:offset]:
                seconds[name].append(timed(run(name), args.device))
                progress.update()

    median = {name: statistics.median(samples) / args.batch for name, samples in seconds.items()}
    best = {name: min(samples) / args.batch for name, samples in seconds.items()}
    windows = sum(len(window_indices(model.grid, k)) for k in WINCLIP_SCALES)
    print(f"\nmodel {args.model} @ {model.image_size}px (grid {model.grid[0]}x{model.grid[1]}), batch {args.batch}, "
          f"device {args.device}, threads {torch.get_num_threads()}, random weights, image_views=1, "
          f"{args.repeats} interleaved rounds; WinCLIP windows per image: {windows}\n")
    print("| method | median ms / image | × anoclip | best ms / image | × anoclip |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        print(f"| {name} | {median[name] * 1000:.1f} | {median[name] / median['anoclip']:.2f} "
              f"| {best[name] * 1000:.1f} | {best[name] / best['anoclip']:.2f} |")


if __name__ == "__main__":
    main()
