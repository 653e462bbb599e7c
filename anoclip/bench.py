"""Benchmark runner: evaluate a localizer category by category on any ``meta.json`` dataset.

``run_benchmark`` (and ``anoclip bench``) reads ``<root>/meta.json``, evaluates every test
category with the package's metrics and writes, under ``out``::

    config.json              the exact setting (model, weights, config, method, TTA, protocol)
    categories/<cat>.json    metrics, counts, skipped files and timing of one finished category
    scores/<cat>.csv         per-image labels and image scores
    scores/<cat>.npz         per-image pixel counts over fine score bins (metrics.image_histogram):
                             image, bin, normal, anomalous -- enough to bootstrap the pixel metrics
    results.csv              one row per category plus the mean over categories
    results.md               the same as a readable Markdown table

It resumes: a category whose ``categories/<cat>.json`` exists and lists no skipped file is not
recomputed, and every file is written atomically, so an interrupted run leaves no partial file.
A corrupt image or a missing mask is reported with its path and skipped; the rest of the
category still counts, but the category stays incomplete (recomputed by the next run) and the
reports say so, as they do after an interruption. One run at a time holds the folder
(:func:`anoclip.fileio.locked_folder`).
"""
from __future__ import annotations

import json
import math
import random
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from . import metrics
from .cache import ScoreStore
from .config import FUSIONS, RESIZE_MODES, RESOLUTIONS, TTAConfig, check_choice
from .data.errors import DataError
from .data.images import ImageReadError
from .data.meta import Meta, Sample, load_ignore, load_sample
from .data.registry import DatasetDefaults, dataset_defaults
from .fileio import atomic_path, locked_folder, write_csv_atomic, write_json_atomic, write_text_atomic
from .memory import MemoryBank, fuse
from .methods import Localizer, get_method
from .model import AnoCLIP
from .protocol import TileLayout, image_tiles, normalize, resize_map, resize_mask, resized_shape, square_layout
from .version import __version__

SCORE_COLUMNS = ("image", "anomaly", "image_score", "max_pixel_score")
HISTOGRAM_COLUMNS = ("image", "bin", "normal", "anomalous")


class ResultsMismatchError(ValueError):
    """``out`` already holds results of a different setting; resuming would mix them."""


class NoUsableImagesError(DataError):
    """A category ended with no image that could be evaluated (all unreadable or none listed).

    ``finished`` holds the results of the categories that did finish (written to ``out``).
    """

    def __init__(self, message: str, finished: Sequence["CategoryResult"] = ()) -> None:
        super().__init__(message)
        self.finished = list(finished)


def dataset_name(meta: Meta, dataset: Optional[str] = None) -> str:
    """The data set whose defaults apply: named explicitly, else recorded in meta.json, else "custom"."""
    return dataset or meta.info.get("dataset") or "custom"


