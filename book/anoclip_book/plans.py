"""Chapter 6: the benchmark plan that fits the machine, the provenance of results, committed runs.

A plan says what runs where (:func:`choose_plan`); every set of results carries a provenance
record (plan, hardware, commit, date, model); full runs made elsewhere (a GPU) are committed
under ``book/results/`` with theirs and shown beside what a build computed.
"""
from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import modes
from .modes import smoke_mode
from anoclip.fileio import write_json_atomic
from .pages import rehearsal_mode


#: Images per MVTec AD category the baselines see under the CPU plan (see :func:`bench_plans`).
CPU_BASELINE_IMAGES = 5
#: The rows beyond zero-shot AnoCLIP (chapter 8): a memory of 1 or 4 normal training images per
#: category, and transductive scoring, each as ``BenchSetting.create`` options.
PROTOCOL_ROWS = (("few-shot 1", {"shots": 1}), ("few-shot 4", {"shots": 4}), ("transductive", {"transductive": True}))


@dataclass(frozen=True)
class BenchPlan:
    """What chapter 6 runs on this machine.

    ``datasets`` get AnoCLIP and AnoCLIP+ on every test image, and AnoCLIP under each of
    :data:`PROTOCOL_ROWS` (few-shot 1 and 4, transductive) on every test image; the training-free
    baselines run on ``baseline_datasets``, on at most ``baseline_limit`` images per category (None: all).
    """

    name: str
    title: str
    datasets: Tuple[str, ...]
    baseline_datasets: Tuple[str, ...]
    baseline_limit: Optional[int]
    why: str

    def describe(self) -> str:
        """One Markdown sentence: what runs, on which data, how far."""
        from anoclip.data.registry import get_dataset

        names = ", ".join(get_dataset(name).title for name in self.datasets)
        baselines = ", ".join(get_dataset(name).title for name in self.baseline_datasets)
        limit = "every test image" if self.baseline_limit is None else (
            f"{self.baseline_limit} test images per category (alternately anomalous and normal)")
        protocols = ", ".join(label for label, _ in PROTOCOL_ROWS)
        return (f"**{self.title}**: AnoCLIP and AnoCLIP+, and AnoCLIP {protocols}, on every test image of {names} "
                f"(those prepared on this machine); the training-free baselines on {baselines}, {limit}. {self.why}")


def bench_plans() -> Dict[str, BenchPlan]:
    """The two plans, by name: ``cpu`` (fits a CPU-only machine such as a GitHub-hosted runner)
    and ``gpu`` (the full ten-dataset table and every baseline)."""
    from anoclip.data.registry import BENCHMARK_DATASETS

    return {
        "cpu": BenchPlan(
            "cpu", "CPU plan", ("mvtec",), ("mvtec",), CPU_BASELINE_IMAGES,
            "On CPU one ViT-B-16-plus-240 image costs seconds (22 views for its image score), so the whole "
            "ten-dataset table would take days; MVTec AD with both AnoCLIP variants fits a few hours.",
        ),
        "gpu": BenchPlan(
            "gpu", "GPU plan", tuple(BENCHMARK_DATASETS), ("mvtec", "visa"), None,
            "On a GPU the whole suite runs in well under an hour per method.",
        ),
    }


def choose_plan(gpu: bool) -> BenchPlan:
    """``$ANOCLIP_PLAN`` when set, else the GPU plan on a GPU and the CPU plan without one."""
    plans = bench_plans()
    name = modes.bench_plan() or ("gpu" if gpu else "cpu")
    if name not in plans:
        raise ValueError(
            f"{modes.PLAN_ENV}={name!r} is not a plan; set it to one of {', '.join(sorted(plans))}, or unset it "
            "to let the hardware decide."
        )
    return plans[name]


def hardware(device: Any) -> str:
    """The machine in words: the GPU's name, or the CPU's model and the cores this process may use."""
    if str(device).startswith("cuda"):
        import torch

        return f"GPU: {torch.cuda.get_device_name(device)}"
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU: {model}, {cores} cores"


def source_revision() -> str:
    """The git commit of the checkout this package runs from (``+ local changes`` when its tracked
    files differ from it), else the package version: a pip-installed copy (Colab) has no git."""
    from anoclip.version import __version__

    checkout = Path(__file__).resolve().parents[2]  # book/anoclip_book/plans.py -> the checkout

    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "HEAD")
    if not commit or git("ls-files", "anoclip/__init__.py") != "anoclip/__init__.py":
        return f"anoclip {__version__} (not a git checkout)"
    return commit + (" + local changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def run_provenance(plan: BenchPlan, model: Any, device: Any) -> Dict[str, Any]:
    """What a reader needs to judge a set of chapter 6 results: plan, hardware, commit, date, model."""
    import open_clip
    import torch

    from anoclip.version import __version__

    return {
        "plan": plan.name, "plan_title": plan.title, "baseline_limit": plan.baseline_limit,
        "hardware": hardware(device), "revision": source_revision(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model.describe(), "anoclip": __version__, "torch": torch.__version__,
        "open_clip": open_clip.__version__, "smoke": smoke_mode(), "rehearsal": rehearsal_mode(),
    }


PROVENANCE_FILE = "provenance.json"


def write_provenance(folder: Path, record: Mapping[str, Any]) -> Path:
    """Write ``record`` as ``folder/provenance.json`` (atomically)."""
    return write_json_atomic(Path(folder) / PROVENANCE_FILE, dict(record))


def read_provenance(folder: Path) -> Dict[str, Any]:
    """The provenance record of a results folder; an error names the file and how to fix it."""
    path = Path(folder) / PROVENANCE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path}: {err}. Every committed run needs its provenance.json (plan, hardware, revision, date): "
            "copy the one chapter 6 wrote next to the results (see book/results/README.md)."
        ) from err
    missing = [key for key in ("plan", "hardware", "revision", "date") if key not in record]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; copy the provenance.json chapter 6 wrote.")
    return record


