"""Peak memory and time of the pixel metrics on an MVTec-sized category: PixelScores vs naive.

    python benchmarks/metrics_memory.py                  # 1,725 maps at 240x240 (MVTec AD test set)
    python benchmarks/metrics_memory.py --images 50      # a few seconds

A synthetic category is generated image by image (deterministic per image, float32 maps, about 27%
anomaly-free images, the rest with 1-3 elliptical defects -- about 4% anomalous pixels overall).
Three fresh child processes each regenerate the same category:

* floor:     generate every image and drop it (the same imports + generation, no metric);
* ours:      ``PixelScores.add`` per image, then all five pixel metrics;
* naive:     keep the maps, stack them as one float64 array, then scikit-learn ``roc_auc_score``
             and ``average_precision_score`` on all pixels (AUROC and AP only).

Memory is each child's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` read by
the child at its end -- the number the parent would get from RUSAGE_CHILDREN for that child alone).
It includes the interpreter and libraries, so the script also prints the peak above the floor child,
which is what the metric computation itself costs.  Times exclude data generation.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from anoclip.metrics import PixelScores

NORMAL_IMAGE_FRACTION = 467 / 1725  # MVTec AD test set: 467 good images out of 1,725


def synthetic_image(index: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One (map, mask) pair: smooth patch-grid noise, raised inside 1-3 elliptical defects."""
    rng = np.random.default_rng([seed, index])
    grid = rng.random((15, 15), dtype=np.float32)
    scores = ndimage.zoom(grid, size / 15, order=1)[:size, :size] * 0.6
    mask = np.zeros((size, size), dtype=bool)
    if rng.random() >= NORMAL_IMAGE_FRACTION:
        rows, cols = np.ogrid[:size, :size]
        scale = size / 240
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0, size, 2)
            ry, rx = rng.uniform(10, 40, 2) * scale
            mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1.0
        bump = ndimage.gaussian_filter(mask.astype(np.float32), sigma=3 * scale)
        scores += rng.uniform(0.1, 0.5) * bump
    scores += rng.normal(0.0, 0.02, size=scores.shape).astype(np.float32)
    return scores.astype(np.float32, copy=False), mask


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _images(args: argparse.Namespace, label: str):
    for index in tqdm(range(args.images), desc=label, unit="img", leave=False):
        yield synthetic_image(index, args.size, args.seed)


def run_floor(args: argparse.Namespace) -> dict:
    pixels = anomalous = 0
    for _, mask in _images(args, "floor"):
        pixels += mask.size
        anomalous += int(mask.sum())
    return {"pixels": pixels, "anomalous_fraction": anomalous / pixels}


def run_ours(args: argparse.Namespace) -> dict:
    scores = PixelScores()
    add_seconds = 0.0
    for anomaly_map, mask in _images(args, "ours"):
        start = time.perf_counter()
        scores.add(anomaly_map, mask)
        add_seconds += time.perf_counter() - start
    start = time.perf_counter()
    values = scores.all()  # sorts once, then computes the five metrics
    return {
        "values": values,
        "add_s": add_seconds,
        "all_s": time.perf_counter() - start,
        "scores_mb": (scores.n_normal * 4 + scores.n_anomalous * 8) / 2**20,
        "regions": scores.n_regions,
    }


def run_naive(args: argparse.Namespace) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    maps, masks = [], []
    for anomaly_map, mask in _images(args, "naive"):
        maps.append(anomaly_map)
        masks.append(mask)
    start = time.perf_counter()
    all_scores = np.asarray(maps, dtype=np.float64).ravel()
    all_truth = np.asarray(masks).ravel()
    del maps, masks  # favourable to the naive side: the per-image list is freed before sklearn
    values = {
        "pixel_auroc": float(roc_auc_score(all_truth, all_scores)),
        "pixel_ap": float(average_precision_score(all_truth, all_scores)),
    }
    return {"values": values, "metrics_s": time.perf_counter() - start}


WORKERS = {"floor": run_floor, "ours": run_ours, "naive": run_naive}


def _child(worker: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", worker,
               "--images", str(args.images), "--size", str(args.size), "--seed", str(args.seed)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1725, help="maps in the category")
    parser.add_argument("--size", type=int, default=240, help="map height and width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        # Every child imports the same libraries, so the floor child's peak covers them and
        # "above floor" is the metric computation alone.
        import sklearn.metrics  # noqa: F401

        result = WORKERS[args.worker](args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return

    floor = _child("floor", args)
    ours = _child("ours", args)
    naive = _child("naive", args)
    ours_time = ours["add_s"] + ours["all_s"]
    ours_above = ours["peak_rss_mb"] - floor["peak_rss_mb"]
    naive_above = naive["peak_rss_mb"] - floor["peak_rss_mb"]
    print(f"category: {args.images} maps of {args.size}x{args.size} = {floor['pixels']:,} pixels, "
          f"{100 * floor['anomalous_fraction']:.2f}% anomalous in {ours['regions']} regions")
    print(f"PixelScores' stored scores (4 B per normal, 8 B per anomalous pixel): "
          f"{ours['scores_mb']:.0f} MB")
    print(f"{'':8}{'peak RSS':>12}{'above floor':>14}{'time (s)':>11}   metrics")
    print(f"{'floor':8}{floor['peak_rss_mb']:>9.0f} MB{'':>14}{'':>11}   none (imports + generation)")
    print(f"{'ours':8}{ours['peak_rss_mb']:>9.0f} MB{ours_above:>11.0f} MB{ours_time:>11.2f}   "
          f"all five (add {ours['add_s']:.2f} s, sort + five metrics {ours['all_s']:.2f} s)")
    print(f"{'naive':8}{naive['peak_rss_mb']:>9.0f} MB{naive_above:>11.0f} MB"
          f"{naive['metrics_s']:>11.2f}   AUROC + AP only (float64 stack + sklearn)")
    print(f"ratio naive/ours: peak RSS {naive['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x, "
          f"above floor {naive_above / max(ours_above, 1e-9):.1f}x, "
          f"time {naive['metrics_s'] / ours_time:.1f}x (ours computes five metrics, naive two)")
    for name in ("pixel_auroc", "pixel_ap"):
        print(f"{name}: ours {ours['values'][name]:.10f}  sklearn {naive['values'][name]:.10f}  "
              f"|diff| {abs(ours['values'][name] - naive['values'][name]):.1e}")
    print("ours, all five: " + ", ".join(f"{k} {v:.4f}" for k, v in ours["values"].items()))


if __name__ == "__main__":
    main()
