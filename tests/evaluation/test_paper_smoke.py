"""The paper's protocol script, in its tiny smoke mode, runs end to end."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # an experiment script in a subprocess


def test_paper_smoke_mode_trains_evaluates_and_reports(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments/paper/run_paper.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for variant in ("orig", "gen5"):
        assert (tmp_path / "runs" / variant / "eval" / "per_epoch.csv").exists()
    report = tmp_path / "report"
    assert {p.name for p in report.iterdir()} >= {
        "fig3_curves.png",
        "fig4_examples.png",
        "table1.md",
        "table1.csv",
        "report.md",
    }
    with (report / "table1.csv").open() as fh:
        assert [r["variant"] for r in csv.DictReader(fh)] == ["orig", "gen5"]


def test_paper_script_needs_data_or_smoke(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments/paper/run_paper.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "give either --data DATASET or --smoke" in proc.stderr
