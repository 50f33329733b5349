"""pix2pix-sar evaluate and report, end to end on tiny trained runs."""

import csv
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.evaluation.sweep import METRIC_VERSION, read_per_epoch
from pix2pix_sar.run_folder import RunFolder

PNG = b"\x89PNG\r\n\x1a\n"


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_writes_metrics_and_reruns_do_no_repeated_work(fresh_runs, tiny_dataset):
    from pix2pix_sar.data.dataset import load_split

    run = fresh_runs["l1_50_gan50"]
    files = RunFolder(run)
    val_ids = load_split(tiny_dataset, "val").ids
    result = run_cli("evaluate", run, "--batch-size", 3)
    assert result.exit_code == 0, result.output
    assert "evaluated epoch(s) 1, 2" in result.output
    per_epoch = read_per_epoch(files.eval_per_epoch_csv)
    assert [r["epoch"] for r in per_epoch] == [1, 2]
    assert all(r["images"] == len(val_ids) for r in per_epoch)
    for r in per_epoch:
        assert 0 < r["dice_mean"] <= 1 and -1 <= r["ssim_mean"] <= 1 and r["dice_std"] >= 0
        assert np.isfinite(r["spectral_distance_db"]) and r["enl_ratio_ocean"] > 0
    per_image = rows(files.eval_per_image_csv)
    assert [(int(r["epoch"]), r["patch_id"]) for r in per_image] == [(e, i) for e in (1, 2) for i in val_ids]
    assert files.eval_curves_png.read_bytes()[:8] == PNG
    first_images, first_epochs = files.eval_per_image_csv.read_bytes(), files.eval_per_epoch_csv.read_bytes()

    again = run_cli("evaluate", run, "--batch-size", 3)
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert files.eval_per_image_csv.read_bytes() == first_images

    # Forget epoch 2 (as if it had been trained after the first sweep): only it is
    # evaluated, and seeded dropout gives exactly the numbers of the first sweep.
    lines = first_epochs.decode().splitlines(keepends=True)
    files.eval_per_epoch_csv.write_text("".join(lines[:2]))
    third = run_cli("evaluate", run, "--batch-size", 3)
    assert third.exit_code == 0 and re.search(r"evaluated epoch\(s\) 2 \(", third.output), third.output
    assert files.eval_per_epoch_csv.read_bytes() == first_epochs
    assert files.eval_per_image_csv.read_bytes() == first_images


def test_per_image_numbers_equal_the_numpy_metrics_on_generated_images(fresh_runs, tiny_dataset):
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.zones import encode_binary
    from pix2pix_sar.evaluation import metrics
    from pix2pix_sar.evaluation.sweep import evaluate_run
    from pix2pix_sar.models.inference import generate_images
    from pix2pix_sar.models.snapshots import load_generator
    from pix2pix_sar.noise import patch_keys
    from tests.evaluation import oracle_metrics as oracle

    run = fresh_runs["orig"]  # trained without dropout: generation is deterministic
    result = evaluate_run(run, batch_size=4)
    assert result.evaluated == [1, 2] and result.images_per_second > 0
    split = load_split(tiny_dataset, "val")
    generator = load_generator(RunFolder(run).find_snapshot(2)[1])
    keys = patch_keys(0, np.arange(len(split)))
    generated = metrics.to_unit(generate_images(generator, encode_binary(split.zones), keys))
    target = metrics.to_unit(split.images)
    valid = split.zones != 0
    got = [r for r in rows(result.run.eval_per_image_csv) if r["epoch"] == "2"]
    for name, fn in (("dice", oracle.non_binary_dice), ("ssim", oracle.ssim), ("mae", oracle.mean_abs_error)):
        np.testing.assert_allclose([float(r[name]) for r in got], fn(generated, target, valid), atol=1e-4)
    assert json.loads(result.run.eval_json.read_text())["metric_version"] == METRIC_VERSION


