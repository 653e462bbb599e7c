"""`anoclip localize` end to end (tiny model), and its error paths."""
import csv
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from anoclip.cli import main


def write_images(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    Image.fromarray((rng.random((50, 70, 3)) * 255).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((rng.random((40, 40)) * 65535).astype(np.uint16)).save(folder / "b.png")
    Image.fromarray((rng.random((30, 30, 4)) * 255).astype(np.uint8), "RGBA").save(folder / "c.png")
    (folder / "corrupt.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_localize_writes_overlays_and_scores(tmp_path, capsys):
    folder = write_images(tmp_path / "imgs")
    out = tmp_path / "out"
    code = main(["localize", str(folder), str(folder / "a.png"), "--class-name", "bottle", "--out", str(out), "--smoke", "--batch-size", "2"])
    assert code == 0
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # a, b, c, corrupt, and a again (disambiguated)
    good = [r for r in rows if not r["error"]]
    bad = [r for r in rows if r["error"]]
    assert len(good) == 4 and len(bad) == 1 and "corrupt.png" in bad[0]["error"]
    assert sorted(r["overlay"] for r in good) == ["a_1_overlay.png", "a_overlay.png", "b_overlay.png", "c_overlay.png"]
    for row in good:
        assert 0.0 <= float(row["image_score"]) <= 1.0
        with Image.open(out / row["overlay"]) as overlay:
            assert overlay.format == "PNG" and overlay.size[0] > 100
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*tmp"))
    assert "skipped" in capsys.readouterr().err


def test_localize_reports_missing_inputs(tmp_path, capsys):
    assert main(["localize", str(tmp_path / "nothing"), "--class-name", "x", "--smoke"]) == 2
    assert "No such image or folder" in capsys.readouterr().err


def test_localize_offline_without_weights_exits_with_advice(tmp_path):
    folder = write_images(tmp_path / "imgs")
    env = dict(os.environ, HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    env.pop("ANOCLIP_SMOKE", None)
    result = subprocess.run(
        [sys.executable, "-m", "anoclip.cli", "localize", str(folder / "a.png"), "--class-name", "bottle", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert "--pretrained /path/to/checkpoint" in result.stderr and "Traceback" not in result.stderr
