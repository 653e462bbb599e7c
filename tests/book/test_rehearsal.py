"""The rehearsal's stand-in mirror, served on 127.0.0.1, and chapter 6's plan and provenance.

The mirror is built once per module (a few seconds); every test that downloads goes through a
real HTTP server and the package's own fetch, checksum, extraction and converters.
"""
import hashlib
import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

import anoclip_book as book
from anoclip import env
from anoclip_book import modes, substitution
from anoclip.data import Meta, prepare
from anoclip.data.registry import BENCHMARK_DATASETS, DATASETS, MVTEC_CATEGORIES
from anoclip_book.samples import prepare_mvtec_categories
from anoclip.data.sources import SourcesExhaustedError, allow_substitutes, fetch, package_table
from anoclip_book.published import PublishedNumber, load_published
from anoclip_book.rehearsal import (
    TINY_FILE, TINY_ROW_ID, Layout, MirrorServer, build_environment, build_mirror, cell_outputs, contents, pack,
    fresh_output, smoke_pages, toc_notebooks, verify_checksums,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    return build_mirror(tmp_path_factory.mktemp("rehearsal") / "mirror")


@pytest.fixture
def served(mirror, tmp_path, monkeypatch):
    """The mirror on 127.0.0.1 with ANOCLIP_MIRROR at its URL and the rehearsal's manifest active."""
    with MirrorServer(mirror.folder) as server:
        manifest = tmp_path / "standins.json"
        manifest.write_text(json.dumps(mirror.manifest(server.url)))
        monkeypatch.setenv(env.MIRROR_ENV, server.url)
        monkeypatch.setenv(modes.STANDINS_ENV, str(manifest))
        monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
        substitution.activate()  # as importing anoclip_book does in each kernel of the rehearsal's build
        try:
            yield server
        finally:
            allow_substitutes(None)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Every host but 127.0.0.1 refused at once, as in a rehearsal: no test reaches a real URL."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in env.VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _checked(row):
    return row.size is not None or row.sha256 is not None or row.sha256_prefix is not None


# ----------------------------------------------------------------------------------------------
# The mirror


def test_every_download_of_the_table_is_in_the_mirror_under_its_real_name_and_format(mirror):
    table = package_table()
    rows = [row for row in table if row.kind != "weights"]
    names = {path.name for path in mirror.folder.iterdir()}
    assert {row.file for row in rows} <= names
    for row in rows:
        path = mirror.folder / row.file
        if row.file.endswith(".zip"):
            assert zipfile.is_zipfile(path), row.file
        else:
            assert tarfile.is_tarfile(path), row.file
            xz = path.read_bytes()[:6] == b"\xfd7zXZ\x00"
            assert xz == row.file.endswith(".tar.xz"), row.file
    assert {f.file for f in mirror.files} == names and all(f.sha256 == hashlib.sha256(
        (mirror.folder / f.file).read_bytes()).hexdigest() for f in mirror.files)


def test_archives_unpack_to_the_real_downloads_top_folders(mirror):
    full = tarfile.open(mirror.folder / "mvtec_anomaly_detection.tar.xz")
    tops = {name.split("/")[0] for name in full.getnames()}
    assert tops == set(MVTEC_CATEGORIES) | {"license.txt", "readme.txt"}  # no wrapper folder, like MVTec's
    with tarfile.open(mirror.folder / "bottle.tar.xz") as bottle:
        assert {name.split("/")[0] for name in bottle.getnames()} == {"bottle", "license.txt", "readme.txt"}
        assert full.extractfile("bottle/test/good/000.png").read() == bottle.extractfile("bottle/test/good/000.png").read()
    for ident, top in (("crackforest", "CrackForest-dataset-ed57c2d96754e6c7d105805cd29aeeb3a799f267"),
                       ("bsdata", "BSData-7204b28a621733c01cd75899ed9ea27f6ea0b9e3"),
                       ("btad", "BTech_Dataset_transformed")):
        names = zipfile.ZipFile(mirror.folder / package_table().get(ident).file).namelist()
        assert {name.split("/")[0] for name in names} == {top}, ident
    assert {n.split("/")[0] for n in zipfile.ZipFile(mirror.folder / "KolektorSDD2.zip").namelist()} == {"train", "test"}


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.xz"])
def test_the_same_content_packs_to_the_same_bytes(tmp_path, suffix):
    import os
    import time

    folder = tmp_path / "content"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "x.txt").write_text("x")
    (folder / "readme.txt").write_text("r")
    first = pack(tmp_path / f"first{suffix}", contents(folder))
    os.utime(folder / "readme.txt", (time.time() + 100, time.time() + 100))  # a later copy of the same files
    second = pack(tmp_path / f"second{suffix}", contents(folder))
    assert first.read_bytes() == second.read_bytes()
    with pytest.raises(ValueError, match="rar"):
        pack(tmp_path / "x.rar", contents(folder))


