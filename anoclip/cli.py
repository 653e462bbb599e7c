"""Command line: ``anoclip localize`` (heat maps and decisions for your images), ``anoclip calibrate``,
``anoclip bench``, ``anoclip data from-folder``, ``anoclip prefetch``, ``anoclip sources``.

Exit status: 0 when everything asked for was done; 1 when the work finished but some inputs
were skipped (each named on stderr and in the outputs); 2 when nothing could be done because of
the input (a missing file, an unknown method, category or dataset, a folder that is not a
dataset...). Errors are one line naming the thing and the fix, never a traceback.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from .backbone import DEFAULT_MODEL, DEFAULT_PRETRAINED, CheckpointMismatchError, WeightsUnavailableError
from .config import FUSIONS, RESOLUTIONS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=DEFAULT_MODEL, help=f"open_clip architecture (default {DEFAULT_MODEL})")
    group.add_argument(
        "--pretrained", default=DEFAULT_PRETRAINED,
        help=f"open_clip tag or local checkpoint file (default {DEFAULT_PRETRAINED})",
    )
    group.add_argument("--image-size", type=int, default=None, help="input side (default: the model's native size)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda if available)")
    group.add_argument("--batch-size", type=int, default=8)
    group.add_argument("--tta", action="store_true", help="test-time adaptation (AnoCLIP+)")
    group.add_argument(
        "--smoke", action="store_true",
        help="tiny RANDOM model: for checking the plumbing; results are meaningless",
    )


def _add_fusion_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fusion", choices=FUSIONS, default=FUSIONS[0],
                        help="how a memory's score joins the zero-shot one: mean (WinCLIP+) or memory alone")


def _add_fpr_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fpr", type=float, default=0.01,
        help="false-positive rate on normal images (default 0.01; needs at least (1 - fpr) / fpr normal images: 99 at 0.01, 19 at 0.05)",
    )


def _load_model(args: argparse.Namespace):
    from .backbone import TINY_MODEL
    from .model import AnoCLIP

    name, pretrained, size = (TINY_MODEL, None, None) if args.smoke else (args.model, args.pretrained, args.image_size)
    try:
        return AnoCLIP.from_pretrained(name, pretrained, image_size=size, device=args.device)
    except (WeightsUnavailableError, CheckpointMismatchError, FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err


def collect_images(inputs: Sequence[str]) -> List[Path]:
    """Files as given, and the image files directly inside given folders (sorted).

    Checked before any model is loaded: a missing path, or inputs of which not one opens as an
    image, is a :class:`CLIError`. Files that open but fail to decode later are skipped.
    """
    from PIL import Image, UnidentifiedImageError

    found: List[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise CLIError(f"No such image or folder: {path}")
    if not found:
        raise CLIError(f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {', '.join(inputs)}.")

    def opens(path: Path) -> bool:
        try:
            with Image.open(path):
                return True
        except (UnidentifiedImageError, OSError):
            return False

    if not any(opens(path) for path in found):
        raise CLIError(
            f"None of the {len(found)} input file(s) is an image ({', '.join(str(p) for p in found[:3])}"
            f"{', ...' if len(found) > 3 else ''}). Pass image files ({', '.join(IMAGE_SUFFIXES)}) or folders holding them."
        )
    return found


def _output_names(paths: Sequence[Path], taken: Iterable[str] = ()) -> List[str]:
    """Output names per input: the file stem, with a suffix when another input (or an earlier run
    in the same folder) already has it."""
    used, names = set(taken), []
    for path in paths:
        name, count = path.stem, 0
        while name in used:
            count += 1
            name = f"{path.stem}_{count}"
        used.add(name)
        names.append(name)
    return names


def _normal_images(folder: str, fpr: float) -> List[Path]:
    """The calibration images, counted against ``fpr`` before any model is loaded."""
    from .calibration import check_count, check_rate

    try:
        check_rate(fpr, "--fpr")
        paths = collect_images([folder])
        check_count(len(paths), fpr, folder)
    except ValueError as err:  # a rate outside (0, 1), or too few images for it
        raise CLIError(str(err)) from err
    return paths


def _tta_setting(args: argparse.Namespace) -> Optional[dict]:
    from .config import TTAConfig

    return TTAConfig().to_dict() if args.tta else None


def _read(path: Path):
    """A photo upright as its owner sees it (EXIF), or :class:`ImageReadError` naming it."""
    from .data.images import read_rgb

    return read_rgb(path, orientation="exif")


def _normal_batch(model, paths: Sequence[Path], role: str):
    """The normal photos in ``paths`` as one preprocessed batch; an unreadable one is an error, not a
    skip. Each photo is read, reduced to the model's input and dropped, so a hundred large photos
    never sit in memory together."""
    import torch

    from .data.images import ImageReadError

    try:
        return torch.cat([model.preprocess(_read(path)) for path in paths])
    except ImageReadError as err:
        raise CLIError(f"{err} Every {role} image must be a readable normal image; remove or replace it.") from err


def _calibrate(model, paths: Sequence[Path], args: argparse.Namespace, memory=None):
    """Thresholds from the normal images in ``paths`` (counted by :func:`_normal_images` already),
    on maps made as the run makes them (with its memory, if any: leave-one-out on shared images)."""
    x = _normal_batch(model, paths, "calibration")
    return model.calibrate(x, args.class_name, fpr=args.fpr, tta=args.tta, batch_size=args.batch_size,
                           memory=memory, fusion=args.fusion)


def _describe_thresholds(thresholds, source: str) -> str:
    return (
        f"thresholds for {thresholds.class_name!r} at false-positive rate {thresholds.fpr:g} from "
        f"{thresholds.n_images} normal images ({source}): pixel {thresholds.pixel_threshold:.6f}, "
        f"image {thresholds.image_threshold:.6f}"
    )


def _save_mask(path: Path, mask) -> Path:
    """A 0/255 8-bit L PNG, written atomically."""
    from .data.converters.common import mask_to_image
    from .fileio import atomic_path

    with atomic_path(path) as temporary:
        mask_to_image(mask).save(temporary, format="PNG")
    return path


def _reference_memory(model, paths: Optional[Sequence[Path]], class_name: str):
    """The few-shot memory of ``--reference``'s normal images (None without the option)."""
    return model.memory(_normal_batch(model, paths, "reference"), class_name) if paths else None