def test_report_compares_runs_with_fig3_table1_fig4(fresh_runs, tmp_path):
    for run in fresh_runs.values():
        assert run_cli("-q", "evaluate", run).exit_code == 0
    out = tmp_path / "report"
    result = run_cli("report", *fresh_runs.values(), "--out", out, "--count", 2)
    assert result.exit_code == 0, result.output
    assert "report at epoch 2" in result.output
    table = rows(out / "table1.csv")
    assert [(r["label"], r["epoch"]) for r in table] == [("orig", "2"), ("l1_50_gan50", "2")]
    assert all(0 < float(r["dice_mean"]) <= 1 for r in table)
    for png in ("fig3_curves.png", "fig4_examples.png"):
        assert (out / png).read_bytes()[:8] == PNG
    md = (out / "report.md").read_text()
    assert "![Fig. 3](fig3_curves.png)" in md and "![Fig. 4](fig4_examples.png)" in md
    assert "| orig |" in (out / "table1.md").read_text() and "ENL ratio ocean" in md
    panels = "mean non-binary Dice; mean SSIM; W1 real vs generated (dB); ENL generated / real."
    assert f"top to bottom (their axis labels): {panels}" in " ".join(md.split())  # as fig3 draws them

    result = run_cli("report", *fresh_runs.values(), "--out", out, "--epoch", 7)
    assert result.exit_code == 1 and "epoch 7 is not evaluated for orig, l1_50_gan50" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "{tmp}"], "not a run folder"),
        (["report", "{run}", "--out", "{tmp}/r"], "not evaluated yet; run 'pix2pix-sar evaluate"),
        (["evaluate", "{run}", "--data", "{tmp}/nope"], "no such dataset folder"),
    ],
)
def test_errors_are_one_line(args, message, fresh_runs, tmp_path):
    argv = [a.format(tmp=tmp_path / "empty", run=fresh_runs["orig"]) for a in args]
    (tmp_path / "empty").mkdir()
    result = run_cli(*argv)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "empty" / "r").exists() and not (fresh_runs["orig"] / "eval").exists()


def test_evaluating_again_with_another_seed_is_refused(fresh_runs):
    run = fresh_runs["orig"]
    assert run_cli("-q", "evaluate", run).exit_code == 0
    result = run_cli("evaluate", run, "--seed", 3)
    assert result.exit_code == 1 and "another seed" in result.output and "delete" in result.output


def test_rows_of_an_older_metric_version_are_not_mixed_with_new_ones(fresh_runs):
    run = fresh_runs["orig"]
    assert run_cli("-q", "evaluate", run).exit_code == 0
    files = RunFolder(run)
    record = json.loads(files.eval_json.read_text())
    del record["metric_version"]  # as written before no-data was left out
    files.eval_json.write_text(json.dumps(record))
    before = files.eval_per_epoch_csv.read_bytes()
    result = run_cli("evaluate", run)
    assert result.exit_code == 1 and "metric version 1" in result.output and f"delete {files.eval_dir}" in result.output
    assert files.eval_per_epoch_csv.read_bytes() == before


def _with_test_split(dataset, out, count: int):
    """A copy of `dataset` whose first `count` validation patches form a test split (as CaFFe's test split does)."""
    import shutil

    out = shutil.copytree(dataset, out)
    manifest = rows(out / "manifest.csv")
    moved = [r["id"] for r in manifest if r["split"] == "val"][:count]
    (out / "test").mkdir()
    for r in manifest:
        if r["id"] in moved:
            r["split"] = "test"
            for kind in ("sar", "mask"):
                (out / "val" / f"{r['id']}_{kind}.tif").rename(out / "test" / f"{r['id']}_{kind}.tif")
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(manifest[0]))
        writer.writeheader()
        writer.writerows(manifest)
    return out, moved


