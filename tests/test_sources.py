"""The sources table and the one fetch path, against a real HTTP server on 127.0.0.1.

Covers the order sources are tried in, the mirror (URL and folder) coming first without ever
weakening verification, the every-source-failed message, the MVTec category fallback to the
full archive, substitutes a caller allows, and `anoclip sources [--check]`.
"""
import dataclasses
import hashlib
import io
import json
import os
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from anoclip import env
from anoclip.data import Meta, prepare, sources
from anoclip_book import samples  # the chapters' MVTec categories exercise the category fallback
from anoclip.data.errors import ChecksumMismatchError, DataError, MetaFormatError
from anoclip.data.registry import DATASETS, MVTEC_CATEGORIES
from anoclip.data.sources import Fallback, Source, SourcesExhaustedError, SourceTable

PAYLOAD = bytes(range(256)) * 64
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG = b"a mirror's idea of the file" * 100


class _Handler(BaseHTTPRequestHandler):
    """Routes: path -> (body, content type) or "hang"; honours one-sided Range requests."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.log.append(self.path)
        route = server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route == "hang":
            time.sleep(3)
            return
        body, kind = route
        status, start, requested = 200, 0, self.headers.get("Range")
        if requested:
            first, _, last = requested.split("=")[1].partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(body)
            body_part, status = body[start:end], 206
        else:
            body_part = body
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(body_part) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body_part)))
        self.end_headers()
        self.wfile.write(body_part)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.log = {}, []
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (env.MIRROR_ENV,):
        monkeypatch.delenv(name, raising=False)


def _row(server, *paths, **fields):
    """A table row whose URLs are ``paths`` on the test server."""
    values = dict(id="test/file", kind="dataset", title="a test file", file="file.bin",
                  urls=tuple(server.base + p for p in paths), manual="Get file.bin from the test homepage.")
    values.update(fields)
    return Source(**values)


# ----------------------------------------------------------------------------------------------
# The package's table


def test_package_table_lists_every_download_once_and_consistently():
    table = sources.default_table()
    ids = [s.id for s in table]
    assert len(ids) == len(set(ids))
    for info in DATASETS.values():  # every registry download is a row of the table
        if info.source is not None:
            assert table.get(info.source).kind == "dataset"
    assert {DATASETS[n].source for n in ("mvtec", "visa", "ksdd2", "btech", "road", "bsd")} == {
        "mvtec_ad", "visa", "ksdd2", "btad", "crackforest", "bsdata"}
    for category in MVTEC_CATEGORIES:
        row = table.get(f"mvtec_ad/{category}")
        assert row.file == f"{category}.tar.xz" and row.fallback == Fallback("mvtec_ad", category)
    default = table.weights(env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED)
    assert default.required and default.sha256_prefix in default.file and default.hf_hub is None
    # The 2021 MVTec share reported dead (anomalib #3608) is gone from every row.
    assert not [url for s in table for url in s.urls if "/shares/38536/" in url]
    # Registered checksums come with their provenance.
    assert all(s.note for s in table if s.digest or s.size)


@pytest.mark.parametrize("change, message", [
    ({"sha256": "ABC"}, "sha256"),
    ({"file": "../escape.bin"}, "plain file name"),
    ({"urls": ["ftp://x/f"]}, "https://"),
    ({"fallback": {"source": "nowhere", "member": "x"}}, "nowhere"),
])
def test_malformed_table_rows_are_refused_with_the_file_and_the_row(tmp_path, change, message):
    row = {"id": "bad/row", "kind": "dataset", "title": "t", "file": "f.zip", "urls": ["https://x/f.zip"]}
    row.update(change)
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"sources": [row]}))
    with pytest.raises(MetaFormatError) as err:
        SourceTable.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


# ----------------------------------------------------------------------------------------------
# Order, mirror, verification


def test_sources_are_tried_in_order_until_one_gives_a_verified_file(server, tmp_path):
    server.routes = {"/html": (b"<html>expired share</html>", "text/html"),
                     "/good": (PAYLOAD, "application/octet-stream"),
                     "/never": (PAYLOAD, "application/octet-stream")}
    row = _row(server, "/gone", "/html", "/good", "/never", sha256=PAYLOAD_SHA)
    path = sources.fetch(row, tmp_path)
    assert path == tmp_path / "file.bin" and path.read_bytes() == PAYLOAD
    assert server.log == ["/gone", "/html", "/good"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]  # no .part, nothing from /html
    assert sources.fetch(row, tmp_path) == path and len(server.log) == 3  # never downloaded twice


def test_a_mirror_url_is_tried_first(server, tmp_path, monkeypatch):
    server.routes = {"/mirror/file.bin": (PAYLOAD, "application/octet-stream"),
                     "/official": (PAYLOAD, "application/octet-stream")}
    monkeypatch.setenv(env.MIRROR_ENV, server.base + "/mirror/")
    assert sources.fetch(_row(server, "/official", sha256=PAYLOAD_SHA), tmp_path).read_bytes() == PAYLOAD
    assert server.log == ["/mirror/file.bin"]


def test_a_mirror_folder_is_copied_never_linked_or_used_in_place(server, tmp_path, monkeypatch):
    mirror = tmp_path / "drive"
    mirror.mkdir()
    (mirror / "file.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(env.MIRROR_ENV, str(mirror))
    row = _row(server, "/official", sha256=PAYLOAD_SHA)
    copied = sources.fetch(row, tmp_path / "downloads")
    assert copied == tmp_path / "downloads" / "file.bin" and copied.read_bytes() == PAYLOAD
    assert os.stat(copied).st_ino != os.stat(mirror / "file.bin").st_ino and os.stat(copied).st_nlink == 1
    assert sources.fetch(row, tmp_path / "weights", in_place=True) == mirror / "file.bin"
    assert not (tmp_path / "weights" / "file.bin").exists() and server.log == []


def test_a_mirror_never_weakens_verification(server, tmp_path, monkeypatch):
    server.routes = {"/mirror/file.bin": (WRONG, "application/octet-stream"),
                     "/official": (PAYLOAD, "application/octet-stream")}
    monkeypatch.setenv(env.MIRROR_ENV, server.base + "/mirror")
    row = _row(server, "/official", sha256=PAYLOAD_SHA)
    assert sources.fetch(row, tmp_path).read_bytes() == PAYLOAD  # the official copy, after refusing the mirror's
    assert server.log == ["/mirror/file.bin", "/official"]
    assert (tmp_path / "file.bin.part.rejected").read_bytes() == WRONG  # kept aside, not resumed from

    folder = tmp_path / "mirror_folder"
    folder.mkdir()
    (folder / "file.bin").write_bytes(WRONG)
    monkeypatch.setenv(env.MIRROR_ENV, str(folder))
    with pytest.raises(SourcesExhaustedError) as err:
        sources.fetch(_row(server, "/gone", sha256=PAYLOAD_SHA), tmp_path / "other")
    first = err.value.attempts[0]
    assert str(folder / "file.bin") in first.where and PAYLOAD_SHA in first.reason
    assert not (tmp_path / "other" / "file.bin").exists()


def test_an_existing_file_is_verified_and_left_alone_when_wrong(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(WRONG)
    with pytest.raises(ChecksumMismatchError) as err:
        sources.fetch(_row(server, "/official", sha256=PAYLOAD_SHA), tmp_path)
    assert str(tmp_path / "file.bin") in str(err.value) and "Delete it" in str(err.value)
    assert (tmp_path / "file.bin").read_bytes() == WRONG and server.log == []


def test_a_server_announcing_another_size_is_refused_before_any_byte_is_written(server, tmp_path):
    server.routes = {"/official": (PAYLOAD, "application/octet-stream")}
    with pytest.raises(SourcesExhaustedError) as err:
        sources.fetch(_row(server, "/official", size=len(PAYLOAD) + 1), tmp_path)
    assert f"announces {len(PAYLOAD)} bytes, expected {len(PAYLOAD) + 1}" in err.value.attempts[0].reason
    assert list(tmp_path.iterdir()) == []


def test_an_unchecked_archive_that_is_no_archive_is_refused(server, tmp_path):
    server.routes = {"/official": (b"certainly not a tarball", "application/octet-stream")}
    with pytest.raises(SourcesExhaustedError) as err:
        sources.fetch(_row(server, "/official", file="data.tar.xz"), tmp_path)
    assert "not a zip or tar archive" in err.value.attempts[0].reason and not (tmp_path / "data.tar.xz").exists()


def test_offline_skips_the_table_urls_but_not_the_mirror(server, tmp_path, monkeypatch):
    server.routes = {"/mirror/file.bin": (PAYLOAD, "application/octet-stream")}
    row = _row(server, "/official", sha256=PAYLOAD_SHA)
    with pytest.raises(SourcesExhaustedError) as err:
        sources.fetch(row, tmp_path, offline="no network today")
    assert err.value.attempts[0].reason == "not tried: offline (no network today)" and server.log == []
    monkeypatch.setenv(env.MIRROR_ENV, server.base + "/mirror")
    assert sources.fetch(row, tmp_path, offline="no network today").read_bytes() == PAYLOAD


def test_when_every_source_fails_the_error_names_each_url_why_and_the_manual_route(server, tmp_path, monkeypatch):
    server.routes = {"/html": (b"<html>login</html>", "text/html")}
    monkeypatch.setenv(env.MIRROR_ENV, server.base + "/mirror")
    row = _row(server, "/gone", "/html", sha256=PAYLOAD_SHA)
    row = Source(**{**row.__dict__, "urls": row.urls + ("http://127.0.0.1:9/closed.bin",)})
    with pytest.raises(SourcesExhaustedError) as err:
        sources.fetch(row, tmp_path / "downloads", timeout=3)
    message = str(err.value)
    lines = message.splitlines()
    assert lines[0].startswith("Could not get file.bin (a test file)")
    assert f"1. ANOCLIP_MIRROR {server.base}/mirror/file.bin: HTTP 404" in lines[1]
    assert f"2. {server.base}/gone: HTTP 404 Not Found" in lines[2]
    assert f"3. {server.base}/html: an HTML page instead of the file" in lines[3]
    assert "4. http://127.0.0.1:9/closed.bin: unreachable" in lines[4]
    assert "Get file.bin from the test homepage." in message  # the manual route
    assert str(tmp_path / "downloads" / "file.bin") in message and PAYLOAD_SHA in message
    assert "ANOCLIP_MIRROR to that folder" in message and "--raw FILE" in message


def test_prepare_downloads_a_dataset_through_its_row(server, tmp_path, monkeypatch):
    server.routes = {"/btad.zip": (PAYLOAD, "application/zip")}
    table = SourceTable([_row(server, "/btad.zip", id="btad", file="btad.zip", sha256=PAYLOAD_SHA)])
    monkeypatch.setattr(sources, "default_table", lambda: table)
    given = []

    def converter(raw, out, **options):  # records what it was given; leaves an empty prepared dataset
        given.append(raw)
        out.mkdir(parents=True)
        (out / "meta.json").write_text('{"test": {}}')
        return out

    monkeypatch.setitem(DATASETS, "btech", dataclasses.replace(DATASETS["btech"], converter=converter))
    assert DATASETS["btech"].download_url == server.base + "/btad.zip"
    prepare("btech", tmp_path / "data" / "btech", download=True)
    assert given == [tmp_path / "data" / "downloads" / "btad.zip"] and given[0].read_bytes() == PAYLOAD


# ----------------------------------------------------------------------------------------------
# MVTec categories: the full-archive fallback


def _full_archive(tmp_path, write_category, categories=("bottle", "grid", "screw")):
    tree = tmp_path / "tree"
    for category in categories:
        write_category(tree, category)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        tar.add(tree / "grid", arcname="grid")  # bottle is not first: the stream is read to the end
        for category in categories:
            if category != "grid":
                tar.add(tree / category, arcname=category)
        info = tarfile.TarInfo("readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return buffer.getvalue()


@pytest.fixture
def mvtec_table(server, monkeypatch, tmp_path, mvtec_category):
    """The MVTec rows, pointed at the test server: /cat/<c>.tar.xz and /full.tar.xz."""
    full = _full_archive(tmp_path, mvtec_category)
    server.routes["/full.tar.xz"] = (full, "application/x-xz")
    rows = [Source(id="mvtec_ad", kind="dataset", title="MVTec AD (test)", file="mvtec_anomaly_detection.tar.xz",
                   urls=(server.base + "/full.tar.xz",), sha256=hashlib.sha256(full).hexdigest(),
                   manual="Use the MVTec form.")]
    rows += [Source(id=f"mvtec_ad/{c}", kind="category", title=f"MVTec AD {c} (test)", file=f"{c}.tar.xz",
                    urls=(server.base + f"/cat/{c}.tar.xz",), fallback=Fallback("mvtec_ad", c), required=c == "bottle",
                    manual=f"Get {c}.tar.xz from the MVTec form.") for c in MVTEC_CATEGORIES]
    table = SourceTable(rows)
    monkeypatch.setattr(sources, "default_table", lambda: table)
    return full


def test_a_category_whose_sources_fail_is_taken_from_the_full_archive_alone(server, tmp_path, mvtec_table, capsys):
    out = tmp_path / "data" / "mvtec_book"
    samples.prepare_mvtec_categories(out, ["bottle"])
    assert Meta.load(out).categories() == ["bottle"]
    assert server.log == ["/cat/bottle.tar.xz", "/full.tar.xz"]
    downloads = tmp_path / "data" / "downloads"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["bottle"]  # not grid, screw
    assert not (downloads / "mvtec_categories").exists()  # the extraction moved into out: one copy
    assert "taking only bottle/ from mvtec_anomaly_detection.tar.xz" in capsys.readouterr().err
    # The next category comes out of the archive already there, without asking the network.
    samples.prepare_mvtec_categories(out, ["screw"])
    assert set(Meta.load(out).categories()) == {"bottle", "screw"} and len(server.log) == 2


def test_a_category_archive_is_preferred_when_it_answers(server, tmp_path, mvtec_table, mvtec_category):
    mvtec_category(tmp_path / "c", "grid")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        tar.add(tmp_path / "c" / "grid", arcname="grid")
    server.routes["/cat/grid.tar.xz"] = (buffer.getvalue(), "application/x-xz")
    out = tmp_path / "data" / "mvtec_book"
    samples.prepare_mvtec_categories(out, ["grid"])
    assert Meta.load(out).categories() == ["grid"] and server.log == ["/cat/grid.tar.xz"]


def test_a_damaged_full_archive_is_not_used_for_the_fallback(server, tmp_path, mvtec_table):
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "mvtec_anomaly_detection.tar.xz").write_bytes(mvtec_table[:-100])
    with pytest.raises(ChecksumMismatchError, match="mvtec_anomaly_detection.tar.xz"):
        samples.prepare_mvtec_categories(tmp_path / "data" / "mvtec_book", ["bottle"])


def test_when_category_and_full_archive_fail_both_are_listed(server, tmp_path, mvtec_table):
    del server.routes["/full.tar.xz"]
    with pytest.raises(SourcesExhaustedError) as err:
        samples.prepare_mvtec_categories(tmp_path / "data" / "mvtec_book", ["grid"])
    message = str(err.value)
    assert f"{server.base}/cat/grid.tar.xz: HTTP 404" in message
    assert f"mvtec_anomaly_detection.tar.xz (only grid/) from {server.base}/full.tar.xz: HTTP 404" in message
    assert "Get grid.tar.xz from the MVTec form." in message


def test_fetch_extracted_without_a_fallback_extracts_the_whole_archive(server, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("set/a.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"a"))
    server.routes = {"/set.tar": (buffer.getvalue(), "application/x-tar")}
    dest = sources.fetch_extracted(_row(server, "/set.tar", file="set.tar"), tmp_path, tmp_path / "set.extracted")
    assert (dest / "set" / "a.txt").read_bytes() == b"a" and (tmp_path / "set.tar").is_file()


# ----------------------------------------------------------------------------------------------
# Substitutes: allowed only by an object a caller installs (the book's rehearsal; tests/book/test_substitution.py)


@dataclasses.dataclass
class _Allow:
    """The smallest Substitutes: one id may be these exact bytes; announcements are recorded."""

    ident: str
    body: bytes
    sources: tuple = ()
    said: list = dataclasses.field(default_factory=list)

    def covers(self, source):
        return source.id == self.ident

    def matches(self, source, path):
        return path.read_bytes() == self.body

    def announce(self, source, where):
        self.said.append((source.id, where))


@pytest.fixture
def substitutes():
    yield sources.allow_substitutes
    sources.allow_substitutes(None)


def test_a_substitute_is_accepted_only_while_allowed_announced_and_marked(server, tmp_path, monkeypatch, substitutes):
    server.routes = {"/mirror/file.bin": (WRONG, "application/octet-stream")}
    monkeypatch.setenv(env.MIRROR_ENV, server.base + "/mirror")
    row = _row(server, "/gone", sha256=PAYLOAD_SHA)
    with pytest.raises(SourcesExhaustedError):  # a mirror cannot make a wrong file pass
        sources.fetch(row, tmp_path / "a")
    substitutes(_Allow("test/file", b"other bytes"))
    with pytest.raises(SourcesExhaustedError) as err:  # the allowed substitute is exact bytes
        sources.fetch(row, tmp_path / "b")
    assert "nor the allowed substitute" in err.value.attempts[0].reason
    allowed = _Allow("test/file", WRONG)
    substitutes(allowed)
    path = sources.fetch(row, tmp_path / "c")
    assert path.read_bytes() == WRONG and (tmp_path / "c" / "file.bin.standin").is_file()
    assert allowed.said == [("test/file", server.base + "/mirror/file.bin")]
    assert sources.fetch(row, tmp_path / "c") == path and len(allowed.said) == 2  # kept, announced again
    substitutes(None)
    with pytest.raises(ChecksumMismatchError, match="stand-in"):  # a marked file is refused once nothing covers it
        sources.fetch(row, tmp_path / "c")


def test_a_real_file_is_accepted_while_a_substitute_is_allowed(server, tmp_path, monkeypatch, substitutes):
    server.routes = {"/real": (PAYLOAD, "application/octet-stream")}
    allowed = _Allow("test/file", WRONG)
    substitutes(allowed)
    path = sources.fetch(_row(server, "/real", sha256=PAYLOAD_SHA), tmp_path)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "file.bin.standin").exists() and allowed.said == []


# ----------------------------------------------------------------------------------------------
# `anoclip sources` and `--check`


@pytest.fixture
def check_table(server, monkeypatch):
    server.routes = {"/ok.bin": (PAYLOAD, "application/octet-stream"),
                     "/page": (b"<html></html>", "text/html"),
                     "/slow": "hang"}
    rows = [
        _row(server, "/ok.bin", id="alive", required=True, size=len(PAYLOAD)),
        _row(server, "/page", "/ok.bin", id="alive/second-url", required=True, size=len(PAYLOAD) + 5),
        _row(server, "/gone", id="whole", required=False),
        _row(server, "/slow", id="dead", required=True),
    ]
    table = SourceTable(rows)
    monkeypatch.setattr(sources, "default_table", lambda: table)
    return table


def test_check_asks_each_url_and_exits_nonzero_when_a_required_file_is_dead(server, check_table):
    probes = sources.check_sources(list(check_table), timeout=0.5)  # the hanging URL times out
    assert [(p.source.id, p.where.rsplit("/", 1)[1], p.ok) for p in probes] == [
        ("alive", "ok.bin", True), ("alive/second-url", "page", False), ("alive/second-url", "ok.bin", False),
        ("whole", "gone", False), ("dead", "slow", False)]
    assert (probes[0].status, probes[0].size) == ("HTTP 206", len(PAYLOAD))
    out = io.StringIO()
    assert sources.run_command(check=True, timeout=0.5, out=out) == 1
    text = out.getvalue()
    assert text.splitlines()[1].split()[:5] == ["OK", "HTTP", "206", "16.0", "KiB"]
    assert "an HTML page" in text and f"size {len(PAYLOAD)}, registered {len(PAYLOAD) + 5}" in text
    assert "no answer" in text and "HTTP 404" in text
    assert "DEAD (no working source): alive/second-url, dead." in text
    assert sources.run_command(["alive"], check=True, timeout=0.5, out=io.StringIO()) == 1  # a prefix: both rows
    assert sources.run_command(["whole"], check=True, timeout=0.5, out=io.StringIO()) == 0  # dead, not required


def test_offline_the_check_says_no_network_instead_of_dead_links(monkeypatch, capsys):
    """When not one URL answers, nothing can be said about the links: no DEAD verdict, exit 2."""
    from anoclip.cli import main

    rows = [Source(id=f"row{i}", kind="dataset", title="t", file="f.bin", urls=("http://127.0.0.1:9/f.bin",),
                   required=True, manual="-") for i in range(3)]
    monkeypatch.setattr(sources, "default_table", lambda: SourceTable(rows))
    with pytest.raises(DataError, match="no network: none of the 3 URLs answered"):
        sources.run_command(check=True, timeout=0.5, out=io.StringIO())
    assert main(["sources", "--check", "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "no network" in err and "DEAD" not in err and "Traceback" not in err


def test_a_working_fallback_keeps_a_category_alive(server, mvtec_table):
    out = io.StringIO()
    assert sources.run_command(["mvtec_ad/bottle"], check=True, timeout=2, out=out) == 0  # its fallback is asked too
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("FAIL") and f"{server.base}/cat/bottle.tar.xz" in lines[1]
    assert lines[2].startswith("OK") and f"{server.base}/full.tar.xz" in lines[2]
    del server.routes["/full.tar.xz"]
    assert sources.run_command(["mvtec_ad/bottle"], check=True, timeout=2, out=io.StringIO()) == 1


def test_listing_shows_the_sources_in_the_order_fetch_tries_them(server, monkeypatch, mvtec_table):
    monkeypatch.setenv(env.MIRROR_ENV, "/srv/mirror")
    out = io.StringIO()
    assert sources.run_command(["mvtec_ad/bottle"], out=out) == 0
    text = out.getvalue()
    mirror, own, fallback = (text.index(s) for s in ("1. ANOCLIP_MIRROR: /srv/mirror/bottle.tar.xz",
                                                       f"2. {server.base}/cat/bottle.tar.xz",
                                                       "3. only bottle/ out of mvtec_anomaly_detection.tar.xz"))
    assert mirror < own < fallback and "Get bottle.tar.xz from the MVTec form." in text


def test_the_cli_command_reports_unknown_ids_without_a_traceback(capsys):
    from anoclip.cli import main

    assert main(["sources", "no-such-id"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("anoclip: error:") and "no-such-id" in err and "mvtec_ad" in err