def _checked(check, *args):
    """Run an input check of the library; its ValueError becomes the CLI's one-line error."""
    try:
        return check(*args)
    except ValueError as err:
        raise CLIError(str(err)) from err


def calibrate(args: argparse.Namespace) -> int:
    """Thresholds at ``--fpr`` from a folder of normal images, saved as JSON for ``localize --thresholds``."""
    from .fileio import writable_folder
    from .prompts import check_class_name

    _checked(check_class_name, args.class_name)
    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {out} is a folder; pass the thresholds file to write, e.g. --out {out / 'thresholds.json'}.")
    _checked(writable_folder, out.parent if str(out.parent) else Path("."), "--out's folder")
    paths = _normal_images(args.normal_dir, args.fpr)
    reference = collect_images([args.reference]) if args.reference else None
    model = _load_model(args)
    if model.random_weights:
        print("WARNING: random weights (smoke mode) — the thresholds are NOT meaningful.", file=sys.stderr)
    memory = _reference_memory(model, reference, args.class_name)
    thresholds = _calibrate(model, paths, args, memory)
    path = thresholds.save(out)
    print(f"{_describe_thresholds(thresholds, args.normal_dir)}\nsaved to {path}")
    return 0


# How a localize run is identified: what must match for a second run to add to its folder.
_RUN_FILE = "localize.json"
ASPECT_LIMIT = 2.0  # longer/shorter side above which a photo is tiled (the VisA protocol) instead of squashed


def _localize_setting(args: argparse.Namespace) -> dict:
    return {"class_name": args.class_name, "model": None if args.smoke else [args.model, args.pretrained, args.image_size],
            "smoke": args.smoke, "tta": args.tta, "decisions": bool(args.calibrate or args.thresholds),
            "fpr": args.fpr if args.calibrate else None, "thresholds": args.thresholds,
            "reference": str(Path(args.reference).resolve()) if args.reference else None, "fusion": args.fusion}