def test_the_manifest_declares_exactly_the_served_files_with_registered_checks(mirror):
    table = package_table()
    expected = {row.id for row in table if row.file in {f.file for f in mirror.files} and _checked(row)}
    manifest = mirror.manifest("http://127.0.0.1:1")
    assert set(manifest["standins"]) == expected | {TINY_ROW_ID}
    assert expected == {"mvtec_ad", "visa", "ksdd2", "btad"}  # the rows sources.json gives a size or SHA-256
    for ident, digest in manifest["standins"].items():
        file = table.get(ident).file if ident != TINY_ROW_ID else TINY_FILE
        assert digest == hashlib.sha256((mirror.folder / file).read_bytes()).hexdigest()
    assert [row["id"] for row in manifest["sources"]] == [TINY_ROW_ID]
    assert manifest["sources"][0]["urls"] == [f"http://127.0.0.1:1/{TINY_FILE}"]


def test_a_mirror_alone_never_makes_a_stand_in_acceptable(mirror, tmp_path, monkeypatch):
    with MirrorServer(mirror.folder) as server:
        monkeypatch.setenv(env.MIRROR_ENV, server.url)
        monkeypatch.delenv(modes.STANDINS_ENV, raising=False)
        for ident in ("mvtec_ad", "visa", "ksdd2", "btad"):
            with pytest.raises(SourcesExhaustedError) as err:
                fetch(ident, tmp_path / "downloads")
            assert "ANOCLIP_MIRROR" in err.value.attempts[0].where
            assert not (tmp_path / "downloads" / package_table().get(ident).file).exists()
        from anoclip.backbone import resolve_checkpoint

        with pytest.raises(ValueError, match="neither a checkpoint file nor an open_clip tag"):
            resolve_checkpoint("anoclip-tiny", "rehearsal")  # the tiny row exists only in the manifest


# ----------------------------------------------------------------------------------------------
# Fetched through the mirror and converted


@pytest.mark.parametrize("name", [name for name, info in DATASETS.items() if info.source])
def test_each_stand_in_download_fetches_verifies_and_converts(served, tmp_path, name, capsys):
    out = prepare(name, tmp_path / "data" / name, download=True)
    meta = Meta.load(out)
    tests = [s for category in meta.categories("test") for s in meta.samples(category, "test")]
    assert tests and any(s.anomaly for s in tests)
    row = package_table().get(DATASETS[name].source)
    downloaded = tmp_path / "data" / "downloads" / row.file
    assert downloaded.is_file() and f"/{row.file}" in [path for path, code in served.log if code == 200]
    assert (downloaded.with_name(downloaded.name + ".standin")).is_file() == _checked(row)
    assert ("STAND-IN" in capsys.readouterr().err) == _checked(row)
    if name == "mvtec":
        assert meta.categories("test") == list(MVTEC_CATEGORIES) and len(tests) == 3 * 8 + 12 * 3
        assert len(meta.samples("bottle", "train")) == 110 and len(meta.samples("cable", "train")) == 4


def test_the_books_categories_come_from_their_own_archives(served, tmp_path):
    root = prepare_mvtec_categories(tmp_path / "mvtec_book", ("bottle", "grid"))
    meta = Meta.load(root)
    assert meta.categories("test") == ["bottle", "grid"]
    assert all(sum(s.anomaly for s in meta.samples(c, "test")) == 4 for c in ("bottle", "grid"))
    assert served.served() == ["bottle.tar.xz", "grid.tar.xz"] and not served.misses()


def test_the_tiny_models_random_weights_travel_the_real_weights_path(served, mirror, tmp_path):
    from anoclip import AnoCLIP

    model = AnoCLIP.from_pretrained("anoclip-tiny", "rehearsal", device="cpu")
    cached = tmp_path / "cache" / "weights" / TINY_FILE
    assert not model.random_weights and cached.is_file() and served.served() == [TINY_FILE]
    layout = Layout(tmp_path)
    assert verify_checksums(layout, mirror, served.served()) == (1, [])
    cached.write_bytes(cached.read_bytes()[:-1] + b"x")  # a copy that differs from what was served
    count, problems = verify_checksums(layout, mirror, served.served())
    assert count == 0 and "SHA-256 mismatch" in problems[0]


def test_a_file_the_mirror_lacks_is_reported_as_a_miss(served):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{served.url}/no-such-file.zip")
    assert served.misses() == ["/no-such-file.zip (HTTP 404)"]


# ----------------------------------------------------------------------------------------------
# The build's surroundings


