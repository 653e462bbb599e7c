"""The book on Colab: the runtime's GPU and precision, its widget manager, Google Drive.

The Colab edition (``make colab``, :mod:`anoclip_book.editions.colab`) calls :func:`colab_setup` and,
optionally, :func:`use_google_drive` in its first cells; the book's own build never needs them.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import os

from anoclip import env
from anoclip.env import data_dir, results_dir

from . import modes
from .modes import smoke_mode
from .pages import set_glue_formats


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


def autocast_choice(capability: Optional[Tuple[int, int]], setting: Optional[str] = None) -> Optional[str]:
    """The autocast dtype the book uses on a GPU of compute ``capability`` (None: no CUDA device).

    ``setting`` is ``$ANOCLIP_PRECISION`` unless given: ``auto`` gives bf16 from compute
    capability 8.0 (Ampere and later: A100, L4, H100), fp16 below (T4, V100), and full precision
    without CUDA; ``fp32`` always gives full precision (None, the package's faithful default);
    ``fp16``/``bf16`` force that type on CUDA.
    """
    setting = modes.precision() if setting is None else setting
    if capability is None or setting == "fp32":
        return None
    if setting in ("fp16", "bf16"):
        return setting
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def cuda_capability(device: Any) -> Optional[Tuple[int, int]]:
    """Compute capability of ``device`` when it is a CUDA device, else None."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(device))


def gpu_report() -> str:
    """One or two lines on the runtime's accelerator and the precision :func:`load_model` picks.

    Without a GPU they say what to change (on Colab, the runtime type), since real mode on a CPU
    takes minutes per chapter figure instead of seconds.
    """
    import torch

    if not torch.cuda.is_available():
        fix = _COLAB_GPU_HINT if in_colab() else "install a CUDA build of PyTorch on a machine with an NVIDIA GPU"
        return f"No GPU: real mode runs on the CPU, much more slowly. To use a GPU: {fix}"
    capability = cuda_capability("cuda")
    amp = None if smoke_mode() else autocast_choice(capability)
    mode = f"{amp} autocast (mixed precision)" if amp else "fp32"
    return (f"GPU: {torch.cuda.get_device_name()} (compute capability {capability[0]}.{capability[1]}): chapters run in {mode}; "
            f"{modes.PRECISION_ENV}=fp32 (or one of {list(modes.PRECISIONS)}) sets it before load_model().")


def colab_setup(glue_formats: Optional[Mapping[str, Sequence[str]]] = None) -> None:
    """The Colab edition's setup cell: widgets, glue printing, and a GPU check.

    On Colab it enables the custom widget manager, which the explorers' ipywidgets need when the
    runtime's ipywidgets is 8.x (harmless with Colab's 7.x). ``glue_formats`` (name → the format
    specs the prose uses) makes :func:`glue` print the values. It then prints
    :func:`gpu_report` and where weights, data and results go.
    """
    enable_colab_widgets()
    if glue_formats is not None:
        set_glue_formats(glue_formats)
    print(gpu_report())
    print(f"weights: {env.cache_dir()} | data: {data_dir()} | results: {results_dir()}")


def use_google_drive(folder: str = "anoclip", mount_point: Path = DRIVE_ROOT) -> Dict[str, Path]:
    """Mount Google Drive (Colab only) and keep weights, data and results in ``MyDrive/<folder>``.

    Sets ``ANOCLIP_CACHE``, ``ANOCLIP_DATA`` and ``ANOCLIP_RESULTS`` to
    ``MyDrive/<folder>/{cache,data,results}`` (:func:`use_folders`), so the next
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
    folders = use_folders(mount_point / "MyDrive" / folder)
    for name, path in folders.items():
        print(f"{name}={path}")
    print(DRIVE_FOOTPRINT)
    return folders


def use_folders(root: Path) -> Dict[str, Path]:
    """Point ``ANOCLIP_CACHE``, ``ANOCLIP_DATA`` and ``ANOCLIP_RESULTS`` at ``root/{cache,data,results}``.

    What the Colab edition's Google Drive cell calls: every reader of :mod:`anoclip.env` then sees
    the new folders (it reads the environment at each call), and so do the subprocesses a chapter
    starts. Returns the variables it set.
    """
    folders = {env.CACHE_ENV: root / "cache", env.DATA_ENV: root / "data", env.RESULTS_ENV: root / "results"}
    for name, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    return folders
