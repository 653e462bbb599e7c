"""Downloads against a local HTTP server (full, resumed, no Range support, bad checksum or size,
HTML pages, full disk), atomic copies, and archive extraction (zip/tar, path traversal refused,
idempotent, one top-level folder streamed out of a tar)."""
import hashlib
import importlib
import io
import os
import tarfile
import threading
import zipfile
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from anoclip.data import (
    ChecksumMismatchError,
    DataError,
    DownloadError,
    NotEnoughDiskSpace,
    UnsafeArchiveError,
    download,
    extract,
    sha256sum,
)
from anoclip.data.download import copy_file, extract_member

# The package exports the function ``download``, which hides the module of the same name.
download_module = importlib.import_module("anoclip.data.download")

PAYLOAD = bytes(range(256)) * 40 + b"tail"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if self.path == "/page.html":
            body = b"<html>please log in</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path != "/file.bin":
            self.send_error(404)
            return
        data, status, start = server.payload, 200, 0
        requested = self.headers.get("Range")
        if requested and server.ranges:
            start = int(requested.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload, httpd.ranges, httpd.requests = PAYLOAD, True, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()
    httpd.server_close()


def test_full_download_verifies_and_renames(server, tmp_path):
    httpd, url = server
    path = download(url, tmp_path / "file.bin", PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "file.bin.part").exists()
    assert httpd.requests == [{"path": "/file.bin", "range": None}]
    # A finished file is not fetched again.
    assert download(url, tmp_path / "file.bin", PAYLOAD_SHA) == path
    assert len(httpd.requests) == 1


def test_folder_destination_takes_the_url_name(server, tmp_path):
    _, url = server
    assert download(url, tmp_path).name == "file.bin"


def test_resume_requests_the_missing_range(server, tmp_path):
    httpd, url = server
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:1000])
    path = download(url, tmp_path / "file.bin", PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD
    assert httpd.requests[-1]["range"] == "bytes=1000-"


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    httpd, url = server
    httpd.ranges = False
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:1000])
    path = download(url, tmp_path / "file.bin", PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD  # not the first 1000 bytes twice


def test_complete_part_answered_with_416_is_finished(server, tmp_path):
    _, url = server
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    assert download(url, tmp_path / "file.bin", PAYLOAD_SHA).read_bytes() == PAYLOAD


def test_checksum_mismatch_keeps_part_and_says_what_to_do(server, tmp_path):
    _, url = server
    (tmp_path / "file.bin.part").write_bytes(b"X" * 1000)  # a corrupt partial download
    with pytest.raises(ChecksumMismatchError) as err:
        download(url, tmp_path / "file.bin", PAYLOAD_SHA)
    message = str(err.value)
    assert PAYLOAD_SHA in message and str(tmp_path / "file.bin.part") in message and "delete" in message
    assert (tmp_path / "file.bin.part").read_bytes()[:1000] == b"X" * 1000
    assert not (tmp_path / "file.bin").exists()


def test_existing_file_with_wrong_checksum_is_reported(server, tmp_path):
    _, url = server
    (tmp_path / "file.bin").write_bytes(b"old")
    with pytest.raises(ChecksumMismatchError):
        download(url, tmp_path / "file.bin", PAYLOAD_SHA)


def test_not_enough_disk_space_stops_before_writing(server, tmp_path, monkeypatch):
    _, url = server
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda path: usage(100, 90, 10))
    with pytest.raises(NotEnoughDiskSpace) as err:
        download(url, tmp_path / "file.bin")
    assert str(tmp_path) in str(err.value)
    assert not (tmp_path / "file.bin.part").exists()


def test_http_error_and_unreachable_host(server, tmp_path):
    _, url = server
    with pytest.raises(DownloadError) as err:
        download(url.replace("file.bin", "missing.bin"), tmp_path / "m.bin")
    assert "404" in str(err.value) and err.value.reason == "HTTP 404 Not Found"
    with pytest.raises(DownloadError) as err:
        download("http://127.0.0.1:9/none.bin", tmp_path / "n.bin", timeout=2)
    assert err.value.reason.startswith("unreachable (")


def test_a_sha256_prefix_is_a_check_too(server, tmp_path):
    _, url = server
    assert download(url, tmp_path / "a.bin", PAYLOAD_SHA[:8]).read_bytes() == PAYLOAD
    with pytest.raises(ChecksumMismatchError) as err:
        download(url, tmp_path / "b.bin", "00000000" if not PAYLOAD_SHA.startswith("0") else "ffffffff")
    assert "SHA-256" in err.value.reason and not (tmp_path / "b.bin").exists()
    with pytest.raises(ValueError, match="shorter than 8"):
        download(url, tmp_path / "c.bin", PAYLOAD_SHA[:4])


def test_the_expected_size_is_checked_before_anything_is_written(server, tmp_path):
    httpd, url = server
    with pytest.raises(ChecksumMismatchError) as err:
        download(url, tmp_path / "file.bin", size=len(PAYLOAD) - 1)
    assert err.value.reason == f"announces {len(PAYLOAD)} bytes, expected {len(PAYLOAD) - 1}"
    assert list(tmp_path.iterdir()) == []
    assert download(url, tmp_path / "file.bin", PAYLOAD_SHA, size=len(PAYLOAD)).read_bytes() == PAYLOAD


