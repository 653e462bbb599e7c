"""How long loading CLIP weights takes to fail without a network, measured (not asserted in tests).

Target: a reader offline gets the error that says how to pass a local checkpoint within seconds,
not after huggingface_hub's retries (about 25 s per file). Two cases, each in a fresh process:

* ``HF_HUB_OFFLINE=1`` (what CI and the tests set);
* no offline flag: the download itself must fail fast (a TCP probe runs before the hub client).

    python benchmarks/offline_failure.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

CODE = """
import anoclip
try:
    anoclip.AnoCLIP.from_pretrained({model!r}, {tag!r}, cache_dir={cache!r}, device="cpu")
except (anoclip.backbone.WeightsUnavailableError, FileNotFoundError):
    print("failed as expected")
"""


def seconds_to_fail(model: str, tag: str, offline: bool) -> float:
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CODE.format(model=model, tag=tag, cache=cache)],
                              capture_output=True, text=True, env=env, timeout=600)
        elapsed = time.perf_counter() - start
    if "failed as expected" not in done.stdout:
        raise SystemExit(f"unexpected outcome:\n{done.stdout}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    baseline = seconds_to_fail("anoclip-tiny", "no-such-tag-file.pt", offline=True)  # import + error, no network
    for label, model, tag, offline in (("HF_HUB_OFFLINE=1", "ViT-B-16-plus-240", "laion400m_e32", True),
                                       ("no offline flag", "ViT-B-16", "openai", False)):
        elapsed = seconds_to_fail(model, tag, offline)
        print(f"{label:18s} {model}/{tag}: failed after {elapsed:5.1f} s "
              f"({elapsed - baseline:+.1f} s beyond a process that fails without any download)")


if __name__ == "__main__":
    main()
