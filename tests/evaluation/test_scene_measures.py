"""`evaluate RUN --scene ZONES SAR`: whole-scene measures of the last snapshot, K samples."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.evaluation.structure import goal_keys


def test_evaluate_scene_writes_the_whole_scene_measures(scene, tiny_dataset, tmp_path):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    run = tmp_path / "run"
    fit(resolve_config("scene", assignments=["model.base_filters=8", "training.epochs=1"]), tiny_dataset, run)
    seg = tmp_path / "seg"
    seg_args = ["-q", "seg", "fit", "--data", str(tiny_dataset), "--out", str(seg), "--steps", "2"]
    assert CliRunner().invoke(cli, [*seg_args, "--base-filters", "4", "--depth", "2"]).exit_code == 0
    sar, zones = scene
    args = ["evaluate", str(run), "--scene", str(zones), str(sar), "--samples", "2", "--segmenter", str(seg)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = run / "eval" / f"scene_{zones.stem}.json"
    assert str(out) in result.output and "structure vs real" in result.output
    measured = json.loads(out.read_text())
    assert measured["samples"] == 2 and measured["seeds"] == [0, 1] and measured["epoch"] == 1
    assert set(goal_keys()) <= set(measured["structure_ratio"]) and measured["variant"] == "scene"
    ratio = measured["structure_ratio"]["block_std_16_rock"]
    assert ratio is not None and ratio > 0
    assert measured["variety"]["block_spread_rock"] > 0  # the scene variant's noise makes samples differ
    assert measured["w1_db"]["rock"] >= 0 and measured["grid"]["real"] is not None
    fd = measured["feature_distance"]
    assert fd["crops"] >= 1000 and fd["fd_low"] <= fd["fd"] <= fd["fd_high"] and fd["fd"] >= 0
