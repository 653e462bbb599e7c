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
from typing import List, Optional, Sequence, Tuple

from .backbone import DEFAULT_MODEL, DEFAULT_PRETRAINED, CheckpointMismatchError, WeightsUnavailableError
from .config import RESOLUTIONS

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


def _unique_stems(paths: Sequence[Path]) -> List[str]:
    """Output names per input: the file stem, disambiguated when two inputs share one."""
    seen: dict = {}
    names = []
    for path in paths:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        names.append(path.stem if count == 0 else f"{path.stem}_{count}")
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


def _calibrate(model, paths: Sequence[Path], args: argparse.Namespace):
    """Thresholds from the normal images in ``paths`` (counted by :func:`_normal_images` already);
    an unreadable one is an error, not a skip."""
    from .data.images import ImageReadError, read_rgb

    try:
        images = [read_rgb(path, orientation="exif") for path in paths]
        return model.calibrate(images, args.class_name, fpr=args.fpr, tta=args.tta, batch_size=args.batch_size)
    except ImageReadError as err:
        raise CLIError(f"{err} Every calibration image must be a readable normal image; remove or replace it.") from err


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


def calibrate(args: argparse.Namespace) -> int:
    """Thresholds at ``--fpr`` from a folder of normal images, saved as JSON for ``localize --thresholds``."""
    paths = _normal_images(args.normal_dir, args.fpr)
    model = _load_model(args)
    if model.random_weights:
        print("WARNING: random weights (smoke mode) — the thresholds are NOT meaningful.", file=sys.stderr)
    thresholds = _calibrate(model, paths, args)
    path = thresholds.save(args.out)
    print(f"{_describe_thresholds(thresholds, args.normal_dir)}\nsaved to {path}")
    return 0


def localize(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from .calibration import Thresholds, ThresholdsFileError, setting_of
    from .data.images import ImageReadError, read_rgb
    from .fileio import write_csv_atomic
    from .protocol import resize_map
    from .overlays import RANDOM_WEIGHTS_BANNER, save_overlay

    paths = collect_images(args.inputs)
    normal = _normal_images(args.calibrate, args.fpr) if args.calibrate else None
    stored = None
    if args.thresholds:
        try:
            stored = Thresholds.load(args.thresholds)  # a bad file is reported before the model loads
        except ThresholdsFileError as err:
            raise CLIError(str(err)) from err
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = _load_model(args)
    banner = RANDOM_WEIGHTS_BANNER if model.random_weights else None
    if banner:
        print("WARNING: random weights (smoke mode) — the heat maps are NOT meaningful.", file=sys.stderr)
    thresholds = None
    if normal is not None:
        thresholds = _calibrate(model, normal, args)
        thresholds.save(out / "thresholds.json")
        print(_describe_thresholds(thresholds, args.calibrate) + f"; saved to {out / 'thresholds.json'}")
    elif stored is not None:
        try:
            stored.check(setting_of(model, args.class_name, tta=_tta_setting(args)), Path(args.thresholds))
        except ThresholdsFileError as err:
            raise CLIError(str(err)) from err
        thresholds = stored
        print(_describe_thresholds(thresholds, args.thresholds))
    rows, names = [], _unique_stems(paths)
    decided = ["decision", "mask"] if thresholds is not None else []
    fields = ["image", "image_score", "max_pixel_score", *decided, "overlay", "error"]
    with tqdm(total=len(paths), desc="localize", unit="img") as bar:
        for start in range(0, len(paths), args.batch_size):
            batch_paths, batch_names = paths[start:start + args.batch_size], names[start:start + args.batch_size]
            images, kept = [], []
            for path, name in zip(batch_paths, batch_names):
                try:
                    images.append(read_rgb(path, orientation="exif"))  # photos upright, as their owner sees them
                    kept.append((path, name))
                except ImageReadError as err:
                    print(f"skipped: {err}", file=sys.stderr)
                    rows.append({"image": str(path), "error": str(err)})
            if images:
                prediction = model.predict(model.preprocess(images), args.class_name, tta=args.tta)
                maps = prediction.anomaly_maps.cpu().numpy()
                scores = prediction.image_scores.cpu().numpy()
                for image, (path, name), anomaly_map, score in zip(images, kept, maps, scores):
                    row = {"image": str(path), "image_score": f"{score:.6f}", "max_pixel_score": f"{anomaly_map.max():.6f}"}
                    title, mask = f"{args.class_name}: image score {score:.3f}", None
                    if thresholds is not None:  # the decision at the image's own size, like the overlay
                        full = resize_map(torch.from_numpy(anomaly_map), (image.height, image.width)).numpy()
                        mask = thresholds.pixel_masks(full)
                        row["decision"] = thresholds.decisions(score)[0]
                        row["mask"] = _save_mask(out / f"{name}_mask.png", mask).name
                        title += f" → {row['decision']}"
                    overlay = save_overlay(out / f"{name}_overlay.png", image, anomaly_map, title=title, outline=mask, banner=banner)
                    rows.append({**row, "overlay": overlay.name, "error": ""})
            write_csv_atomic(out / "scores.csv", rows, fields)  # after every batch: nothing lost
            bar.update(len(batch_paths))
    skipped = sum(1 for r in rows if r.get("error"))
    masks = " and masks" if thresholds is not None else ""
    print(f"wrote {len(rows) - skipped} overlays{masks} and {out / 'scores.csv'}")
    if skipped:
        print(f"anoclip: {skipped} input(s) skipped (see the error column of {out / 'scores.csv'})", file=sys.stderr)
        return 1
    return 0


def bench(args: argparse.Namespace) -> int:
    from .bench import BenchSetting, NoUsableImagesError, ResultsMismatchError, dataset_name, run_benchmark
    from .data import DataError, Meta, OutputExistsError, make_synthetic_dataset
    from .data.meta import META_FILE

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
        )
    except OutputExistsError as err:
        raise CLIError(
            f"--smoke writes a synthetic dataset into --root when it holds no meta.json, but {root} is a "
            f"folder with other files. Pass an empty or new folder, or a prepared dataset. ({err})"
        ) from err
    except (DataError, ValueError) as err:
        raise CLIError(str(err)) from err
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
    except (DataError, ResultsMismatchError, ValueError) as err:
        raise CLIError(str(err)) from err
    print((Path(args.out) / "results.md").read_text())
    print(f"{len(results)} categories; results in {args.out}")
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
    _add_fpr_argument(loc)
    _add_model_arguments(loc)
    loc.set_defaults(run=localize)

    cal = commands.add_parser("calibrate", help="pixel and image thresholds at a false-positive rate, from normal images")
    cal.add_argument("normal_dir", metavar="NORMAL_DIR", help="folder of normal (defect-free) images of the class")
    cal.add_argument("--class-name", required=True, help="the class name you will localize with, e.g. bottle")
    cal.add_argument("--out", default="thresholds.json", help="thresholds file to write (default ./thresholds.json)")
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


if __name__ == "__main__":
    sys.exit(main())
