"""Small helpers the book's notebooks share: smoke mode and rehearsal banners, Colab, Drive, GPU,
glue, and chapter 6's benchmark plan, provenance and committed results.

Kept free of heavy imports (no myst-nb, no IPython, no torch at import time) so that the
package, the CLI and the tests can read the smoke switch without pulling in a notebook stack.

The Colab edition (``make colab``, :mod:`anoclip.editions.colab`) calls :func:`colab_setup`,
:func:`use_google_drive` and, through :func:`glue`, prints the numbers the site shows in its
prose; the book's own build never needs them.
"""
from __future__ import annotations

import contextlib
import csv
import datetime
import json
import logging
import math
import numbers
import os
import platform
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from . import env
from .env import data_dir, results_dir, smoke_mode
from .fileio import write_json_atomic

__all__ = [
    "BenchPlan", "CPU_BASELINE_IMAGES", "CommittedRun", "DRIVE_FOOTPRINT", "REHEARSAL_BANNER", "RecordedRun",
    "SMOKE_BANNER", "add_figure_banner", "add_smoke_banner", "autocast_choice", "bench_plans", "benchmark_results",
    "choose_plan", "colab_setup", "committed_runs", "comparable_metric", "data_dir", "enable_colab_widgets",
    "export_run", "figure_banner", "glue", "gpu_report", "hardware", "in_colab", "load_examples", "load_model",
    "quiet", "read_bench_folder", "read_provenance", "rehearsal_mode", "results_dir", "run_provenance",
    "sample_dataset", "setup_figures", "smoke_mode", "source_revision", "spread", "table", "tidy",
    "use_google_drive", "write_provenance",
]

SMOKE_BANNER = "SMOKE MODE: tiny random CLIP + synthetic data. Numbers are NOT meaningful."
REHEARSAL_BANNER = "REHEARSAL: random-weight checkpoint + synthetic stand-in data (ANOCLIP_STANDINS). NOT a result."
BANNER_INCHES = 0.4  # height kept free for the banner at the top of a smoke-mode (or rehearsal) figure
DRIVE_ROOT = Path("/content/drive")
# What the book keeps under ANOCLIP_CACHE/DATA: the weights once, and for the two MVTec AD categories of
# chapters 1-5 their archives plus ONE prepared copy (anoclip.data never hard-links, and the
# extraction is moved into the prepared dataset rather than copied; measured in tests/test_data_samples.py).
DRIVE_FOOTPRINT = (
    "Drive space: CLIP weights ~0.8 GB (ViT-B-16-plus-240 / laion400m_e32); the MVTec AD bottle and grid "
    "categories of chapters 1-5 ~0.3 GB of archives + ~0.3 GB prepared (archives + one extracted copy, nothing "
    "more); chapter 6 adds, per benchmark dataset you prepare, its archive + one prepared copy, and its results."
)
_COLAB_GPU_HINT = "Runtime → Change runtime type → Hardware accelerator: T4 GPU (or better) → Save, then run the notebook again from the top."


def in_colab() -> bool:
    """True inside a Google Colab kernel (the Colab edition's install and Drive cells act only there)."""
    return "google.colab" in sys.modules


def rehearsal_mode() -> bool:
    """True while a stand-in manifest is active (``make rehearse``): the real code path runs, but on
    a random-weight checkpoint and synthetic stand-ins, so nothing computed is a result."""
    return env.standins() is not None


def figure_banner() -> Optional[str]:
    """The banner every figure must carry now: smoke mode's, a rehearsal's, or None (real results)."""
    if smoke_mode():
        return SMOKE_BANNER
    return REHEARSAL_BANNER if rehearsal_mode() else None


def enable_colab_widgets() -> bool:
    """On Colab, enable its custom widget manager; return whether it did (False elsewhere).

    Colab renders its preinstalled ipywidgets 7.x natively, but ipywidgets 8 (if a reader
    upgrades it) and widget-state messages from other libraries need the custom manager, which
    loads the widget JavaScript from a CDN. Calling it twice is harmless.
    """
    if not in_colab():
        return False
    from google.colab import output  # type: ignore[import-not-found]

    output.enable_custom_widget_manager()
    return True


