"""Numbers other people published, to print next to ours.

The book compares our measured numbers with what papers and third-party reproductions report.
Those published numbers live in one data file, ``book/anoclip_book/published.csv``, one number per row
with its source, so that every value in a comparison table can be traced to a URL.  Our own
numbers are never stored here: they are computed.

Columns: ``method, dataset, metric, value, kind, source, source_url, backbone, resolution,
protocol, note``.  ``value`` is in percent, as published.  ``metric`` uses the names of
:mod:`anoclip.metrics`; when a paper's PRO is the cflow-style variant (or its definition is
unknown) the ``note`` says so, because it is not comparable with the MVTec AUPRO.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from typing import Optional

from anoclip.config import PROTOCOLS
from anoclip.data.registry import BENCHMARK_DATASETS as DATASETS
from anoclip.metrics import METRICS

__all__ = ["PublishedDataError", "PublishedNumber", "load_published", "METRICS", "DATASETS", "PROTOCOLS"]

COLUMNS = ("method", "dataset", "metric", "value", "kind", "source", "source_url", "backbone",
           "resolution", "protocol", "note")
KINDS = ("paper", "reproduction")


class PublishedDataError(ValueError):
    """A row of published.csv (or a filter argument) that does not follow the format."""


@dataclass(frozen=True)
class PublishedNumber:
    """One published number.

    ``kind`` is ``"paper"`` when the method's authors report it and ``"reproduction"`` when
    someone else ran the method.  ``protocol`` says what the method saw besides the test
    image: nothing (``training-free``), other labelled datasets (``auxiliary-data``) or the other
    unlabelled test images of the category (``test-batch``, transductive).  ``resolution`` is the
    evaluation side length in pixels, or None when the source does not say.
    """

    method: str
    dataset: str
    metric: str
    value: float
    kind: str
    source: str
    source_url: str
    backbone: str
    resolution: Optional[int]
    protocol: str
    note: str


def _choice(row: dict, column: str, allowed: tuple[str, ...], where: str) -> str:
    value = row[column]
    if value not in allowed:
        raise PublishedDataError(
            f"{where}: unknown {column} {value!r}; use one of {', '.join(allowed)}."
        )
    return value


def _parse_row(row: dict, where: str) -> PublishedNumber:
    try:
        value = float(row["value"])
    except ValueError:
        raise PublishedDataError(f"{where}: value {row['value']!r} is not a number.") from None
    if not 0.0 <= value <= 100.0:
        raise PublishedDataError(f"{where}: value {value} is outside [0, 100]; values are in percent.")
    resolution = row["resolution"].strip()
    if resolution and not resolution.isdigit():
        raise PublishedDataError(
            f"{where}: resolution {resolution!r} must be a whole number of pixels or empty."
        )
    for column in ("method", "source", "source_url"):
        if not row[column].strip():
            raise PublishedDataError(f"{where}: the {column} column is empty; every number needs one.")
    if not row["source_url"].startswith("https://"):
        raise PublishedDataError(f"{where}: source_url {row['source_url']!r} must be an https:// URL.")
    return PublishedNumber(
        method=row["method"],
        dataset=_choice(row, "dataset", DATASETS, where),
        metric=_choice(row, "metric", METRICS, where),
        value=value,
        kind=_choice(row, "kind", KINDS, where),
        source=row["source"],
        source_url=row["source_url"],
        backbone=row["backbone"],
        resolution=int(resolution) if resolution else None,
        protocol=_choice(row, "protocol", PROTOCOLS, where),
        note=row["note"],
    )


def parse_published(text: str, name: str = "published.csv") -> list[PublishedNumber]:
    """Parse and validate published-numbers CSV text; errors name the file and line."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in COLUMNS if c not in header]
        raise PublishedDataError(
            f"{name}: the header must be {','.join(COLUMNS)}; unknown columns {unknown}, "
            f"missing columns {missing}."
        )
    numbers = []
    for row in reader:
        where = f"{name} line {reader.line_num}"
        if None in row or any(value is None for value in row.values()):
            raise PublishedDataError(f"{where}: expected {len(COLUMNS)} fields; quote fields with commas.")
        numbers.append(_parse_row(row, where))
    return numbers


def load_published(
    dataset: Optional[str] = None, method: Optional[str] = None, metric: Optional[str] = None
) -> list[PublishedNumber]:
    """Published numbers from ``book/anoclip_book/published.csv``, optionally filtered.

    Filters match exactly; an unknown dataset, metric or method raises
    :class:`PublishedDataError` listing the known values (a typo would otherwise return nothing).
    """
    text = (resources.files("anoclip_book") / "published.csv").read_text(encoding="utf-8")
    numbers = parse_published(text)
    for column, wanted, known in (
        ("dataset", dataset, DATASETS),
        ("metric", metric, METRICS),
        ("method", method, tuple(sorted({n.method for n in numbers}))),
    ):
        if wanted is not None and wanted not in known:
            raise PublishedDataError(f"Unknown {column} {wanted!r}; known: {', '.join(known)}.")
    return [
        n for n in numbers
        if (dataset is None or n.dataset == dataset)
        and (method is None or n.method == method)
        and (metric is None or n.metric == metric)
    ]
