"""``make rehearse``: the path every real user takes, end to end, on this machine, offline.

Everything the book downloads comes from a stand-in mirror served on 127.0.0.1, and the whole
book is built in real mode (no ``ANOCLIP_SMOKE``): every chapter's real branch runs, with the
download, the checksum, the extraction and the conversion of each file it needs.

* The mirror folder holds, under each real file name of ``anoclip/data/sources.json`` and in its
  real archive format (``.tar.xz``, ``.tar``, ``.zip``), the synthetic raw layout that
  :mod:`anoclip_book.standins` writes for that download, and a random-weight checkpoint in
  open_clip's training-checkpoint format under the real weights file name.
* The rehearsal itself declares every served file whose row has a registered size or checksum in
  a stand-in manifest (``ANOCLIP_STANDINS``), with its exact SHA-256; the fetch announces each one
  with a ``!!! STAND-IN`` banner. The mirror can never do that. For the tiny test architecture,
  which has no real checkpoint, the manifest adds a weights row of its own (declared the same way),
  so its random weights still travel mirror -> download -> checksum -> load.
* The server is a URL, not a folder, so the download path runs; every other host is made
  unreachable (a dead proxy) and ``HF_HUB_OFFLINE=1``, so nothing real can be fetched by mistake.
* Fresh ``ANOCLIP_DATA`` / ``ANOCLIP_RESULTS`` / ``ANOCLIP_CACHE`` live under the output folder
  (default ``_build/rehearsal``); the pages there carry a site-wide REHEARSAL announcement, and
  every figure a rehearsal banner (:func:`anoclip_book.figure_banner`).

It prints each notebook's execution time and ends with one line::

    rehearsal: N notebooks executed in real mode, M files served, K checksums verified

and exits non-zero on any error: a failed build, a notebook not executed, a file the book asked
for and the mirror lacks, a plan dataset left unprepared, a stand-in not verified, a smoke
banner on a page, or a page that does not say REHEARSAL.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from anoclip import env
from anoclip.data.download import archive_stem
from anoclip.data.registry import DATASETS, MVTEC_CATEGORIES
from anoclip.data.sources import Source, package_table, standin_marker
from anoclip.env import DEFAULT_MODEL, DEFAULT_PRETRAINED
from anoclip.fileio import sha256sum

from . import modes, standins
from .pages import quiet
from .plans import bench_plans

ROOT = Path(__file__).resolve().parents[2]  # book/anoclip_book/rehearsal.py -> the checkout
TINY_MODEL = "anoclip-tiny"
MODELS = (TINY_MODEL, DEFAULT_MODEL)
TINY_TAG = "rehearsal"
TINY_ROW_ID = f"weights/{TINY_MODEL}/{TINY_TAG}"
TINY_FILE = "anoclip-tiny-rehearsal-random.pt"
PURPOSE = "make rehearse: a random-weight checkpoint and synthetic raw layouts, NOT the real files"
ANNOUNCEMENT = (
    "REHEARSAL build (make rehearse): random-weight CLIP and synthetic stand-ins for every download. "
    "Nothing on these pages is a result."
)
MARKER = ".anoclip-rehearsal"
CHECKPOINT_SEED = 20240901
# (normal training images, normal test images, anomalous test images) of the MVTec AD categories
# the chapters show: 1-5 bottle and grid, 7 also pill; chapter 7 calibrates bottle's image
# threshold at a 1 % false-positive rate from up to 100 training images, so it needs >= 99; chapters
# 6 and 8 draw memories of up to 4 normal training images from every category.
SHOWN_COUNTS = {"bottle": (110, 4, 4), "grid": (4, 4, 4), "pill": (4, 4, 4)}
OTHER_COUNTS = (4, 1, 2)
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused

# The look of each MVTec AD category: the synthetic renderer knows two textures and two objects.
_MVTEC_LOOK = {
    "carpet": "carpet", "grid": "grid", "leather": "carpet", "tile": "grid", "wood": "carpet",
    "bottle": "bottle", "pill": "pill", "cable": "bottle", "capsule": "pill", "hazelnut": "bottle",
    "metal_nut": "pill", "screw": "pill", "toothbrush": "bottle", "transistor": "bottle", "zipper": "pill",
}
_BUILD_TIME = re.compile(r"^(?P<path>\S+\.ipynb): Executed notebook in (?P<seconds>[0-9.]+) seconds")


class RehearsalError(RuntimeError):
    """The rehearsal found something wrong; the message says what and where."""


# ----------------------------------------------------------------------------------------------
# The stand-in mirror


@dataclass(frozen=True)
class ServedFile:
    """One file of the mirror: the row it stands in for, its bytes' SHA-256, and whether the row
    has a registered size or checksum (then the manifest declares it)."""

    source_id: str
    file: str
    sha256: str
    checked: bool


@dataclass(frozen=True)
class Mirror:
    """The mirror folder, what it holds, and the model the book loads from it."""

    folder: Path
    files: Tuple[ServedFile, ...]
    model: str
    pretrained: str
    extra_rows: Tuple[dict, ...]

    def manifest(self, base_url: str) -> dict:
        """The stand-in manifest: every served file with a registered check, plus the added rows."""
        declared = {f.source_id: f.sha256 for f in self.files if f.checked}
        rows = [dict(row, urls=[f"{base_url}/{row['file']}"]) for row in self.extra_rows]
        return {"purpose": PURPOSE, "standins": declared, "sources": rows}


def _has_checks(source: Source) -> bool:
    return source.size is not None or source.digest is not None


def write_checkpoint(model: str, path: Path, seed: int = CHECKPOINT_SEED) -> Path:
    """Random weights of ``model`` in the layout of open_clip's release checkpoints (a training
    checkpoint: ``epoch``, ``name`` and a ``state_dict`` whose keys carry DDP's ``module.``)."""
    import open_clip
    import torch

    from anoclip.backbone import register_tiny_config

    register_tiny_config()
    with torch.random.fork_rng(devices=[]), quiet():  # open_clip logs "no pretrained weights": that is the point
        torch.manual_seed(seed)
        clip = open_clip.create_model(model, pretrained=None)
    state = {f"module.{key}": value for key, value in clip.state_dict().items()}
    part = path.with_name(path.name + ".part")
    torch.save({"epoch": 32, "name": f"{model}-random-rehearsal", "state_dict": state}, part)
    os.replace(part, path)
    return path


