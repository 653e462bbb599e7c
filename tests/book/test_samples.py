"""The book's single-category MVTec download, served by a local HTTP server through the table."""
import functools
import os
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from anoclip import env
from anoclip.data import Meta, sources
from anoclip_book import samples
from anoclip.data.errors import DataError
from anoclip.data.registry import MVTEC_CATEGORIES
from anoclip.data.sources import Fallback, Source, SourceTable


def _category_archive(folder, category, write_category):
    """A tarball shaped like MVTec's per-category ones: <category>/{train,test,ground_truth}."""
    base = write_category(folder / "src", category)
    archive = folder / "www" / f"{category}.tar.xz"
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(base, arcname=category)
    return archive


@pytest.fixture
def served(tmp_path, monkeypatch, mvtec_category):
    """bottle, grid and screw archives on 127.0.0.1, and a table whose category rows point there."""
    for category in ("bottle", "grid", "screw"):
        _category_archive(tmp_path, category, mvtec_category)
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path / "www"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    rows = [Source(id="mvtec_ad", kind="dataset", title="MVTec AD", file="mvtec_anomaly_detection.tar.xz",
                   urls=(base + "/missing-full.tar.xz",), manual="form")]
    rows += [Source(id=f"mvtec_ad/{c}", kind="category", title=c, file=f"{c}.tar.xz", urls=(f"{base}/{c}.tar.xz",),
                    fallback=Fallback("mvtec_ad", c), manual="form") for c in MVTEC_CATEGORIES]
    table = SourceTable(rows)
    monkeypatch.setattr(sources, "default_table", lambda: table)
    monkeypatch.delenv(env.MIRROR_ENV, raising=False)
    yield requests
    httpd.shutdown()
    httpd.server_close()


def test_categories_are_fetched_once_and_prepared(tmp_path, served):
    out = tmp_path / "data" / "mvtec_book"
    samples.prepare_mvtec_categories(out)
    meta = Meta.load(out)
    assert meta.categories() == ["bottle", "grid"]
    assert [s.anomaly for s in meta.samples("bottle")] == [1, 0]
    samples.prepare_mvtec_categories(out)
    assert served == ["/bottle.tar.xz", "/grid.tar.xz"]  # nothing downloaded twice
    samples.prepare_mvtec_categories(out, ["screw"])
    assert set(Meta.load(out).categories()) == {"bottle", "grid", "screw"}
    assert len(served) == 3
    assert (tmp_path / "data" / "downloads" / "screw.tar.xz").is_file()


def test_an_archive_without_the_category_is_a_clear_error(tmp_path, served):
    www = tmp_path / "www"
    (www / "grid.tar.xz").replace(www / "bottle.tar.xz")  # the "bottle" archive holds grid/
    with pytest.raises(DataError) as err:
        samples.prepare_mvtec_categories(tmp_path / "data" / "mvtec_book", ["bottle"])
    assert "bottle/train/good" in str(err.value) and "Delete it" in str(err.value)


def test_unknown_category(tmp_path):
    with pytest.raises(DataError, match="Unknown MVTec AD categories"):
        samples.prepare_mvtec_categories(tmp_path / "x", ["bottel"])


def _files(folder):
    return [p for p in folder.rglob("*") if p.is_file()]


def test_the_book_data_costs_the_archives_plus_one_extracted_copy(tmp_path, served):
    """What Colab readers keep on Google Drive: no extraction cache, no second copy, no hard link."""
    data = tmp_path / "data"
    out = samples.prepare_mvtec_categories(data / "mvtec_book")
    downloads = data / "downloads"
    assert sorted(p.name for p in downloads.iterdir()) == ["bottle.tar.xz", "grid.tar.xz", "mvtec_categories.json"]
    assert sorted(p.name for p in data.iterdir()) == ["downloads", "mvtec_book"]
    assert all(os.stat(p).st_nlink == 1 for p in _files(data))
    extracted = 0  # bytes the two archives unpack to
    for archive in downloads.glob("*.tar.xz"):
        with tarfile.open(archive) as tar:
            extracted += sum(member.size for member in tar.getmembers() if member.isfile())
    archives = sum(p.stat().st_size for p in downloads.glob("*.tar.xz"))
    prepared = sum(p.stat().st_size for p in _files(out) if p.name != "meta.json")
    total = sum(p.stat().st_size for p in _files(data))
    # images move unchanged, masks are re-encoded to 0/255 PNG: about the extracted size again
    assert 0.9 * extracted <= prepared <= 1.1 * extracted
    bookkeeping = (out / "meta.json").stat().st_size + (downloads / "mvtec_categories.json").stat().st_size
    assert total <= archives + 1.1 * extracted + bookkeeping
    samples.prepare_mvtec_categories(data / "mvtec_book", ["screw"])  # adding one moves, never copies
    assert sorted(p.name for p in data.iterdir()) == ["downloads", "mvtec_book"]
    assert {f.parts[len(out.parts)] for f in _files(out) if f.name != "meta.json"} == {"bottle", "grid", "screw"}
    assert all(os.stat(p).st_nlink == 1 for p in _files(data))


def test_an_interrupted_preparation_is_rebuilt_from_the_archives(tmp_path, served, monkeypatch):
    from anoclip.data.converters import common

    out = tmp_path / "data" / "mvtec_book"
    samples.prepare_mvtec_categories(out)
    before = {s.img_path for c in ("bottle", "grid") for s in Meta.load(out).samples(c)}
    real = common.DatasetWriter.add_image

    def dies_on_the_third_image(self, *args, **kwargs):
        dies_on_the_third_image.calls += 1
        if dies_on_the_third_image.calls == 3:
            raise KeyboardInterrupt  # the Colab VM is recycled while screw is being added
        return real(self, *args, **kwargs)

    dies_on_the_third_image.calls = 0
    monkeypatch.setattr(common.DatasetWriter, "add_image", dies_on_the_third_image)
    with pytest.raises(KeyboardInterrupt):
        samples.prepare_mvtec_categories(out, ["screw"])
    monkeypatch.setattr(common.DatasetWriter, "add_image", real)
    samples.prepare_mvtec_categories(out, ["screw"])
    after = Meta.load(out)
    assert set(after.categories()) == {"bottle", "grid", "screw"}
    assert before <= {s.img_path for c in ("bottle", "grid") for s in after.samples(c)}
    assert len(served) == 3  # rebuilt from the archives already on disk, nothing downloaded again