def test_an_html_page_is_not_taken_for_the_file(server, tmp_path):
    _, url = server
    with pytest.raises(DownloadError) as err:
        download(url.replace("file.bin", "page.html"), tmp_path / "archive.zip")
    assert err.value.reason == "an HTML page instead of the file" and "archive.zip" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_copy_file_is_a_real_copy_through_a_part_file(tmp_path, monkeypatch):
    (tmp_path / "src.bin").write_bytes(PAYLOAD)
    dest = copy_file(tmp_path / "src.bin", tmp_path / "out" / "dest.bin")
    assert dest.read_bytes() == PAYLOAD and os.stat(dest).st_nlink == 1
    assert os.stat(dest).st_ino != os.stat(tmp_path / "src.bin").st_ino
    assert not (tmp_path / "out" / "dest.bin.part").exists()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda path: usage(100, 90, 10))
    with pytest.raises(NotEnoughDiskSpace):
        copy_file(tmp_path / "src.bin", tmp_path / "out" / "again.bin")
    assert not (tmp_path / "out" / "again.bin").exists()


def test_sha256sum_matches_hashlib(tmp_path):
    (tmp_path / "f").write_bytes(PAYLOAD * 300)  # several chunks
    assert sha256sum(tmp_path / "f") == hashlib.sha256(PAYLOAD * 300).hexdigest()


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)


def _tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar.xz"])
def test_extract_is_complete_idempotent_and_leaves_the_archive_alone(tmp_path, kind):
    archive = tmp_path / f"a.{kind}"
    members = {"top/x.txt": b"x", "top/sub/y.txt": b"yy"}
    _zip(archive, members) if kind == "zip" else _tar(archive, members, "w:" + kind.split(".")[1])
    before = sha256sum(archive)
    dest = extract(archive, tmp_path / "out")
    assert (dest / "top" / "x.txt").read_bytes() == b"x" and (dest / "top" / "sub" / "y.txt").read_bytes() == b"yy"
    assert not (tmp_path / "out.partial").exists()
    (dest / "top" / "x.txt").write_bytes(b"changed")  # a second call must not extract again
    assert extract(archive, tmp_path / "out") == dest
    assert (dest / "top" / "x.txt").read_bytes() == b"changed"
    assert sha256sum(archive) == before


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_extract_refuses_path_traversal(tmp_path, kind):
    archive = tmp_path / f"evil.{kind}"
    members = {"ok.txt": b"ok", "../../escaped.txt": b"bad"}
    _zip(archive, members) if kind == "zip" else _tar(archive, members, "w")
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, tmp_path / "deep" / "out")
    assert "escaped.txt" in str(err.value)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    assert not (tmp_path / "deep" / "out").exists() and not (tmp_path / "deep" / "out.partial").exists()


def test_extract_refuses_links_pointing_outside(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as bundle:
        info = tarfile.TarInfo("data/passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        bundle.addfile(info)
    with pytest.raises(UnsafeArchiveError):
        extract(archive, tmp_path / "out")


def test_extract_rejects_non_archives(tmp_path):
    (tmp_path / "notes.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError) as err:
        extract(tmp_path / "notes.zip", tmp_path / "out")
    assert "not a zip or tar" in str(err.value)
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("kind", ["tar.xz", "tar", "zip"])
def test_extract_member_writes_only_that_top_level_folder(tmp_path, kind):
    archive = tmp_path / f"full.{kind}"
    members = {"grid/train/a.png": b"g", "./bottle/train/b.png": b"b", "bottle/test/c.png": b"c",
               "bottles/x.png": b"not bottle", "readme.txt": b"r"}
    if kind == "zip":
        _zip(archive, {name.lstrip("./"): data for name, data in members.items()})
    else:
        _tar(archive, members, "w:xz" if kind == "tar.xz" else "w")
    dest = extract_member(archive, "bottle", tmp_path / "out")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["bottle/test/c.png", "bottle/train/b.png"]
    assert not (tmp_path / "out.partial").exists()
    assert extract_member(archive, "bottle", tmp_path / "out") == dest  # done means done


def test_extract_member_refuses_a_missing_member_and_escapes(tmp_path):
    archive = tmp_path / "full.tar"
    _tar(archive, {"grid/a.png": b"g"}, "w")
    with pytest.raises(DataError, match="no top-level folder bottle/"):
        extract_member(archive, "bottle", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    evil = tmp_path / "evil.tar"
    _tar(evil, {"bottle/../../escaped.txt": b"bad"}, "w")
    with pytest.raises(UnsafeArchiveError):
        extract_member(evil, "bottle", tmp_path / "deep" / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "out").exists()


def test_a_files_digest_is_computed_once_per_version_and_again_when_it_changes(tmp_path, monkeypatch):
    from anoclip import env

    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
    from anoclip import fileio

    hashed = []
    real = fileio.sha256sum
    monkeypatch.setattr(fileio, "sha256sum", lambda path: hashed.append(path) or real(path))
    file = tmp_path / "weights.pt"
    file.write_bytes(b"first version")
    first = fileio.remembered_sha256(file)
    assert first == hashlib.sha256(b"first version").hexdigest()
    assert fileio.remembered_sha256(file) == first and len(hashed) == 1  # remembered

    file.write_bytes(b"other version")  # same size: only the modification time tells
    os.utime(file, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns + 1_000_000))
    assert fileio.remembered_sha256(file) == hashlib.sha256(b"other version").hexdigest()
    assert len(hashed) == 2

    (tmp_path / "cache" / "sha256.json").write_text("{damaged")
    assert fileio.remembered_sha256(file) == hashlib.sha256(b"other version").hexdigest()
    assert len(hashed) == 3  # a damaged index is rebuilt, never trusted


def test_each_download_uses_the_proxies_of_the_environment_at_that_moment(server, tmp_path, monkeypatch):
    """urllib's shared opener would keep a dead proxy set for an earlier call, for the whole process."""
    httpd, url = server
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(DownloadError):
        download(url, tmp_path / "a.bin")
    monkeypatch.delenv("http_proxy")
    assert download(url, tmp_path / "b.bin").read_bytes() == PAYLOAD
