"""What each benchmark data set is, where it comes from, and how AnoCLIP should treat it.

One :class:`DatasetInfo` per data set of the ten-dataset industrial suite of VCP-CLIP (ECCV'24),
reused by Bayes-PFL (CVPR'25; AnoVL v1 and the official code cover MVTec AD and VisA only), plus
``synthetic``.  Besides
provenance (homepage, licence, label type, and the id of its download in ``sources.json``,
where its URLs, size and SHA-256 live) each entry carries its :class:`DatasetDefaults`, the
per-dataset choices the model needs, read through one function, :func:`dataset_defaults`:

* ``textures`` - categories whose prompts use the texture/surface domain words ("textural
  photo", "surface picture") instead of the object ones.  For MVTec these are the five
  texture classes of the official code; for the surface-inspection sets the whole image is a
  surface (steel, rail, screen, road, fabric-like DAGM textures), so their categories are
  textures too, while BSD (a machine part) and BTech's products 01/03 are objects.
* ``prompt_names`` - the word a category folder stands for (DAGM's ``class1`` is a texture,
  BTech's ``01`` a metal object). The official code's own renaming (VisA's macaroni1/2 →
  "macaroni") belongs to the prompts and lives in :mod:`anoclip.prompts`.
* ``tta`` - the official code uses the text adapter with seed 111 for MVTec and a linear
  adapter with seed 42 for VisA; every other set is resized to a square like MVTec, so it takes
  the MVTec choice.
* ``image_views`` / ``resize`` - 22 test-time views and a square resize for MVTec, one view and
  the aspect-keeping two-crop tiling (``"tiles"``, spec section 7) for VisA; others follow MVTec.

See ``data_scripts/README.md`` for the table with sources, sizes and the splits built.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Dict, Mapping, Optional, Tuple

from ..config import MVTEC_TEXTURES, RESIZE_MODES, AnoCLIPConfig, TTAConfig, check_choice

from .converters import bsd, btech, dagm, gc, ksdd2, msd, mvtec, road, rsdd, visa
from .errors import UnknownDatasetError
from .sources import get_source
from .synthetic import DEFAULT_CATEGORIES as SYNTHETIC_CATEGORIES
from .synthetic import TEXTURES as SYNTHETIC_TEXTURES
from .synthetic import convert as synthetic_convert

LABEL_TYPES = ("pixel masks", "coarse ellipses", "boxes", "polygons", "synthetic masks")


@dataclass(frozen=True)
class DatasetDefaults:
    """The per-dataset choices of the official protocol (see the module docstring)."""

    textures: frozenset = frozenset()
    prompt_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tta: TTAConfig = TTAConfig()
    image_views: int = 22
    resize: str = "square"

    def __post_init__(self) -> None:
        check_choice("DatasetDefaults", "resize", self.resize, RESIZE_MODES)
        object.__setattr__(self, "textures", frozenset(self.textures))
        object.__setattr__(self, "prompt_names", MappingProxyType(dict(self.prompt_names)))

    def prompt_name(self, category: str) -> str:
        """The words to put in prompts for ``category`` (its folder name unless mapped)."""
        return self.prompt_names.get(category, category)

    def model_config(self, config: AnoCLIPConfig) -> AnoCLIPConfig:
        """``config`` with this dataset's texture classes (as prompt names) and image views."""
        return config.replace(
            texture_classes=frozenset(self.prompt_name(c) for c in self.textures), image_views=self.image_views
        )


