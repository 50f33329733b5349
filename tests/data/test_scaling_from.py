"""prepare --scaling-from: a dataset takes its scaling from a run or another dataset."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_info, load_manifest, sar_path
from pix2pix_sar.data.extra_bands import ExtraBandInput
from pix2pix_sar.data.prepare import PrepareOptions, ScalingSource, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput


def test_another_scene_takes_the_sources_clip_and_band_ranges(dem_dataset, two_scenes, tmp_path):
    other = two_scenes[0]
    options = PrepareOptions(patch_size=32, val_fraction=0.0, classes="zones")  # units: guessed
    out = prepare_scenes(
        [SceneInput(other.scene, other.zones)],
        tmp_path / "ds",
        options=options,
        bands=[ExtraBandInput("dem", other.dem)],
        scaling_from=ScalingSource.load(dem_dataset),
    )
    source, info = load_info(dem_dataset), load_info(out)
    own = prepare_scenes(
        [SceneInput(other.scene, other.zones)],
        tmp_path / "own",
        options=options,
        bands=[ExtraBandInput("dem", other.dem)],
    )
    assert load_info(own).scaling != source.scaling  # computed from this scene, it would differ
    assert info.scaling == source.scaling
    assert [(b.name, b.low, b.high) for b in info.extra_bands] == [(b.name, b.low, b.high) for b in source.extra_bands]
    assert info.extra["scaling_from"] == {"path": str(dem_dataset.resolve()), "kind": "dataset"}
    # The patches hold the scene's values in the source's scaling.
    record = load_manifest(out)[0]
    window = (record.col_off, record.row_off, record.width, record.height)
    with geo.RasterSource(other.scene) as scene:
        expected = source.scaling.to_model(scene.read(window))
    np.testing.assert_array_equal(geo.read_array(sar_path(out, record.split, record.id)), expected)


def test_caffe_takes_the_scaling_of_a_caffe_dataset_and_keeps_its_test_split(caffe_tree, tmp_path):
    def prepare(*args):
        argv = ["prepare", "--caffe", str(caffe_tree), *map(str, args)]
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    assert prepare("--out", tmp_path / "first", "--patch-size", 32).exit_code == 0
    source = tmp_path / "first"
    info = json.loads((source / "dataset.json").read_text())
    info["scaling"].update(db_min=10.0, db_max=200.0)  # as if prepared from other images
    (source / "dataset.json").write_text(json.dumps(info))
    result = prepare("--out", tmp_path / "second", "--scaling-from", source)
    assert result.exit_code == 0, result.output
    assert "3 test patches of 32x32" in result.output
    scaling = load_info(tmp_path / "second").scaling
    assert (scaling.units, scaling.db_min, scaling.db_max) == ("dn", 10.0, 200.0)