def setup_figures() -> None:
    """Stamp the current banner (smoke mode, rehearsal) on every pyplot figure the notebook creates.

    Uses matplotlib's ``figure.hooks`` (called for each ``plt.figure``/``plt.subplots``), so no
    chapter can forget it. Figures built with the object API get it from :mod:`anoclip.viz`.
    A rehearsal is not smoke mode (no chapter prints a smoke line), so it is announced here, once
    at the top of every chapter.
    """
    banner = figure_banner()
    if banner is None:
        return
    if banner == REHEARSAL_BANNER:
        print(f"!!! {REHEARSAL_BANNER}")
    import matplotlib

    hook = f"{__name__}:add_figure_banner"
    if hook not in matplotlib.rcParams["figure.hooks"]:
        matplotlib.rcParams["figure.hooks"] = [*matplotlib.rcParams["figure.hooks"], hook]


def autocast_choice(capability: Optional[Tuple[int, int]], setting: Optional[str] = None) -> Optional[str]:
    """The autocast dtype the book uses on a GPU of compute ``capability`` (None: no CUDA device).

    ``setting`` is ``$ANOCLIP_PRECISION`` unless given: ``auto`` gives bf16 from compute
    capability 8.0 (Ampere and later: A100, L4, H100), fp16 below (T4, V100), and full precision
    without CUDA; ``fp32`` always gives full precision (None, the package's faithful default);
    ``fp16``/``bf16`` force that type on CUDA.
    """
    setting = env.precision() if setting is None else setting
    if capability is None or setting == "fp32":
        return None
    if setting in ("fp16", "bf16"):
        return setting
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def _cuda_capability(device: Any) -> Optional[Tuple[int, int]]:
    """Compute capability of ``device`` when it is a CUDA device, else None."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(device))


def load_model(**kwargs: Any):
    """The chapter's model: real weights by default, the tiny random CLIP in smoke mode.

    The architecture and weights are ``$ANOCLIP_MODEL`` / ``$ANOCLIP_PRETRAINED`` (an open_clip
    tag or a checkpoint file; defaults ViT-B-16-plus-240 / laion400m_e32), so that
    ``make book`` and every chapter load the same model without editing a notebook.
    Keyword arguments go to :meth:`anoclip.AnoCLIP.from_pretrained` and win over the environment.
    Offline without cached weights this raises an error that lists each source tried and says
    how to pass a local checkpoint or switch to ``ANOCLIP_SMOKE=1``.

    In smoke mode the tiny random model is asked for by name, whatever the arguments: a page
    announces smoke mode with the banner on every figure (:func:`setup_figures`), so the warning
    :meth:`~anoclip.AnoCLIP.from_pretrained` gives when the environment swaps a model behind a
    caller's back would only be noise on every page.

    On a CUDA device, real mode runs in mixed precision unless the config already asks for an
    autocast type: :func:`autocast_choice` (bf16 from compute capability 8.0, fp16 on a T4), so
    that a free Colab GPU is not held back by fp32. ``ANOCLIP_PRECISION=fp32`` keeps the
    faithful fp32 of the package default (``AnoCLIPConfig.amp=None``).
    """
    from .env import model_name, pretrained
    from .model import AnoCLIP

    if smoke_mode():
        from .backbone import TINY_MODEL

        kwargs.update(name=TINY_MODEL, pretrained=None, image_size=None)
    kwargs.setdefault("name", model_name())
    kwargs.setdefault("pretrained", pretrained())
    model = AnoCLIP.from_pretrained(**kwargs)
    amp = None if smoke_mode() else autocast_choice(_cuda_capability(model.device))
    if amp and model.config.amp is None:
        model = model.with_config(amp=amp)
    return model


def gpu_report() -> str:
    """One or two lines on the runtime's accelerator and the precision :func:`load_model` picks.

    Without a GPU they say what to change (on Colab, the runtime type), since real mode on a CPU
    takes minutes per chapter figure instead of seconds.
    """
    import torch

    if not torch.cuda.is_available():
        fix = _COLAB_GPU_HINT if in_colab() else "install a CUDA build of PyTorch on a machine with an NVIDIA GPU"
        return f"No GPU: real mode runs on the CPU, much more slowly. To use a GPU: {fix}"
    capability = _cuda_capability("cuda")
    amp = None if smoke_mode() else autocast_choice(capability)
    mode = f"{amp} autocast (mixed precision)" if amp else "fp32"
    return (f"GPU: {torch.cuda.get_device_name()} (compute capability {capability[0]}.{capability[1]}): chapters run in {mode}; "
            f"{env.PRECISION_ENV}=fp32 (or one of {list(env.PRECISIONS)}) sets it before load_model().")


def sample_dataset(categories: Sequence[str] = ("bottle", "grid")) -> Path:
    """A small dataset root for chapters 1-5: real MVTec AD categories, or synthetic in smoke mode.

    The synthetic generator has ``bottle`` and ``grid`` too, so chapters can name the same
    categories in both modes.
    """
    if smoke_mode():
        from .data import Meta, make_synthetic_dataset

        root = data_dir() / "synthetic"
        if not (root / "meta.json").is_file():
            make_synthetic_dataset(root)
        missing = sorted(set(categories) - set(Meta.load(root).categories()))
        if missing:
            raise ValueError(f"The synthetic dataset has no {missing}; it offers {Meta.load(root).categories()}.")
        return root
    from .data.samples import prepare_mvtec_categories

    return prepare_mvtec_categories(data_dir() / "mvtec_book", categories)


def benchmark_results(dataset: str, model: Any, method: str = "anoclip", tta: bool = False) -> Optional[Tuple[Path, list]]:
    """The finished categories of a benchmark run (chapter 6, ``anoclip bench``) under :func:`results_dir`.

    Looks two folder levels down for a run's ``config.json`` of this ``dataset`` and ``method``
    (no method options), with or without TTA, made with this model's architecture, weights and
    input size; among several it prefers a run without ``limit``, then the one with the most
    finished categories. Returns ``(folder, [CategoryResult, ...])``, or ``None`` when there is
    none, so a chapter can say so instead of failing.
    """
    import json

    from .bench import load_category_result

    base = results_dir()
    runs = []
    for config in sorted(base.glob("config.json")) + sorted(base.glob("*/config.json")) + sorted(base.glob("*/*/config.json")):
        try:
            record = json.loads(config.read_text())
        except (OSError, ValueError):
            continue
        weights = record.get("model", {})
        if (record.get("dataset"), record.get("method"), record.get("method_options"), record.get("tta") is not None) != (
            dataset, method, {}, tta
        ) or (weights.get("model"), weights.get("pretrained"), weights.get("image_size")) != (
            model.name, model.pretrained, model.image_size
        ):
            continue
        finished = sorted((config.parent / "categories").glob("*.json"))
        if finished:
            runs.append((record.get("limit") is not None, -len(finished), config.parent, finished))
    if not runs:
        return None
    _, _, folder, finished = min(runs, key=lambda run: run[:2])
    return folder, [load_category_result(path) for path in finished]


def spread(samples: Sequence[Any], count: int) -> list:
    """Every k-th item: MVTec lists test images by defect type, so the picks cover all types."""
    return list(samples[:: max(1, len(samples) // max(count, 1))][:count])


def load_examples(model: Any, root: Path, categories: Sequence[str], per_label: int) -> dict:
    """The images a chapter shows: ``per_label`` anomalous then ``per_label`` normal per category.

    Returns ``{category: {"samples", "x" (B,3,S,S), "images" (PIL at S×S), "masks" (B,S,S) bool,
    "labels" (B,) bool}}`` with masks resized like the official evaluation.
    """
    import numpy as np

    from .data import Meta, load_sample
    from .protocol import resize_mask

    meta = Meta.load(root)
    side = model.image_size
    examples = {}
    for category in categories:
        samples = meta.samples(category)
        chosen = spread([s for s in samples if s.anomaly], per_label) + spread([s for s in samples if not s.anomaly], per_label)
        pairs = [load_sample(root, sample) for sample in chosen]
        examples[category] = {
            "samples": chosen,
            "x": model.preprocess([image for image, _ in pairs]),
            "images": [image.resize((side, side)) for image, _ in pairs],
            "masks": np.stack([resize_mask(mask, (side, side)) for _, mask in pairs]),
            "labels": np.array([bool(sample.anomaly) for sample in chosen]),
        }
    return examples


def add_figure_banner(fig: Any) -> None:
    """The figure hook of :func:`setup_figures`: stamp :func:`figure_banner`'s text, if any."""
    banner = figure_banner()
    if banner is not None:
        add_smoke_banner(fig, banner)