def _previous_rows(out: Path, setting: dict, overwrite: bool) -> List[dict]:
    """Rows of the run already in ``out`` that this one adds to; none after ``--overwrite``.

    A folder holds one setting: a run of another class, model, TTA or decision setting is
    refused before any work, so its overlays and scores are never mixed with these.
    """
    import csv

    from .fileio import read_json_dict

    scores, record = out / "scores.csv", read_json_dict(out / _RUN_FILE)
    if not scores.is_file():
        return []
    with scores.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if overwrite:
        for row in rows:
            for name in (row.get("overlay"), row.get("mask")):
                if name and Path(name).name == name:  # only files this command wrote in out
                    (out / name).unlink(missing_ok=True)
        for name in ("scores.csv", _RUN_FILE, "thresholds.json"):
            (out / name).unlink(missing_ok=True)
        return []
    if record != setting:
        differ = sorted(key for key in setting if record.get(key) != setting[key]) or ["(no record of it)"]
        raise CLIError(
            f"{out} holds an earlier `anoclip localize` run of another setting (differs in: {', '.join(differ)}). "
            "Use another --out, or --overwrite to replace that run."
        )
    return rows


def _prepare(model, image) -> tuple:
    """One photo → (inputs (T, 3, S, S), tile layout or None, a display copy, its (H, W)).

    A photo much wider than tall (or the reverse) is cut into square tiles along its long side,
    as the VisA protocol does, instead of being squashed into a square.
    """
    from .overlays import display_copy
    from .protocol import image_tiles

    size = (image.height, image.width)
    display = display_copy(image)
    if max(size) / min(size) > ASPECT_LIMIT:
        tiles, layout = image_tiles(image, model.image_size)
        return tiles, layout, display, size
    return model.preprocess(image), None, display, size


def localize(args: argparse.Namespace) -> int:
    """Overlays, image scores (and masks and decisions, when calibrated) for photos, into ``--out``.

    Everything about the inputs and the output folder is checked before the model loads. A folder
    holds one run: a second run of the same setting adds the photos it lacks (an interrupted run
    resumes), another setting is refused without ``--overwrite``.
    """
    from .calibration import Thresholds, ThresholdsFileError
    from .fileio import FolderBusyError, locked_folder, writable_folder
    from .prompts import check_class_name

    _checked(check_class_name, args.class_name)
    paths = collect_images(args.inputs)
    normal = _normal_images(args.calibrate, args.fpr) if args.calibrate else None
    reference = collect_images([args.reference]) if args.reference else None
    stored = None
    if args.thresholds:
        try:
            stored = Thresholds.load(args.thresholds)  # a bad file is reported before the model loads
        except ThresholdsFileError as err:
            raise CLIError(str(err)) from err
    out = _checked(writable_folder, args.out)
    try:
        with locked_folder(out, "localize"):
            return _localize_into(out, args, paths, normal, stored, reference)
    except FolderBusyError as err:
        raise CLIError(str(err)) from err


