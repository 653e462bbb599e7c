"""What each benchmark data set is, where it comes from, and how AnoCLIP should treat it.

One :class:`DatasetInfo` per data set of VCP-CLIP's ten-dataset industrial suite (ECCV'24; AnoVL
v1 and the official code cover MVTec AD and VisA only), plus ``synthetic``: its converter, the id
of its download in ``sources.json``, its prose in ``datasets.json``, and its
:class:`DatasetDefaults`, the per-dataset choices read through :func:`dataset_defaults`:

* ``textures`` - categories whose prompts use the texture/surface domain words: MVTec's five
  texture classes, and the whole image of the surface-inspection sets (steel, rail, screen,
  road, DAGM), while BSD (a machine part) and BTech's products 01/03 are objects;
* ``prompt_names`` - the word a category folder stands for (DAGM's ``class1`` is a texture,
  BTech's ``01`` a metal object); VisA's macaroni1/2 → "macaroni" lives in :mod:`anoclip.prompts`;
* ``tta`` - the text adapter with seed 111 (MVTec) or a linear one with seed 42 (VisA); the other
  sets are resized to a square like MVTec and take its choice;
* ``image_views`` / ``resize`` - 22 views and a square resize (MVTec), one view and the
  aspect-keeping tiles (VisA); the others follow MVTec.

``data_scripts/README.md`` has the table with sources, sizes and the splits built.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
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
    """Provenance and per-dataset model settings of one benchmark data set.

    The prose (title, description, homepage, licence, label type, how to get it, notes) is data,
    kept in ``datasets.json`` beside ``sources.json`` and filled in by :func:`_described`.
    """

    name: str
    source: Optional[str]
    converter: Callable
    defaults: DatasetDefaults = DatasetDefaults()
    categories: tuple = ()
    requires_raw: bool = True
    title: str = ""
    description: str = ""
    homepage: str = ""
    licence: str = ""
    labels: str = ""
    how_to_get: str = ""
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

def _described(*infos: DatasetInfo) -> Tuple[DatasetInfo, ...]:
    """Each entry with its prose from ``datasets.json`` (one object per data set, keyed by name)."""
    prose = json.loads(Path(__file__).with_name("datasets.json").read_text(encoding="utf-8"))
    return tuple(replace(info, **prose[info.name]) for info in infos)


DATASETS: Dict[str, DatasetInfo] = {
    info.name: info
    for info in _described(
        DatasetInfo(
            name="mvtec",
            source="mvtec_ad",
            converter=mvtec.convert,
            defaults=DatasetDefaults(textures=MVTEC_TEXTURES, tta=TTAConfig(adapter="text", seed=111)),
            categories=MVTEC_CATEGORIES,
        ),
        DatasetInfo(
            name="visa",
            source="visa",
            converter=visa.convert,
            defaults=DatasetDefaults(tta=TTAConfig(adapter="linear", seed=42), image_views=1, resize="tiles"),
            categories=VISA_CATEGORIES,
        ),
        DatasetInfo(
            name="dagm",
            source=None,
            converter=dagm.convert,
            defaults=DatasetDefaults(
                textures=frozenset(DAGM_CATEGORIES), prompt_names={c: "texture" for c in DAGM_CATEGORIES}
            ),
            categories=DAGM_CATEGORIES,
        ),
        DatasetInfo(
            name="rsdd",
            source=None,
            converter=rsdd.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"rail_type1", "rail_type2"}),
                prompt_names={"rail_type1": "rail surface", "rail_type2": "rail surface"},
            ),
            categories=("rail_type1", "rail_type2"),
        ),
        DatasetInfo(
            name="ksdd2",
            source="ksdd2",
            converter=ksdd2.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"metal_surface"}), prompt_names={"metal_surface": "metal surface"}
            ),
            categories=("metal_surface",),
        ),
        DatasetInfo(
            name="bsd",
            source="bsdata",
            converter=bsd.convert,
            defaults=DatasetDefaults(prompt_names={"ball_screw": "ball screw"}),
            categories=("ball_screw",),
        ),
        DatasetInfo(
            name="gc",
            source=None,
            converter=gc.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"steel_plate"}), prompt_names={"steel_plate": "steel plate"}
            ),
            categories=("steel_plate",),
        ),
        DatasetInfo(
            name="msd",
            source=None,
            converter=msd.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"phone_screen"}), prompt_names={"phone_screen": "phone screen"}
            ),
            categories=("phone_screen",),
        ),
        DatasetInfo(
            name="road",
            source="crackforest",
            converter=road.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"road"}), prompt_names={"road": "road surface"}
            ),
            categories=("road",),
        ),
        DatasetInfo(
            name="btech",
            source="btad",
            converter=btech.convert,
            defaults=DatasetDefaults(
                textures=frozenset({"02"}), prompt_names={"01": "metal object", "02": "wood", "03": "metal object"}
            ),
            categories=("01", "02", "03"),
        ),
        DatasetInfo(
            name="synthetic",
            source=None,
            converter=synthetic_convert,
            defaults=DatasetDefaults(textures=SYNTHETIC_TEXTURES),
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
