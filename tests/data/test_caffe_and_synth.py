"""CaFFe import on a tiny fake tree; the synthetic scene's files and speckle; the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.caffe import find_caffe_images, prepare_caffe
from pix2pix_sar.data.dataset import load_info, load_manifest, load_split
from pix2pix_sar.data.prepare import PrepareOptions
from pix2pix_sar.data.synth import SynthFiles, synth_scene
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK
from pix2pix_sar.errors import InputError


def test_caffe_imports_with_its_split_counts_and_classes(caffe_tree, tmp_path):
    out = prepare_caffe(
        caffe_tree,
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, units="dn", split_by="source", max_nodata=0.5),
    )
    records = load_manifest(out)
    # Mapple 96x64 -> 2x2 kept (the third column is 75 % no-data), Crane 64x64 -> 2, JAC (test) 64x96 -> 3.
    # The original layout has no validation split: one whole training image (seeded) becomes it.
    sources = {
        split: {r.source.split("_")[0] for r in records if r.split == split} for split in ("train", "val", "test")
    }
    assert sources == {"train": {"Mapple"}, "val": {"Crane"}, "test": {"JAC"}}
    assert [sum(r.split == split for r in records) for split in ("train", "val", "test")] == [4, 2, 3]
    assert (out / "test").is_dir() and load_info(out).extra["caffe_layout"] == "original"
    info = load_info(out)
    assert (
        info.scaling.units == "dn"
        and info.scaling.dtype == "uint8"
        and info.extra["glaciers"] == ["Crane", "JAC", "Mapple"]
    )
    train = load_split(out, "train")
    assert set(np.unique(train.zones)) == {ROCK, GLACIER, OCEAN}
    # No CRS is invented; the pixel size comes from the resolution in the file name.
    assert geo.raster_info(out / records[0].split / f"{records[0].id}_sar.tif")[0].crs_wkt == ""
    sizes = {r.source.split("_")[0]: r.pixel_size_m for r in records}
    assert sizes == {"Mapple": 7.0, "Crane": 20.0, "JAC": 20.0}
    np.testing.assert_array_equal(np.unique(load_split(out, "test").pixel_sizes), [20.0])


def test_caffe_patch_split_and_bad_names(caffe_tree, tmp_path):
    out = prepare_caffe(
        caffe_tree,
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, units="dn", split_by="patch", max_nodata=0.5, val_fraction=0.2),
    )
    # CaFFe's test split is kept under every --split-by; the rest is split by patch: round(0.2 * 6).
    assert [sum(r.split == split for r in load_manifest(out)) for split in ("train", "val", "test")] == [5, 1, 3]
    bad = tmp_path / "bad"
    (bad / "sar_images" / "train").mkdir(parents=True)
    (bad / "zones" / "train").mkdir(parents=True)
    (bad / "sar_images" / "train" / "not_a_caffe_name.png").write_bytes(b"")
    with pytest.raises(InputError, match="not_a_caffe_name.png: name does not follow <Glacier>_<Date>"):
        find_caffe_images(bad)


def test_synth_writes_every_input_prepare_takes(synth_files):
    zones, grid, _ = geo.read_raster(synth_files.zones)
    features = geo.read_vector(synth_files.zones_vector, "zone")
    assert geo.same_crs(features.crs_wkt, grid.crs_wkt)
    assert np.array_equal(geo.rasterize(features.geometries, features.values, grid), zones)
    classes = geo.read_vector(synth_files.zones_vector, "class").values
    assert set(classes) == {"rock", "glacier", "ocean"}
    aoi = geo.read_vector(synth_files.aoi)
    assert geo.Grid(aoi.crs_wkt, (0, 1, 0, 0, 0, 1), 1, 1).epsg == 4326 and aoi.geometry_types == ["polygon"]


@pytest.mark.parametrize("looks", [2.0, 8.0])
def test_speckle_enl_over_open_ocean_is_near_looks(looks):
    scene = synth_scene(256, 256, seed=1, looks=looks)
    enl = []
    for r in range(0, 256, 16):
        for c in range(0, 256, 16):
            block = scene.intensity[r : r + 16, c : c + 16]
            if (scene.zones[r : r + 16, c : c + 16] == OCEAN).all():
                enl.append(block.mean() ** 2 / block.var())
    assert len(enl) > 20
    assert 0.75 * looks < np.median(enl) < 1.15 * looks


def test_cli_synth_then_prepare_with_vectors_and_aoi(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["synth", str(tmp_path / "s"), "--width", "128", "--height", "128", "--seed", "4"])
    assert result.exit_code == 0, result.output
    files = SynthFiles.in_folder(tmp_path / "s")
    assert all(p.exists() for p in (files.scene, files.zones, files.zones_vector, files.aoi))
    result = runner.invoke(
        cli,
        [
            "prepare",
            "--sar",
            str(files.scene),
            "--labels",
            str(files.zones_vector),
            "--label-field",
            "class",
            "--aoi",
            str(files.aoi),
            "--out",
            str(tmp_path / "ds"),
            "--patch-size",
            "32",
            "--stride",
            "16",
            "--val-fraction",  # overlapping patches of one scene: all for training (nothing leaks)
            "0",
            "--classes",
            "zones",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "train" in result.output
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["classes"] == "zones" and info["stride"] == 16 and info["scaling"]["units"] == "intensity"
    assert len(load_manifest(tmp_path / "ds")) > 9  # overlapping windows


def test_cli_caffe(caffe_tree, tmp_path):
    result = CliRunner().invoke(
        cli, ["prepare", "--caffe", str(caffe_tree), "--out", str(tmp_path / "ds"), "--patch-size", "32"]
    )
    assert result.exit_code == 0, result.output
    assert "(4 train, 2 val, 3 test patches of 32x32)" in result.output
