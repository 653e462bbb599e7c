"""The book's single-category MVTec download, with the network replaced by local archives."""
import tarfile

import numpy as np
import pytest
from PIL import Image

from anoclip.data import Meta, samples
from anoclip.data.errors import DataError


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
    archive = folder / f"{category}.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(base, arcname=category)
    return archive


@pytest.fixture
def offline_fetch(tmp_path, monkeypatch):
    archives = {c: _category_archive(tmp_path, c) for c in ("bottle", "grid", "screw")}
    fetched = []

    def fake_fetch(url, dest, sha256=None, **kwargs):
        category = url.rsplit("/", 1)[-1].split(".")[0]
        fetched.append(category)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(archives[category].read_bytes())
        return dest

    monkeypatch.setattr(samples, "fetch", fake_fetch)
    return fetched


def test_categories_are_fetched_once_and_prepared(tmp_path, offline_fetch):
    out = tmp_path / "data" / "mvtec_book"
    samples.prepare_mvtec_categories(out)
    meta = Meta.load(out)
    assert meta.categories() == ["bottle", "grid"]
    assert [s.anomaly for s in meta.samples("bottle")] == [1, 0]
    samples.prepare_mvtec_categories(out)
    assert offline_fetch == ["bottle", "grid"]  # nothing downloaded twice
    samples.prepare_mvtec_categories(out, ["screw"])
    assert set(Meta.load(out).categories()) == {"bottle", "grid", "screw"}
    assert offline_fetch == ["bottle", "grid", "screw"]


def test_unknown_category(tmp_path):
    with pytest.raises(DataError, match="Unknown MVTec AD categories"):
        samples.prepare_mvtec_categories(tmp_path / "x", ["bottel"])
