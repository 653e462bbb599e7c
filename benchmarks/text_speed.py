"""Cost of a class's text side: the trimmed text tower and the disk cache, measured in one run.

Targets (real-mode issue), on CPU with ViT-B-16-plus-240 (random weights saved as a checkpoint
file, so the disk cache has weights to key by):

* the first ``text_bank`` call of a class takes at most 0.33x the time of ``clip.encode_text``
  on the same 924 sentences (the text tower runs each batch only up to its longest sentence);
* a second *process* gets the class's text bank from ``$ANOCLIP_CACHE`` in under 2 s.

    python benchmarks/text_speed.py                 # the issue's setting
    python benchmarks/text_speed.py --model anoclip-tiny
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from anoclip import AnoCLIP
from anoclip.prompts import build_sentences
from timing import timed

SECOND_PROCESS = """
import time, torch
from anoclip import AnoCLIP
model = AnoCLIP.from_pretrained({model!r}, {checkpoint!r}, device="cpu")
start = time.perf_counter()
model.text_bank("bottle")
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16-plus-240")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ANOCLIP_CACHE"] = str(Path(folder) / "cache")  # a cold cache, this run only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            random = AnoCLIP.from_pretrained(args.model, None, device="cpu")
        checkpoint = Path(folder) / "weights.pt"
        torch.save(random.clip.state_dict(), checkpoint)
        model = AnoCLIP.from_pretrained(args.model, str(checkpoint), device="cpu")
        normal, abnormal = build_sentences("bottle")
        tokens = model.tokenizer(normal + abnormal)

        def full():
            with torch.inference_mode():
                model.clip.encode_text(tokens)

        model.weights_sha256  # the checkpoint's digest (a cache key) is computed once per file, not timed here
        full_s = timed(full, "cpu")
        first_s = timed(lambda: model.text_bank("bottle"), "cpu")
        code = SECOND_PROCESS.format(model=args.model, checkpoint=str(checkpoint))
        second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        second_s = float(second.stdout.strip().splitlines()[-1])

    print(f"model {args.model}, {len(normal) + len(abnormal)} sentences, CPU threads {torch.get_num_threads()}")
    print(f"clip.encode_text (77 tokens)     {full_s:7.2f} s")
    print(f"first text_bank (trimmed)        {first_s:7.2f} s   ratio {first_s / full_s:.2f}  (target <= 0.33)")
    print(f"second process, from the cache   {second_s:7.2f} s   (target < 2 s)")


if __name__ == "__main__":
    main()