def contents(folder: Path) -> List[Tuple[Path, str]]:
    """``folder``'s entries as archive roots: its files and folders at the archive's root."""
    return [(child, child.name) for child in sorted(Path(folder).iterdir())]


def pack(archive: Path, roots: Sequence[Tuple[Path, str]]) -> Path:
    """Pack ``roots`` (a file or folder, and its name in the archive) into ``archive`` in the
    format its name says: ``.tar.xz``, ``.tar`` or ``.zip``. Folders are packed with all they hold.

    Members are sorted and dated 2021-01-01 with no owner, so the same content gives the same bytes.
    """
    entries: List[Tuple[Path, str]] = []
    for path, name in roots:
        entries.append((path, name))
        if path.is_dir():
            entries += [(item, f"{name}/{item.relative_to(path).as_posix()}") for item in sorted(path.rglob("*"))]
    part = archive.with_name(archive.name + ".part")
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path, name in entries:
                info = zipfile.ZipInfo(name + ("/" if path.is_dir() else ""), (2021, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o40755 if path.is_dir() else 0o100644) << 16
                bundle.writestr(info, b"" if path.is_dir() else path.read_bytes())
    elif archive.name.endswith((".tar.xz", ".tar")):
        with tarfile.open(part, "w:xz" if archive.name.endswith(".xz") else "w", format=tarfile.PAX_FORMAT) as bundle:
            for path, name in entries:
                info = bundle.gettarinfo(str(path), name)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 1609459200, 0, 0, "", ""
                if path.is_dir():
                    bundle.addfile(info)
                else:
                    with open(path, "rb") as handle:
                        bundle.addfile(info, handle)
    else:
        raise ValueError(f"{archive}: the rehearsal packs .zip, .tar and .tar.xz archives, not {archive.name}.")
    os.replace(part, archive)
    return archive


def _mvtec_layout(folder: Path, counts: Callable[[str], Tuple[int, int, int]]) -> Path:
    """All 15 MVTec AD categories in the full archive's layout (``<category>/...`` plus
    ``license.txt`` and ``readme.txt``), each drawn in the look of a synthetic category."""
    folder.mkdir(parents=True)
    for seed, category in enumerate(MVTEC_CATEGORIES):
        scratch = folder.parent / f".{category}.scratch"
        look = _MVTEC_LOOK[category]
        n_train, good, defect = counts(category)
        standins.mvtec_category(scratch, look, n_train=n_train, n_test_good=good, n_test_defect=defect, seed=seed)
        os.replace(scratch / look, folder / category)
        for name in ("license.txt", "readme.txt"):
            if not (folder / name).exists():
                os.replace(scratch / name, folder / name)
        shutil.rmtree(scratch)
    return folder


def _top_folder(source: Source, written: Path, scratch: Path) -> Optional[str]:
    """The top folder of the real download: GitHub's archive of a commit unpacks to
    ``<repository>-<commit>/`` (the stand-ins use the branch archive's ``-master``/``-main``)."""
    if written == scratch:
        return None
    if any("/archive/" in url and "github.com" in url for url in source.urls):
        return archive_stem(source.file)
    return written.name


def build_mirror(folder: Path, model: str = TINY_MODEL) -> Mirror:
    """Write the stand-in mirror into the empty or new ``folder``; see the module docstring.

    MVTec AD: the categories the chapters show get enough images for their real branches
    (:data:`SHOWN_COUNTS`), the others a minimum (:data:`OTHER_COUNTS`).
    """
    if model not in MODELS:
        raise ValueError(f"The rehearsal knows the models {', '.join(MODELS)}, not {model!r}.")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise RehearsalError(f"{folder} is not empty; the mirror is written into a new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f".{folder.name}.layouts"
    shutil.rmtree(work, ignore_errors=True)
    table = package_table()
    served: List[ServedFile] = []

    def serve(source_id: str, path: Path, checked: bool) -> None:
        served.append(ServedFile(source_id, path.name, sha256sum(path), checked))

    try:
        layout = _mvtec_layout(work / "mvtec", lambda c: SHOWN_COUNTS.get(c, OTHER_COUNTS))
        full = table.get("mvtec_ad")
        serve(full.id, pack(folder / full.file, contents(layout)), _has_checks(full))
        notes = [(layout / name, name) for name in ("license.txt", "readme.txt")]
        for category in MVTEC_CATEGORIES:  # as assumed for MVTec's per-category downloads
            row = table.get(f"mvtec_ad/{category}")
            serve(row.id, pack(folder / row.file, [(layout / category, category), *notes]), _has_checks(row))
        for name, info in DATASETS.items():
            if info.source is None or info.source == "mvtec_ad":
                continue
            row = table.get(info.source)
            scratch = work / name
            written = standins.STANDINS[name](scratch)
            top = _top_folder(row, written, scratch)
            serve(row.id, pack(folder / row.file, contents(written) if top is None else [(written, top)]),
                  _has_checks(row))
        extra: Tuple[dict, ...] = ()
        if model == TINY_MODEL:
            serve(TINY_ROW_ID, write_checkpoint(model, folder / TINY_FILE), True)
            extra = ({"id": TINY_ROW_ID, "kind": "weights", "model": TINY_MODEL, "tag": TINY_TAG, "file": TINY_FILE,
                      "title": "anoclip-tiny / rehearsal: RANDOM weights written by make rehearse, NOT a trained CLIP",
                      "manual": "Written by python -m anoclip_book.rehearsal; there is nothing to download.",
                      "note": "Added by the rehearsal's stand-in manifest; unknown outside a rehearsal."},)
            pretrained = TINY_TAG
        else:
            row = table.weights(model, DEFAULT_PRETRAINED)
            serve(row.id, write_checkpoint(model, folder / row.file), _has_checks(row))
            pretrained = DEFAULT_PRETRAINED
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Mirror(folder, tuple(served), model, pretrained, extra)


# ----------------------------------------------------------------------------------------------
# Serving it


class MirrorServer:
    """The mirror folder over HTTP on 127.0.0.1 (a thread), with a log of every answer."""

    def __init__(self, folder: Path):
        self.log: List[Tuple[str, int]] = []
        lock = threading.Lock()
        log = self.log

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):  # noqa: D102 (http.server's hook)
                try:
                    status = int(code)
                except (TypeError, ValueError):
                    status = 0
                with lock:
                    log.append((self.path, status))

            def log_message(self, *args):  # noqa: D102
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> "MirrorServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def served(self) -> List[str]:
        """File names answered with 200 or 206, once each, in the order first served."""
        names = [path.lstrip("/") for path, code in self.log if code in (200, 206)]
        return list(dict.fromkeys(names))

    def misses(self) -> List[str]:
        """Paths asked for and not served (the book needed a file the mirror lacks)."""
        return [f"{path} (HTTP {code})" for path, code in self.log if code not in (200, 206)]


# ----------------------------------------------------------------------------------------------
# The build


@dataclass(frozen=True)
class Layout:
    """Where one rehearsal keeps things, all under ``out``."""

    out: Path

    @property
    def mirror(self) -> Path:
        return self.out / "mirror"

    @property
    def data(self) -> Path:
        return self.out / "data"

    @property
    def results(self) -> Path:
        return self.out / "results"

    @property
    def cache(self) -> Path:
        return self.out / "cache"

    @property
    def book(self) -> Path:
        return self.out / "book"

    @property
    def manifest(self) -> Path:
        return self.out / "standins.json"

    @property
    def config(self) -> Path:
        return self.out / "config.yml"

    @property
    def log(self) -> Path:
        return self.out / "build.log"


def fresh_output(out: Path) -> Layout:
    """An empty ``out`` for this rehearsal; a previous rehearsal's folder (marked) is replaced,
    anything else that is not empty is refused rather than deleted.

    The folder is made absolute: its paths reach the notebooks, which run in their own folders.
    """
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise RehearsalError(
                f"{out} exists, is not empty and was not made by a rehearsal; pass another --out or empty it yourself."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by python -m anoclip_book.rehearsal; deleted by the next rehearsal\n")
    return Layout(out)


def build_environment(layout: Layout, mirror: Mirror, url: str, plan: Optional[str]) -> Dict[str, str]:
    """The build's environment: this process's, without any ANOCLIP_* setting of the caller, plus
    the rehearsal's own; every host but 127.0.0.1 unreachable; this interpreter's tools first."""
    values = {key: value for key, value in os.environ.items() if key not in (*env.VARIABLES, *modes.VARIABLES)}
    values.update({
        env.MIRROR_ENV: url, modes.STANDINS_ENV: str(layout.manifest), env.DATA_ENV: str(layout.data),
        env.RESULTS_ENV: str(layout.results), env.CACHE_ENV: str(layout.cache), env.MODEL_ENV: mirror.model,
        env.PRETRAINED_ENV: mirror.pretrained, env.HF_OFFLINE_ENV: "1",
    })
    if plan:
        values[modes.PLAN_ENV] = plan
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        values[name] = DEAD_PROXY
    values["no_proxy"] = values["NO_PROXY"] = "127.0.0.1,localhost"
    values["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), values.get("PATH", "")])
    values["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(ROOT / "book"), values.get("PYTHONPATH", "")) if p)
    return values


def write_config(layout: Layout) -> Path:
    """``_config.yml`` with the site-wide rehearsal announcement (the book's execute settings kept)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("html", {})["announcement"] = ANNOUNCEMENT
    layout.config.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return layout.config


def toc_notebooks(root: Path = ROOT) -> List[Path]:
    """Every notebook the table of contents builds (the chapters and the assignments)."""
    from .editions.notebooks import documents

    return sorted(document.path for document in documents(root) if document.notebook)


def run_build(layout: Layout, environment: Dict[str, str]) -> Tuple[int, Dict[str, float]]:
    """``jupyter-book build . -W -n --keep-going`` into ``layout.book``; the output goes to the
    console and ``build.log``. Returns the exit status and each executed notebook's seconds."""
    tool = Path(sys.executable).with_name("jupyter-book")
    command = [str(tool) if tool.exists() else "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(layout.book), "--config", str(layout.config)]
    times: Dict[str, float] = {}
    with open(layout.log, "w", encoding="utf-8") as log, subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as build:
        for line in build.stdout:
            sys.stdout.write(line)
            log.write(line)
            found = _BUILD_TIME.match(line.strip())
            if found:
                times[found["path"]] = float(found["seconds"])
    return build.returncode, times


# ----------------------------------------------------------------------------------------------
# Checking what happened


def verify_checksums(layout: Layout, mirror: Mirror, served: Sequence[str]) -> Tuple[int, List[str]]:
    """Recompute the SHA-256 of every served file with a registered check where the book keeps it.

    Each must equal the declared stand-in digest and carry the ``.standin`` marker the fetch wrote
    when it accepted (and announced) it. Returns the count verified and the problems found.
    """
    by_name = {f.file: f for f in mirror.files}
    kept = {}
    for base in (layout.data, layout.cache):
        for path in base.rglob("*"):
            if path.is_file() and path.name in by_name:
                kept.setdefault(path.name, []).append(path)
    verified, problems = 0, []
    for name in served:
        item = by_name.get(name)
        if item is None or not item.checked:
            continue
        copies = kept.get(name, [])
        if not copies:
            problems.append(f"{name} was served but no copy is kept under {layout.data} or {layout.cache}")
        for path in copies:
            if sha256sum(path) != item.sha256:
                problems.append(f"{path} differs from the stand-in the mirror served (SHA-256 mismatch)")
            elif not standin_marker(path).is_file():
                problems.append(f"{path} has no .standin marker: it was not accepted as a declared stand-in")
            else:
                verified += 1
    return verified, problems


def cell_outputs(page: str) -> List[str]:
    """The HTML of each cell output of a built page (the code above it left out)."""
    pieces = page.split('<div class="cell_output')[1:]
    return [re.split(r'<div class="cell docutils|<section|</section>', piece, maxsplit=1)[0] for piece in pieces]


def pages_showing(book: Path, banner: str) -> List[str]:
    """Built pages of the book in ``book`` (its ``_build/html``) whose cell outputs show ``banner``.

    The chapters' code mentions the banners (they print them), so only outputs count.
    """
    html = book / "_build" / "html"
    return sorted(str(page.relative_to(html)) for page in html.rglob("*.html")
                  if any(banner in output for output in cell_outputs(page.read_text(encoding="utf-8", errors="replace"))))


def smoke_pages(book: Path) -> List[str]:
    """Pages showing a smoke-mode banner: a rehearsal (and the published site) runs in real mode."""
    return pages_showing(book, "SMOKE MODE")


def unprepared(layout: Layout) -> List[str]:
    """Datasets of the plan chapter 6 ran that have a download but were not prepared."""
    problems = []
    records = sorted(layout.results.glob("*/provenance.json"))
    if not records:
        return [f"chapter 6 wrote no provenance.json under {layout.results}"]
    plans = bench_plans()
    for record in records:
        plan = plans[json.loads(record.read_text(encoding="utf-8"))["plan"]]
        for name in plan.datasets:
            if DATASETS[name].source and not (layout.data / name / "meta.json").is_file():
                problems.append(f"{name} (plan {plan.name}) has a download but {layout.data / name} was not prepared")
    return problems


def default_plan(model: str) -> Optional[str]:
    """Chapter 6's plan for a rehearsal of ``model``: the tiny model runs the GPU plan, whose ten
    datasets make every public download of the suite travel the real path (seconds each on
    stand-ins); the book's model keeps the hardware's choice, as a real build would."""
    return "gpu" if model == TINY_MODEL else None


def rehearse(model: str = TINY_MODEL, out: Optional[Path] = None, plan: Optional[str] = None) -> int:
    """Run the whole rehearsal; returns the exit status (0 only when every check passed).

    ``plan`` None means :func:`default_plan`.
    """
    plan = plan or default_plan(model)
    start = time.perf_counter()
    layout = fresh_output(out or ROOT / "_build" / "rehearsal")
    print(f"rehearsal: writing the stand-in mirror into {layout.mirror} ({model}) ...", flush=True)
    mirror = build_mirror(layout.mirror, model)
    print(f"rehearsal: {len(mirror.files)} files in the mirror "
          f"({sum(f.checked for f in mirror.files)} declared as stand-ins) in {time.perf_counter() - start:.0f} s",
          flush=True)
    write_config(layout)
    with MirrorServer(layout.mirror) as server:
        layout.manifest.write_text(json.dumps(mirror.manifest(server.url), indent=2) + "\n", encoding="utf-8")
        status, times = run_build(layout, build_environment(layout, mirror, server.url, plan))
    served = server.served()
    checksums, problems = verify_checksums(layout, mirror, served)
    expected = toc_notebooks()
    executed = {Path(path).resolve() for path in times}
    problems += [f"{path.relative_to(ROOT)} was not executed" for path in expected if path.resolve() not in executed]
    problems += [f"the book asked the mirror for {miss}" for miss in server.misses()]
    problems += [f"{page} shows a SMOKE MODE banner in a real-mode build" for page in smoke_pages(layout.book)]
    loud = set(pages_showing(layout.book, "REHEARSAL"))
    problems += [f"{page} does not say REHEARSAL in its outputs" for page in
                 (path.relative_to(ROOT).with_suffix(".html").as_posix() for path in expected) if page not in loud]
    if status == 0:
        problems += unprepared(layout)
    else:
        problems.append(f"jupyter-book exited with status {status} (see {layout.log} and the reports folder)")
    print("\nrehearsal: seconds per notebook")
    for path, seconds in sorted(times.items()):
        print(f"  {seconds:8.1f}  {Path(path).resolve().relative_to(ROOT)}")
    print(f"  {sum(times.values()):8.1f}  all notebooks; {time.perf_counter() - start:.0f} s for the whole rehearsal")
    for problem in problems:
        print(f"rehearsal: ERROR: {problem}", file=sys.stderr)
    print(f"rehearsal: {len(times)} notebooks executed in real mode, {len(served)} files served, "
          f"{checksums} checksums verified")
    return 1 if problems else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m anoclip_book.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default=TINY_MODEL,
                        help="anoclip-tiny (CI, minutes) or the book's ViT-B-16-plus-240 (random weights, about an hour on 2 CPU cores)")
    parser.add_argument("--plan", choices=sorted(bench_plans()), default=None,
                        help="chapter 6's plan (default: gpu for anoclip-tiny, so every public download runs; "
                        "the hardware's choice for the book's model, as in a real build)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: _build/rehearsal)")
    args = parser.parse_args(argv)
    try:
        return rehearse(args.model, args.out, args.plan)
    except RehearsalError as err:
        print(f"rehearsal: ERROR: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
