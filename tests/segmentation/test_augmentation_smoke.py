"""The augmentation experiment (experiments/augmentation/run.py), in its smoke mode, runs end to end."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # an experiment script in a subprocess


def test_augmentation_smoke_trains_every_condition_and_tabulates_intervals(tmp_path):
    script = ROOT / "experiments/augmentation/run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with (tmp_path / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["condition"] for r in rows] == ["real", "real+syn 0.25", "real+syn 0.5", "synthetic"]
    assert all(r["n"] == "2" and 0 <= float(r["miou"]) <= 1 for r in rows)
    # The synthetic pool is twice the real training set (half from real masks, half from new masks).
    real, synthetic = int(rows[0]["real_patches"]), int(rows[0]["synthetic_patches"])
    assert synthetic == 2 * real
    # The generator and every segmenter of the 50 % condition saw only that half.
    subset = tmp_path / "real050"
    for seg in (subset / "seg").iterdir():
        datasets = [Path(d["path"]) for d in json.loads((seg / "run.json").read_text())["datasets"]]
        assert all(str(d).startswith(str(subset)) for d in datasets), datasets
    assert json.loads((subset / "generator" / "run.json").read_text())["dataset"].startswith(str(subset))
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG" and "±" in (tmp_path / "results.md").read_text()
