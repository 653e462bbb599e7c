"""What each benchmark data set is, where it comes from, and how AnoCLIP should treat it.

One :class:`DatasetInfo` per data set of the ten-dataset industrial suite that AnoCLIP's paper
table shares with VCP-CLIP (ECCV'24) and Bayes-PFL (CVPR'25), plus ``synthetic``.  Besides
provenance (homepage, URL, SHA-256, licence, label type) each entry records the three
per-dataset choices the model needs:

* ``textures`` - categories whose prompts use the texture/surface domain words ("textural
  photo", "surface picture") instead of the object ones.  For MVTec these are the five
  texture classes of the official code; for the surface-inspection sets the whole image is a
  surface (steel, rail, screen, road, fabric-like DAGM textures), so their categories are
  textures too, while BSD (a machine part) and BTech's products 01/03 are objects.
* ``tta_adapter`` - the official code uses the text adapter for MVTec and a linear adapter for
  VisA; every other set is resized to a square like MVTec, so it takes the MVTec choice.
* ``image_views`` / ``resize`` - 22 test-time views and a square resize for MVTec, one view and
  the aspect-keeping two-crop tiling for VisA (spec section 7); others follow MVTec.

See ``data_scripts/README.md`` for the table with sources, sizes and the splits built.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Dict, Mapping, Optional

from .converters import bsd, btech, dagm, gc, ksdd2, msd, mvtec, road, rsdd, visa
from .errors import UnknownDatasetError
from .synthetic import DEFAULT_CATEGORIES as SYNTHETIC_CATEGORIES
from .synthetic import TEXTURES as SYNTHETIC_TEXTURES
from .synthetic import convert as synthetic_convert

LABEL_TYPES = ("pixel masks", "coarse ellipses", "boxes", "polygons", "synthetic masks")


@dataclass(frozen=True)
class DatasetInfo:
    """Provenance and per-dataset model settings of one benchmark data set."""

    name: str
    title: str
    description: str
    homepage: str
    download_url: Optional[str]
    sha256: Optional[str]
    licence: str
    labels: str
    textures: frozenset
    converter: Callable
    tta_adapter: str = "text"
    image_views: int = 22
    resize: str = "square"
    how_to_get: str = ""
    download_name: Optional[str] = None
    categories: tuple = ()
    prompt_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    requires_raw: bool = True
    notes: str = ""

    @property
    def archive_name(self) -> Optional[str]:
        """File name to save the download under (the URL's last part unless it has no extension)."""
        if self.download_url is None:
            return None
        return self.download_name or self.download_url.rstrip("/").rsplit("/", 1)[-1]

    def prompt_name(self, category: str) -> str:
        """The words to put in prompts for ``category`` (its folder name unless mapped)."""
        return self.prompt_names.get(category, category)


def _names(mapping: Dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


MVTEC_CATEGORIES = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
    "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
)  # fmt: skip
VISA_CATEGORIES = (
    "candle", "capsules", "cashew", "chewinggum", "fryum", "macaroni1", "macaroni2",
    "pcb1", "pcb2", "pcb3", "pcb4", "pipe_fryum",
)  # fmt: skip
DAGM_CATEGORIES = tuple(f"class{i}" for i in range(1, 11))

DATASETS: Dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mvtec",
            title="MVTec AD",
            description="15 industrial categories (5 textures, 10 objects); 3,629 normal training images, "
            "467 normal + 1,258 anomalous test images, 700-1024 px.",
            homepage="https://www.mvtec.com/company/research/datasets/mvtec-ad",
            download_url="https://www.mydrive.ch/shares/150996/b52ecdcbf521176e9db9c731f2304b27/download/"
            "420938113-1629960298/mvtec_anomaly_detection.tar.xz",
            sha256="cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d",
            licence="CC BY-NC-SA 4.0",
            labels="pixel masks",
            textures=frozenset({"carpet", "grid", "leather", "tile", "wood"}),
            converter=mvtec.convert,
            how_to_get="--download (4.9 GB; by downloading you accept the licence on the homepage), or the "
            "archive/folder from the homepage's form with --raw.",
            categories=MVTEC_CATEGORIES,
            prompt_names=_names({}),
            notes="The download link is the one anomalib uses; MVTec has changed it before. If it fails, get "
            "the archive from the homepage form.",
        ),
        DatasetInfo(
            name="visa",
            title="VisA",
            description="12 object categories (PCBs, capsules, snacks...), 10,821 images (9,621 normal, 1,200 "
            "anomalous); 1cls split: 8,659 train normals, 962 normal + 1,200 anomalous test images.",
            homepage="https://github.com/amazon-science/spot-diff",
            download_url="https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/VisA_20220922.tar",
            sha256="2eb8690c803ab37de0324772964100169ec8ba1fa3f7e94291c9ca673f40f362",
            licence="CC BY 4.0 (spot-diff LICENSE-DATASET; anomalib's docstring says CC BY-NC-SA 4.0)",
            labels="pixel masks",
            textures=frozenset(),
            converter=visa.convert,
            tta_adapter="linear",
            image_views=1,
            resize="visa-tiles",
            how_to_get="--download. Needs split_csv/1cls.csv from the spot-diff repository if the "
            "archive lacks it.",
            categories=VISA_CATEGORIES,
            prompt_names=_names({"macaroni1": "macaroni", "macaroni2": "macaroni"}),
            notes="The official code keeps pcb1..4, pipe_fryum and chewinggum as folder names and only maps "
            "macaroni1/2 to 'macaroni' (spec section 12.13); prompt_names does the same.",
        ),
        DatasetInfo(
            name="dagm",
            title="DAGM 2007",
            description="10 synthetic texture classes for weakly supervised optical inspection; per class "
            "1,000 (classes 1-6) or 2,000 (7-10) defect-free and 150/300 defective images, 512x512 grey.",
            homepage="https://hci.iwr.uni-heidelberg.de/node/3616",
            download_url=None,
            sha256=None,
            licence="Free for research use (see the homepage); the Kaggle mirror states its own terms",
            labels="coarse ellipses",
            textures=frozenset(DAGM_CATEGORIES),
            converter=dagm.convert,
            how_to_get="Manual: download the class archives from the homepage or the Kaggle mirror "
            "mhskjelvareid/dagm-2007-competition-dataset-optical-inspection (login needed), then --raw.",
            categories=DAGM_CATEGORIES,
            prompt_names=_names({c: "texture" for c in DAGM_CATEGORIES}),
            notes="Labels are ellipses around each defect, not pixel masks; Bayes-PFL re-annotated DAGM by "
            "hand, which is not reproducible from the release.",
        ),
        DatasetInfo(
            name="rsdd",
            title="RSDDs (Rail Surface Defect Datasets)",
            description="Rail surface defects: Type-I 67 images 160x1000 (express rail), Type-II 128 images "
            "55x1250 (heavy-haul rail), every image defective.",
            homepage="https://ieee-dataport.org/documents/rsdds",
            download_url=None,
            sha256=None,
            licence="Not stated; cite Gan et al., IEEE TII 2017",
            labels="pixel masks",
            textures=frozenset({"rail_type1", "rail_type2"}),
            converter=rsdd.convert,
            how_to_get="Manual: download 'RSDDs dataset' (IEEE DataPort, login needed), then --raw.",
            categories=("rail_type1", "rail_type2"),
            prompt_names=_names({"rail_type1": "rail surface", "rail_type2": "rail surface"}),
            notes="No defect-free images: image-level metrics are undefined. Images are very elongated; the "
            "square resize distorts them.",
        ),
        DatasetInfo(
            name="ksdd2",
            title="KolektorSDD2",
            description="Production surface images (~230x630) from Kolektor; 2,085 + 894 defect-free and "
            "246 + 110 defective images (train + test), pixel masks.",
            homepage="https://www.vicos.si/resources/kolektorsdd2/",
            download_url="https://go.vicos.si/kolektorsdd2",
            sha256=None,
            licence="CC BY-NC-SA 4.0 (as stated by ViCoS for the KolektorSDD family; check the homepage)",
            labels="pixel masks",
            textures=frozenset({"metal_surface"}),
            converter=ksdd2.convert,
            download_name="KolektorSDD2.zip",
            how_to_get="--download (the ViCoS short link to KolektorSDD2.zip; no SHA-256 is published, "
            "third-party loaders check MD5 1ed0f628122776ace4965afa30dfe316), or --raw.",
            categories=("metal_surface",),
            prompt_names=_names({"metal_surface": "metal surface"}),
            notes="Test set balanced with seeded defect-free images by default (normals='balanced').",
        ),
        DatasetInfo(
            name="bsd",
            title="BSData (ball screw drive surface defects)",
            description="1,104 images of ball screw drive spindles, 394 with LabelMe polygons of 'pitting'.",
            homepage="https://github.com/2Obe/BSData",
            download_url=None,
            sha256=None,
            licence="CC BY-SA 4.0 (GitHub repository)",
            labels="polygons",
            textures=frozenset(),
            converter=bsd.convert,
            how_to_get="Manual: `git clone https://github.com/2Obe/BSData` (or the repository ZIP), then --raw.",
            categories=("ball_screw",),
            prompt_names=_names({"ball_screw": "ball screw"}),
            notes="No anomaly split. The authors' image_data.json splits the annotated images; its test "
            "images are the anomalies when the file is there; unannotated images are drawn with the seed (see README).",
        ),
        DatasetInfo(
            name="gc",
            title="GC10-DET (assumed identity of 'GC')",
            description="Steel plate surface defects, 10 classes (punching hole, welding line, crescent gap, "
            "water/oil/silk spot, inclusion, rolled pit, crease, waist folding); 3,570 grey images per the paper "
            "(2,300 with 3,563 boxes in the Dataset Ninja copy), 2048x1000.",
            homepage="https://www.kaggle.com/datasets/alex000kim/gc10det",
            download_url=None,
            sha256=None,
            licence="Not stated",
            labels="boxes",
            textures=frozenset({"steel_plate"}),
            converter=gc.convert,
            how_to_get="Manual: Kaggle alex000kim/gc10det (login needed) or the authors' links, then --raw.",
            categories=("steel_plate",),
            prompt_names=_names({"steel_plate": "steel plate"}),
            notes="Bounding boxes filled as masks; a file name found in two class folders is one sample (merges "
            "are reported). That VCP-CLIP's 'GC' is GC10-DET is an assumption.",
        ),
        DatasetInfo(
            name="msd",
            title="MSD (mobile phone screen surface defects)",
            description="1,200 images 1920x1080 of phone screens, 400 each of oil, scratch and stain, PASCAL "
            "VOC masks, train:val:test 6:2:2, plus 20 defect-free images (good.zip).",
            homepage="https://github.com/jianzhang96/MSD",
            download_url=None,
            sha256=None,
            licence="Not stated (cite FDSNet, ICASSP 2022)",
            labels="pixel masks",
            textures=frozenset({"phone_screen"}),
            converter=msd.convert,
            how_to_get="Manual: MSD.zip and good.zip from the OneDrive/Baidu links in the README, then --raw "
            "(unpack good.zip into <raw>/good or pass --good).",
            categories=("phone_screen",),
            prompt_names=_names({"phone_screen": "phone screen"}),
            notes="Landscape 16:9 images are squashed by the square resize. Value 255 (VOC void) becomes an "
            "ignore mask, left out of the metrics.",
        ),
        DatasetInfo(
            name="road",
            title="Road cracks (assumed CrackForest)",
            description="Road surface crack segmentation; CrackForest has 155 images 480x320, 118 of them "
            "with pixel labels in MATLAB files (the other 37 are left out and listed).",
            homepage="https://github.com/cuilimeng/CrackForest-dataset",
            download_url=None,
            sha256=None,
            licence="Non-commercial research use (repository README)",
            labels="pixel masks",
            textures=frozenset({"road"}),
            converter=road.convert,
            how_to_get="Manual: clone or download the road-crack set, then --raw (image/ + groundTruth/ "
            "folders, or any images/ + masks/ pair).",
            categories=("road",),
            prompt_names=_names({"road": "road surface"}),
            notes="Which road set VCP-CLIP used could not be established; CrackForest is an assumption.",
        ),
        DatasetInfo(
            name="btech",
            title="BTech / BTAD",
            description="3 industrial products (01, 02, 03), about 2,830 images, BMP/PNG, pixel masks; "
            "folders ok/ko.",
            homepage="https://avires.dimi.uniud.it/papers/btad/",
            download_url="https://avires.dimi.uniud.it/papers/btad/btad.zip",
            sha256="461c9387e515bfed41ecaae07c50cf6b10def647b36c9e31d239ab2736b10d2a",
            licence="CC BY-NC-SA 4.0 (anomalib's docstring)",
            labels="pixel masks",
            textures=frozenset({"02"}),
            converter=btech.convert,
            how_to_get="--download, or --raw with btad.zip or its folder.",
            categories=("01", "02", "03"),
            prompt_names=_names({"01": "metal object", "02": "wood", "03": "metal object"}),
            notes="Prompt names follow Bayes-PFL's renaming of the products (01 metal1, 02 wood, 03 metal2).",
        ),
        DatasetInfo(
            name="synthetic",
            title="Synthetic (anoclip)",
            description="Procedural textures (carpet, grid) and objects (bottle, pill) with planted "
            "scratches, holes, stains and missing parts; exact masks; for tests and offline builds.",
            homepage="",
            download_url=None,
            sha256=None,
            licence="MIT (generated by this package)",
            labels="synthetic masks",
            textures=SYNTHETIC_TEXTURES,
            converter=synthetic_convert,
            how_to_get="Generated: anoclip.data.make_synthetic_dataset(root).",
            categories=SYNTHETIC_CATEGORIES,
            requires_raw=False,
        ),
    )
}


def get_dataset(name: str) -> DatasetInfo:
    """The registry entry of ``name`` (case-insensitive); the error lists the known names."""
    key = name.strip().lower()
    if key not in DATASETS:
        raise UnknownDatasetError(f"Unknown dataset {name!r}; known: {sorted(DATASETS)}.")
    return DATASETS[key]
