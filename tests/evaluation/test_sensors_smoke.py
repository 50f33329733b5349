"""The issue-25 sensor benchmark (experiments/sensors/run.py), in its smoke mode, runs end to end and resumes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SENSORS = ["S1", "TSX", "PALSAR"]


@pytest.mark.slow  # an experiment script in a subprocess
def test_sensors_smoke_compares_a_conditioned_and_a_blind_run_per_sensor(tmp_path):
    command = [sys.executable, str(ROOT / "experiments/sensors/run.py"), "--smoke", "--out", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    conditioned, blind = record["budget"]["conditioned"], record["budget"]["blind"]
    # The same patches and budget; the blind run takes the mask channels alone.
    assert conditioned["sensor_conditioning"] and not blind["sensor_conditioning"]
    assert conditioned["in_channels"] == blind["in_channels"] + len(SENSORS)
    assert conditioned["steps"] >= 1 and blind["steps"] >= 1 and blind["batch_size"] == conditioned["batch_size"]
    # The held-out scenes share their zones, so the blind run draws the same image for every
    # sensor; the conditioned run draws each sensor its own.
    sar = record["sar"]
    assert sar["blind"]["S1"]["enl_gen"] == sar["blind"]["TSX"]["enl_gen"] == sar["blind"]["PALSAR"]["enl_gen"]
    assert sar["conditioned"]["S1"]["enl_gen"] != sar["conditioned"]["TSX"]["enl_gen"]
    assert len({json.dumps(sar["blind"][s]["enl_real"]) for s in SENSORS}) == 3  # the real sensors differ
    blind_rows = [record["classifier"]["blind"]["confusion"][s] for s in SENSORS]
    assert blind_rows[0] == blind_rows[1] == blind_rows[2]
    for key in ("real", "conditioned", "blind"):
        assert 0 <= record["classifier"][key]["accuracy"] <= 1 and record["classifier"][key]["patches"] > 0
    assert set(record["closeness"]) == set(SENSORS) and set(record["done_when"]) == {"closer", "classifier"}
    table = (tmp_path / "results.md").read_text()
    assert "| sensor | class | real ENL | W1 blind (dB) | W1 conditioned (dB) |" in table and "Done when:" in table
    # A rerun finds every step done (no synth, prepare or fit) and measures the same.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "$ pix2pix-sar" not in again.stdout, again.stdout[-2000:]
    rerun = json.loads((tmp_path / "results.json").read_text())
    assert rerun["sar"] == record["sar"] and rerun["classifier"]["conditioned"] == record["classifier"]["conditioned"]
