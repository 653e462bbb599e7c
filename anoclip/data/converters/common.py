"""Shared machinery of the dataset converters: :func:`run_conversion` and its pieces.

A converter turns one raw download into the common MVTec-like layout (:mod:`anoclip.data.meta`).
What every conversion guarantees (extraction cache consumed, atomic publishing, reports, images
unchanged, masks re-encoded): data_scripts/README.md, "What every script guarantees".
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections import deque
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..download import archive_stem, extract, is_archive
from ..errors import (
    DataError,
    DatasetRootError,
    MaskSizeError,
    NotEnoughDiskSpace,
    OutputExistsError,
)
from ..images import image_size, read_mask, read_rgb
from ..meta import IGNORE_SUFFIX, IMAGE_EXTENSIONS, MASK_SUFFIX, META_FILE, NORMAL_SPECIE, build_meta, write_meta

from ...fileio import PathLike

IDENTITY_KEYS = ("dataset", "converter", "options", "revision")
REPORT_KEY = "report"
# Written into an extraction cache before a file is moved out: such a cache is incomplete, re-extract.
CONSUMED_MARKER = ".anoclip-consumed"


def list_images(folder: Path) -> List[Path]:
    """Image files directly inside ``folder`` (any case of extension), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def index_by_stem(folder: Path) -> Dict[str, Path]:
    """Images of ``folder`` keyed by lower-cased stem, for pairing files across extensions and case."""
    return {p.stem.lower(): p for p in list_images(folder)}


