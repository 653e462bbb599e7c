"""End-to-end throughput of `anoclip bench`: decoding, prediction (22 views), metrics, reports.

Writes a synthetic MVTec-sized category (``--images`` images of ``--side`` px, planted defects)
and times run_benchmark on it with a random ViT-B-16-plus-240, with and without TTA, so the
per-image cost of a real run can be estimated before downloading anything.

    python benchmarks/bench_throughput.py --device cuda --images 240
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from anoclip import AnoCLIP
from anoclip.bench import BenchSetting, run_benchmark
from anoclip.data import make_synthetic_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=64, help="test images (half anomalous)")
    parser.add_argument("--side", type=int, default=512, help="image side in px (MVTec: 700-1024)")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        half = args.images // 2
        root = make_synthetic_dataset(Path(folder) / "data", categories=("bottle",), n_train=1,
                                      n_test_good=half, n_test_defect=args.images - half, image_size=args.side)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AnoCLIP.from_pretrained(args.model, None, device=args.device)
        model.text_bank("bottle")  # one-off text encoding, not per image
        for label, tta in (("zero-shot (22 views)", False), ("with TTA (22 views)", True)):
            start = time.perf_counter()
            setting = BenchSetting.create("synthetic", tta=tta)
            result = run_benchmark(model, root, Path(folder) / f"out_{tta}", setting, batch_size=args.batch, progress=False)[0]
            seconds = time.perf_counter() - start
            print(f"{label:22s} {1000 * seconds / result.images:7.1f} ms/img end to end "
                  f"({result.images} images of {args.side} px, batch {args.batch}, {args.device}, random weights)")


if __name__ == "__main__":
    main()
