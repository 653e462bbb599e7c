"""Stand-ins of the raw downloads: each converts with the expected counts and reports, keeps the
real layout's quirks, is reproducible, and its EXIF-tagged image stays aligned with its mask."""
import hashlib

import numpy as np
import pytest
from PIL import Image

from anoclip.data import Meta, OutputExistsError, load_sample, prepare, read_mask
from anoclip_book import standins
from anoclip.data.images import exif_transpose_of, image_size

# registry name -> ({category: (train, test anomalous, test normal)}, report keys in info)
EXPECTED = {
    "mvtec": ({c: (3, 2, 1) for c in ("bottle", "carpet", "grid", "pill")}, set()),
    "visa": ({"candle": (3, 2, 1), "pcb1": (3, 2, 1)}, set()),
    "dagm": ({"class1": (3, 2, 2), "class2": (3, 2, 2)}, set()),
    "rsdd": ({"rail_type1": (0, 2, 0), "rail_type2": (0, 2, 0)}, set()),
    "ksdd2": ({"metal_surface": (3, 2, 2)}, set()),
    "bsd": ({"ball_screw": (4, 2, 2)}, {"split"}),
    "gc": ({"steel_plate": (0, 19, 1)}, {"merged_duplicates", "images_without_annotation"}),
    "msd": ({"phone_screen": (0, 3, 0)}, {"void"}),
    "road": ({"road": (0, 4, 0)}, {"unlabelled_images", "mask_labels"}),
    "btech": ({p: (2, 2, 1) for p in ("01", "02", "03")}, set()),
}
TAGGED = ("visa", "rsdd", "bsd", "gc", "msd", "road")  # JPEG sets: one image carries EXIF Orientation 6


