"""The issue-22 benchmark (experiments/structure_variety/run.py), in its smoke mode, runs end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_structure_variety_smoke_measures_variant_and_oracle_against_held_out_scenes(tmp_path):
    script = ROOT / "experiments/structure_variety/run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke", "--variants", "scene", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    rows = {r["name"]: r for r in record["rows"]}
    assert list(rows) == ["scene", "oracle"]
    scene, oracle = rows["scene"], rows["oracle"]
    # The budget was spent in whole epochs and measured in CPU seconds of this process.
    assert scene["budget"]["epochs"] >= 1 and scene["budget"]["cpu_min"] > 0 and scene["budget"]["median_step_ms"] > 0
    # A second real draw of the same zones scores like the real scene; a briefly trained
    # texture fill has far less structure and variety.
    for zone in ("rock", "glacier", "ocean"):
        assert 0.6 <= oracle["structure"][f"block_std_16_{zone}"]["ratio"] <= 1.6
        assert scene["structure"][f"block_std_16_{zone}"]["ratio"] < 0.6
        assert oracle["variety"][f"block_spread_{zone}"] == 1.0
        assert scene["variety"][f"block_spread_{zone}"] < 0.6
    assert scene["tiled_vs_whole"] <= 1e-3 and "tiled_vs_whole" not in oracle
    assert oracle["frechet"]["fd"] < scene["frechet"]["fd"]
    assert 0 < scene["seg_ratio"] and 0 < oracle["seg_real_miou"] <= 1
    table = (tmp_path / "results.md").read_text()
    assert "| measure | goal | scene | oracle | scene: goal met |" in table and "**fail**" in table
    for figure in ("scene.png", "zoom.png"):
        assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"