def child_dirs(folder: Path) -> List[Path]:
    """Visible sub-folders, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve_raw(raw: PathLike, cache: Optional[PathLike] = None) -> Tuple[Path, bool]:
    """Return ``(folder, is_cache)`` for a raw download given as a folder or an archive.

    An archive is extracted into ``cache`` (default ``<archive folder>/<archive stem>.extracted``);
    ``is_cache``: the folder is ours, so the writer may move files out of it instead of copying.
    """
    raw = Path(raw).expanduser()
    if not raw.exists():
        raise DatasetRootError(
            f"Raw dataset path {raw} does not exist. Pass the downloaded archive or the folder it "
            "extracts to (see data_scripts/README.md for where to get each dataset)."
        )
    if raw.is_dir():
        return raw, False
    if not is_archive(raw):
        raise DatasetRootError(
            f"{raw} is a file but not a .zip/.tar(.gz/.xz/.bz2) archive. Pass the archive or the "
            "extracted folder."
        )
    target = Path(cache) if cache is not None else raw.with_name(archive_stem(raw) + ".extracted")
    discard_if_consumed(target)
    try:
        return extract(raw, target), True
    except PermissionError as err:
        raise DataError(
            f"Cannot extract {raw} into {target} ({err}). Pass cache=<writable folder> "
            "(--cache on the command line), or extract the archive yourself and pass the folder."
        ) from err


def locate_root(base: Path, is_root: Callable[[Path], bool], expected: str, title: str, depth: int = 3,
                hint: str = "Point --raw at the folder that contains it (or at the downloaded archive).") -> Path:
    """The first folder at or below ``base`` (breadth-first, ``depth`` levels) that ``is_root``:
    archives often wrap the data in extra folders (``BTech_Dataset_transformed/``, ``RSDDs dataset/``)."""
    queue = deque([(base, 0)])
    while queue:
        folder, level = queue.popleft()
        if is_root(folder):
            return folder
        if level < depth:
            for child in child_dirs(folder):
                queue.append((child, level + 1))
    raise DatasetRootError(f"{base} does not look like {title}: expected {expected}. {hint}")


def pick_normals(paths: Sequence[Path], count: int, seed: int, salt: str = "") -> Tuple[List[Path], List[Path]]:
    """Split ``paths`` into ``(picked, rest)`` with ``count`` picked by a seeded draw (both sorted).

    Files are ranked by a hash of ``(seed, salt, file name)``, so the draw depends neither on the
    numpy version nor on where the data lives: the same seed always gives the same split.
    """
    def rank(path: Path) -> str:
        return hashlib.sha256(f"{seed}/{salt}/{path.name}".encode()).hexdigest()

    chosen = set(sorted(paths, key=rank)[: max(count, 0)])
    return sorted(chosen), sorted(p for p in paths if p not in chosen)


NORMALS_MODES = ("balanced", "all")


def split_normals(
    normals: Sequence[Path], n_anomalous: int, mode: str, seed: int, salt: str = ""
) -> Tuple[List[Path], List[Path]]:
    """Normal images for the test set and the rest: ``"balanced"`` draws as many as there are
    anomalous images (seeded), ``"all"`` keeps every one in the test set."""
    if mode == "all":
        return sorted(normals), []
    if mode == "balanced":
        return pick_normals(normals, n_anomalous, seed, salt)
    raise ValueError(f"normals={mode!r} is not one of {list(NORMALS_MODES)}.")


def read_binary_mask(path: Path, threshold: int = 0) -> np.ndarray:
    """A mask file as bool ``(H, W)``: grey level above ``threshold`` for JPEG-compressed masks
    whose black is not exactly zero; any non-zero value for ``threshold=0``, and always for
    class-index masks (palette or 0/1 images), whose values are labels, not grey levels."""
    mask = read_mask(path)
    if threshold <= 0:
        return mask
    with Image.open(path) as image:
        mode = image.mode
    grey = np.asarray(read_rgb(path).convert("L"))
    if mode in ("P", "1") or grey.max(initial=0) <= 1:
        return mask
    return grey > threshold


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """A boolean (or any numeric) mask as a 0/255 8-bit L image (non-zero means anomalous)."""
    return Image.fromarray(np.multiply(np.asarray(mask) > 0, 255, dtype=np.uint8), mode="L")  # one byte per pixel


def discard_if_consumed(folder: Path) -> bool:
    """Delete ``folder`` (an extraction cache) if files were moved out of it; return whether it was.
    An interrupted conversion leaves such an incomplete cache; it must not pass for an extraction."""
    if (folder / CONSUMED_MARKER).exists():
        shutil.rmtree(folder)
        return True
    return False


def _raise_if_disk_full(err: OSError, where: Path) -> None:
    if err.errno == errno.ENOSPC:
        raise NotEnoughDiskSpace(
            f"Disk full while writing {where}. Free some space and run again; nothing was published."
        ) from err


class DatasetWriter:
    """Build an MVTec-like dataset in a staging folder and publish it atomically.

    Use as a context manager: :meth:`add_image` / :meth:`add_mask` per file, then :meth:`finish`
    (writes ``meta.json``, renames the staging folder to ``out``); an exception leaves ``out`` as it was.
    :meth:`done` is True when ``out`` holds a ``meta.json`` of the same identity (dataset, converter,
    options, ``revision``), else :class:`OutputExistsError` unless ``overwrite``.  A converter whose
    output changed bumps ``revision``, so an output of the older converter cannot pass as current.
    """

    def __init__(
        self,
        out: PathLike,
        *,
        dataset: str,
        options: Dict[str, Any],
        overwrite: bool = False,
        revision: int = 1,
    ):
        self.out = Path(out).expanduser()
        identity: Dict[str, Any] = {
            "dataset": dataset,
            "converter": f"anoclip.data.converters.{dataset}",
            "options": options,
        }
        if revision > 1:  # revision 1 predates the key; its outputs stay valid
            identity["revision"] = revision
        # A JSON round trip makes the comparison with a finished meta.json exact (tuples -> lists).
        self.info = json.loads(json.dumps(identity))
        self.findings: Dict[str, Any] = {}
        self.report_lines: List[str] = []
        self.overwrite = overwrite
        # Our own extraction cache: its images are moved, not copied; deleted on publishing or failure.
        self.move_from: Optional[Path] = None
        self.staging = self.out.with_name(f".{self.out.name}.partial")
        self._written: set = set()
        self._moved: Dict[Path, Path] = {}

    def done(self) -> bool:
        """True when ``out`` already holds this conversion (same dataset and options)."""
        meta_file = self.out / META_FILE
        if not self.out.exists():
            return False
        if not meta_file.is_file():
            if self.out.is_dir() and not any(self.out.iterdir()):
                return False
            raise OutputExistsError(
                f"Output folder {self.out} exists and is not a finished dataset (no meta.json). "
                "Choose another --out, or empty that folder yourself."
            )
        try:
            info = json.loads(meta_file.read_text(encoding="utf-8")).get("info", {})
            existing = {key: info[key] for key in IDENTITY_KEYS if key in info}
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError):
            existing = None
        if existing == self.info:
            return True
        if self.overwrite:
            return False
        raise OutputExistsError(
            f"{self.out} already holds a dataset made differently (its meta.json info is {existing}, "
            f"this run would write {self.info}). Pass overwrite=True (--overwrite) to replace it, "
            "or choose another --out."
        )

    def __enter__(self) -> "DatasetWriter":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        if exc_type is not None and self._moved:
            shutil.rmtree(self.move_from, ignore_errors=True)  # incomplete now: extract again next time

    def _claim(self, relative: str) -> Path:
        if relative in self._written:
            raise DataError(
                f"Two source files map to the same output file {relative}; the raw folder probably "
                "mixes two copies of the dataset. Point --raw at one of them."
            )
        self._written.add(relative)
        target = self.staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _movable(self, source: Path) -> Optional[Path]:
        """``source`` resolved, when it lies in our own extraction cache (so it may be moved)."""
        if self.move_from is None:
            return None
        resolved = source.resolve()
        return resolved if self.move_from in resolved.parents else None

    def add_image(self, source: Path, category: str, split: str, specie: str) -> str:
        """Copy an image (move it, out of our own extraction cache: a rename on the same file system,
        never a hard link, which Google Drive cannot hold); return its relative path.  A source
        added twice is copied from where its first addition put it."""
        relative = f"{category}/{split}/{specie}/{source.name}"
        target = self._claim(relative)
        movable = self._movable(source)
        try:
            if movable in self._moved:
                shutil.copyfile(self._moved[movable], target)
            elif movable is not None:
                if not self._moved:
                    (self.move_from / CONSUMED_MARKER).touch()
                shutil.move(movable, target)
                self._moved[movable] = target
            else:
                shutil.copyfile(source, target)
        except OSError as err:
            _raise_if_disk_full(err, target)
            raise
        return relative

    def add_mask(self, mask: np.ndarray, category: str, specie: str, image_relative: str) -> str:
        """Write the 0/255 L PNG mask of an image added before; checks the size matches."""
        return self._add_binary(mask, category, specie, image_relative, MASK_SUFFIX, "mask")

    def add_ignore(self, ignore: np.ndarray, category: str, specie: str, image_relative: str) -> str:
        """Write the 0/255 L PNG ignore mask (pixels to leave out of the metrics) of an added image."""
        return self._add_binary(ignore, category, specie, image_relative, IGNORE_SUFFIX, "ignore mask")

    def report(self, key: str, value: Any, message: str) -> None:
        """Record a finding the user must know (files dropped or merged, a choice made from the data):
        ``info[key] = value`` plus a line for ``info["report"]``, so nothing happens silently."""
        if key in IDENTITY_KEYS or key == REPORT_KEY:
            raise ValueError(f"info key {key!r} is reserved; choose another name for the finding.")
        self.findings[key] = value
        self.report_lines.append(message)

    def _add_binary(
        self, mask: np.ndarray, category: str, specie: str, image_relative: str, suffix: str, what: str
    ) -> str:
        image_path = self.staging / image_relative
        width, height = image_size(image_path)
        if mask.shape != (height, width):
            raise MaskSizeError(
                f"The {what} for {image_relative} is {mask.shape[1]}x{mask.shape[0]} (WxH) but the image "
                f"is {width}x{height}; the raw files do not belong together."
            )
        relative = f"{category}/ground_truth/{specie}/{Path(image_relative).stem}{suffix}"
        target = self._claim(relative)
        try:
            mask_to_image(mask).save(target, format="PNG")
        except OSError as err:
            _raise_if_disk_full(err, target)
            raise
        return relative

    def finish(self, categories: Optional[Iterable[str]] = None) -> Path:
        """Index the staging tree, write ``meta.json`` and move the tree to ``out``."""
        categories = list(categories) if categories is not None else None
        for category in categories or []:
            (self.staging / category / "test").mkdir(parents=True, exist_ok=True)
        meta = build_meta(self.staging, categories)
        meta["info"] = {**self.info, **self.findings}
        if self.report_lines:
            meta["info"][REPORT_KEY] = list(self.report_lines)
        write_meta(self.staging, meta)
        self._publish()
        if self.move_from is not None:
            shutil.rmtree(self.move_from, ignore_errors=True)  # its images live in out now; the archive stays
        return self.out

    def _publish(self) -> None:
        """Rename the staging folder to ``out``, retiring a previous output first."""
        if self.out.exists():
            retired = self.out.with_name(f".{self.out.name}.old")
            if retired.exists():
                shutil.rmtree(retired)
            os.replace(self.out, retired)
            os.replace(self.staging, self.out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(self.staging, self.out)


def plural(count: int, noun: str) -> str:
    """``"1 image"`` / ``"3 images"``: report lines read right for any count."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def name_list(names: Sequence[str], limit: int = 40) -> str:
    """``names`` joined for a message, cut after ``limit`` with a pointer to the full list."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return shown if rest <= 0 else f"{shown} and {rest} more (all listed in meta.json)"


def write_samples(
    writer: DatasetWriter,
    category: str,
    split: str,
    normals: Iterable[Path] = (),
    anomalies: Iterable[Tuple[Path, str, np.ndarray]] = (),
) -> None:
    """Add normal images to ``<split>/good`` and ``(image, specie, mask)`` triples to ``<split>/<specie>``."""
    for image in normals:
        writer.add_image(image, category, split, NORMAL_SPECIE)
    for image, specie, mask in anomalies:
        relative = writer.add_image(image, category, split, specie)
        writer.add_mask(mask, category, specie, relative)


def _check_apart(raw: Path, out: Path) -> None:
    """Refuse an output inside the raw folder (we would write into it) or around it."""
    raw, out = raw.resolve(), out.resolve()
    if raw == out or raw in out.parents or (raw.is_dir() and out in raw.parents):
        raise DataError(
            f"--out {out} and --raw {raw} overlap; the raw data must stay untouched. Choose an output "
            "folder outside the raw folder (e.g. a sibling)."
        )


def run_conversion(
    raw: PathLike,
    out: PathLike,
    *,
    dataset: str,
    options: Dict[str, Any],
    find_root: Callable[[Path], Path],
    fill: Callable[[Path, DatasetWriter], Sequence[str]],
    overwrite: bool = False,
    cache: Optional[PathLike] = None,
    revision: int = 1,
    consume: bool = False,
) -> Path:
    """The skeleton every converter shares: skip if done, unpack, find the root, fill, publish.

    ``find_root(folder)`` returns the dataset's top folder inside the (extracted) raw input;
    ``fill(root, writer)`` adds all files (reporting what it drops or decides) and returns the
    category names in report order.  ``revision``: see :class:`DatasetWriter`.  ``consume=True``
    treats a raw folder like an archive's extraction cache (images moved into ``out``, then
    deleted), for callers that extracted it themselves.
    """
    writer = DatasetWriter(out, dataset=dataset, options=options, overwrite=overwrite, revision=revision)
    if writer.done():
        return writer.out
    _check_apart(Path(raw).expanduser(), writer.out)
    folder, is_cache = resolve_raw(raw, cache)
    writer.move_from = folder.resolve() if is_cache or consume else None
    root = find_root(folder)
    with writer:
        categories = fill(root, writer)
        return writer.finish(categories)
