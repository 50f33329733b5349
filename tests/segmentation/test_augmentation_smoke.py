"""The augmentation experiment (experiments/augmentation/): its interval arithmetic against
hand-computed numbers, its condition grid, and (slow) its smoke mode end to end."""

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "experiments" / "augmentation"


@pytest.fixture
def experiment(monkeypatch):
    """The experiment's modules (run.py imports its siblings by plain name), unloaded afterwards."""
    monkeypatch.syspath_prepend(str(FOLDER))
    modules = {name: importlib.import_module(name) for name in ("analysis", "steps", "run")}
    yield modules
    for name in modules:
        sys.modules.pop(name, None)


def rows(condition, values, fraction=0.1, metric="miou"):
    return [{"fraction": fraction, "condition": condition, "replicate": r, metric: v} for r, v in enumerate(values)]


def test_t_interval_and_paired_differences_match_hand_computed_values(experiment):
    analysis = experiment["analysis"]
    # [1, 2, 3, 4]: mean 2.5, sd sqrt(5/3) = 1.290994, t(0.975, 3) = 3.182446 -> 3.182446 * 1.290994 / 2.
    interval = analysis.t_interval([1.0, 2.0, 3.0, None, 4.0, math.nan])
    assert (interval.n, interval.mean) == (4, 2.5)
    assert interval.half == pytest.approx(2.054260, abs=1e-6)
    assert interval.text(2) == "2.50 ± 2.05"
    # Paired per replicate: d = [0.1, 0.2, 0.0], mean 0.1, sd 0.1, t(0.975, 2) = 4.302653 -> 0.248414.
    runs = rows("real", [0.5, 0.6, 0.7]) + rows("real+x", [0.6, 0.8, 0.7]) + rows("real+x", [0.9], fraction=1.0)
    d = analysis.paired_differences(runs, 0.1, "real+x", "miou")
    assert d == pytest.approx({0: 0.1, 1: 0.2, 2: 0.0})
    paired = analysis.t_interval(d.values())
    assert paired.mean == pytest.approx(0.1) and paired.half == pytest.approx(0.248414, abs=1e-6)
    assert not paired.excludes_zero()
    # A replicate missing in one condition drops out of the pairs.
    assert analysis.paired_differences(runs[:2] + runs[3:6], 0.1, "real+x", "miou") == pytest.approx({0: 0.1, 1: 0.2})


def test_gain_captured_is_the_ratio_of_mean_paired_differences_and_undefined_without_an_oracle_gain(experiment):
    analysis = experiment["analysis"]
    oracle = {0: 0.2, 1: 0.3, 2: 0.25}  # mean 0.25 ± 4.302653 * 0.05 / sqrt(3) = 0.124207: excludes 0
    gain = analysis.gain_captured({0: 0.1, 1: 0.2, 2: 0.0}, oracle)
    assert gain.ratio == pytest.approx(0.1 / 0.25)
    assert gain.oracle.half == pytest.approx(0.124207, abs=1e-6)
    # Every resample's ratio lies between 0 / 0.3 and 0.2 / 0.2.
    assert 0.0 <= gain.low <= gain.ratio <= gain.high <= 1.0
    # A generator with exactly half the oracle's gain in every replicate: every resample gives 0.5.
    half = analysis.gain_captured({k: v / 2 for k, v in oracle.items()}, oracle)
    assert (half.ratio, half.low, half.high) == pytest.approx((0.5, 0.5, 0.5))
    assert half.text() == "0.50 [0.50, 0.50]"
    # Oracle gain 0.0167 ± 0.25: not distinguishable from zero, so the share is undefined.
    undefined = analysis.gain_captured({0: 0.1, 1: 0.2, 2: 0.0}, {0: 0.1, 1: -0.1, 2: 0.05})
    assert undefined.ratio is None and "not distinguishable" in undefined.text()