def _localize_into(out: Path, args: argparse.Namespace, paths: Sequence[Path], normal, stored,
                   reference: Optional[Sequence[Path]]) -> int:
    from tqdm.auto import tqdm

    from .calibration import ThresholdsFileError, setting_of
    from .data.images import ImageReadError
    from .memory import memory_record
    from .fileio import write_csv_atomic, write_json_atomic
    from .overlays import RANDOM_WEIGHTS_BANNER, save_overlay
    from .protocol import mask_above

    setting = _localize_setting(args)
    rows = [row for row in _previous_rows(out, setting, args.overwrite) if not row.get("error")]  # failures: again
    done = {row["image"] for row in rows}
    todo = [path for path in paths if str(path) not in done]
    names = _output_names(todo, {row["overlay"][: -len("_overlay.png")] for row in rows if row.get("overlay")})
    write_json_atomic(out / _RUN_FILE, setting)
    model = _load_model(args)
    banner = RANDOM_WEIGHTS_BANNER if model.random_weights else None
    if banner:
        print("WARNING: random weights (smoke mode) — the heat maps are NOT meaningful.", file=sys.stderr)
    memory = _reference_memory(model, reference, args.class_name)
    if memory is not None:
        print(f"memory: {memory.images} normal images of {args.reference} ({memory.megabytes:.1f} MB), fusion {args.fusion}")
    thresholds = None
    if normal is not None:
        thresholds = _calibrate(model, normal, args, memory)
        thresholds.save(out / "thresholds.json")
        print(_describe_thresholds(thresholds, args.calibrate) + f"; saved to {out / 'thresholds.json'}")
    elif stored is not None:
        try:
            record = None if memory is None else memory_record(memory, args.fusion)
            stored.check(setting_of(model, args.class_name, tta=_tta_setting(args), memory=record), Path(args.thresholds))
        except ThresholdsFileError as err:
            raise CLIError(str(err)) from err
        thresholds = stored
        print(_describe_thresholds(thresholds, args.thresholds))
    fields = ["image", "image_score", "max_pixel_score", *(["decision", "mask"] if thresholds else []), "overlay", "error"]
    skipped = 0
    with tqdm(total=len(todo), desc="localize", unit="img") as bar:
        for path, name in zip(todo, names):
            try:
                tiles, layout, display, size = _prepare(model, _read(path))  # the full photo is dropped here
            except ImageReadError as err:
                print(f"skipped: {err}", file=sys.stderr)
                rows.append({"image": str(path), "error": str(err)})
                skipped += 1
            else:
                if layout is not None:
                    print(f"note: {path} is {size[1]}x{size[0]}; scored as {layout.count} square tiles along its long "
                          "side (the VisA protocol) instead of squashing it into a square.", file=sys.stderr)
                prediction = model.predict(tiles, args.class_name, tta=args.tta, tiling=layout, memory=memory, fusion=args.fusion)
                maps = prediction.anomaly_maps.float().cpu()
                anomaly_map = maps[0] if layout is None else layout.merge(maps)
                score = float(prediction.image_scores.float().mean())
                row = {"image": str(path), "image_score": f"{score:.6f}", "max_pixel_score": f"{float(anomaly_map.max()):.6f}"}
                title, mask = f"{args.class_name}: image score {score:.3f}", None
                if thresholds is not None:  # the decision at the photo's own size, like the overlay
                    mask = mask_above(anomaly_map, size, thresholds.pixel_threshold)
                    row["decision"] = thresholds.decisions(score)[0]
                    row["mask"] = _save_mask(out / f"{name}_mask.png", mask).name
                    title += f" → {row['decision']}"
                overlay = save_overlay(out / f"{name}_overlay.png", display, anomaly_map.numpy(), title=title,
                                       outline=mask, banner=banner)
                rows.append({**row, "overlay": overlay.name, "error": ""})
            write_csv_atomic(out / "scores.csv", rows, fields)  # after every photo: nothing lost
            bar.update(1)
    masks = " and masks" if thresholds is not None else ""
    print(f"wrote {len(todo) - skipped} overlays{masks} ({len(rows) - skipped} in all) and {out / 'scores.csv'}")
    if skipped:
        print(f"anoclip: {skipped} input(s) skipped (see the error column of {out / 'scores.csv'})", file=sys.stderr)
        return 1
    return 0