def test_evaluate_on_the_test_split_and_splits_are_never_mixed(fresh_runs, tiny_dataset, tmp_path):
    data, test_ids = _with_test_split(tiny_dataset, tmp_path / "data", 3)
    run = fresh_runs["orig"]
    files = RunFolder(run)
    result = run_cli("-q", "evaluate", run, "--data", data, "--split", "test")
    assert result.exit_code == 0, result.output
    record = json.loads(files.eval_json.read_text())
    assert record["split"] == "test" and record["patch_ids"] == test_ids
    assert {r["patch_id"] for r in rows(files.eval_per_image_csv)} == set(test_ids)
    result = run_cli("evaluate", run, "--data", data)  # the default: val
    assert result.exit_code == 1 and "another split (test); pass the same --split" in result.output
    # An eval.json written before the split was recorded was computed on val.
    other = fresh_runs["l1_50_gan50"]
    assert run_cli("-q", "evaluate", other, "--data", data).exit_code == 0
    old = json.loads(RunFolder(other).eval_json.read_text())
    del old["split"]
    RunFolder(other).eval_json.write_text(json.dumps(old))
    assert "already evaluated" in run_cli("evaluate", other, "--data", data).output
    assert "another split (val)" in run_cli("evaluate", other, "--data", data, "--split", "test").output
    result = run_cli("report", run, other, "--out", tmp_path / "report")
    assert result.exit_code == 1 and "evaluated on different splits (orig: test, l1_50_gan50: val)" in result.output


@pytest.fixture(scope="module")
def scene_b(tmp_path_factory):
    """Another synthetic scene (other seed, so another clip range) than the runs trained on."""
    from pix2pix_sar.data.synth import write_synth_scene

    return write_synth_scene(tmp_path_factory.mktemp("scene_b"), 128, 128, seed=5)


def test_a_scene_prepared_with_scaling_from_the_run_is_evaluated(fresh_runs, scene_b, tmp_path):
    run = fresh_runs["orig"]
    sar, zones = scene_b
    own = tmp_path / "own"
    result = run_cli("prepare", "--sar", sar, "--mask", zones, "--out", own, "--patch-size", 32, "--val-fraction", 0.5)
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", run, "--data", own)  # its own clip range: refused, as before
    assert result.exit_code == 1 and "clip range" in result.output and f"--scaling-from {run}" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    data = tmp_path / "b"
    result = run_cli(
        "prepare", "--sar", sar, "--mask", zones, "--out", data, "--scaling-from", run, "--val-fraction", 0.5
    )
    assert result.exit_code == 0, result.output
    assert "patches of 32x32" in result.output  # the patch size follows the run
    info, trained = (json.loads(p.read_text()) for p in (data / "dataset.json", RunFolder(run).dataset_json))
    assert info["scaling"] == trained["scaling"] != json.loads((own / "dataset.json").read_text())["scaling"]
    assert info["scaling_from"] == {"path": str(run.resolve()), "kind": "run"}
    assert info["classes"] == trained["classes"]
    result = run_cli("-q", "evaluate", run, "--data", data)
    assert result.exit_code == 0, result.output
    rows_ = read_per_epoch(RunFolder(run).eval_per_epoch_csv)
    assert [r["epoch"] for r in rows_] == [1, 2]
    assert all(0 <= r["dice_mean"] <= 1 and -1 <= r["ssim_mean"] <= 1 for r in rows_)
    assert json.loads(RunFolder(run).eval_json.read_text())["dataset"] == str(data.resolve())
    # A dataset can be the source too: the same scaling again.
    again = tmp_path / "again"
    assert run_cli("prepare", "--sar", sar, "--mask", zones, "--out", again, "--scaling-from", data).exit_code == 0
    info = json.loads((again / "dataset.json").read_text())
    assert info["scaling"] == trained["scaling"] and info["scaling_from"]["kind"] == "dataset"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--units", "db"], "db disagrees with"),
        (["--classes", "zones"], "zones disagrees with"),
        (["--extra", "dem={dem}"], "bands dem differ from"),
        (["--scaling-from", "{tmp}/nope"], "no such folder"),
    ],
)
def test_scaling_from_disagreements_are_one_line_and_write_nothing(args, message, trained_runs, scene_b, tmp_path):
    sar, zones = scene_b
    argv = [a.format(dem=sar.parent / "dem.tif", tmp=tmp_path) for a in args]
    out = tmp_path / "b"
    result = run_cli(
        "prepare", "--sar", sar, "--mask", zones, "--out", out, "--scaling-from", trained_runs["orig"], *argv
    )
    assert result.exit_code != 0 and message in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert not out.exists()
