"""Small helpers the book's notebooks share: smoke mode, Colab, Drive, GPU, banners, glue.

Kept free of heavy imports (no myst-nb, no IPython or torch at import time) so that the package,
the CLI and the tests can read the smoke switch without pulling in a notebook stack.

The Colab edition (``make colab``, :mod:`anoclip.editions.colab`) calls :func:`colab_setup`,
:func:`use_google_drive` and, through :func:`glue`, prints the numbers the site shows in its
prose; the book's own build never needs them.
"""
from __future__ import annotations

import numbers
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from . import env
from .env import data_dir, results_dir, smoke_mode

__all__ = [
    "DRIVE_FOOTPRINT", "SMOKE_BANNER", "add_smoke_banner", "autocast_choice", "benchmark_results", "colab_setup",
    "data_dir", "enable_colab_widgets", "glue", "gpu_report", "in_colab", "load_examples", "load_model", "results_dir",
    "sample_dataset", "setup_figures", "smoke_mode", "spread", "table", "tidy", "use_google_drive",
]

SMOKE_BANNER = "SMOKE MODE: tiny random CLIP + synthetic data. Numbers are NOT meaningful."
BANNER_INCHES = 0.4  # height kept free for the banner at the top of a smoke-mode figure
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
    """In smoke mode, stamp the banner on every pyplot figure the notebook creates.

    Uses matplotlib's ``figure.hooks`` (called for each ``plt.figure``/``plt.subplots``), so no
    chapter can forget it. Figures built with the object API get it from :mod:`anoclip.viz`.
    """
    if not smoke_mode():
        return
    import matplotlib

    hook = f"{__name__}:add_smoke_banner"
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


def tidy(fig: Any) -> None:
    """``tight_layout`` for a pyplot figure that keeps the top strip free for the smoke banner.

    The banner (:func:`add_smoke_banner`) is drawn in the top :data:`BANNER_INCHES` of a
    smoke-mode figure; a plain ``tight_layout`` would slide the titles under it.
    """
    top = 1 - BANNER_INCHES / fig.get_figheight() if smoke_mode() else 1
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
    """Stamp a red banner across a matplotlib figure so no smoke-mode plot passes for a result."""
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