def tidy(fig: Any) -> None:
    """``tight_layout`` for a pyplot figure that keeps the top strip free for the smoke banner.

    The banner (:func:`add_smoke_banner`) is drawn in the top :data:`BANNER_INCHES` of a
    smoke-mode figure; a plain ``tight_layout`` would slide the titles under it.
    """
    top = 1 - BANNER_INCHES / fig.get_figheight() if figure_banner() is not None else 1
    fig.tight_layout(rect=(0, 0, 1, top))


def table(frame: Any, floats: str = "{:.3f}", formats: Optional[dict] = None) -> Any:
    """A pandas DataFrame (or Styler) as an HTML table that fits the book's text column.

    Numbers are formatted (``floats`` for every float column, ``formats`` per column), text
    cells wrap, and a table still wider than the column scrolls sideways inside its own box
    instead of running off the page. Returns an IPython ``HTML`` object (display it or end the
    cell with it).
    """
    from IPython.display import HTML
    from pandas.io.formats.style import Styler

    styler = frame if isinstance(frame, Styler) else None
    if styler is None:
        floating = [column for column, kind in frame.dtypes.items() if kind.kind == "f"]
        styler = frame.style.format(floats, subset=floating, na_rep="–")
    if formats:
        styler = styler.format(formats, na_rep="–")
    inner = styler.set_table_attributes('class="anoclip-table"').to_html()
    return HTML(
        '<div style="overflow-x: auto; max-width: 100%;">'
        "<style>.anoclip-table { font-size: 0.85em; border-collapse: collapse; } "
        ".anoclip-table th, .anoclip-table td { padding: 0.2em 0.6em; white-space: normal; max-width: 22em; } "
        ".anoclip-table td { text-align: right; } .anoclip-table th { text-align: left; }</style>"
        f"{inner}</div>"
    )