@dataclass(frozen=True)
class DatasetInfo:
    """Provenance and per-dataset model settings of one benchmark data set."""

    name: str
    title: str
    description: str
    homepage: str
    source: Optional[str]
    licence: str
    labels: str
    converter: Callable
    defaults: DatasetDefaults = DatasetDefaults()
    how_to_get: str = ""
    categories: tuple = ()
    requires_raw: bool = True
    notes: str = ""

    @property
    def download_url(self) -> Optional[str]:
        """The first URL of the download (``source`` in ``sources.json``), or None if manual-only."""
        return get_source(self.source).urls[0] if self.source else None

    @property
    def sha256(self) -> Optional[str]:
        """The registered SHA-256 of the download, or None (unknown, or manual-only)."""
        return get_source(self.source).sha256 if self.source else None


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
            source="mvtec_ad",
            licence="CC BY-NC-SA 4.0",
            labels="pixel masks",
            converter=mvtec.convert,
            defaults=DatasetDefaults(textures=MVTEC_TEXTURES, tta=TTAConfig(adapter="text", seed=111)),
            how_to_get="--download (4.9 GB; by downloading you accept the licence on the homepage), or the "
            "archive/folder from the homepage's form with --raw.",
            categories=MVTEC_CATEGORIES,
            notes="The download link is the one anomalib uses; MVTec has changed it before. If it fails, get "
            "the archive from the homepage form.",
        ),
        DatasetInfo(
            name="visa",
            title="VisA",
            description="12 object categories (PCBs, capsules, snacks...), 10,821 images (9,621 normal, 1,200 "
            "anomalous); 1cls split: 8,659 train normals, 962 normal + 1,200 anomalous test images.",
            homepage="https://github.com/amazon-science/spot-diff",
            source="visa",
            licence="CC BY 4.0 (spot-diff LICENSE-DATASET; anomalib's docstring says CC BY-NC-SA 4.0)",
            labels="pixel masks",
            converter=visa.convert,
            defaults=DatasetDefaults(tta=TTAConfig(adapter="linear", seed=42), image_views=1, resize="tiles"),
            how_to_get="--download. Needs split_csv/1cls.csv from the spot-diff repository if the "
            "archive lacks it.",
            categories=VISA_CATEGORIES,
            notes="The official code keeps pcb1..4, pipe_fryum and chewinggum as folder names and only maps "
            "macaroni1/2 to 'macaroni' (spec section 12.13); anoclip.prompts does the same.",
        ),
        DatasetInfo(
            name="dagm",
            title="DAGM 2007",
            description="10 synthetic texture classes for weakly supervised optical inspection; per class "
            "1,000 (classes 1-6) or 2,000 (7-10) defect-free and 150/300 defective images, 512x512 grey.",
            homepage="https://hci.iwr.uni-heidelberg.de/node/3616",
            source=None,
            licence="Free for research use (see the homepage); the Kaggle mirror states its own terms",
            labels="coarse ellipses",
            converter=dagm.convert,
            defaults=DatasetDefaults(
                textures=frozenset(DAGM_CATEGORIES), prompt_names={c: "texture" for c in DAGM_CATEGORIES}
            ),
            how_to_get="Manual: download the class archives from the homepage or the Kaggle mirror "
            "mhskjelvareid/dagm-2007-competition-dataset-optical-inspection (login needed), then --raw.",
            categories=DAGM_CATEGORIES,
            notes="Labels are ellipses around each defect, not pixel masks; Bayes-PFL re-annotated DAGM by "
            "hand, which is not reproducible from the release.",
        ),
        DatasetInfo(
            name="rsdd",
            title="RSDDs (Rail Surface Defect Datasets)",
            description="Rail surface defects: Type-I 67 images 160x1000 (express rail), Type-II 128 images "
            "55x1250 (heavy-haul rail), every image defective.",
            homepage="https://ieee-dataport.org/documents/rsdds",
            source=None,
            licence="Not stated; cite Gan et al., IEEE TII 2017",
            labels="pixel masks",
            converter=rsdd.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"rail_type1", "rail_type2"}),
                prompt_names={"rail_type1": "rail surface", "rail_type2": "rail surface"},
            ),
            how_to_get="Manual: download 'RSDDs dataset' (IEEE DataPort, login needed), then --raw.",
            categories=("rail_type1", "rail_type2"),
            notes="No defect-free images: image-level metrics are undefined. Images are very elongated; the "
            "square resize distorts them.",
        ),
        DatasetInfo(
            name="ksdd2",
            title="KolektorSDD2",
            description="Production surface images (~230x630) from Kolektor; 2,085 + 894 defect-free and "
            "246 + 110 defective images (train + test), pixel masks.",
            homepage="https://www.vicos.si/resources/kolektorsdd2/",
            source="ksdd2",
            licence="CC BY-NC-SA 4.0 (as stated by ViCoS for the KolektorSDD family; check the homepage)",
            labels="pixel masks",
            converter=ksdd2.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"metal_surface"}), prompt_names={"metal_surface": "metal surface"}
            ),
            how_to_get="--download (the ViCoS link to KolektorSDD2.zip; ViCoS publishes no checksum, see "
            "`anoclip sources ksdd2`), or --raw.",
            categories=("metal_surface",),
            notes="Test set balanced with seeded defect-free images by default (normals='balanced').",
        ),
        DatasetInfo(
            name="bsd",
            title="BSData (ball screw drive surface defects)",
            description="1,104 images of ball screw drive spindles, 394 with LabelMe polygons of 'pitting'.",
            homepage="https://github.com/2Obe/BSData",
            source="bsdata",
            licence="CC BY-SA 4.0 (GitHub repository)",
            labels="polygons",
            converter=bsd.convert,
            defaults=DatasetDefaults(prompt_names={"ball_screw": "ball screw"}),
            how_to_get="--download (the repository ZIP at a pinned commit), or `git clone "
            "https://github.com/2Obe/BSData` and --raw.",
            categories=("ball_screw",),
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
            source=None,
            licence="Not stated",
            labels="boxes",
            converter=gc.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"steel_plate"}), prompt_names={"steel_plate": "steel plate"}
            ),
            how_to_get="Manual: Kaggle alex000kim/gc10det (login needed) or the authors' links, then --raw.",
            categories=("steel_plate",),
            notes="Bounding boxes filled as masks; a file name found in two class folders is one sample (merges "
            "are reported). That VCP-CLIP's 'GC' is GC10-DET is an assumption.",
        ),
        DatasetInfo(
            name="msd",
            title="MSD (mobile phone screen surface defects)",
            description="1,200 images 1920x1080 of phone screens, 400 each of oil, scratch and stain, PASCAL "
            "VOC masks, train:val:test 6:2:2, plus 20 defect-free images (good.zip).",
            homepage="https://github.com/jianzhang96/MSD",
            source=None,
            licence="Not stated (cite FDSNet, ICASSP 2022)",
            labels="pixel masks",
            converter=msd.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"phone_screen"}), prompt_names={"phone_screen": "phone screen"}
            ),
            how_to_get="Manual: MSD.zip and good.zip from the OneDrive/Baidu links in the README, then --raw "
            "(unpack good.zip into <raw>/good or pass --good).",
            categories=("phone_screen",),
            notes="Landscape 16:9 images are squashed by the square resize. Value 255 (VOC void) becomes an "
            "ignore mask, left out of the metrics.",
        ),
        DatasetInfo(
            name="road",
            title="Road cracks (assumed CrackForest)",
            description="Road surface crack segmentation; CrackForest has 155 images 480x320, 118 of them "
            "with pixel labels in MATLAB files (the other 37 are left out and listed).",
            homepage="https://github.com/cuilimeng/CrackForest-dataset",
            source="crackforest",
            licence="Non-commercial research use (repository README)",
            labels="pixel masks",
            converter=road.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"road"}), prompt_names={"road": "road surface"}
            ),
            how_to_get="--download (CrackForest: the repository ZIP at a pinned commit), or clone or download "
            "a road-crack set and --raw (image/ + groundTruth/ folders, or any images/ + masks/ pair).",
            categories=("road",),
            notes="Which road set VCP-CLIP used could not be established; CrackForest is an assumption.",
        ),
        DatasetInfo(
            name="btech",
            title="BTech / BTAD",
            description="3 industrial products (01, 02, 03), about 2,830 images, BMP/PNG, pixel masks; "
            "folders ok/ko.",
            homepage="https://avires.dimi.uniud.it/papers/btad/",
            source="btad",
            licence="CC BY-NC-SA 4.0 (anomalib's docstring)",
            labels="pixel masks",
            converter=btech.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"02"}), prompt_names={"01": "metal object", "02": "wood", "03": "metal object"}
            ),
            how_to_get="--download, or --raw with btad.zip or its folder.",
            categories=("01", "02", "03"),
            notes="Prompt names follow Bayes-PFL's renaming of the products (01 metal1, 02 wood, 03 metal2).",
        ),
        DatasetInfo(
            name="synthetic",
            title="Synthetic (anoclip)",
            description="Procedural textures (carpet, grid) and objects (bottle, pill) with planted "
            "scratches, holes, stains and missing parts; exact masks; for tests and offline builds.",
            homepage="",
            source=None,
            licence="MIT (generated by this package)",
            labels="synthetic masks",
            converter=synthetic_convert,
            defaults=DatasetDefaults(textures=SYNTHETIC_TEXTURES),
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


#: The ten benchmark data sets (every registry entry but the generated ``synthetic``).
BENCHMARK_DATASETS: Tuple[str, ...] = tuple(name for name, info in DATASETS.items() if info.requires_raw)


def dataset_defaults(name: Optional[str]) -> DatasetDefaults:
    """The per-dataset model choices of ``name``; None or ``"custom"`` (a user's own data set)
    gets the MVTec-style defaults: square resize, 22 views, the text adapter, no textures."""
    if name is None or name.strip().lower() == "custom":
        return DatasetDefaults()
    return get_dataset(name).defaults