@dataclass(frozen=True)
class BenchSetting:
    """Everything besides the model that determines the numbers, so it must match to resume.

    Build it once with :meth:`create` (the CLI and the book do), which fills the per-dataset
    defaults from :func:`anoclip.data.registry.dataset_defaults` and validates every field,
    then pass it down; the runner never re-derives a setting.
    """

    dataset: str = "custom"
    method: str = "anoclip"
    method_options: Mapping[str, Any] = field(default_factory=dict)
    tta: Optional[TTAConfig] = None
    resize: str = "square"
    resolution: str = "official"
    limit: Optional[int] = None
    shots: int = 0
    shot_seed: int = 0
    transductive: bool = False
    fusion: str = "mean"

    @classmethod
    def create(
        cls,
        dataset: Optional[str] = None,
        *,
        method: str = "anoclip",
        method_options: Optional[Mapping[str, Any]] = None,
        tta: Union[bool, TTAConfig] = False,
        tta_seed: Optional[int] = None,
        resolution: str = "official",
        limit: Optional[int] = None,
        shots: int = 0,
        shot_seed: int = 0,
        transductive: bool = False,
        fusion: str = "mean",
    ) -> "BenchSetting":
        """A validated setting; ``tta=True`` takes the dataset's official adapter and seed.

        The protocol: zero-shot (default), ``shots=K`` normal training images of each category as a
        memory (drawn with ``shot_seed``), or ``transductive`` (the category's own test images as
        an unlabelled memory); ``fusion`` joins a memory's score to the zero-shot one
        (:mod:`anoclip.memory`). Raises ValueError for an unknown method, method option, dataset,
        resolution, fusion, a non-positive limit or two protocols at once — before any model is
        loaded or image is read.
        """
        name = dataset or "custom"
        defaults = dataset_defaults(name)
        options = dict(method_options or {})
        get_method(method, **options)  # unknown methods and options fail here (resolution: __post_init__)
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number of images per category, got {limit}.")
        tta_config = None
        if tta:
            tta_config = tta if isinstance(tta, TTAConfig) else defaults.tta
            if tta_seed is not None:
                tta_config = tta_config.replace(seed=tta_seed)
        return cls(
            dataset=name.lower(), method=method, method_options=options, tta=tta_config, resize=defaults.resize,
            resolution=resolution, limit=limit, shots=shots, shot_seed=shot_seed, transductive=transductive, fusion=fusion,
        )

    def __post_init__(self) -> None:
        check_choice("BenchSetting", "resize", self.resize, RESIZE_MODES)
        check_choice("BenchSetting", "resolution", self.resolution, RESOLUTIONS)
        check_choice("BenchSetting", "fusion", self.fusion, FUSIONS)
        if isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 0:
            raise ValueError(f"shots must be a whole number of normal images (0: zero-shot), got {self.shots!r}.")
        if self.shots and self.transductive:
            raise ValueError("Choose one protocol: a few-shot memory (shots) or transductive scoring, not both.")
        if (self.shots or self.transductive) and not self.localizer().has_patch_tokens:
            raise ValueError(f"Method {self.method!r} has no patch tokens to compare with a memory; use a token-based method.")

    @property
    def protocol(self) -> str:
        """``zero-shot``, ``few-shot K`` or ``transductive``: what a reader must know to compare the numbers."""
        return "transductive" if self.transductive else f"few-shot {self.shots}" if self.shots else "zero-shot"

    @property
    def defaults(self) -> DatasetDefaults:
        return dataset_defaults(self.dataset)

    def localizer(self) -> Localizer:
        return get_method(self.method, **self.method_options)

    def to_dict(self) -> Dict[str, object]:
        data = {"protocol": self.protocol, **asdict(self)}
        data["method_options"] = dict(self.method_options)
        data["tta"] = self.tta.to_dict() if self.tta else None
        return data


@dataclass
class CategoryResult:
    category: str
    metrics: Dict[str, float]
    images: int
    anomalous: int
    seconds: float
    skipped: List[Dict[str, str]] = field(default_factory=list)
    shots: List[str] = field(default_factory=list)  # the training images of a few-shot memory

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / max(self.images, 1)


@dataclass
class _Loaded:
    """One sample ready for the model: tiles (T, 3, S, S), their layout, the mask at evaluation size."""

    sample: Sample
    tiles: torch.Tensor
    layout: TileLayout
    mask: np.ndarray
    ignore: Optional[np.ndarray]  # pixels left out of the metrics (MSD's VOC "void"), or None


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


def _load(root: Path, sample: Sample, side: int, setting: BenchSetting) -> _Loaded:
    image, mask = load_sample(root, sample)
    ignore = load_ignore(root, sample)
    if setting.resize == "square":
        tiles, layout = normalize(image.resize((side, side), Image.BILINEAR))[None], square_layout(side)
    else:
        tiles, layout = image_tiles(image, side)
    if setting.resolution == "official":  # masks resized like the official code, ignore masks alike
        shape = resized_shape(*mask.shape, side, setting.resize)
        mask = resize_mask(mask, shape)
        ignore = None if ignore is None else resize_mask(ignore, shape)
    return _Loaded(sample, tiles, layout, mask, ignore)


