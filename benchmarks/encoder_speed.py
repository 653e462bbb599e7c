"""Cost of the dual path: AnoCLIP.encode_image vs clip.encode_image, measured in one run.

Target (core issue): on CPU, ViT-B-16-plus-240 at 240 px, batch 8, random weights, the dual-path
encoder takes at most 1.2x vanilla CLIP (the V-V path adds one attention and one output
projection per block, no MLP: about 15 % more FLOPs). Also checks that a second
text_prototypes() call is free and reports the cost of predict() with 1 and 22 views.

    python benchmarks/encoder_speed.py                     # the issue's setting
    python benchmarks/encoder_speed.py --device cuda --amp bf16
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import torch

from anoclip import AnoCLIP
from timing import timed, timed_repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AnoCLIP.from_pretrained(args.model, None, image_size=args.image_size, device=args.device)
    if args.amp:
        model = model.with_config(amp=args.amp)
    x = torch.randn(args.batch, 3, model.image_size, model.image_size, device=args.device)

    def vanilla():
        with torch.inference_mode(), model.autocast():  # the same context AnoCLIP runs CLIP in
            model.clip.encode_image(x)

    def dual():
        model.encode_image(x)

    vanilla(), dual()  # warm-up (allocator, kernels)
    vanilla_s, dual_s = [], []
    for _ in range(args.repeats):  # interleaved, so drift affects both alike
        vanilla_s.append(timed(vanilla, args.device))
        dual_s.append(timed(dual, args.device))
    v, d = statistics.median(vanilla_s), statistics.median(dual_s)
    best_v, best_d = min(vanilla_s), min(dual_s)  # the least disturbed runs: on a shared machine, the steadier ratio

    first = timed(lambda: model.text_prototypes("bottle"), args.device)
    second = statistics.median(timed_repeats(lambda: model.text_prototypes("bottle"), 5, args.device))
    one_view = statistics.median(timed_repeats(lambda: model.with_config(image_views=1).predict(x, "bottle"), 3, args.device))
    views22 = statistics.median(timed_repeats(lambda: model.predict(x, "bottle"), 2, args.device))

    print(f"model {args.model} @ {model.image_size}px, batch {args.batch}, device {args.device}, "
          f"amp {args.amp}, threads {torch.get_num_threads()}, random weights")
    print(f"clip.encode_image      median {v * 1000:8.1f} ms  ({v / args.batch * 1000:.1f} ms/img)")
    print(f"AnoCLIP.encode_image   median {d * 1000:8.1f} ms  ({d / args.batch * 1000:.1f} ms/img)")
    print(f"ratio dual / vanilla   {d / v:.3f} of medians, {best_d / best_v:.3f} of best runs   (target <= 1.2)")
    print(f"text_prototypes        first {first * 1000:.1f} ms, second {second * 1e6:.1f} us")
    print(f"predict, 1 view        {one_view / args.batch * 1000:.1f} ms/img")
    print(f"predict, 22 views      {views22 / args.batch * 1000:.1f} ms/img (faithful image score)")


if __name__ == "__main__":
    main()
