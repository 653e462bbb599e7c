"""Benchmark runner: evaluate a localizer category by category on any ``meta.json`` dataset.

``run_benchmark`` (and ``anoclip bench``) reads ``<root>/meta.json``, evaluates every test
category with the package's metrics and writes, under ``out``::

    config.json              the exact setting (model, weights, config, method, TTA, protocol)
    categories/<cat>.json    metrics, counts, skipped files and timing of one finished category
    scores/<cat>.csv         per-image labels and image scores
    results.csv              one row per category plus the mean over categories
    results.md               the same as a readable Markdown table

It resumes: a category whose ``categories/<cat>.json`` exists is not recomputed, and every file
is written atomically, so an interrupted run leaves no partial file. A corrupt image or a
missing mask is reported with its path and skipped; the rest of the category still counts.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from . import __version__, metrics
from .data.errors import DataError
from .data.images import ImageReadError
from .data.meta import Meta, Sample, load_sample
from .data.registry import DATASETS, DatasetInfo
from .fileio import write_csv_atomic, write_json_atomic, write_text_atomic
from .model import AnoCLIP
from .protocol import RESIZE_MODES, RESOLUTIONS, image_tiles, merge_tiles, normalize, resize_map, resize_mask, resized_shape
from .tta import TTAConfig

METRIC_COLUMNS = (
    "pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro", "aupro_cflow",
    "image_auroc", "image_ap", "image_f1_max",
)
METRIC_TITLES = {
    "pixel_auroc": "px AUROC", "pixel_ap": "px AP", "pixel_f1_max": "px F1-max",
    "aupro": "AUPRO", "aupro_cflow": "AUPRO (cflow)", "image_auroc": "img AUROC",
    "image_ap": "img AP", "image_f1_max": "img F1-max",
}


class ResultsMismatchError(ValueError):
    """``out`` already holds results of a different setting; resuming would mix them."""


@dataclass(frozen=True)
class BenchSetting:
    """Everything that determines the numbers (and so must match to resume)."""

    dataset: str
    method: str
    method_options: Dict[str, object]
    model: Dict[str, object]
    tta: Optional[Dict[str, object]]
    resize: str
    resolution: str
    limit: Optional[int]
    anoclip_version: str = __version__

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


@dataclass
class CategoryResult:
    category: str
    metrics: Dict[str, float]
    images: int
    anomalous: int
    seconds: float
    skipped: List[Dict[str, str]] = field(default_factory=list)

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / max(self.images, 1)


@dataclass
class _Loaded:
    """One sample ready for the model: tiles (T, 3, S, S) and the mask at evaluation size."""

    sample: Sample
    tiles: torch.Tensor
    mask: np.ndarray
    offsets: List[int]
    axis: int
    map_shape: Tuple[int, int]


def dataset_info(meta: Meta, dataset: Optional[str]) -> Optional[DatasetInfo]:
    """The registry entry that sets defaults: named explicitly, else recorded in meta.json."""
    name = dataset or meta.info.get("dataset")
    if name is None:
        return None
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r} for defaults; known: {sorted(DATASETS)} (or leave it out).")
    return DATASETS[name]


def select_samples(samples: Sequence[Sample], limit: Optional[int]) -> List[Sample]:
    """At most ``limit`` samples, alternating anomalous and normal ones in file order.

    A quick run then still has both classes, so every metric is defined.
    """
    if limit is None or limit >= len(samples):
        return list(samples)
    anomalous = [s for s in samples if s.anomaly]
    normal = [s for s in samples if not s.anomaly]
    chosen: List[Sample] = []
    for index in range(limit):
        pools = (anomalous, normal) if index % 2 == 0 else (normal, anomalous)
        pool = pools[0] if pools[0] else pools[1]
        chosen.append(pool.pop(0))
    order = {id(s): i for i, s in enumerate(samples)}
    return sorted(chosen, key=lambda s: order[id(s)])


def _load(root: Path, sample: Sample, side: int, resize: str, resolution: str) -> _Loaded:
    image, mask = load_sample(root, sample)
    if resize == "square":
        tiles = normalize(image.resize((side, side), Image.BILINEAR))[None]
        offsets, axis, map_shape = [0], 2, (side, side)
    else:
        tiles, offsets, axis, map_shape = image_tiles(image, side)
    eval_mask = mask if resolution == "native" else resize_mask(mask, resized_shape(*mask.shape, side, resize))
    return _Loaded(sample, tiles, eval_mask, offsets, axis, map_shape)


def _load_batch(root: Path, batch: Sequence[Sample], side: int, resize: str, resolution: str):
    loaded, skipped = [], []
    for sample in batch:
        try:
            loaded.append(_load(root, sample, side, resize, resolution))
        except (ImageReadError, DataError) as err:
            skipped.append({"image": sample.img_path, "reason": str(err)})
    return loaded, skipped


def _batches(root: Path, samples: Sequence[Sample], size: int, side: int, resize: str, resolution: str) -> Iterator:
    """Batches of loaded samples; the next batch is read in a thread while the model runs."""
    chunks = [samples[i:i + size] for i in range(0, len(samples), size)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load_batch, root, chunks[0], side, resize, resolution) if chunks else None
        for index in range(len(chunks)):
            current = pending.result()
            if index + 1 < len(chunks):
                pending = pool.submit(_load_batch, root, chunks[index + 1], side, resize, resolution)
            yield current, len(chunks[index])


def evaluate_category(
    model: AnoCLIP,
    meta: Meta,
    category: str,
    class_name: str,
    *,
    tta: Optional[TTAConfig] = None,
    method: str = "anoclip",
    method_options: Optional[Dict[str, object]] = None,
    resize: str = "square",
    resolution: str = "official",
    limit: Optional[int] = None,
    batch_size: int = 8,
    progress: bool = True,
) -> Tuple[CategoryResult, List[Dict[str, object]]]:
    """Predict and score one category; returns its result and per-image score rows."""
    from tqdm.auto import tqdm

    samples = select_samples(meta.samples(category, "test"), limit)
    pixels = metrics.PixelScores()
    scores, labels, rows, skipped = [], [], [], []
    start = time.perf_counter()
    with tqdm(total=len(samples), desc=category, unit="img", disable=not progress, leave=False) as bar:
        for (loaded, failed), count in _batches(meta.root, samples, batch_size, model.image_size, resize, resolution):
            skipped.extend(failed)
            for item in failed:
                warnings.warn(f"skipped {item['image']}: {item['reason']}", stacklevel=2)
            for item, maps, image_score in _predict(model, loaded, class_name, tta, method, method_options or {}):
                full = resize_map(merge_tiles(maps, item.offsets, item.axis, item.map_shape), item.mask.shape)
                pixels.add(full.cpu().numpy(), item.mask)
                scores.append(image_score)
                labels.append(item.sample.anomaly)
                rows.append({
                    "image": item.sample.img_path, "anomaly": item.sample.anomaly,
                    "image_score": f"{image_score:.6f}", "max_pixel_score": f"{float(full.max()):.6f}",
                })
            bar.update(count)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        values = pixels.all() if pixels.n_images else {}
        values.update({
            "image_auroc": metrics.image_auroc(scores, labels) if scores else math.nan,
            "image_ap": metrics.image_ap(scores, labels) if scores else math.nan,
            "image_f1_max": metrics.image_f1_max(scores, labels) if scores else math.nan,
        })
    result = CategoryResult(
        category=category,
        metrics={name: float(values.get(name, math.nan)) for name in METRIC_COLUMNS},
        images=len(scores), anomalous=int(sum(labels)), seconds=seconds, skipped=skipped,
    )
    return result, rows


def _predict(model: AnoCLIP, loaded: Sequence[_Loaded], class_name: str, tta: Optional[TTAConfig], method: str,
             method_options: Dict[str, object]):
    """Yield (item, tile maps (T, S, S), image score) per loaded sample.

    Images that tile alike go through the model in one batch; a batch mixing tile counts
    (mixed aspect ratios under the tiles protocol) is predicted image by image, so that TTA
    still trains exactly one adapter per image.
    """
    if not loaded:
        return
    counts = {item.tiles.shape[0] for item in loaded}
    groups = [list(loaded)] if len(counts) == 1 else [[item] for item in loaded]
    for group in groups:
        per_image = group[0].tiles.shape[0]
        prediction = model.predict(
            torch.cat([item.tiles for item in group]), class_name, tta=tta or False, method=method,
            tiles_per_image=per_image, method_options=method_options,
        )
        maps = prediction.anomaly_maps.float().split(per_image)
        scores = prediction.image_scores.float().split(per_image)
        for item, item_maps, item_scores in zip(group, maps, scores):
            yield item, item_maps, float(item_scores.mean())


def _check_setting(out: Path, setting: BenchSetting, overwrite: bool) -> None:
    config_file = out / "config.json"
    if config_file.is_file() and not overwrite:
        previous = json.loads(config_file.read_text())
        mismatched = sorted(key for key, value in setting.to_dict().items() if previous.get(key) != value)
        if mismatched:
            raise ResultsMismatchError(
                f"{out} holds results of another setting (differs in: {', '.join(mismatched)}). "
                "Use another --out, or --overwrite to start over."
            )
    if overwrite:
        for stale in list((out / "categories").glob("*.json")) + list((out / "scores").glob("*.csv")):
            stale.unlink()
    write_json_atomic(config_file, setting.to_dict())


def load_category_result(path: Path) -> CategoryResult:
    data = json.loads(path.read_text())
    return CategoryResult(**data)


def run_benchmark(
    model: AnoCLIP,
    root: Union[str, Path],
    out: Union[str, Path],
    *,
    dataset: Optional[str] = None,
    categories: Optional[Sequence[str]] = None,
    tta: Union[bool, TTAConfig] = False,
    method: str = "anoclip",
    method_options: Optional[Dict[str, object]] = None,
    resolution: str = "official",
    limit: Optional[int] = None,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> List[CategoryResult]:
    """Evaluate ``model`` on the test split of the dataset at ``root``, category by category.

    ``dataset`` (or the name recorded in meta.json) only picks defaults: texture prompt
    domains, prompt names, the TTA adapter and seed, the image-score views and the resize
    protocol (VisA tiles). Returns the results of every requested category, finished now or
    earlier (resume).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    meta = Meta.load(root)
    info = dataset_info(meta, dataset)
    name = info.name if info else (dataset or "custom")
    wanted = list(categories) if categories else meta.categories("test")
    for category in wanted:
        meta.samples(category, "test")  # unknown categories fail here, before any work
    prompt_name = info.prompt_name if info else (lambda category: category)
    if info is not None:
        model = model.with_config(
            texture_classes=frozenset(prompt_name(c) for c in info.textures), image_views=info.image_views
        )
    tta_config = None
    if tta:
        tta_config = tta if isinstance(tta, TTAConfig) else TTAConfig.for_dataset(name)
        if info is not None and not isinstance(tta, TTAConfig):
            tta_config = TTAConfig(**{**tta_config.to_dict(), "adapter": info.tta_adapter})
    resize = info.resize.replace("visa-tiles", "tiles") if info else "square"
    assert resize in RESIZE_MODES
    setting = BenchSetting(
        dataset=name, method=method, method_options=dict(method_options or {}), model=model.describe(),
        tta=tta_config.to_dict() if tta_config else None,
        resize=resize, resolution=resolution, limit=limit,
    )
    out = Path(out)
    _check_setting(out, setting, overwrite)

    results = []
    for category in wanted:
        done = out / "categories" / f"{category}.json"
        if done.is_file():
            results.append(load_category_result(done))
            continue
        result, rows = evaluate_category(
            model, meta, category, prompt_name(category), tta=tta_config, method=method,
            method_options=method_options, resize=resize,
            resolution=resolution, limit=limit, batch_size=batch_size, progress=progress,
        )
        write_csv_atomic(out / "scores" / f"{category}.csv", rows, ["image", "anomaly", "image_score", "max_pixel_score"])
        write_json_atomic(done, asdict(result))  # last: its presence marks the category finished
        results.append(result)
        write_reports(out, results, setting)
    write_reports(out, results, setting)
    return results


