"""evaluate --segmenter: the segmentation score of every snapshot beside the real-image ceiling,
added to an evaluated run without redoing it, recorded, and shown by report."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_split
from pix2pix_sar.evaluation.segscore import Segmenter
from pix2pix_sar.evaluation.sweep import evaluate_run, read_per_epoch
from pix2pix_sar.run_folder import RunFolder
from tests.helpers import prepare_dataset

SEG = ["--base-filters", "4", "--depth", "2", "--batch-size", "8"]


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def segmenter(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("segrun") / "seg"
    result = run_cli("-q", "seg", "fit", "--data", tiny_dataset, "--out", out, "--steps", 3, *SEG)
    assert result.exit_code == 0, result.output
    return out


def test_segmenter_columns_fill_every_snapshot_of_an_evaluated_run(fresh_runs, segmenter, tiny_dataset, tmp_path):
    run = fresh_runs["orig"]
    files = RunFolder(run)
    assert run_cli("-q", "evaluate", run).exit_code == 0
    before = read_per_epoch(files.eval_per_epoch_csv)
    per_image = files.eval_per_image_csv.read_bytes()

    result = run_cli("evaluate", run, "--segmenter", segmenter)
    assert result.exit_code == 0, result.output
    assert "segmentation score for epoch(s) 1, 2" in result.output
    after = read_per_epoch(files.eval_per_epoch_csv)
    assert [r["epoch"] for r in after] == [1, 2]
    for old, new in zip(before, after):
        assert {k: new[k] for k in old} == old  # nothing recomputed differently
        assert 0 <= new["seg_miou"] <= 1 and 0 <= new["seg_real_miou"] <= 1
        assert np.isnan(new["seg_mde_m"])  # a binary dataset has no calving fronts
    assert files.eval_per_image_csv.read_bytes() == per_image
    # The ceiling is the same segmenter on the real validation images.
    split = load_split(tiny_dataset, "val")
    real = Segmenter.load(segmenter).score(split.images, split.zones, split.pixel_sizes)
    assert after[0]["seg_real_miou"] == pytest.approx(real["miou"], abs=1e-6)
    assert json.loads(files.eval_json.read_text())["segmenter"]["path"] == str(segmenter.resolve())

    # A plain rerun keeps the recorded segmenter; another one is refused.
    assert "nothing to do" in run_cli("evaluate", run).output
    other = tmp_path / "other"
    assert run_cli("-q", "seg", "fit", "--data", tiny_dataset, "--out", other, "--steps", 1, *SEG).exit_code == 0
    refused = run_cli("evaluate", run, "--segmenter", other)
    assert refused.exit_code == 1 and "was scored with the segmenter" in refused.output

    # report shows the score in Table I and draws it with its ceiling.
    report = run_cli("-q", "report", run, "--out", tmp_path / "report")
    assert report.exit_code == 0, report.output
    table = (tmp_path / "report" / "table1.md").read_text()
    assert "seg mIoU (real)" in table and f"({after[-1]['seg_real_miou']:.3f})" in table


def test_a_segmenter_trained_on_the_validation_area_is_warned_about(fresh_runs, scene, tmp_path, caplog):
    sar, zones = scene
    # The same scene split with another seed: the segmenter's training patches cover the run's validation patches.
    other_split = prepare_dataset(sar, zones, tmp_path / "resplit", patch_size=32, seed=5)
    seg = tmp_path / "seg"
    assert run_cli("-q", "seg", "fit", "--data", other_split, "--out", seg, "--steps", 1, *SEG).exit_code == 0
    with caplog.at_level(logging.WARNING, logger="pix2pix_sar"):
        evaluate_run(fresh_runs["orig"], segmenter=seg)
    assert any("overlap the val patches" in r.getMessage() for r in caplog.records)


def test_scores_added_batch_by_batch_equal_the_whole_set():
    from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK, class_scheme
    from pix2pix_sar.evaluation.segscore import SegmentationScores, segmentation_scores

    rng = np.random.default_rng(3)
    zones = np.full((6, 32, 32), OCEAN, np.uint8)
    zones[:, :, :12], zones[:, :16, 12:] = ROCK, GLACIER
    zones[:, :2] = NODATA
    predicted = rng.integers(0, 3, size=zones.shape)
    predicted[:3] = class_scheme("zones", "t").labels(zones[:3])[0].clip(0)  # some exact, with fronts
    sizes = np.linspace(20.0, 60.0, 6)
    scheme = class_scheme("zones", "t")
    whole = segmentation_scores(predicted, zones, scheme, sizes)
    parts = SegmentationScores(scheme)
    for start in (0, 4):
        parts.add(predicted[start : start + 4], zones[start : start + 4], sizes[start : start + 4])
    got = parts.result()
    assert got.keys() == whole.keys() and whole["mde_images"] > 0
    for key, value in whole.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