@dataclass(frozen=True)
class RecordedRun:
    """One ``anoclip bench`` output folder: its setting and its mean over categories (fractions)."""

    folder: Path
    dataset: str
    method: str
    tta: Optional[Dict[str, Any]]
    limit: Optional[int]
    model: Dict[str, Any]
    means: Dict[str, float]
    images: int
    categories: int


def read_bench_folder(folder: Path) -> RecordedRun:
    """Read ``config.json`` and the ``mean`` row of ``results.csv`` that ``anoclip bench`` wrote."""
    from anoclip.metrics import METRICS

    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        with open(folder / "results.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        mean = next(row for row in rows if row["category"] == "mean")
        means = {name: float(mean[name]) if mean[name] else math.nan for name in METRICS}
        recorded = RecordedRun(
            folder=folder, dataset=config["dataset"], method=config["method"], tta=config.get("tta"),
            limit=config.get("limit"), model=config.get("model", {}), means=means, images=int(mean["images"]),
            categories=len(rows) - 1,
        )
    except (OSError, ValueError, KeyError, StopIteration) as err:
        raise ValueError(
            f"{folder} is not a complete `anoclip bench` output (config.json and results.csv with a mean row): "
            f"{type(err).__name__}: {err}. Copy the whole folder again."
        ) from err
    return recorded


@dataclass(frozen=True)
class CommittedRun:
    """A set of results committed under ``book/results/<name>/``: provenance plus bench folders."""

    folder: Path
    provenance: Dict[str, Any]
    runs: Tuple[RecordedRun, ...]


def committed_runs(root: Path) -> List[CommittedRun]:
    """Every committed run under ``root`` (each subfolder with a ``provenance.json``), by name.

    A subfolder without one is an error, not skipped: results without provenance must not be shown.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        provenance = read_provenance(folder)
        runs = tuple(read_bench_folder(sub) for sub in sorted(folder.iterdir()) if (sub / "config.json").is_file())
        found.append(CommittedRun(folder, provenance, runs))
    return found


def export_run(source: Path, dest: Path) -> Path:
    """Copy a finished plan's results (``$ANOCLIP_RESULTS/<plan>``) into ``dest`` for committing.

    Takes ``provenance.json`` and, of every bench folder, ``config.json``, ``results.csv``,
    ``results.md`` and ``categories/`` (the per-image ``scores/`` stay behind: large and not
    shown). ``dest`` must not exist yet.
    """
    source, dest = Path(source).expanduser(), Path(dest)
    read_provenance(source)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; choose a new folder name (e.g. <date>-<gpu>) for this run.")
    folders = [sub for sub in sorted(source.iterdir()) if (sub / "config.json").is_file()]
    if not folders:
        raise ValueError(f"{source} holds no `anoclip bench` output folder; run chapter 6 (or anoclip bench) first.")
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copyfile(source / PROVENANCE_FILE, staging / PROVENANCE_FILE)
    for folder in folders:
        read_bench_folder(folder)  # incomplete results are refused before anything is committed
        target = staging / folder.name
        target.mkdir()
        for name in ("config.json", "results.csv", "results.md"):
            if (folder / name).is_file():
                shutil.copyfile(folder / name, target / name)
        if (folder / "categories").is_dir():
            shutil.copytree(folder / "categories", target / "categories")
    os.replace(staging, dest)
    return dest


#: Published metrics with more than one definition: (title, ((words in the note, our metric), ...)),
#: the first words found in the note choosing.
_METRIC_VARIANTS = {
    "aupro": ("AUPRO", (("cflow", "aupro_cflow"), ("mvtec definition", "aupro"))),
    "image_ap": ("image AP", (("trapezoid", "image_aupr_trapezoid"), ("step-wise", "image_ap"))),
}


def comparable_metric(number: Any, resolution: Optional[int] = None) -> Tuple[Optional[str], str]:
    """Which of our metrics a published number compares with, and the caveat, from its ``note``.

    AUPRO: the note says whether the source computed the cflow variant (compare with our
    ``aupro_cflow``) or the MVTec definition (``aupro``); otherwise there is nothing to compare
    with. Image AP: step-wise (``image_ap``) or trapezoid (``image_aupr_trapezoid``) when the
    note says so. ``resolution`` is ours: a source that evaluated at another size is flagged.
    """
    note = number.note.lower()
    metric, caveats = number.metric, []
    if metric in _METRIC_VARIANTS:
        title, choices = _METRIC_VARIANTS[metric]
        metric = next((ours for words, ours in choices if words in note), None)
        if metric is None:
            caveats.append(f"{title} variant not stated: quote only")
    if number.resolution is None:
        caveats.append("evaluation resolution not stated")
    elif resolution is not None and number.resolution != resolution:
        caveats.append(f"evaluated at {number.resolution} px, ours at {resolution} px")
    return metric, "; ".join(caveats)
