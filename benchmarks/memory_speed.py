"""Size and search time of normal-image memories and of transductive scoring, measured in one run.

At ViT-B-16-plus-240's shapes (15 x 15 = 225 patch tokens of 640 dimensions per image), with
random unit tokens: the search cost depends only on the shapes, not on the weights.

* few-shot: the memory's size in MB and the search time per test image (batches of 8) for
  1, 4, 16 and 64 normal images, with 1 view and with the 22 test-time views per image;
* transductive: the time to score every image of a set against the others, for growing sets;
  it is quadratic in the number of images (every patch against every patch of every other
  image), in chunks whose memory is bounded (128 MB of similarities at a time).

    python benchmarks/memory_speed.py [--threads N]
"""
from __future__ import annotations

import argparse

import torch

from anoclip.memory import MemoryBank
from timing import timed, timed_repeats

TOKENS, DIM = 225, 640


def unit(*shape: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(*shape), dim=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    queries = unit(8, TOKENS, DIM)
    print(f"few-shot memory, ViT-B-16-plus-240 shapes ({TOKENS} tokens x {DIM}), {torch.get_num_threads()} threads")
    for views in (1, 22):
        for shots in (1, 4, 16, 64):
            bank = MemoryBank(unit(shots, views * TOKENS, DIM), list(range(shots)), "normal")
            per_image = min(timed_repeats(lambda: bank.scores(queries, [-1] * 8), 3, "cpu")) / 8
            print(f"  {shots:3d} shots x {views:2d} views: {bank.megabytes:8.1f} MB float32 "
                  f"({bank.megabytes / 2:7.1f} MB saved as float16), {1000 * per_image:8.1f} ms per test image")
    print("transductive scoring of a whole set (each image against all the others)")
    times = {}
    for images in (8, 16, 32, 64):
        tokens = unit(images, TOKENS, DIM)
        bank = MemoryBank(tokens, list(range(images)), "unlabelled")
        times[images] = timed(lambda: bank.scores(tokens, list(range(images))), "cpu")
        print(f"  {images:4d} images: {times[images]:7.2f} s in all, {1000 * times[images] / images:7.1f} ms per image, "
              f"bank {bank.megabytes:6.1f} MB")
    per_pair = times[64] / 64 ** 2
    for images in (200, 500, 1000):
        print(f"  {images:4d} images (extrapolated, quadratic): about {per_pair * images ** 2 / 60:6.1f} min, "
              f"bank {images * TOKENS * DIM * 4 / 2**20:6.0f} MB")


if __name__ == "__main__":
    main()
