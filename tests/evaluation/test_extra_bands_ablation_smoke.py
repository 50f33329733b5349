"""The extra-bands ablation (experiments/extra_bands/run.py), in its smoke mode, runs end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # an experiment script in a subprocess


def test_extra_bands_smoke_trains_both_conditions_and_reports_rock_scores(tmp_path):
    script = ROOT / "experiments/extra_bands/run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    assert [r["condition"] for r in record["runs"]] == ["no elevation", "with elevation"]
    for run in record["runs"]:
        assert run["w1_db_rock"] >= 0 and run["spectral_distance_db"] >= 0 and 0 <= run["seg_miou"] <= 1
    # Both conditions had the same budget on the same patches; only the generator input differs.
    assert len({r["updates"] for r in record["runs"]}) == 1
    configs = [
        (tmp_path / "runs" / f"{name}_seed0" / "config.yaml").read_text() for name in ("no_elevation", "with_elevation")
    ]
    assert "in_channels: 3" in configs[0] and "in_channels: 4" in configs[1]
    assert set(record["rock_slope_correlation"]) == {"real", "no elevation", "with elevation"}
    table = (tmp_path / "results.md").read_text()
    assert "| with elevation |" in table and "W1 rock" in table
    assert (tmp_path / "rock.png").read_bytes()[:4] == b"\x89PNG"