def test_the_build_environment_is_the_rehearsals_own_and_offline(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv(modes.SMOKE_ENV, "1")
    monkeypatch.setenv(env.MODEL_ENV, "ViT-L-14-336")
    layout = Layout(tmp_path)
    values = build_environment(layout, mirror, "http://127.0.0.1:5", "gpu")
    assert modes.SMOKE_ENV not in values and values[env.MODEL_ENV] == "anoclip-tiny"
    assert values[env.PRETRAINED_ENV] == "rehearsal" and values[env.MIRROR_ENV] == "http://127.0.0.1:5"
    assert values[env.DATA_ENV] == str(tmp_path / "data") and values[modes.PLAN_ENV] == "gpu"
    assert values["https_proxy"] == "http://127.0.0.1:9" and "127.0.0.1" in values["no_proxy"]
    assert values[env.HF_OFFLINE_ENV] == "1"


def test_a_relative_out_folder_reaches_the_notebooks_as_an_absolute_path(mirror, tmp_path, monkeypatch):
    # The notebooks run in their own folders, so a path relative to the caller would point nowhere.
    monkeypatch.chdir(tmp_path)
    layout = fresh_output(Path("relative") / "rehearsal")
    values = build_environment(layout, mirror, "http://127.0.0.1:5", None)
    for key in (modes.STANDINS_ENV, env.DATA_ENV, env.RESULTS_ENV, env.CACHE_ENV):
        assert Path(values[key]).is_absolute() and Path(values[key]).is_relative_to(tmp_path / "relative"), key


def test_toc_notebooks_are_every_chapter_and_assignment():
    found = {path.relative_to(ROOT).as_posix() for path in toc_notebooks()}
    assert found == {p.relative_to(ROOT).as_posix() for p in ROOT.glob("book/**/*.ipynb")}


def test_only_outputs_count_as_a_smoke_banner(tmp_path):
    html = tmp_path / "_build" / "html"
    html.mkdir(parents=True)
    code = '<div class="cell docutils container"><div class="cell_input">print("SMOKE MODE: x")</div>'
    (html / "code.html").write_text(code + '<div class="cell_output docutils container">real output</div></div>')
    (html / "output.html").write_text(code + '<div class="cell_output docutils container">SMOKE MODE: x</div></div>')
    assert smoke_pages(tmp_path) == ["output.html"]
    assert cell_outputs((html / "code.html").read_text()) == [' docutils container">real output</div></div>']


@pytest.mark.parametrize("chapter", ["06_benchmark", "07_your_images"])
def test_the_long_chapters_lift_the_cell_limit_with_the_keys_myst_nb_and_its_executor_read(chapter):
    # On a CPU (the Pages runner) their benchmark and 22-view calibration cells run for tens of minutes.
    from myst_nb.core.config import NbParserConfig

    metadata = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text())["metadata"]
    assert NbParserConfig().copy(**metadata["mystnb"]).execution_timeout == -1  # myst-nb's file-level key
    assert metadata["execution"] == {"timeout": -1}  # jupyter-cache's meta_override (and nbmake) read this one


# ----------------------------------------------------------------------------------------------
# Chapter 6: plan and provenance


def test_the_plan_follows_the_hardware_unless_ANOCLIP_PLAN_says_otherwise(monkeypatch):
    monkeypatch.delenv(modes.PLAN_ENV, raising=False)
    cpu, gpu = book.choose_plan(gpu=False), book.choose_plan(gpu=True)
    assert (cpu.name, gpu.name) == ("cpu", "gpu")
    assert cpu.datasets == ("mvtec",) and cpu.baseline_datasets == ("mvtec",)
    assert cpu.baseline_limit == book.CPU_BASELINE_IMAGES and "5 test images per category" in cpu.describe()
    assert gpu.datasets == BENCHMARK_DATASETS and len(gpu.datasets) == 10 and gpu.baseline_limit is None
    assert set(gpu.baseline_datasets) == {"mvtec", "visa"} and "every test image" in gpu.describe()
    monkeypatch.setenv(modes.PLAN_ENV, "GPU")
    assert book.choose_plan(gpu=False).name == "gpu"
    monkeypatch.setenv(modes.PLAN_ENV, "laptop")
    with pytest.raises(ValueError, match="ANOCLIP_PLAN='laptop'.*cpu, gpu"):
        book.choose_plan(gpu=True)


