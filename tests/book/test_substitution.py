"""A rehearsal's declared stand-ins (anoclip_book.substitution) in anoclip's download path.

The library reads no manifest: ``ANOCLIP_STANDINS`` alone changes nothing until the book installs
the manifest (:func:`anoclip_book.substitution.activate`, which importing ``anoclip_book`` calls in
a rehearsal's kernels). Every test starts and ends with nothing installed.
"""
import functools
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from anoclip import AnoCLIP, env
from anoclip.backbone import WeightsUnavailableError, resolve_checkpoint
from anoclip.data import sources
from anoclip.data.errors import ChecksumMismatchError, MetaFormatError
from anoclip.data.sources import Source, SourcesExhaustedError
from anoclip_book import modes, substitution
from anoclip_book.substitution import StandIns

PAYLOAD = bytes(range(256)) * 64
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG = b"a mirror's idea of the file" * 100
DEFAULT_FILE = "vit_b_16_plus_240-laion400m_e32-699c4b84.pt"


@pytest.fixture(autouse=True)
def nothing_installed(monkeypatch):
    for name in (env.MIRROR_ENV, modes.STANDINS_ENV, env.CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    sources.allow_substitutes(None)
    yield
    sources.allow_substitutes(None)


@pytest.fixture
def www(tmp_path):
    """A folder served on 127.0.0.1: ``(folder, base URL)``."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _row(base, **fields):
    values = dict(id="test/file", kind="dataset", title="a test file", file="file.bin", urls=(base + "/gone",),
                  manual="Get file.bin from the test homepage.")
    values.update(fields)
    return Source(**values)


def _declare(tmp_path, monkeypatch, declared, rows=()):
    """Write a manifest, name it in ANOCLIP_STANDINS and install it as the book does."""
    path = tmp_path / "standins.json"
    path.write_text(json.dumps({"purpose": "rehearsal test", "standins": declared, "sources": list(rows)}))
    monkeypatch.setenv(modes.STANDINS_ENV, str(path))
    substitution.activate()
    return path


def test_the_library_alone_ignores_the_manifest_variable(www, tmp_path, monkeypatch):
    folder, base = www
    (folder / "file.bin").write_bytes(WRONG)
    monkeypatch.setenv(env.MIRROR_ENV, base)
    path = tmp_path / "standins.json"
    path.write_text(json.dumps({"purpose": "rehearsal test", "standins": {"test/file": hashlib.sha256(WRONG).hexdigest()}}))
    monkeypatch.setenv(modes.STANDINS_ENV, str(path))  # set, but nothing installed it
    with pytest.raises(SourcesExhaustedError):
        sources.fetch(_row(base, sha256=PAYLOAD_SHA), tmp_path / "a")


def test_a_stand_in_from_a_mirror_is_accepted_only_when_declared_and_loudly(www, tmp_path, monkeypatch, capsys):
    folder, base = www
    (folder / "file.bin").write_bytes(WRONG)
    monkeypatch.setenv(env.MIRROR_ENV, base)
    row = _row(base, sha256=PAYLOAD_SHA)
    with pytest.raises(SourcesExhaustedError):  # pointing ANOCLIP_MIRROR at stand-ins is not enough
        sources.fetch(row, tmp_path / "a")
    _declare(tmp_path, monkeypatch, {"test/file": hashlib.sha256(b"other bytes").hexdigest()})
    with pytest.raises(SourcesExhaustedError) as err:  # a declaration pins the stand-in's exact bytes
        sources.fetch(row, tmp_path / "b")
    assert "nor the allowed substitute" in err.value.attempts[0].reason
    manifest = _declare(tmp_path, monkeypatch, {"test/file": hashlib.sha256(WRONG).hexdigest()})
    capsys.readouterr()
    path = sources.fetch(row, tmp_path / "c")
    assert path.read_bytes() == WRONG and (tmp_path / "c" / "file.bin.standin").is_file()
    banner = capsys.readouterr().err
    assert "STAND-IN" in banner and "NOT the real a test file" in banner and str(manifest) in banner


def test_a_stand_in_left_behind_is_refused_once_the_manifest_is_gone(www, tmp_path, monkeypatch):
    folder, base = www
    (folder / "file.tar").write_bytes(WRONG)
    monkeypatch.setenv(env.MIRROR_ENV, base)
    row = _row(base, file="file.tar")  # no checksum: the marker is all that tells
    _declare(tmp_path, monkeypatch, {"test/file": hashlib.sha256(WRONG).hexdigest()})
    sources.fetch(row, tmp_path)
    sources.allow_substitutes(None)
    with pytest.raises(ChecksumMismatchError, match="stand-in"):
        sources.fetch(row, tmp_path)


def test_a_manifest_adds_rows_only_as_declared_stand_ins_and_only_while_it_is_installed(www, tmp_path, monkeypatch,
                                                                                       capsys):
    folder, base = www
    (folder / "extra.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(env.MIRROR_ENV, base)
    row = {"id": "rehearsal/extra", "kind": "weights", "title": "an extra rehearsal file", "file": "extra.bin",
           "urls": [base + "/gone/extra.bin"], "manual": "Written by the rehearsal."}
    with pytest.raises(MetaFormatError, match="without declaring"):
        _declare(tmp_path, monkeypatch, {}, [row])
    with pytest.raises(sources.UnknownSourceError):  # not listed until a manifest names it
        sources.get_source("rehearsal/extra")
    _declare(tmp_path, monkeypatch, {"rehearsal/extra": PAYLOAD_SHA}, [row])
    assert sources.get_source("mvtec_ad").file == "mvtec_anomaly_detection.tar.xz"  # the package rows stay
    capsys.readouterr()
    fetched = sources.fetch("rehearsal/extra", tmp_path / "got")
    assert fetched.read_bytes() == PAYLOAD and (tmp_path / "got" / "extra.bin.standin").is_file()
    assert "STAND-IN" in capsys.readouterr().err
    sources.allow_substitutes(None)
    with pytest.raises(sources.UnknownSourceError):
        sources.get_source("rehearsal/extra")
    _declare(tmp_path, monkeypatch, {"mvtec_ad": PAYLOAD_SHA}, [dict(row, id="mvtec_ad")])
    with pytest.raises(MetaFormatError, match="listed twice"):  # an added row never replaces a package row
        sources.default_table()


@pytest.mark.parametrize("content", ['{"standins": {}}', '{"purpose": "x", "standins": {"a": "abc"}}', "not json"])
def test_a_malformed_manifest_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "standins.json"
    path.write_text(content)
    with pytest.raises(MetaFormatError) as err:
        StandIns.load(path)
    assert str(path) in str(err.value) and "ANOCLIP_STANDINS" in str(err.value)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(AnoCLIP.from_pretrained("anoclip-tiny", None, device="cpu").clip.state_dict(), path)
    return path


def test_a_declared_stand_in_checkpoint_comes_from_an_http_mirror_into_the_cache(www, tmp_path, monkeypatch, capsys,
                                                                                 tiny_checkpoint):
    folder, base = www
    (folder / DEFAULT_FILE).write_bytes(tiny_checkpoint.read_bytes())
    monkeypatch.setenv(env.MIRROR_ENV, base)
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(WeightsUnavailableError):  # the mirror alone cannot make it pass
        resolve_checkpoint(env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED)
    digest = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    _declare(tmp_path, monkeypatch, {f"weights/{env.DEFAULT_MODEL}/{env.DEFAULT_PRETRAINED}": digest})
    path = resolve_checkpoint(env.DEFAULT_MODEL, env.DEFAULT_PRETRAINED)
    assert path == str(tmp_path / "cache" / "weights" / DEFAULT_FILE)
    assert "STAND-IN" in capsys.readouterr().err


def test_a_tag_that_only_a_rehearsal_manifest_lists_travels_the_real_weights_path(www, tmp_path, monkeypatch, capsys,
                                                                                 tiny_checkpoint):
    folder, base = www
    (folder / "tiny-rehearsal.pt").write_bytes(tiny_checkpoint.read_bytes())
    row = {"id": "weights/anoclip-tiny/rehearsal", "kind": "weights", "title": "random tiny weights", "model": "anoclip-tiny",
           "tag": "rehearsal", "file": "tiny-rehearsal.pt", "urls": [base + "/tiny-rehearsal.pt"], "manual": "-"}
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(env.MIRROR_ENV, base)  # HF_HUB_OFFLINE=1 (conftest): the mirror is the only source
    with pytest.raises(ValueError, match="neither a checkpoint file nor an open_clip tag"):
        resolve_checkpoint("anoclip-tiny", "rehearsal")  # without the manifest the tag does not exist
    _declare(tmp_path, monkeypatch, {row["id"]: hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()}, [row])
    model = AnoCLIP.from_pretrained("anoclip-tiny", "rehearsal", device="cpu")
    assert not model.random_weights and (tmp_path / "cache" / "weights" / "tiny-rehearsal.pt.standin").is_file()
    expected = torch.load(tiny_checkpoint)
    assert all(torch.equal(tensor, expected[name]) for name, tensor in model.clip.state_dict().items())
    assert "STAND-IN" in capsys.readouterr().err
