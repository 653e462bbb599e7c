"""The book's single-category MVTec download, served by a local HTTP server through the table."""
import functools
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from anoclip import env
from anoclip.data import Meta, samples, sources
from anoclip.data.errors import DataError
from anoclip.data.registry import MVTEC_CATEGORIES
from anoclip.data.sources import Fallback, Source, SourceTable


def _category_archive(folder, category):
    """A tarball shaped like MVTec's per-category ones: <category>/{train,test,ground_truth}."""
    base = folder / "src" / category
    rng = np.random.default_rng(len(category))
    for split, defect in (("train", "good"), ("test", "good"), ("test", "crack")):
        (base / split / defect).mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(base / split / defect / "000.png")
    (base / "ground_truth" / "crack").mkdir(parents=True)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    Image.fromarray(mask).save(base / "ground_truth" / "crack" / "000_mask.png")
    archive = folder / "www" / f"{category}.tar.xz"
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(base, arcname=category)
    return archive


@pytest.fixture
def served(tmp_path, monkeypatch):
    """bottle, grid and screw archives on 127.0.0.1, and a table whose category rows point there."""
    for category in ("bottle", "grid", "screw"):
        _category_archive(tmp_path, category)
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
