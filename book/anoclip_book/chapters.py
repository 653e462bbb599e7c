"""What chapters load: the model (real weights, or the tiny one in smoke mode), their data and examples."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

from anoclip.env import data_dir, results_dir

from . import colab
from .modes import smoke_mode


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
    from anoclip.env import model_name, pretrained
    from anoclip.model import AnoCLIP

    if smoke_mode():
        from anoclip.backbone import TINY_MODEL

        kwargs.update(name=TINY_MODEL, pretrained=None, image_size=None)
    kwargs.setdefault("name", model_name())
    kwargs.setdefault("pretrained", pretrained())
    model = AnoCLIP.from_pretrained(**kwargs)
    amp = None if smoke_mode() else colab.autocast_choice(colab.cuda_capability(model.device))
    if amp and model.config.amp is None:
        model = model.with_config(amp=amp)
    return model


def sample_dataset(categories: Sequence[str] = ("bottle", "grid")) -> Path:
    """A small dataset root for chapters 1-5: real MVTec AD categories, or synthetic in smoke mode.

    The synthetic generator has ``bottle`` and ``grid`` too, so chapters can name the same
    categories in both modes.
    """
    if smoke_mode():
        from anoclip.data import Meta, make_synthetic_dataset

        root = data_dir() / "synthetic"
        if not (root / "meta.json").is_file():
            make_synthetic_dataset(root)
        missing = sorted(set(categories) - set(Meta.load(root).categories()))
        if missing:
            raise ValueError(f"The synthetic dataset has no {missing}; it offers {Meta.load(root).categories()}.")
        return root
    from anoclip_book.samples import prepare_mvtec_categories

    return prepare_mvtec_categories(data_dir() / "mvtec_book", categories)


def ablation_dataset() -> Tuple[Path, Tuple[str, ...]]:
    """The data of chapters 2 and 3's ablations, every test image of every category: all of MVTec AD in
    real mode, the synthetic dataset in smoke mode. Returns ``(root, categories)``.

    Real mode prepares MVTec AD exactly where and how chapter 6 does (``anoclip.data.prepare("mvtec",
    data_dir() / "mvtec", download=True)``, a no-op once prepared), so the book downloads and keeps
    the 4.9 GB of MVTec AD once: fifteen per-category copies beside chapter 6's would double the
    download and the disk, which the published CPU build cannot spare (docs/publishing.md).
    """
    from anoclip.data import Meta
    from anoclip.data.registry import MVTEC_CATEGORIES

    if smoke_mode():
        root = sample_dataset()
        return root, tuple(Meta.load(root).categories("test"))
    root = data_dir() / "mvtec"
    if not (root / "meta.json").is_file():
        from anoclip.data import prepare

        prepare("mvtec", root, download=True)
    return root, tuple(MVTEC_CATEGORIES)


def benchmark_results(dataset: str, model: Any, method: str = "anoclip", tta: bool = False,
                      protocol: str = "zero-shot") -> Optional[Tuple[Path, list]]:
    """The finished categories of a benchmark run (chapter 6, ``anoclip bench``) under :func:`results_dir`.

    Looks two folder levels down for a run's ``config.json`` of this ``dataset``, ``method`` (no
    method options) and ``protocol`` (older runs count as zero-shot), with or without TTA, made
    with this model's architecture, weights and input size; among several it prefers a run without ``limit``, then the one with the most
    finished categories. Returns ``(folder, [CategoryResult, ...])``, or ``None`` when there is
    none, so a chapter can say so instead of failing.
    """
    import json

    from anoclip.bench import load_category_result

    base = results_dir()
    runs = []
    for config in sorted(base.glob("config.json")) + sorted(base.glob("*/config.json")) + sorted(base.glob("*/*/config.json")):
        try:
            record = json.loads(config.read_text())
        except (OSError, ValueError):
            continue
        weights = record.get("model", {})
        wanted = (dataset, method, {}, tta, protocol, model.name, model.pretrained, model.image_size)
        found = (record.get("dataset"), record.get("method"), record.get("method_options"), record.get("tta") is not None,
                 record.get("protocol", "zero-shot"), weights.get("model"), weights.get("pretrained"), weights.get("image_size"))
        if found != wanted:
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

    from anoclip.data import Meta, load_sample
    from anoclip.protocol import resize_mask

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
