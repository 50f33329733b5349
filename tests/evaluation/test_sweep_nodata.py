"""The evaluation sweep's share of "no-data never counts", without training a model:
the compiled evaluate function, NaN-aware per-epoch rows, and the metric version."""

import json

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_sar.errors import RunStateError
from pix2pix_sar.evaluation import metrics
from pix2pix_sar.evaluation.sweep import (
    METRIC_VERSION,
    _check_eval_record,
    _formatted,
    _nan_summary,
    _write_rows,
    make_evaluate_fn,
    per_epoch_fields,
    read_per_epoch,
)
from pix2pix_sar.run_folder import RunFolder
from tests.evaluation import oracle_metrics as oracle


def fake_generate(channels=2):
    """Stands in for make_generate_fn: (masks, keys) -> images, the key changing the image."""

    @tf.function(
        input_signature=(
            tf.TensorSpec((None, None, None, channels), tf.float32),
            tf.TensorSpec((None, 4), tf.int32),
        )
    )
    def generate(masks, keys):
        shift = tf.cast(keys[:, 1], tf.float32)[:, None, None, None] * 0.1
        return tf.tanh(masks[..., :1] - 0.5 + shift)

    return generate


def test_evaluate_fn_passes_keys_and_scores_valid_pixels_only():
    rng = np.random.default_rng(0)
    masks = rng.uniform(0, 1, (3, 24, 24, 2)).astype(np.float32)
    keys = np.array([[7, 0, 0, 0], [7, 1, 0, 0], [7, 2, 0, 0]], np.int32)
    targets = rng.uniform(-1, 1, (3, 24, 24, 1)).astype(np.float32)
    valid = np.ones((3, 24, 24, 1), np.float32)
    valid[1, :, 12:] = 0.0
    valid[2] = 0.0
    targets[valid == 0] = np.nan  # garbage under no-data

    images, dice, ssim, mae = (t.numpy() for t in make_evaluate_fn(fake_generate())(masks, keys, targets, valid))
    expected_images = np.tanh(masks[..., :1] - 0.5 + 0.1 * keys[:, 1, None, None, None])
    np.testing.assert_allclose(images, expected_images, atol=1e-6)
    a, b = metrics.to_unit(images), metrics.to_unit(targets)
    np.testing.assert_allclose(dice, oracle.non_binary_dice(a, b, valid), rtol=1e-5)
    np.testing.assert_allclose(mae, oracle.mean_abs_error(a, b, valid), rtol=1e-5)
    np.testing.assert_allclose(ssim, oracle.ssim(a, b, valid), atol=1e-4)
    assert np.all(np.isfinite([dice[:2], mae[:2], ssim[:2]])) and np.isnan([dice[2], mae[2], ssim[2]]).all()


def test_per_epoch_means_skip_nan_and_count_the_skipped():
    assert _nan_summary(np.array([0.5, np.nan, 0.7])) == (pytest.approx(0.6), pytest.approx(0.1), 1)
    mean, std, skipped = _nan_summary(np.array([np.nan, np.nan]))
    assert np.isnan(mean) and np.isnan(std) and skipped == 2


def test_per_epoch_rows_keep_counts_as_int_and_nan_as_nan(tmp_path):
    fields = per_epoch_fields()
    assert {"dice_skipped", "ssim_skipped", "mae_skipped", "spectra_patches"} <= set(fields)
    row = {name: 0.25 for name in fields}
    row.update(epoch=3, images=10, dice_skipped=1, ssim_skipped=4, mae_skipped=1, spectra_patches=6)
    row["ssim_mean"] = float("nan")
    _write_rows(tmp_path / "per_epoch.csv", fields, [_formatted(row)])
    (back,) = read_per_epoch(tmp_path / "per_epoch.csv")
    assert back["images"] == 10 and isinstance(back["images"], int) and back["ssim_skipped"] == 4
    assert back["spectra_patches"] == 6 and np.isnan(back["ssim_mean"]) and back["dice_mean"] == 0.25


def record():
    return {
        "dataset": "/data",
        "split": "val",
        "patch_ids": ["a", "b"],
        "seed": 0,
        "input": "memory",
        "metric_version": METRIC_VERSION,
    }


@pytest.mark.parametrize("old_version", [None, 1])
def test_rows_of_an_older_metric_version_are_refused(tmp_path, old_version):
    run = RunFolder(tmp_path / "run")
    run.eval_dir.mkdir(parents=True)
    old = {k: v for k, v in record().items() if k != "metric_version"}
    if old_version is not None:
        old["metric_version"] = old_version
    run.eval_json.write_text(json.dumps(old))
    with pytest.raises(RunStateError, match="metric version 1") as err:
        _check_eval_record(record(), run)
    assert f"delete {run.eval_dir}" in str(err.value)

    run.eval_json.write_text(json.dumps(record()))
    _check_eval_record(record(), run)  # the same version: fine


def test_rows_without_eval_json_are_refused(tmp_path):
    run = RunFolder(tmp_path / "run")
    _check_eval_record(record(), run)  # nothing evaluated yet: fine
    run.eval_dir.mkdir(parents=True)
    run.eval_per_epoch_csv.write_text("epoch,images\n1,4\n")
    with pytest.raises(RunStateError, match="no eval.json"):
        _check_eval_record(record(), run)
