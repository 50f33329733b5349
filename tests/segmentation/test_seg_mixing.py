"""seg fit on several datasets: the synthetic share per batch, replayable order, refused mixes,
the zones score (IoU, fronts in metres) and the pixel size column."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_info, load_manifest
from pix2pix_sar.segmentation.train import SegConfig, load_training_set
from tests.helpers import mark_synthetic

TINY = ["--base-filters", "4", "--depth", "2", "--batch-size", "8"]


@pytest.fixture(scope="module")
def synthetic_copy(tiny_dataset, tmp_path_factory):
    return mark_synthetic(tiny_dataset, tmp_path_factory.mktemp("syn") / "synthetic")


def seg(*args):
    return CliRunner().invoke(cli, ["-q", "seg", *map(str, args)])


@pytest.mark.parametrize(("share", "per_batch"), [(0.25, 2), (0.5, 4), (0.01, 1), (0.99, 7), (1.0, 8)])
def test_synthetic_share_fixes_whole_patches_per_batch_and_any_step_replays(
    tiny_dataset, synthetic_copy, share, per_batch
):
    dirs = [tiny_dataset, synthetic_copy]
    cfg = SegConfig(steps=10, batch_size=8, synthetic_share=share)
    training = load_training_set(dirs, [load_info(d) for d in dirs], cfg)
    real = len(load_manifest(tiny_dataset)) - sum(r.split == "val" for r in load_manifest(tiny_dataset))
    rows = training.rows(seed=3, start=0, stop=10).reshape(10, 8)
    assert ((rows >= real).sum(axis=1) == per_batch).all()  # rows past the real ones are synthetic
    # A resumed run at step 4 sees exactly the rest of the same batches.
    np.testing.assert_array_equal(training.rows(seed=3, start=4, stop=10), rows[4:].reshape(-1))
    # Each pool is drawn without repeats until it is used up (one pass is a permutation).
    if per_batch < 8:
        first_pass = rows[:, : 8 - per_batch].reshape(-1)[:real]
        assert len(np.unique(first_pass)) == min(real, first_pass.size)


def test_pooled_mixes_and_refusals(tiny_dataset, synthetic_copy, tmp_path):
    out = tmp_path / "seg"
    result = seg(
        "fit",
        "--data",
        tiny_dataset,
        "--data",
        synthetic_copy,
        "--out",
        out,
        "--steps",
        2,
        *TINY,
        "--synthetic-share",
        0.5,
    )
    assert result.exit_code == 0, result.output
    datasets = json.loads((out / "run.json").read_text())["datasets"]
    assert [d["synthetic"] for d in datasets] == [False, True]
    # Resuming with other data is refused, naming what changed.
    other = seg("fit", "--data", tiny_dataset, "--out", out, "--steps", 3, *TINY, "--synthetic-share", 0.5)
    assert other.exit_code != 0 and "data:" in other.output
    # A share with only real data names the option.
    alone = seg("fit", "--data", tiny_dataset, "--out", tmp_path / "x", "--steps", 2, *TINY, "--synthetic-share", 0.5)
    assert alone.exit_code == 2 and "--synthetic-share" in alone.output and "synthetic" in alone.output
    # Another SAR scaling is refused: the segmenter reads one kind of patch.
    scaled = mark_synthetic(tiny_dataset, tmp_path / "scaled")
    info = json.loads((scaled / "dataset.json").read_text())
    info["scaling"]["db_max"] += 1.0
    (scaled / "dataset.json").write_text(json.dumps(info))
    refused = seg("fit", "--data", tiny_dataset, "--data", scaled, "--out", tmp_path / "y", "--steps", 2, *TINY)
    assert refused.exit_code == 1 and "SAR scaling" in refused.output and not (tmp_path / "y").exists()


def test_zones_segmenter_scores_iou_and_front_mde_in_metres(zones_dataset, tmp_path):
    out = tmp_path / "seg"
    assert seg("fit", "--data", zones_dataset, "--out", out, "--steps", 4, *TINY).exit_code == 0
    result = seg("evaluate", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output.strip().splitlines()[-1])
    assert {"miou", "iou_rock", "iou_glacier", "iou_ocean", "mde_m", "mde_images"} <= set(scores)
    assert 0 <= scores["miou"] <= 1
    # The manifest gives every patch its pixel size (the scene is EPSG:3031 at 40 m).
    assert {r.pixel_size_m for r in load_manifest(zones_dataset)} == {40.0}
