"""Sensors: one vocabulary, filled from CaFFe names, --sensor and scene metadata; synth --sensor."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.caffe import GENERATED_SATELLITE, find_caffe_images, prepare_caffe
from pix2pix_sar.data.dataset import load_info, load_manifest, load_split
from pix2pix_sar.data.prepare import PrepareOptions
from pix2pix_sar.data.sensors import SENSORS, sensor_named
from pix2pix_sar.data.synth import SynthFiles, synth_metadata, synth_scene, synth_settings, write_synth_scene
from pix2pix_sar.data.zones import OCEAN
from pix2pix_sar.errors import InputError

SIZE = 96


def test_vocabulary_is_caffes_seven_codes_and_unknown_names_list_them():
    assert list(SENSORS) == ["ERS", "ENVISAT", "RSAT", "PALSAR", "TSX", "TDX", "S1"]
    assert {s.band for s in SENSORS.values()} == {"C", "L", "X"}
    assert sensor_named(" s1", "x").code == "S1" and sensor_named("palsar", "x").band == "L"
    with pytest.raises(
        InputError, match=r"^here: unknown sensor 'RS2'; use one of ERS, ENVISAT, RSAT, PALSAR, TSX, TDX, S1$"
    ):
        sensor_named("RS2", "here")


def _touch_tree(root, names, layout):
    for name in names:
        stem, _, patch = name.partition("__")
        zones = f"{stem}_zones__{patch}.png" if layout == "patched" else f"{stem}_zones.png"
        for folder, file in (("sar_images", f"{name}.png"), ("zones", zones)):
            (root / folder / "train").mkdir(parents=True, exist_ok=True)
            (root / folder / "train" / file).write_bytes(b"")
    return root


@pytest.mark.parametrize(
    "layout, names",
    [
        ("original", ["Mapple_2008-10-14_PALSAR_17_3_093", "COL_2011-11-13_TDX_7_1_092", "SI_1996-04-02_RSAT_20_2_1"]),
        (
            "patched",
            [
                "Crane_2007-09-22_ENVISAT_20_1_467__93_102_8_1024_0",
                "JAC_2015-12-23_tsx_6_1_005__57_49_195_384_1024",
                "DBE_1995-10-09_ERS_20_3_110__1_2_3_0_512",
            ],
        ),
    ],
)
def test_caffe_names_give_the_sensor_in_both_layouts(tmp_path, layout, names):
    images = find_caffe_images(_touch_tree(tmp_path, names, layout))
    assert sorted(i.sensor for i in images) == sorted(n.split("__")[0].split("_")[2].upper() for n in names)


def test_caffe_satellite_outside_the_vocabulary_is_one_line(tmp_path):
    images = find_caffe_images(_touch_tree(tmp_path, ["Mapple_2011-06-02_RS2_7_1_110"], "original"))
    with pytest.raises(InputError, match="RS2.*satellite in the name.*use one of ERS, ENVISAT"):
        _ = images[0].sensor
    ours = find_caffe_images(_touch_tree(tmp_path / "g", [f"G_2024-01-01_{GENERATED_SATELLITE}_40_1_0"], "original"))
    assert ours[0].sensor is None  # generate --layout caffe's own images name no sensor


def test_caffe_dataset_has_a_sensor_column_and_lists_its_sensors(caffe_tree, tmp_path):
    out = prepare_caffe(caffe_tree, tmp_path / "ds", options=PrepareOptions(patch_size=32, units="dn", max_nodata=0.5))
    by_glacier = {r.source.split("_")[0]: r.sensor for r in load_manifest(out)}
    assert by_glacier == {"Mapple": "TSX", "Crane": "ERS", "JAC": "S1"}
    assert load_info(out).sensors == ("ERS", "TSX", "S1")  # the vocabulary's order
    assert json.loads((out / "dataset.json").read_text())["sensors"] == ["ERS", "TSX", "S1"]
    assert set(load_split(out, "test").sensors) == {"S1"}


def _enl_over_open_ocean(scene) -> float:
    enl = []
    for r in range(0, scene.zones.shape[0], 16):
        for c in range(0, scene.zones.shape[1], 16):
            block = scene.intensity[r : r + 16, c : c + 16].astype(np.float64)
            if (scene.zones[r : r + 16, c : c + 16] == OCEAN).all():
                enl.append(block.mean() ** 2 / block.var())
    assert len(enl) > 20
    return float(np.median(enl))


def _scene(code, size=SIZE, **changes):
    chosen, looks, pixel_size = synth_settings(code)
    chosen = dataclasses.replace(chosen, **changes)
    return synth_scene(size, size, seed=1, looks=looks, pixel_size=pixel_size, sensor=chosen)


@pytest.mark.parametrize("code", ["TSX", "S1"])
def test_synth_sensor_adds_its_noise_floor(code):
    # The thermal noise is drawn last, so everything else is the same draw: the ocean's mean
    # intensity rises by the noise floor.
    noisy, clean = _scene(code), _scene(code, nesz_db=-math.inf)
    ocean = noisy.zones == OCEAN
    added = noisy.intensity[ocean].mean(dtype=np.float64) - clean.intensity[ocean].mean(dtype=np.float64)
    assert added == pytest.approx(10 ** (SENSORS[code].nesz_db / 10), rel=0.1)


def test_synth_sensor_speckle_has_its_looks():
    enl = {code: _enl_over_open_ocean(_scene(code, 256, nesz_db=-math.inf)) for code in ("PALSAR", "S1")}
    assert 0.75 * 2.0 < enl["PALSAR"] < 1.15 * 2.0 and 0.75 * 4.4 < enl["S1"] < 1.15 * 4.4


def test_synth_sensor_features_are_sized_in_metres():
    chosen, looks, _ = synth_settings("S1")
    at = {px: synth_scene(SIZE, SIZE, seed=1, looks=looks, pixel_size=px, sensor=chosen) for px in (20.0, 40.0)}
    assert not np.array_equal(at[20.0].intensity, at[40.0].intensity)
    assert np.array_equal(at[20.0].zones, at[40.0].zones)  # geometry spans the image whatever the pixel size
    # Without a sensor the pixel size changes only the heights (the scene as it always was).
    plain = [synth_scene(SIZE, SIZE, seed=1, pixel_size=px).intensity for px in (20.0, 40.0)]
    assert np.array_equal(*plain)


def test_synth_without_sensor_is_unchanged(tmp_path):
    assert synth_settings(None) == (None, 4.0, 40.0)
    write_synth_scene(tmp_path, SIZE, SIZE, seed=3)
    files = SynthFiles.in_folder(tmp_path)
    np.testing.assert_array_equal(geo.read_array(files.scene), synth_scene(SIZE, SIZE, seed=3).intensity)
    written = {k: v for k, v in geo.raster_metadata(files.scene).items() if k != "AREA_OR_POINT"}  # GDAL's own
    assert written == synth_metadata(SIZE, SIZE, 3, None, 4.0, 40.0) and "SENSOR" not in written


def _synth(runner, out, *args):
    result = runner.invoke(cli, ["synth", str(out), "--width", str(SIZE), "--height", str(SIZE), *args])
    assert result.exit_code == 0, result.output
    return SynthFiles.in_folder(out)


def _prepare(runner, out, files, *args):
    sar = [a for f in files for a in ("--sar", str(f.scene), "--mask", str(f.zones))]
    return runner.invoke(cli, ["prepare", *sar, "--out", str(out), "--patch-size", "32", *args])


def test_cli_synth_sensor_round_trips_through_prepare(tmp_path):
    runner = CliRunner()
    s1 = _synth(runner, tmp_path / "s1", "--sensor", "s1")
    meta = geo.raster_metadata(s1.scene)
    assert (meta["SENSOR"], meta["SYNTH_LOOKS"], meta["SYNTH_PIXEL_SIZE_M"]) == ("S1", "4.4", "20.0")
    assert geo.pixel_size_m(geo.raster_info(s1.scene)[0]) == 20.0
    given = _synth(runner, tmp_path / "given", "--sensor", "TSX", "--looks", "1.5", "--pixel-size", "10")
    meta = geo.raster_metadata(given.scene)
    assert (meta["SENSOR"], meta["SYNTH_LOOKS"], meta["SYNTH_PIXEL_SIZE_M"]) == ("TSX", "1.5", "10.0")  # given wins

    result = _prepare(runner, tmp_path / "ds", [s1, given])
    assert result.exit_code == 0, result.output
    with (tmp_path / "ds" / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # Both scenes are scene.tif, so the source is each one's path.
    assert {r["sensor"] for r in rows} == {"S1", "TSX"}
    assert all(r["sensor"] == ("S1" if "/s1/" in r["source"] else "TSX") for r in rows)
    assert load_info(tmp_path / "ds").sensors == ("TSX", "S1")
    # --sensor names every scene's sensor (over their metadata).
    result = _prepare(runner, tmp_path / "ds2", [s1], "--sensor", "palsar")
    assert result.exit_code == 0, result.output
    assert {r.sensor for r in load_manifest(tmp_path / "ds2")} == {"PALSAR"}


def test_cli_prepare_refuses_unknown_sensor_and_mixed_scenes(tmp_path):
    runner = CliRunner()
    s1, plain = _synth(runner, tmp_path / "s1", "--sensor", "S1"), _synth(runner, tmp_path / "plain")
    result = _prepare(runner, tmp_path / "ds", [plain], "--sensor", "Sentinel")
    assert result.exit_code != 0 and not (tmp_path / "ds").exists()
    assert "--sensor: unknown sensor 'Sentinel'; use one of ERS, ENVISAT, RSAT, PALSAR, TSX, TDX, S1" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = _prepare(runner, tmp_path / "ds", [s1, plain])
    assert result.exit_code != 0 and not (tmp_path / "ds").exists()
    assert "names no sensor, while" in result.output and "SENSOR metadata item" in result.output
    result = runner.invoke(cli, ["synth", str(tmp_path / "bad"), "--width", "32", "--height", "32", "--sensor", "RS2"])
    assert result.exit_code != 0 and "unknown sensor 'RS2'" in result.output and not (tmp_path / "bad").exists()


def test_dataset_without_sensors_has_neither_column_nor_list(tmp_path):
    runner = CliRunner()
    plain = _synth(runner, tmp_path / "plain")
    assert _prepare(runner, tmp_path / "ds", [plain]).exit_code == 0
    assert "sensor" not in (tmp_path / "ds" / "manifest.csv").read_text().splitlines()[0]
    assert "sensors" not in json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert load_info(tmp_path / "ds").sensors == () and {r.sensor for r in load_manifest(tmp_path / "ds")} == {""}