def _load_batch(root: Path, batch: Sequence[Sample], side: int, setting: BenchSetting):
    loaded, skipped = [], []
    for sample in batch:
        try:
            loaded.append(_load(root, sample, side, setting))
        except (ImageReadError, DataError) as err:
            skipped.append({"image": sample.img_path, "reason": str(err)})
    return loaded, skipped


def _batches(root: Path, samples: Sequence[Sample], size: int, side: int, setting: BenchSetting) -> Iterator:
    """Batches of loaded samples; the next batch is read in a thread while the model runs."""
    chunks = [samples[i:i + size] for i in range(0, len(samples), size)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load_batch, root, chunks[0], side, setting) if chunks else None
        for index in range(len(chunks)):
            current = pending.result()
            if index + 1 < len(chunks):
                pending = pool.submit(_load_batch, root, chunks[index + 1], side, setting)
            yield current, len(chunks[index])


def evaluate_category(
    model: AnoCLIP,
    meta: Meta,
    category: str,
    setting: BenchSetting,
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> Tuple[CategoryResult, List[Dict[str, object]], Dict[str, np.ndarray]]:
    """Predict and score one category under ``setting``: its result, per-image rows and pixel histograms.

    The histograms are one row per (image, occupied bin) of :func:`anoclip.metrics.image_histogram`,
    images numbered as the rows.

    ``model`` already carries the dataset's text settings (see :func:`run_benchmark`).
    """
    from tqdm.auto import tqdm

    localizer = setting.localizer()
    class_name = setting.defaults.prompt_name(category)
    store = image_score_store(model, setting, class_name, meta.root)
    samples = select_samples(meta.samples(category, "test"), setting.limit)
    memory, shots = category_memory(model, meta, category, setting, samples, class_name)
    pixels = metrics.PixelScores()
    scores, labels, rows, skipped, counts = [], [], [], [], []
    start = time.perf_counter()
    with tqdm(total=len(samples), desc=category, unit="img", disable=not progress, leave=False) as bar:
        for (loaded, failed), count in _batches(meta.root, samples, batch_size, model.image_size, setting):
            skipped.extend(failed)
            for item in failed:
                warnings.warn(f"skipped {item['image']}: {item['reason']}", stacklevel=2)
            for item, maps, image_score in _predict(model, loaded, class_name, localizer, setting, meta.root, store, memory):
                full = resize_map(item.layout.merge(maps), item.mask.shape)
                full_map = full.cpu().numpy()
                pixels.add(full_map, item.mask, ignore=item.ignore)
                bins, normal, anomalous = metrics.image_histogram(full_map, item.mask, item.ignore)
                counts.append((np.full(bins.size, len(rows)), bins, normal, anomalous))
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
        for name in ("image_auroc", "image_ap", "image_aupr_trapezoid", "image_f1_max"):
            values[name] = getattr(metrics, name)(scores, labels) if scores else math.nan
    result = CategoryResult(
        category=category,
        metrics={name: float(values.get(name, math.nan)) for name in metrics.METRICS},
        images=len(scores), anomalous=int(sum(labels)), seconds=seconds, skipped=skipped, shots=shots,
    )
    return result, rows, dict(zip(HISTOGRAM_COLUMNS, map(np.concatenate, zip(*counts))))


def image_score_store(model: AnoCLIP, setting: BenchSetting, class_name: str, root: Path) -> Optional[ScoreStore]:
    """Where this dataset's image scores for this model and text setting are kept, or None.

    An image score depends on the weights, the input, the text prototypes, the temperature, the
    views and the precision — not on the localizer's encoder nor on TTA — so one store serves
    AnoCLIP, AnoCLIP+ and every baseline that shares the text setting (WinCLIP has its own).
    """
    config = model.config.replace(**setting.localizer().paper_config)
    key = model.cache_key(
        kind="image_scores", root=str(Path(root).resolve()), resize=setting.resize, **config.text_setting(class_name),
        temperature=config.temperature, image_views=config.image_views, amp=config.amp,
    )
    return ScoreStore(key) if key else None


def draw_shots(train: Sequence[Sample], shots: int, seed: int, category: str) -> List[Sample]:
    """``shots`` normal training images of ``category``, the same for a given seed (never a test image)."""
    normal = [sample for sample in train if not sample.anomaly]
    if len(normal) < shots:
        raise ValueError(f"Category {category!r} has {len(normal)} normal training image(s); --shots {shots} needs "
                         f"{shots}. Ask for fewer shots, or evaluate it zero-shot.")
    return sorted(random.Random(f"{seed}:{category}").sample(normal, shots), key=lambda sample: sample.img_path)


def category_memory(model: AnoCLIP, meta: Meta, category: str, setting: BenchSetting, samples: Sequence[Sample],
                    class_name: str) -> Tuple[Optional[MemoryBank], List[str]]:
    """The memory of a few-shot or transductive run (None zero-shot), and the shot images it holds."""
    if not (setting.shots or setting.transductive):
        return None, []
    chosen = draw_shots(meta.samples(category, "train"), setting.shots, setting.shot_seed, category) if setting.shots else samples
    tiles = []
    for sample in chosen:
        try:
            tiles.append(_load(meta.root, sample, model.image_size, setting).tiles)
        except (ImageReadError, DataError) as err:  # a test image is reported by the evaluation; a shot cannot be missed
            if setting.shots:
                raise DataError(f"{err} It is a normal training image drawn for {category}'s memory: fix it, or draw "
                                "other shots with another --shot-seed.") from err
            warnings.warn(f"left out of the memory: {sample.img_path}: {err}", stacklevel=2)
    if not tiles:  # no readable test image: the evaluation reports the category as unusable
        return None, []
    kind = "normal" if setting.shots else "unlabelled"
    bank = model.memory(torch.cat(tiles), class_name, setting.localizer(), kind=kind)
    return bank, [sample.img_path for sample in chosen] if setting.shots else []


def _predict(model: AnoCLIP, loaded: Sequence[_Loaded], class_name: str, localizer: Localizer, setting: BenchSetting,
             root: Path, store: Optional[ScoreStore], memory: Optional[MemoryBank] = None):
    """Yield (item, tile maps (T, S, S), image score) per loaded sample, in file order.

    Images with the same tile layout go through the model in one batch (all of them under the
    square protocol); under the tiles protocol TTA trains one adapter per image on its tiles.
    Zero-shot image scores found in ``store`` are reused instead of being computed again; a
    memory's largest patch score joins them afterwards, so the store stays zero-shot.
    """
    groups: Dict[TileLayout, List[int]] = {}
    for index, item in enumerate(loaded):
        groups.setdefault(item.layout, []).append(index)
    outputs = {}
    for layout, members in groups.items():
        keys = [ScoreStore.image_key(root, loaded[i].sample.img_path) for i in members] if store else []
        known = [store.get(key) for key in keys] if store else []
        compute = store is None or None in known
        batch = torch.cat([loaded[i].tiles for i in members])
        prediction = model.predict(
            batch, class_name, localizer, setting.tta or False, tiling=layout if setting.resize == "tiles" else None,
            image_scores=compute and memory is None, memory=memory, fusion=setting.fusion,
        )
        maps = prediction.anomaly_maps.float().split(layout.count)
        if compute:
            zero_shot = prediction.image_scores if memory is None else model.image_scores(batch, class_name, localizer)
            scores = [float(tiles.mean()) for tiles in zero_shot.float().split(layout.count)]
            if store:
                store.update(dict(zip(keys, scores)))
        else:
            scores = known
        if memory is not None:
            peaks = prediction.memory_scores.float().flatten(1).amax(dim=1).split(layout.count)
            scores = [float(fuse(torch.tensor(score), peak.max(), setting.fusion)) for score, peak in zip(scores, peaks)]
        outputs.update({i: (item_maps, score) for i, item_maps, score in zip(members, maps, scores)})
    for index, item in enumerate(loaded):
        yield (item, *outputs[index])


def _check_setting(out: Path, record: Dict[str, object], overwrite: bool) -> None:
    record = json.loads(json.dumps(record))  # compare as stored: tuples become lists
    config_file = out / "config.json"
    if config_file.is_file() and not overwrite:
        previous = json.loads(config_file.read_text())
        mismatched = sorted(key for key, value in record.items() if previous.get(key) != value)
        if mismatched:
            raise ResultsMismatchError(
                f"{out} holds results of another setting (differs in: {', '.join(mismatched)}). "
                "Use another --out, or --overwrite to start over."
            )
    if overwrite:
        for stale in list((out / "categories").glob("*.json")) + list((out / "scores").glob("*.*")):
            stale.unlink()
    write_json_atomic(config_file, record)


def load_category_result(path: Path) -> CategoryResult:
    data = json.loads(path.read_text())
    return CategoryResult(**data)


def run_benchmark(
    model: AnoCLIP,
    root: Union[str, Path],
    out: Union[str, Path],
    setting: Optional[BenchSetting] = None,
    *,
    categories: Optional[Sequence[str]] = None,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> List[CategoryResult]:
    """Evaluate ``model`` on the test split of the dataset at ``root``, category by category.

    ``setting`` (see :class:`BenchSetting`; default: AnoCLIP under the defaults of the data set
    recorded in meta.json) fixes the method, TTA, protocol and limit; the model gets that data
    set's texture classes and image-score views. Unknown categories and method options that do
    not fit this ViT fail before any image is read. Returns the results of every requested
    category, finished now or earlier (resume).
    """
    meta = Meta.load(root)
    setting = setting or BenchSetting.create(dataset_name(meta))
    wanted = list(categories) if categories else meta.categories("test")
    for category in wanted:
        meta.samples(category, "test")  # unknown categories fail here, before any work
        if setting.shots:  # and categories without enough normal training images for the memory
            draw_shots(meta.samples(category, "train"), setting.shots, setting.shot_seed, category)
    setting.localizer().check(model.clip.visual)
    model = model.with_config(setting.defaults.model_config(model.config))
    record = {**setting.to_dict(), "model": model.describe(), "anoclip_version": __version__}
    out = Path(out)
    with locked_folder(out, f"bench {setting.dataset} --method {setting.method}{' --tta' if setting.tta else ''}"):
        _check_setting(out, record, overwrite)
        results: List[CategoryResult] = []
        unusable: List[str] = []
        try:
            for category in wanted:
                done = out / "categories" / f"{category}.json"
                previous = load_category_result(done) if done.is_file() else None
                if previous is not None and not previous.skipped:  # finished and complete: resume
                    results.append(previous)
                    continue
                result, rows, histograms = evaluate_category(model, meta, category, setting, batch_size=batch_size,
                                                             progress=progress)
                if result.images == 0:  # not recorded: a fixed dataset is picked up on resume
                    first = f" (first: {result.skipped[0]['image']}: {result.skipped[0]['reason']})" if result.skipped else ""
                    unusable.append(f"{category}: none of its {len(result.skipped)} test images could be read{first}")
                    continue
                write_csv_atomic(out / "scores" / f"{category}.csv", rows, SCORE_COLUMNS)
                with atomic_path(out / "scores" / f"{category}.npz") as path, open(path, "wb") as handle:
                    np.savez_compressed(handle, **histograms)
                write_json_atomic(done, asdict(result))  # last: it marks the category done (complete without skips)
                results.append(result)
        except BaseException:  # Ctrl-C or a crash: the report says what is missing
            write_reports(out, results, record, wanted, interrupted=True)
            raise
        write_reports(out, results, record, wanted)
    if unusable:
        raise NoUsableImagesError(
            "; ".join(unusable) + f". The other categories are in {out}. Fix or re-download those files "
            "(or re-run the dataset's prepare script), then run the same command again to finish.",
            finished=results,
        )
    return results


def mean_over_categories(results: Sequence[CategoryResult]) -> Dict[str, float]:
    """Unweighted mean over categories, as the papers report; categories where a metric is
    undefined (NaN) are left out of that metric's mean."""
    means = {}
    for name in metrics.METRICS:
        values = [r.metrics[name] for r in results if not math.isnan(r.metrics[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means


def _options_text(options: Dict[str, object]) -> str:
    return f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def incompleteness(results: Sequence[CategoryResult], wanted: Sequence[str], interrupted: bool = False) -> Optional[str]:
    """Why these results are not the final numbers of the ``wanted`` categories, or None when they are."""
    finished = {r.category for r in results}
    missing = [c for c in wanted if c not in finished]
    partial = [r.category for r in results if r.skipped]
    if not (missing or partial or interrupted):
        return None
    parts = ["interrupted"] if interrupted else []
    if missing:
        parts.append(f"{len(finished)} of {len(wanted)} categories finished (missing: {', '.join(missing)})")
    if partial:
        parts.append(f"files skipped in {', '.join(partial)}")
    return "; ".join(parts) + ". The mean covers what finished; rerun the same command to complete it."


def write_reports(out: Path, results: Sequence[CategoryResult], record: Mapping[str, Any],
                  wanted: Optional[Sequence[str]] = None, interrupted: bool = False) -> None:
    """results.csv (fractions, full precision) and results.md (percent, one decimal).

    ``record`` is what config.json holds: the setting plus the model's description. Results that
    are not final (an interrupted run, categories missing from ``wanted``, skipped files) say so:
    a ``complete`` column in the CSV and an INCOMPLETE line at the top of the Markdown.
    """
    columns = metrics.METRICS
    status = incompleteness(results, wanted or [r.category for r in results], interrupted)
    protocol = record.get("protocol", "zero-shot")
    fields = ["category", *columns, "images", "anomalous", "ms_per_image", "skipped", "complete", "protocol"]
    rows = [
        {"category": r.category, **r.metrics, "images": r.images, "anomalous": r.anomalous, "ms_per_image": f"{r.ms_per_image:.1f}",
         "skipped": len(r.skipped), "complete": "no" if r.skipped else "yes", "protocol": protocol}
        for r in results
    ]
    mean = mean_over_categories(results)
    rows.append({"category": "mean", **mean, "images": sum(r.images for r in results),
                 "anomalous": sum(r.anomalous for r in results), "ms_per_image": "",
                 "skipped": sum(len(r.skipped) for r in results), "complete": "no" if status else "yes", "protocol": protocol})
    write_csv_atomic(out / "results.csv", rows, fields)

    model = record["model"]
    limit = record["limit"]
    lines = [
        f"# {record['dataset']}: {record['method']}{_options_text(record['method_options'])}{' + TTA' if record['tta'] else ''}"
        f" ({protocol}{'' if protocol == 'zero-shot' else ', fusion ' + record['fusion']})",
        "",
        f"Model {model['model']} / {model['pretrained']} at {model['image_size']} px; resize `{record['resize']}`, "
        f"evaluated at {'the official 240-px-style model resolution' if record['resolution'] == 'official' else 'native mask resolution'}"
        f"{f'; at most {limit} images per category' if limit else ''}. Values in %; "
        "AUPRO = MVTec definition (FPR ≤ 0.3), AUPRO (cflow) = the 200-threshold variant most zero-shot repos report; "
        "img AP (step) = step-wise average precision, img AUPR (trapz) = the official code's trapezoidal `pr_sp`.",
        "",
    ]
    if status:
        lines += [f"**INCOMPLETE: {status}**", ""]
    if model.get("random_weights"):
        lines += ["**RANDOM WEIGHTS (smoke mode): these numbers are NOT meaningful.**", ""]
    header = ["category", *(metrics.METRIC_TITLES[m] for m in columns), "images", "ms/img"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        lines.append("| " + " | ".join([r.category, *(_percent(r.metrics[m]) for m in columns), str(r.images), f"{r.ms_per_image:.0f}"]) + " |")
    lines.append("| " + " | ".join(["**mean**", *(f"**{_percent(mean[m])}**" for m in columns), str(sum(r.images for r in results)), ""]) + " |")
    skipped = [item for r in results for item in r.skipped]
    if skipped:
        lines += ["", f"Skipped {len(skipped)} file(s):", ""] + [f"- `{item['image']}`: {item['reason']}" for item in skipped]
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")
