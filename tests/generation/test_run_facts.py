"""The facts an export gathers from a run read history.csv and eval/per_epoch.csv through
RunFolder, with the one per-epoch reader that evaluate also uses (run_folder.read_per_epoch)."""

from __future__ import annotations

import json

import pytest

from pix2pix_sar.config import resolve_config
from pix2pix_sar.errors import InputError
from pix2pix_sar.generation.run_facts import _metrics_at, _training_facts
from pix2pix_sar.run_folder import RunFolder


@pytest.fixture()
def run(tmp_path) -> RunFolder:
    run = RunFolder(tmp_path / "run")
    run.eval_dir.mkdir(parents=True)
    # Epoch 1 was written before the time columns existed: its row is shorter.
    run.history_csv.write_text("epoch,gen_l1,seconds,step_seconds\n1,0.5\n2,0.25,10.0,8.0\n3,1,12.5,9\n")
    run.eval_per_epoch_csv.write_text("epoch,images,dice_mean,dice_skipped\n2,10,0.5,1\n1,10,nan,0\n")
    record = {"split": "val", "dataset": "/d", "patch_ids": ["a", "b"], "seed": 4, "metric_version": 2}
    run.eval_json.write_text(json.dumps(record))
    return run


def test_training_facts_and_metrics_come_from_the_run_folders_tables(run):
    cfg = resolve_config("orig")
    first = _training_facts(run, cfg, 1)
    assert first["epochs_trained"] == 3 and first["seconds_to_epoch"] == 0.0
    assert first["losses_at_epoch"] == {"gen_l1": 0.5, "seconds": None, "step_seconds": None}  # JSON has no NaN
    second = _training_facts(run, cfg, 2)
    assert second["seconds_to_epoch"] == 10.0 and second["losses_at_epoch"]["step_seconds"] == 8.0

    assert [r["epoch"] for r in run.eval_per_epoch()] == [1, 2]  # in epoch order
    metrics = _metrics_at(run, 1)
    assert metrics["values"] == {"images": 10, "dice_mean": None, "dice_skipped": 0}
    assert isinstance(metrics["values"]["images"], int) and metrics["patches"] == 2 and metrics["seed"] == 4
    assert _metrics_at(run, 3) is None  # not evaluated


def test_a_malformed_row_is_refused_naming_the_file_and_the_fix(run):
    run.history_csv.write_text("epoch,gen_l1\n1,oops\n")
    with pytest.raises(InputError, match=r"history.csv: malformed row .*; delete that row"):
        _training_facts(run, resolve_config("orig"), 1)
