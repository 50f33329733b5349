"""seg fit: the reference segmenter trains, resumes exactly, ignores no-data and reports bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.zones import CLASS_SCHEMES, GLACIER, NODATA, OCEAN, ROCK

TINY = ["--base-filters", "4", "--depth", "2", "--batch-size", "16"]


def seg_fit(data, out, *args, quiet=True):
    """seg fit; -q prints nothing on success, so tests of its report pass quiet=False."""
    return CliRunner().invoke(
        cli, [*(["-q"] if quiet else []), "seg", "fit", "--data", str(data), "--out", str(out), *TINY, *args]
    )


def model_weights(path):
    import keras

    return keras.models.load_model(path).get_weights()


def test_seg_fit_writes_the_run_folder_and_exactly_n_updates(tiny_dataset, tmp_path):
    import tensorflow as tf

    out = tmp_path / "seg"
    result = seg_fit(tiny_dataset, out, "--steps", "6")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # -q: a success prints nothing
    for name in ("config.yaml", "run.json", "dataset.json", "history.csv", "segmenter.keras"):
        assert (out / name).is_file(), name
    assert any((out / "logs").iterdir()) and tf.train.latest_checkpoint(str(out / "state"))
    assert '"kind": "segmenter"' in (out / "run.json").read_text()
    with (out / "history.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert int(rows[-1]["step"]) == 6 and all(np.isfinite(float(r["loss"])) for r in rows)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out / "state")))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 6
    assert reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 6
    # Rerunning the finished command does nothing.
    again = seg_fit(tiny_dataset, out, "--steps", "6", quiet=False)
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_seg_fit_resume_equals_a_straight_run(tiny_dataset, tmp_path):
    # batch 16 over ~57 train patches: 3 steps per epoch, so 6 steps wrap into a second epoch.
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert seg_fit(tiny_dataset, straight, "--steps", "6").exit_code == 0
    assert seg_fit(tiny_dataset, resumed, "--steps", "2").exit_code == 0
    result = seg_fit(tiny_dataset, resumed, "--steps", "6", quiet=False)
    assert result.exit_code == 0 and "trained steps 3-6" in result.output, result.output
    for a, b in zip(model_weights(straight / "segmenter.keras"), model_weights(resumed / "segmenter.keras")):
        np.testing.assert_array_equal(a, b)
    changed = seg_fit(tiny_dataset, resumed, "--steps", "8", "--seed", "1")
    assert changed.exit_code != 0 and "seed: 0 -> 1" in changed.output


def test_zone_labels_and_the_loss_ignore_no_data():
    import tensorflow as tf

    from pix2pix_sar.segmentation.train import masked_loss

    zones = np.array([[NODATA, ROCK], [GLACIER, OCEAN]], np.uint8)
    labels, valid = CLASS_SCHEMES["zones"].labels(zones)
    assert labels.tolist() == [[0, 0], [1, 2]] and valid.tolist() == [[False, True], [True, True]]
    labels_b, valid_b = CLASS_SCHEMES["binary"].labels(zones)
    assert labels_b.tolist() == [[0, 0], [0, 1]] and valid_b.tolist() == valid.tolist()

    rng = np.random.default_rng(0)
    zones = rng.choice([NODATA, ROCK, GLACIER, OCEAN], size=(4, 8, 8)).astype(np.uint8)
    zones[0] = NODATA  # an example without any valid pixel counts as zero loss
    labels, valid = CLASS_SCHEMES["zones"].labels(zones)
    logits = rng.normal(size=(4, 8, 8, 3)).astype(np.float32)
    garbage_logits = np.where(valid[..., None], logits, rng.normal(scale=1e3, size=logits.shape)).astype(np.float32)
    garbage_logits[~valid] = np.where(rng.random(3) < 0.5, np.inf, np.nan).astype(np.float32)
    garbage_labels = np.where(valid, labels, rng.integers(-5, 50, size=labels.shape)).astype(np.int32)
    clean = float(masked_loss(tf.constant(logits), labels, valid))
    dirty = float(masked_loss(tf.constant(garbage_logits), garbage_labels, valid))
    assert np.isfinite(clean) and clean == dirty
    # Per-example mean over valid pixels, then over the batch.
    lp = logits - logits.max(-1, keepdims=True)
    ce = -(np.take_along_axis(lp, labels[..., None], -1)[..., 0] - np.log(np.exp(lp).sum(-1)))
    per = [ce[i][valid[i]].mean() if valid[i].any() else 0.0 for i in range(4)]
    assert clean == pytest.approx(np.mean(per), rel=1e-5)


def test_seg_fit_bad_input_is_one_error_line(tmp_path):
    result = seg_fit(tmp_path / "missing", tmp_path / "seg", "--steps", "2")
    assert result.exit_code != 0
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    both = seg_fit(tmp_path / "missing", tmp_path / "seg", "--steps", "2", "--epochs", "1")
    assert both.exit_code == 2 and "exactly one of --steps and --epochs" in both.output
    bad = seg_fit(tmp_path / "missing", tmp_path / "seg", "--steps", "2", "--state-every", "10x")
    assert bad.exit_code == 2 and "Invalid value for '--state-every'" in bad.output, bad.output


def test_seg_evaluate_prints_iou_as_json_and_writes_it(tiny_dataset, tmp_path):
    import json

    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.evaluation.metrics import confusion_matrix, iou_per_class
    from pix2pix_sar.evaluation.segscore import Segmenter

    out = tmp_path / "seg"
    assert seg_fit(tiny_dataset, out, "--steps", "3").exit_code == 0
    result = CliRunner().invoke(cli, ["-q", "seg", "evaluate", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output.strip().splitlines()[-1])
    assert json.loads((out / "eval" / "seg_val.json").read_text()) == scores
    assert {"miou", "iou_land", "iou_ocean"} <= set(scores) and "mde_m" not in scores  # binary: no fronts
    # The numbers are one confusion matrix over the valid pixels of the split.
    split = load_split(tiny_dataset, "val")
    labels, valid = CLASS_SCHEMES["binary"].labels(split.zones)
    iou = iou_per_class(confusion_matrix(Segmenter.load(out).predict(split.images), labels, valid, 2))
    assert scores["miou"] == pytest.approx(float(np.nanmean(iou)))
    missing = CliRunner().invoke(cli, ["seg", "evaluate", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "no trained segmenter" in missing.output


def test_seg_fit_stops_on_sigterm_mid_epoch_and_resumes_bit_identically(tiny_dataset, tmp_path, monkeypatch):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert seg_fit(tiny_dataset, straight, "--steps", "6").exit_code == 0
    monkeypatch.setenv("PIX2PIX_SAR_SIGNAL_AT_STEP", "2")  # mid-epoch: 3 steps per epoch
    result = seg_fit(tiny_dataset, stopped, "--steps", "6")
    assert result.exit_code == 143, result.output
    assert "stopped after step 2" in result.output and "to resume, rerun" in result.output
    assert not (stopped / "segmenter.keras").exists()
    monkeypatch.delenv("PIX2PIX_SAR_SIGNAL_AT_STEP")
    resumed = seg_fit(tiny_dataset, stopped, "--steps", "6", quiet=False)
    assert resumed.exit_code == 0 and "trained steps 3-6" in resumed.output, resumed.output
    for a, b in zip(model_weights(straight / "segmenter.keras"), model_weights(stopped / "segmenter.keras")):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("every", "saved"), [("0.001s", [1, 2, 3]), ("1h", [3]), ("2", [2, 3])])
def test_seg_fit_follows_state_every_with_one_step_per_epoch(tiny_dataset, tmp_path, monkeypatch, every, saved):
    from tests.helpers import count_state_saves

    numbers = count_state_saves(monkeypatch)
    # A batch larger than the ~57 train patches: one step per epoch.
    result = seg_fit(tiny_dataset, tmp_path / "seg", "--batch-size", "64", "--epochs", "3", "--state-every", every)
    assert result.exit_code == 0, result.output
    assert numbers == saved


def test_seg_fit_takes_config_and_set_like_fit(tiny_dataset, tmp_path):
    import yaml

    config = tmp_path / "seg.yaml"
    config.write_text("optimizer:\n  learning_rate: 0.002\ntraining:\n  seed: 5\n")
    out = tmp_path / "seg"
    args = ["--steps", "1", "--config", config, "--set", "training.seed=3", "--set", "model.base_filters=8"]
    result = seg_fit(tiny_dataset, out, *map(str, args))
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    # --set wins over --config, and the options over both (TINY's --base-filters 4).
    assert saved["training"]["seed"] == 3 and saved["optimizer"]["learning_rate"] == 0.002
    assert saved["model"] == {"base_filters": 4, "depth": 2}
    assert (
        "nothing to do" in seg_fit(tiny_dataset, out, *map(str, args), quiet=False).output
    )  # the saved config resumes
    bad = seg_fit(tiny_dataset, tmp_path / "x", "--steps", "1", "--set", "training.step=1")
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()
    message = bad.stderr.splitlines()[3:]  # after Click's usage banner
    assert len(message) == 1 and "unknown key training.step; valid keys: model.base_filters" in message[0]