def test_results_table_states_the_primary_difference_computed_by_hand(experiment):
    analysis, run = experiment["analysis"], experiment["run"]
    setup = run.DEFAULT
    primary = run.primary_name(setup)
    runs = rows("real", [0.5, 0.6, 0.7]) + rows(primary, [0.6, 0.8, 0.7])
    runs += rows("real", [100.0, 200.0, 300.0], metric="mde_m") + rows(primary, [90.0, 190.0, 250.0], metric="mde_m")
    table = analysis.markdown(runs, run.facts(setup, run.Ledger(Path("/nonexistent/ledger.json"))))
    # Δ mIoU 0.1 ± 0.248414 (above); Δ MDE [-10, -10, -50]: mean -23.3, sd sqrt(1600 / 3) = 23.09,
    # half 4.302653 * 23.09 / sqrt(3) = 57.4.
    assert "paired over 3 replicates: Δ mIoU +0.100 ± 0.248, Δ MDE -23 ± 57 m" in table
    assert f"| {primary} | primary | 3 | 0.700 ± 0.248 | +0.100 ± 0.248 |" in table


def test_condition_grid_names_sources_and_fixes_one_primary(experiment):
    run = experiment["run"]
    setup = run.DEFAULT
    scarce = {c.name: c for c in run.conditions(setup, setup.scarce)}
    assert [c.name for c in run.conditions(setup, 1.0)] == ["real", "real+generated-sampler-25", "real+oracle-25"]
    assert [c.name for c in run.conditions(setup, 0.25)] == ["real"]  # the real-only curve
    assert [n for n, c in scarce.items() if c.role == "primary"] == ["real+generated-sampler-25"]
    for name, c in scarce.items():
        assert ("real" in name) == (c.share != 100)
        assert ("generated" in name) == (c.generator is not None) and ("oracle" in name) == c.oracle
    assert {"real+generated-scene-50", "real+oracle-50", "generated-scene-only", "oracle-only"} <= scarce.keys()
    ablation = [c for c in scarce.values() if len(c.sources) == 1]
    assert sorted(c.sources[0] for c in ablation) == ["artificial", "moved", "samples"]
    assert all(c.generator == "sampler" and c.share == 25 for c in ablation)
    # Every source of chance differs between replicates.
    first, second = run.replicate_seeds(setup, 0), run.replicate_seeds(setup, 1)
    assert all(first[k] != second[k] for k in first)
    assert setup.replicates >= 6 and len(setup.held_out_seeds) in range(4, 7)


def test_harder_benchmark_varies_each_scene_and_keeps_zones_for_the_oracle(experiment, tmp_path):
    from pix2pix_sar import geo

    steps, run = experiment["steps"], experiment["run"]
    factors = [steps.harder_factors(seed) for seed in range(6)]
    assert factors[2] == steps.harder_factors(2) and len({tuple(f) for f in factors}) == 6
    assert len({f[f.index("--looks") + 1] for f in factors}) > 1  # looks vary too
    plain = steps.synth(tmp_path / "plain", 3, 64)
    harder = steps.synth(tmp_path / "harder", 3, 64, harder=True)
    redraw = steps.synth(tmp_path / "redraw", 3, 64, 1, True)  # the oracle's content redraw of scene 3
    meta = geo.raster_metadata(harder / "scene.tif")
    assert meta["SYNTH_FJORD_WIDTH"] == factors[3][1] and "SYNTH_FJORD_WIDTH" not in geo.raster_metadata(
        plain / "scene.tif"
    )
    zones = {name: geo.read_array(f / "zones.tif") for name, f in (("harder", harder), ("redraw", redraw))}
    assert (zones["harder"] == zones["redraw"]).all()
    # An OUT folder keeps its setup: the harder benchmark (or the smoke) cannot continue the default's.
    run.same_setup(tmp_path, run.DEFAULT)
    run.same_setup(tmp_path, run.replace(run.DEFAULT, replicates=2))  # parts may change the replicates
    with pytest.raises(SystemExit, match="another setup"):
        run.same_setup(tmp_path, run.replace(run.DEFAULT, harder=True))