def add_smoke_banner(fig: Any, text: str = SMOKE_BANNER) -> None:
    """Stamp a red banner across a matplotlib figure so no smoke-mode (or rehearsal) plot passes for a result."""
    fig.text(
        0.5, 0.995, text, ha="center", va="top", fontsize=10, fontweight="bold", color="white",
        bbox=dict(boxstyle="square,pad=0.3", facecolor="#c0392b", edgecolor="none"),
    )


_GLUE_FORMATS: Optional[Dict[str, Tuple[str, ...]]] = None


def glue(name: str, value: Any, display: bool = True) -> None:
    """Publish ``value`` under ``name`` for ``{glue:}`` roles in the book, without myst-nb.

    myst-nb's glue is an IPython display bundle carrying ``metadata.scrapbook``; emitting that
    bundle here keeps Colab (which lacks myst-nb) free of a Sphinx install. In the Colab edition,
    where no Sphinx fills the prose in, :func:`colab_setup` registers the formats the prose uses
    and each value is printed instead, as ``[name] = value`` -- the text shows ``[name]`` where
    the site shows the number.
    """
    from IPython.display import display as ipy_display  # imported lazily: notebooks only

    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if _GLUE_FORMATS is not None:
        for spec in _GLUE_FORMATS.get(name, ()):
            print(f"[{name}] = {format(value, spec)}")
        return
    prefix = "application/papermill.record/"
    bundle = {prefix + "text/plain": repr(value)}
    if hasattr(value, "_repr_png_") or type(value).__name__ == "Figure":
        import base64
        import io

        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        bundle = {prefix + "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                  prefix + "text/plain": "<figure>"}
    ipy_display(bundle, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
    if display:
        ipy_display(value)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep library chatter off the page: Python warnings and log records below ERROR.

    For cells whose own output says what matters (e.g. open_clip logs "No pretrained weights
    loaded" while the book loads a checkpoint right after building the model). Prints, including
    the ``!!! STAND-IN`` announcements of a rehearsal, are not touched.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


# ----------------------------------------------------------------------------------------------
# Chapter 6: the benchmark plan, provenance, committed results


#: Images per MVTec AD category the baselines see under the CPU plan (see :func:`bench_plans`).
CPU_BASELINE_IMAGES = 5


@dataclass(frozen=True)
class BenchPlan:
    """What chapter 6 runs on this machine.

    ``datasets`` get AnoCLIP and AnoCLIP+ on every test image; the training-free baselines run on
    ``baseline_datasets``, on at most ``baseline_limit`` images per category (None: all).
    """

    name: str
    title: str
    datasets: Tuple[str, ...]
    baseline_datasets: Tuple[str, ...]
    baseline_limit: Optional[int]
    why: str

    def describe(self) -> str:
        """One Markdown sentence: what runs, on which data, how far."""
        from .data.registry import get_dataset

        names = ", ".join(get_dataset(name).title for name in self.datasets)
        baselines = ", ".join(get_dataset(name).title for name in self.baseline_datasets)
        limit = "every test image" if self.baseline_limit is None else (
            f"{self.baseline_limit} test images per category (alternately anomalous and normal)")
        return (f"**{self.title}**: AnoCLIP and AnoCLIP+ on every test image of {names} (those prepared on this "
                f"machine); the training-free baselines on {baselines}, {limit}. {self.why}")


def bench_plans() -> Dict[str, BenchPlan]:
    """The two plans, by name: ``cpu`` (fits a CPU-only machine such as a GitHub-hosted runner)
    and ``gpu`` (the full ten-dataset table and every baseline)."""
    from .data.registry import BENCHMARK_DATASETS

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
    name = env.bench_plan() or ("gpu" if gpu else "cpu")
    if name not in plans:
        raise ValueError(
            f"{env.PLAN_ENV}={name!r} is not a plan; set it to one of {', '.join(sorted(plans))}, or unset it "
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
    from . import __version__

    checkout = Path(__file__).resolve().parents[1]

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

    from . import __version__

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
    from .metrics import METRICS

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


def comparable_metric(number: Any, resolution: Optional[int] = None) -> Tuple[Optional[str], str]:
    """Which of our metrics a published number compares with, and the caveat, from its ``note``.

    AUPRO: the note says whether the source computed the cflow variant (compare with our
    ``aupro_cflow``) or the MVTec definition (``aupro``); otherwise there is nothing to compare
    with. Image AP: step-wise (``image_ap``) or trapezoid (``image_aupr_trapezoid``) when the
    note says so. ``resolution`` is ours: a source that evaluated at another size is flagged.
    """
    note = number.note.lower()
    metric, caveats = number.metric, []
    if metric == "aupro":
        if "cflow" in note:
            metric = "aupro_cflow"
        elif "mvtec definition" in note:
            metric = "aupro"
        else:
            metric, caveats = None, ["AUPRO variant not stated: quote only"]
    elif metric == "image_ap":
        if "trapezoid" in note:
            metric = "image_aupr_trapezoid"
        elif "step-wise" in note:
            metric = "image_ap"
        else:
            metric, caveats = None, ["image AP variant not stated: quote only"]
    if number.resolution is None:
        caveats.append("evaluation resolution not stated")
    elif resolution is not None and number.resolution != resolution:
        caveats.append(f"evaluated at {number.resolution} px, ours at {resolution} px")
    return metric, "; ".join(caveats)


def colab_setup(glue_formats: Optional[Mapping[str, Sequence[str]]] = None) -> None:
    """The Colab edition's setup cell: widgets, glue printing, and a GPU check.

    On Colab it enables the custom widget manager, which the explorers' ipywidgets need when the
    runtime's ipywidgets is 8.x (harmless with Colab's 7.x). ``glue_formats`` (name → the format
    specs the prose uses) makes :func:`glue` print the values. It then prints
    :func:`gpu_report` and where weights, data and results go.
    """
    global _GLUE_FORMATS
    enable_colab_widgets()
    if glue_formats is not None:
        _GLUE_FORMATS = {name: tuple(dict.fromkeys(specs)) for name, specs in glue_formats.items()}
    print(gpu_report())
    print(f"weights: {env.cache_dir()} | data: {data_dir()} | results: {results_dir()}")


def use_google_drive(folder: str = "anoclip", mount_point: Path = DRIVE_ROOT) -> Dict[str, Path]:
    """Mount Google Drive (Colab only) and keep weights, data and results in ``MyDrive/<folder>``.

    Sets ``ANOCLIP_CACHE``, ``ANOCLIP_DATA`` and ``ANOCLIP_RESULTS`` to
    ``MyDrive/<folder>/{cache,data,results}`` (:func:`anoclip.env.use_folders`), so the next
    session and the next chapter find what this one downloaded. Drive holds no hard links and
    the data layer needs none; :data:`DRIVE_FOOTPRINT` says how much space the book takes.
    """
    if not in_colab():
        raise RuntimeError(
            "use_google_drive() mounts Google Drive and works only on Colab. Elsewhere, set "
            f"{env.CACHE_ENV}, {env.DATA_ENV} and {env.RESULTS_ENV} to the folders you want instead."
        )
    from google.colab import drive  # type: ignore[import-not-found]

    drive.mount(str(mount_point))
    folders = env.use_folders(mount_point / "MyDrive" / folder)
    for name, path in folders.items():
        print(f"{name}={path}")
    print(DRIVE_FOOTPRINT)
    return folders
