"""The issue-22 benchmark (experiments/structure_variety/run.py), in its smoke mode, runs end to end."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments/structure_variety/run.py"


@pytest.fixture
def structure_variety(monkeypatch):
    """run.py as a module, without running it (its import puts experiments/ on sys.path:
    undone afterwards, with the modules it imported from there)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("structure_variety_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    for name in ("cpu_budget", "augmentation", "augmentation.analysis"):
        if name not in before:
            sys.modules.pop(name, None)


def test_replicates_keep_replicate_0_as_the_single_run_and_draw_other_seeds(structure_variety):
    setup = structure_variety.SMOKE
    assert structure_variety.replicate_name("sampler", 0) == "sampler"
    assert structure_variety.replicate_name("sampler", 2) == "sampler_r2"
    assert structure_variety.replicate_sets(0) == []
    assert structure_variety.replicate_sets(3) == ["training.seed=3"]
    assert structure_variety.sample_seeds(0, setup) == [0, 1, 2, 3]
    assert structure_variety.sample_seeds(2, setup) == [8, 9, 10, 11]


def test_replicate_summary_is_the_mean_and_t_interval_and_the_table_judges_the_mean(structure_variety):
    # Replicates whose segmentation-score ratios are 1, 2, 3: mean 2, sd 1, so the 95 %
    # t-interval (2 degrees of freedom) is 2 -+ 4.303 / sqrt(3); no other measure has a value.
    replicates = [{"seg_ratio": value} for value in (1.0, 2.0, 3.0)]
    summary = structure_variety.replicate_summary(replicates)
    seg = summary["seg mIoU generated / real"]
    half = 4.302653 / math.sqrt(3)
    assert seg["n"] == 3 and seg["mean"] == pytest.approx(2.0)
    assert (seg["low"], seg["high"]) == pytest.approx((2.0 - half, 2.0 + half), abs=1e-5)
    assert summary["grid statistic (max over scenes)"] == {"mean": None, "low": None, "high": None, "n": 0}
    rows = {"sampler": replicates[0], "oracle": {}}
    # Replicate 0 alone (1.0) meets the goal 0.95-1.05; the mean over replicates (2.0) does not.
    single = structure_variety.results_table(rows, "sampler", "header")
    assert "| seg mIoU generated / real | 0.95–1.05 | 1.000 | – | pass |" in single
    table = structure_variety.results_table(rows, "sampler", "header", {"sampler": summary})
    assert "| seg mIoU generated / real | 0.95–1.05 | 2.000 [-0.484, 4.484] | – | **fail** |" in table


@pytest.mark.slow
def test_structure_variety_smoke_measures_variant_and_oracle_against_held_out_scenes(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--variants", "scene", "--out", str(tmp_path)],
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