def _counts(meta):
    return {
        c: (len(meta.samples(c, "train")), sum(s.anomaly for s in meta.samples(c)), sum(not s.anomaly for s in meta.samples(c)))
        for c in meta.categories()
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Every stand-in, built with its defaults and prepared once: {name: (raw, out)}."""
    base = tmp_path_factory.mktemp("standins")
    result = {}
    for name, build in standins.STANDINS.items():
        raw = build(base / "raw" / name)
        result[name] = (raw, prepare(name, base / "out" / name, raw=raw))
    return result


def test_every_registered_data_set_has_a_stand_in_that_its_own_converter_reads(converted):
    """Against the registry itself: a data set added there without a stand-in (or whose stand-in its
    converter rejects) fails here, so the rehearsal never meets a download it cannot serve."""
    from anoclip.data.registry import DATASETS

    real = {name for name, info in DATASETS.items() if name != "synthetic"}
    assert set(standins.STANDINS) == real
    for name in real:
        assert Meta.load(converted[name][1]).info["dataset"] == name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_stand_in_converts_with_the_expected_counts_and_reports(converted, name):
    _, out = converted[name]
    meta = Meta.load(out)
    counts, reports = EXPECTED[name]
    assert _counts(meta) == counts
    findings = set(meta.info) - {"dataset", "converter", "options", "revision", "report"}
    assert findings == reports
    assert len(meta.info.get("report", [])) == len(reports)
    for category in meta.categories():
        for sample in meta.samples(category):
            image, mask = load_sample(out, sample)
            assert mask.any() == bool(sample.anomaly)  # every planted defect survives the conversion


@pytest.mark.parametrize("name", TAGGED)
def test_the_exif_tagged_image_stays_aligned_with_its_mask_in_both_modes(converted, name):
    _, out = converted[name]
    meta = Meta.load(out)
    tagged = [
        s for c in meta.categories() for split in ("train", "test") for s in meta.samples(c, split)
        if exif_transpose_of(out / s.img_path) is not None
    ]  # fmt: skip
    assert len(tagged) == 1 and tagged[0].anomaly == 1
    sample = tagged[0]
    stored = read_mask(out / sample.mask_path)
    width, height = image_size(out / sample.img_path)
    image, mask = load_sample(out, sample)  # faithful: pixels and mask as stored
    assert image.size == (width, height) and mask.shape == (height, width)
    np.testing.assert_array_equal(mask, stored)
    turned_image, turned_mask = load_sample(out, sample, orientation="exif")
    assert turned_image.size == (height, width)  # orientation 6 is a quarter turn
    np.testing.assert_array_equal(turned_mask, np.rot90(stored, -1))  # clockwise, like the image
    np.testing.assert_array_equal(np.asarray(turned_image), np.rot90(np.asarray(image), -1))


def _digest(root):
    """Content of every file; .mat files by their arrays (scipy stamps the write time into the header)."""
    from scipy.io import loadmat

    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        if path.suffix == ".mat":
            found[key] = loadmat(path)["groundTruth"][0, 0]["Segmentation"].tobytes()
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stand_ins_are_reproducible(tmp_path, name):
    first = standins.STANDINS[name](tmp_path / "a")
    second = standins.STANDINS[name](tmp_path / "b")
    assert _digest(first) == _digest(second) and _digest(first)
    other = standins.STANDINS[name](tmp_path / "c", seed=1)
    assert _digest(other) != _digest(first)


def test_layouts_match_the_real_downloads(converted):
    mvtec_raw = converted["mvtec"][0]
    assert {p.name for p in mvtec_raw.iterdir()} == {"bottle", "carpet", "grid", "pill", "license.txt", "readme.txt"}
    with Image.open(mvtec_raw / "grid" / "train" / "good" / "000.png") as grid:
        assert grid.mode == "L"  # MVTec's grid is grey
    visa_raw = converted["visa"][0]
    csv = (visa_raw / "split_csv" / "1cls.csv").read_bytes()
    assert csv.startswith(b"object,split,label,image,mask\r\n") and b"candle/Data/Images/Anomaly/000.JPG" in csv
    assert set(np.unique(np.asarray(Image.open(visa_raw / "pcb1/Data/Masks/Anomaly/001.png")))) == {0, 2}
    road_raw = converted["road"][0]
    assert road_raw.name == "CrackForest-dataset-master" and (road_raw / "image" / "image.rar").is_file()
    assert sorted(p.name for p in (road_raw / "groundTruth").iterdir()) == ["001.mat", "002.mat", "003.mat", "004.mat"]
    assert (road_raw / "seg" / "001.seg").read_text().startswith("image 001.jpg\nwidth 48\nheight 32\nsegments 2\n")
    with Image.open(road_raw / "image" / "303.jpg") as portrait:
        assert portrait.size == (32, 48)
    bsd_raw = converted["bsd"][0]
    assert (bsd_raw / "image_data.json").is_file() and len(list((bsd_raw / "data" / "BSD" / "test").iterdir())) == 1
    gc_raw = converted["gc"][0]
    assert sorted(int(p.name) for p in gc_raw.iterdir() if p.name.isdigit()) == list(range(1, 11))
    assert len(list((gc_raw / "lable").glob("*.xml"))) == 19 and len(list(gc_raw.glob("*/*.jpg"))) == 21
    msd_raw = converted["msd"][0]
    assert msd_raw.name == "PKU_MSSDD"
    assert {p.name for p in (msd_raw / "ImageSets" / "Segmentation").iterdir()} == {"train.txt", "val.txt", "test.txt", "trainval.txt"}
    with Image.open(msd_raw / "SegmentationClass" / "Oil_0001.png") as labels:
        assert labels.mode == "P" and labels.getpalette()[255 * 3 : 255 * 3 + 3] == [224, 224, 192]
        assert set(np.unique(np.asarray(labels))) == {0, 1, 255}
    btech_raw = converted["btech"][0]
    assert btech_raw.name == "BTech_Dataset_transformed"
    assert (btech_raw / "01" / "ground_truth" / "ko" / "000.png").is_file()
    assert (btech_raw / "03" / "ground_truth" / "ko" / "000.bmp").is_file()
    assert (btech_raw / "02" / "train" / "ok" / "000.png").is_file()
    ksdd2_raw = converted["ksdd2"][0]
    assert sorted(p.name for p in ksdd2_raw.iterdir()) == ["test", "train"] and (ksdd2_raw / "train" / "10000_GT.png").is_file()
    assert converted["dagm"][0].name == "DAGM_KaggleUpload" and converted["rsdd"][0].name == "RSDDs dataset"


def test_dagm_labels_are_ellipses_around_the_defect(converted):
    raw, out = converted["dagm"]
    sample = next(s for s in Meta.load(out).samples("class1") if s.anomaly)
    mask = read_mask(out / sample.mask_path)
    label = read_mask(raw / "Class1" / "Test" / "Label" / (sample.img_path.rsplit("/", 1)[1][:-4] + "_label.PNG"))
    np.testing.assert_array_equal(mask, label)
    rows, cols = np.nonzero(mask)
    corner = mask[rows.min(), cols.min()] and mask[rows.min(), cols.max()]
    assert not corner  # an ellipse, not the box around it


def test_a_stand_in_never_writes_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(OutputExistsError) as err:
        standins.mvtec(tmp_path / "mine")
    assert str(tmp_path / "mine") in str(err.value)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    standins.crackforest(tmp_path / "mine")  # its wrapper folder is new: fine next to other files
    assert (tmp_path / "mine" / "CrackForest-dataset-master" / "groundTruth").is_dir()


def test_mvtec_category_archive_and_msd_good_images(tmp_path):
    folder = standins.mvtec_category(tmp_path / "bottle_dl", "bottle")
    assert {p.name for p in folder.iterdir()} == {"bottle", "license.txt", "readme.txt"}
    assert _counts(Meta.load(prepare("mvtec", tmp_path / "bottle", raw=folder))) == {"bottle": (3, 2, 1)}
    raw = standins.msd(tmp_path / "msd", n_per_class=2)
    good = standins.msd_good(raw, n=2)
    assert good == raw / "good" and len(list(good.glob("*.jpg"))) == 2
    assert _counts(Meta.load(prepare("msd", tmp_path / "msd_out", raw=raw))) == {"phone_screen": (0, 3, 2)}
