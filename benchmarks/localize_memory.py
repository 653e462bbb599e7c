"""Peak memory of ``anoclip localize`` on very large photos: it must grow with the model's input, not the photo.

Target (issue 18): overlays and masks of a 12,000 x 12,000 photo within 2 GB peak RSS. Each case
runs the real command in a fresh process (``--smoke``: the tiny model, so the number is the photo's
cost, not the weights') with a calibration, so the full-size mask is written too; the peak comes
from ``/usr/bin/time -v`` ("Maximum resident set size").

    python benchmarks/localize_memory.py
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def photo(path: Path, height: int, width: int) -> Path:
    """A smooth photo-like image (a gradient with a bright blob): small as a PNG, large decoded."""
    rows = np.linspace(0, 200, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 55, width, dtype=np.float32)[None, :]
    image = Image.fromarray((rows + cols).astype(np.uint8)).convert("RGB")
    image.save(path)
    return path


def peak_mb(command) -> float:
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        normal = work / "normal"
        normal.mkdir()
        for index in range(9):
            photo(normal / f"{index}.png", 300, 300)
        base = [sys.executable, "-m", "anoclip.cli", "localize", "--class-name", "bottle", "--smoke",
                "--calibrate", str(normal), "--fpr", "0.1"]
        baseline = peak_mb([*base, str(photo(work / "small.png", 300, 300)), "--out", str(work / "o0")])
        print(f"{'300 x 300 (baseline)':28s} peak RSS {baseline:7.0f} MB")
        for height, width in ((6000, 6000), (12000, 12000), (50, 8000)):
            image = photo(work / f"{height}x{width}.png", height, width)
            peak = peak_mb([*base, str(image), "--out", str(work / f"o{height}x{width}")])
            decoded = height * width * 3 / 2**20
            print(f"{f'{width} x {height}':28s} peak RSS {peak:7.0f} MB  (the decoded photo alone: {decoded:5.0f} MB)")


if __name__ == "__main__":
    main()