def mean_over_categories(results: Sequence[CategoryResult]) -> Dict[str, float]:
    """Unweighted mean over categories, as the papers report; categories where a metric is
    undefined (NaN) are left out of that metric's mean."""
    means = {}
    for name in METRIC_COLUMNS:
        values = [r.metrics[name] for r in results if not math.isnan(r.metrics[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means


def _options_text(options: Dict[str, object]) -> str:
    return f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def write_reports(out: Path, results: Sequence[CategoryResult], setting: BenchSetting) -> None:
    """results.csv (fractions, full precision) and results.md (percent, one decimal)."""
    fields = ["category", *METRIC_COLUMNS, "images", "anomalous", "ms_per_image", "skipped"]
    rows = [
        {"category": r.category, **r.metrics, "images": r.images, "anomalous": r.anomalous,
         "ms_per_image": f"{r.ms_per_image:.1f}", "skipped": len(r.skipped)}
        for r in results
    ]
    mean = mean_over_categories(results)
    rows.append({"category": "mean", **mean, "images": sum(r.images for r in results),
                 "anomalous": sum(r.anomalous for r in results), "ms_per_image": "", "skipped": sum(len(r.skipped) for r in results)})
    write_csv_atomic(out / "results.csv", rows, fields)

    model = setting.model
    lines = [
        f"# {setting.dataset}: {setting.method}{_options_text(setting.method_options)}{' + TTA' if setting.tta else ''}",
        "",
        f"Model {model['model']} / {model['pretrained']} at {model['image_size']} px; resize `{setting.resize}`, "
        f"evaluated at {'the official 240-px-style model resolution' if setting.resolution == 'official' else 'native mask resolution'}"
        f"{f'; at most {setting.limit} images per category' if setting.limit else ''}. Values in %; "
        "AUPRO = MVTec definition (FPR ≤ 0.3), AUPRO (cflow) = the 200-threshold variant most zero-shot repos report.",
        "",
    ]
    if model.get("random_weights"):
        lines += ["**RANDOM WEIGHTS (smoke mode): these numbers are NOT meaningful.**", ""]
    header = ["category", *(METRIC_TITLES[m] for m in METRIC_COLUMNS), "images", "ms/img"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        lines.append("| " + " | ".join([r.category, *(_percent(r.metrics[m]) for m in METRIC_COLUMNS), str(r.images), f"{r.ms_per_image:.0f}"]) + " |")
    lines.append("| " + " | ".join(["**mean**", *(f"**{_percent(mean[m])}**" for m in METRIC_COLUMNS), str(sum(r.images for r in results)), ""]) + " |")
    skipped = [item for r in results for item in r.skipped]
    if skipped:
        lines += ["", f"Skipped {len(skipped)} file(s):", ""] + [f"- `{item['image']}`: {item['reason']}" for item in skipped]
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")