def test_the_provenance_names_plan_hardware_commit_and_date(tmp_path, monkeypatch):
    from anoclip import AnoCLIP

    monkeypatch.delenv(modes.STANDINS_ENV, raising=False)
    model = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu")
    record = book.run_provenance(book.choose_plan(gpu=False), model, "cpu")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert record["revision"].split(" ")[0] == head.stdout.strip()
    else:
        assert record["revision"].startswith("anoclip ")
    assert record["plan"] == "cpu" and record["hardware"].startswith("CPU: ") and record["hardware"].endswith(" cores")
    assert record["date"].endswith("UTC") and record["model"]["model"] == "anoclip-tiny" and not record["rehearsal"]
    assert book.read_provenance(book.write_provenance(tmp_path, record).parent) == json.loads(json.dumps(record))
    (tmp_path / "provenance.json").write_text(json.dumps({"plan": "gpu"}))
    with pytest.raises(ValueError, match="lacks hardware, revision, date"):
        book.read_provenance(tmp_path)


def test_a_gpu_run_is_exported_and_read_back_with_its_provenance(tmp_path):
    from anoclip import AnoCLIP
    from anoclip.bench import BenchSetting, mean_over_categories, run_benchmark
    from anoclip.data import make_synthetic_dataset

    data = make_synthetic_dataset(tmp_path / "synthetic", categories=("bottle", "grid"), n_train=0, n_test_good=1,
                                  n_test_defect=1, image_size=32)
    model = AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu").with_config(image_views=1)
    source = tmp_path / "results" / "gpu"
    results = run_benchmark(model, data, source / "synthetic__anoclip", BenchSetting.create("synthetic"), progress=False)
    with pytest.raises(ValueError, match="provenance.json"):
        book.export_run(source, tmp_path / "book-results" / "run")  # no provenance, no export
    book.write_provenance(source, {"plan": "gpu", "hardware": "GPU: test", "revision": "abc", "date": "today"})
    dest = book.export_run(source, tmp_path / "book-results" / "2026-01-01-test")
    assert sorted(p.name for p in (dest / "synthetic__anoclip").iterdir()) == [
        "categories", "config.json", "results.csv", "results.md"]
    with pytest.raises(FileExistsError):
        book.export_run(source, dest)
    [committed] = book.committed_runs(tmp_path / "book-results")
    [run] = committed.runs
    assert committed.provenance["hardware"] == "GPU: test" and (run.dataset, run.method, run.tta) == ("synthetic", "anoclip", None)
    assert run.images == 4 and run.categories == 2
    expected = mean_over_categories(results)
    assert all(run.means[m] == pytest.approx(expected[m]) for m in expected if expected[m] == expected[m])
    (tmp_path / "book-results" / "stray").mkdir()
    with pytest.raises(ValueError, match="stray"):  # results without provenance are never shown
        book.committed_runs(tmp_path / "book-results")


def _number(metric, note, resolution=240):
    return PublishedNumber("X", "mvtec", metric, 50.0, "paper", "s", "https://x", "", resolution, "training-free", note)


@pytest.mark.parametrize("metric, note, expected", [
    ("aupro", "PRO is the cflow variant (cal_pro_score)", "aupro_cflow"),
    ("aupro", "PRO computed with the MVTec definition", "aupro"),
    ("aupro", "PRO variant not stated", None),
    ("image_ap", "image AP is step-wise (average_precision_score)", "image_ap"),
    ("image_ap", "image AUPR by the trapezoid rule", "image_aupr_trapezoid"),
    ("image_ap", "", None),
    ("pixel_auroc", "", "pixel_auroc"),
])
def test_each_published_number_is_matched_with_the_variant_its_note_names(metric, note, expected):
    found, caveat = book.comparable_metric(_number(metric, note), 240)
    assert found == expected and ("quote only" in caveat) == (expected is None)
    assert "evaluated at 518 px, ours at 240 px" in book.comparable_metric(_number(metric, note, 518), 240)[1]
    assert "resolution not stated" in book.comparable_metric(_number(metric, note, None), 240)[1]


@pytest.mark.parametrize("method, kind, metric, expected", [
    ("AnomalyCLIP", "paper", "aupro", "aupro_cflow"), ("AnoVL", "reproduction", "aupro", None),
    ("MuSc", "paper", "image_ap", "image_ap"), ("WinCLIP", "paper", "image_ap", None),
    ("APRIL-GAN", "paper", "image_ap", "image_ap"),
])
def test_the_published_notes_say_which_variant_each_source_computed(method, kind, metric, expected):
    [number] = [n for n in load_published(dataset="mvtec", method=method, metric=metric) if n.kind == kind]
    assert book.comparable_metric(number)[0] == expected


def test_the_tiny_rehearsal_runs_the_plan_that_downloads_every_public_dataset():
    from anoclip_book import bench_plans
    from anoclip.data import DATASETS
    from anoclip_book.rehearsal import TINY_MODEL, default_plan

    plan = bench_plans()[default_plan(TINY_MODEL)]
    downloadable = {name for name, info in DATASETS.items() if info.source and info.requires_raw}
    assert downloadable <= set(plan.datasets)
    assert default_plan("ViT-B-16-plus-240") is None  # the hardware decides, as in a real build