@pytest.mark.slow  # an experiment script in a subprocess
def test_augmentation_smoke_runs_paired_replicates_and_resumes(tmp_path):
    command = [sys.executable, str(FOLDER / "run.py"), "--smoke", "--out", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((tmp_path / "runs.json").read_text())
    names = ["real", "real+generated-sampler-25", "real+oracle-25"]  # the smoke keeps no synthetic-only runs
    assert [(r["replicate"], r["condition"]) for r in runs] == [(k, n) for k in (0, 1) for n in names]
    for r in runs:
        assert 0 <= r["miou"] <= 1 and (r["mde_m"] is None or r["mde_m"] > 0) and r["seg_steps"] == 2
    by = {(r["replicate"], r["condition"]): r for r in runs}
    # Paired: one real subset and segmenter seed per replicate, redrawn in the next.
    for k in (0, 1):
        assert len({(r["seeds"]["real_subset"], r["seeds"]["segmenter"]) for r in runs if r["replicate"] == k}) == 1
    assert by[0, "real"]["seeds"]["segmenter"] != by[1, "real"]["seeds"]["segmenter"]
    assert by[0, "real+oracle-25"]["seeds"]["oracle_content"] != by[1, "real+oracle-25"]["seeds"]["oracle_content"]
    assert by[0, "real"]["seeds"]["generator_training"] is None
    # The oracle pool mirrors the generated one: K redraws per real mask + 2n new patches = (K + 2) n, K = 1.
    for k in (0, 1):
        n = by[k, "real"]["real_patches"]
        assert by[k, "real+generated-sampler-25"]["synthetic_patches"] == by[k, "real+oracle-25"]["synthetic_patches"]
        assert by[k, "real+oracle-25"]["synthetic_patches"] == 3 * n
    # The generator trained on the replicate's real subset only; no run saw the held-out scenes.
    subset = tmp_path / "real025p0" / "r0"
    assert json.loads((subset / "generators" / "sampler" / "run.json").read_text())["dataset"].startswith(str(subset))
    for seg in (subset / "seg").iterdir():
        datasets = [d["path"] for d in json.loads((seg / "run.json").read_text())["datasets"]]
        assert not any("held_out" in d for d in datasets), datasets
    # The table's primary difference is the hand formula on runs.json: t(0.975, 1) = 12.706205.
    d = [by[k, "real+generated-sampler-25"]["miou"] - by[k, "real"]["miou"] for k in (0, 1)]
    mean, half = (d[0] + d[1]) / 2, 12.706205 * abs(d[0] - d[1]) / math.sqrt(2) / math.sqrt(2)
    assert f"Δ mIoU {mean:+.3f} ± {half:.3f}" in (tmp_path / "results.md").read_text()
    # A rerun finds every step done and writes the same rows.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "seg fit" not in again.stdout, again.stdout[-2000:]
    assert json.loads((tmp_path / "runs.json").read_text()) == runs


def test_a_new_output_folder_continues_from_the_recorded_runs(experiment, tmp_path):
    run = experiment["run"]
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir(), out.mkdir()
    row = {"fraction": 0.25, "condition": "real", "replicate": 0, "miou": 0.5}
    (results / "runs.json").write_text(json.dumps([row]))
    (results / "setup.json").write_text(json.dumps({"cpu_s": 120.0, "wall_s": 300.0}))
    run.adopt_earlier_runs(out, results)
    exp = run.Experiment(out, run.SMOKE, {}, None)
    assert exp.done(0.25, "real", 0) and not exp.done(0.25, "real", 1)  # only the recorded run is skipped
    assert (exp.ledger.total("cpu_s"), exp.ledger.total("wall_s")) == (120.0, 300.0)
    (results / "runs.json").write_text("[]")
    run.adopt_earlier_runs(out, results)  # a folder with its own record keeps it
    assert json.loads((out / "runs.json").read_text()) == [row]
