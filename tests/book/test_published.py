"""published.csv parses, follows the format, and carries the values of the peer survey."""
from __future__ import annotations

import pytest

from anoclip import metrics
from anoclip_book.published import (
    COLUMNS,
    DATASETS,
    METRICS,
    PublishedDataError,
    PublishedNumber,
    load_published,
    parse_published,
)


def one(**filters) -> PublishedNumber:
    source = filters.pop("source", None)
    kind = filters.pop("kind", None)
    found = [
        n for n in load_published(**filters)
        if (source is None or source in n.source) and (kind is None or n.kind == kind)
    ]
    assert len(found) == 1, found
    return found[0]


def test_file_parses_and_every_row_has_a_source():
    numbers = load_published()
    assert len(numbers) > 100
    for number in numbers:
        assert number.source.strip() and number.source_url.startswith("https://")
        assert 0.0 < number.value <= 100.0
        assert isinstance(number.value, float)


def test_every_metric_name_is_a_function_of_anoclip_metrics():
    for name in METRICS:
        assert callable(getattr(metrics, name, None)), name
    assert {n.metric for n in load_published()} <= set(METRICS)


def test_no_duplicate_number_per_source():
    keys = [(n.method, n.dataset, n.metric, n.source) for n in load_published()]
    assert len(keys) == len(set(keys))


def test_spot_checks_against_the_spec():
    assert one(method="AnoCLIP", dataset="mvtec", metric="pixel_auroc").value == 90.6
    assert one(method="AnoCLIP", dataset="gc", metric="pixel_auroc").value == 92.1
    assert one(method="AnoVL", dataset="mvtec", metric="image_auroc", kind="paper").value == 92.5
    bao = one(method="AnoVL", dataset="visa", metric="aupro", kind="reproduction")
    assert (bao.value, bao.resolution, bao.protocol) == (66.9, 240, "per-image training-free")
    musc = one(method="MuSc", dataset="mvtec", metric="aupro", kind="paper")
    assert musc.value == 93.8 and musc.protocol == "transductive" and "cflow" in musc.note
    assert one(method="CLIP", dataset="mvtec", metric="pixel_auroc").value == 38.4
    assert one(method="WinCLIP", dataset="visa", metric="aupro", kind="paper").value == 56.8


def test_anoclip_values_that_could_not_be_retrieved_are_absent():
    datasets = {n.dataset for n in load_published(method="AnoCLIP")}
    assert datasets == {"mvtec", "visa", "dagm", "rsdd", "ksdd2", "bsd", "gc"}
    assert all("TTA" in n.note for n in load_published(method="AnoCLIP"))


def test_filters_combine_and_reject_unknown_values():
    rows = load_published(dataset="visa", metric="aupro")
    assert rows and all(n.dataset == "visa" and n.metric == "aupro" for n in rows)
    with pytest.raises(PublishedDataError, match="Unknown dataset 'MVTec'"):
        load_published(dataset="MVTec")
    with pytest.raises(PublishedDataError, match="Unknown method 'Anoclip'"):
        load_published(method="Anoclip")
    with pytest.raises(PublishedDataError, match="Unknown metric 'pro'"):
        load_published(metric="pro")
    assert set(DATASETS) >= {n.dataset for n in load_published()}


GOOD_ROW = "X,mvtec,pixel_auroc,90.0,paper,src,https://example.org,B,240,per-image training-free,"


@pytest.mark.parametrize(
    "row, message",
    [
        (GOOD_ROW.replace("pixel_auroc", "pro"), "line 2: unknown metric 'pro'"),
        (GOOD_ROW.replace("paper", "blog"), "line 2: unknown kind 'blog'"),
        (GOOD_ROW.replace("mvtec", "MVTec"), "line 2: unknown dataset 'MVTec'"),
        (GOOD_ROW.replace("per-image training-free", "zero-shot"), "line 2: unknown protocol"),
        (GOOD_ROW.replace(",src,", ",,"), "line 2: the source column is empty"),
        (GOOD_ROW.replace("https://example.org", ""), "line 2: the source_url column is empty"),
        (GOOD_ROW.replace("90.0", "0.906"), None),
        (GOOD_ROW.replace("90.0", "906"), "line 2: value 906.0 is outside"),
        (GOOD_ROW.replace(",240,", ",240px,"), "line 2: resolution '240px'"),
        (GOOD_ROW + ",extra", "line 2: expected 11 fields"),
    ],
)
def test_bad_rows_raise_naming_the_line(row, message):
    text = ",".join(COLUMNS) + "\n" + row + "\n"
    if message is None:
        assert parse_published(text)[0].value == 0.906
        return
    with pytest.raises(PublishedDataError, match=message):
        parse_published(text)


def test_unknown_column_is_named():
    header = ",".join(COLUMNS).replace("note", "comment")
    with pytest.raises(PublishedDataError, match=r"unknown columns \['comment'\]"):
        parse_published(header + "\n" + GOOD_ROW + "\n")