def bench(args: argparse.Namespace) -> int:
    from .bench import BenchSetting, NoUsableImagesError, ResultsMismatchError, dataset_name, incompleteness, run_benchmark
    from .data import DataError, Meta, OutputExistsError, make_synthetic_dataset
    from .data.meta import META_FILE
    from .fileio import FolderBusyError, writable_folder

    root = Path(args.root)
    try:
        if args.smoke and not (root / META_FILE).is_file():
            print(f"--smoke: writing a small synthetic dataset to {root}", file=sys.stderr)
            make_synthetic_dataset(root)
        # Everything about the input is checked before the (slow) model load and any image read.
        meta = Meta.load(root)
        for category in args.categories or ():
            meta.samples(category, "test")
        setting = BenchSetting.create(
            dataset_name(meta, args.dataset), method=args.method, method_options=dict(args.method_option),
            tta=args.tta, tta_seed=args.tta_seed, resolution=args.resolution, limit=args.limit,
            shots=args.shots, shot_seed=args.shot_seed, transductive=args.transductive, fusion=args.fusion,
        )
    except OutputExistsError as err:
        raise CLIError(
            f"--smoke writes a synthetic dataset into --root when it holds no meta.json, but {root} is a "
            f"folder with other files. Pass an empty or new folder, or a prepared dataset. ({err})"
        ) from err
    except (DataError, ValueError) as err:
        raise CLIError(str(err)) from err
    _checked(writable_folder, args.out)  # last of the checks: it creates the folder
    model = _load_model(args)
    if model.random_weights:
        print("WARNING: random weights (smoke mode) — the numbers are NOT meaningful.", file=sys.stderr)
    try:
        results = run_benchmark(
            model, root, args.out, setting, categories=args.categories, batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except NoUsableImagesError as err:
        if not err.finished:
            raise CLIError(str(err)) from err
        print((Path(args.out) / "results.md").read_text())
        print(f"anoclip: error: {err}", file=sys.stderr)
        return 1
    except (DataError, ResultsMismatchError, FolderBusyError, ValueError) as err:
        raise CLIError(str(err)) from err
    print((Path(args.out) / "results.md").read_text())
    print(f"{len(results)} categories; results in {args.out}")
    status = incompleteness(results, [r.category for r in results])
    if status:  # skipped files: the numbers are not final, and the next run recomputes those categories
        print(f"anoclip: incomplete: {status}", file=sys.stderr)
        return 1
    return 0


def from_folder(args: argparse.Namespace) -> int:
    """``anoclip data from-folder``: a folder of good/ and defect images as a meta.json data set."""
    from .data import DataError, ImageReadError, Meta
    from .data import from_folder as convert

    try:
        out = convert(args.root, args.out, class_name=args.class_name, overwrite=args.overwrite)
    except (DataError, ImageReadError) as err:
        raise CLIError(str(err)) from err
    for line in Meta.load(out).info.get("report", []):
        print(f"note: {line}")
    print(f"ready: {out} (index: {out / 'meta.json'}). Evaluate it with:  anoclip bench --root {out} --out RESULTS_DIR")
    return 0


def prefetch(args: argparse.Namespace) -> int:
    """Fetch what the book needs once (CLIP weights), or explain how to build it offline."""
    from .backbone import resolve_checkpoint
    from .env import model_name, pretrained

    name, weights = args.model or model_name(), args.pretrained or pretrained()
    try:
        path = resolve_checkpoint(name, weights)
    except (WeightsUnavailableError, ValueError, FileNotFoundError) as err:
        raise CLIError(
            f"{err}\n\nTo build the book offline with the tiny random model (its numbers are NOT "
            "meaningful), run:  ANOCLIP_SMOKE=1 make book"
        ) from err
    print(f"{name} / {weights} weights: {path}")
    return 0


def sources(args: argparse.Namespace) -> int:
    """List every downloaded file with its sources in the order tried; --check asks each URL."""
    from .data.errors import DataError
    from .data.sources import run_command

    try:
        return run_command(args.ids, check=args.check, timeout=args.timeout)
    except DataError as err:
        raise CLIError(str(err)) from err


def _key_value(text: str) -> Tuple[str, object]:
    """``start=6`` → ("start", 6); values are Python literals when they parse, else strings."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anoclip", description="Zero-shot anomaly localization with CLIP (AnoCLIP).")
    commands = parser.add_subparsers(dest="command", required=True)

    loc = commands.add_parser("localize", help="heat-map overlays and image scores for images (and decisions, when calibrated)")
    loc.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    loc.add_argument("--class-name", required=True, help="object or texture name used in the prompts, e.g. bottle")
    loc.add_argument("--out", default="anoclip_out", help="output folder (default ./anoclip_out)")
    decide = loc.add_mutually_exclusive_group()
    decide.add_argument("--calibrate", metavar="NORMAL_DIR",
                        help="folder of normal images: thresholds at --fpr, a <name>_mask.png per image and a decision column")
    decide.add_argument("--thresholds", metavar="FILE", help="thresholds saved by `anoclip calibrate` (same model options)")
    loc.add_argument("--reference", metavar="NORMAL_DIR",
                     help="normal images of the class as a memory: each patch also scores its distance to them")
    _add_fusion_argument(loc)
    loc.add_argument("--overwrite", action="store_true",
                     help="replace an earlier run in --out (a run of the same setting is added to without it)")
    _add_fpr_argument(loc)
    _add_model_arguments(loc)
    loc.set_defaults(run=localize)

    cal = commands.add_parser("calibrate", help="pixel and image thresholds at a false-positive rate, from normal images")
    cal.add_argument("normal_dir", metavar="NORMAL_DIR", help="folder of normal (defect-free) images of the class")
    cal.add_argument("--class-name", required=True, help="the class name you will localize with, e.g. bottle")
    cal.add_argument("--out", default="thresholds.json", help="thresholds file to write (default ./thresholds.json)")
    cal.add_argument("--reference", metavar="NORMAL_DIR", help="the memory `localize --reference` will use (same folder)")
    _add_fusion_argument(cal)
    _add_fpr_argument(cal)
    _add_model_arguments(cal)
    cal.set_defaults(run=calibrate)

    run = commands.add_parser("bench", help="evaluate on a prepared dataset (meta.json), category by category")
    run.add_argument("--root", required=True, help="dataset root holding meta.json (see data_scripts/)")
    run.add_argument("--out", required=True, help="results folder (resumes if it holds the same setting)")
    run.add_argument("--dataset", default=None, help="registry name for defaults (mvtec, visa, ...); default: meta.json's")
    run.add_argument("--categories", nargs="+", default=None, help="subset of categories (default: all)")
    run.add_argument("--method", default="anoclip", help="localizer name (see anoclip.methods)")
    run.add_argument("--method-option", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                     help="method constructor option, repeatable, e.g. --method vv --method-option start=6")
    run.add_argument("--resolution", choices=RESOLUTIONS, default=RESOLUTIONS[0],
                     help="evaluate at the model resolution like the official code, or at the masks' own")
    run.add_argument("--limit", type=int, default=None, help="at most N images per category (quick runs)")
    run.add_argument("--tta-seed", type=int, default=None, help="TTA seed (default: the dataset's official one)")
    protocol = run.add_mutually_exclusive_group()
    protocol.add_argument("--shots", type=int, default=0, metavar="K",
                          help="few-shot: a memory of K normal training images per category (default 0: zero-shot)")
    protocol.add_argument("--transductive", action="store_true",
                          help="score each image against the category's other (unlabelled) test images")
    run.add_argument("--shot-seed", type=int, default=0, help="which K training images are drawn (default 0)")
    _add_fusion_argument(run)
    run.add_argument("--overwrite", action="store_true", help="discard results of a different setting in --out")
    _add_model_arguments(run)
    run.set_defaults(run=bench)

    data = commands.add_parser("data", help="turn your own images into a data set for `anoclip bench`")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    folder = data_commands.add_parser(
        "from-folder", help="ROOT/good + ROOT/<defect>/ (+ ROOT/masks/<defect>/) → a meta.json data set",
        description="Write ROOT's images in the meta.json layout: ROOT/good/ holds normal images, every other folder "
                    "one defect type; optional masks go into ROOT/masks/<defect>/, named after their images.",
    )
    folder.add_argument("root", metavar="ROOT", help="the folder (or an archive of it); or a folder of such category folders")
    folder.add_argument("--out", required=True, help="output folder (created; ROOT is never modified)")
    folder.add_argument("--class-name", default=None, help="category name used in the prompts (default: ROOT's folder name)")
    folder.add_argument("--overwrite", action="store_true", help="replace an output made from a different folder")
    folder.set_defaults(run=from_folder)

    fetch = commands.add_parser("prefetch", help="download the book's CLIP weights once (offline: explains smoke mode)")
    fetch.add_argument("--model", default=None, help=f"default: $ANOCLIP_MODEL, else {DEFAULT_MODEL}")
    fetch.add_argument(
        "--pretrained", default=None, help=f"tag or checkpoint file; default: $ANOCLIP_PRETRAINED, else {DEFAULT_PRETRAINED}"
    )
    fetch.set_defaults(run=prefetch)

    listing = commands.add_parser("sources", help="list every downloaded file and its sources; --check asks each URL")
    listing.add_argument("ids", nargs="*", metavar="ID", help="only these sources or id prefixes, e.g. mvtec_ad visa")
    listing.add_argument("--check", action="store_true", help="ask each URL for one byte; exit 1 if a required file is dead")
    listing.add_argument("--timeout", type=float, default=10.0, help="seconds per URL (default 10)")
    listing.set_defaults(run=sources)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CLIError as err:
        print(f"anoclip: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # what finished is on disk; every command picks up where it stopped
        print("\nanoclip: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
