"""Messages that name the actual cause and its fix (issue 24, item 4): each case a user met
as a misleading line (dB data given as intensity read as "raise --max-nodata", a scene
without a CRS read as "grid differs ... 768x768 vs 768x768", an AOI in degrees read as
pixels, ``fit --epochs 0`` blamed on --config), in one table run in-process."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.cli.options import OptionNamesInLogs
from pix2pix_sar.errors import InputError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 128x128 synthetic scene in EPSG:3031 and its variants: in dB, without a CRS, a bad mask."""
    from pix2pix_sar.data.synth import write_synth_scene

    root = tmp_path_factory.mktemp("messages")
    scene, zones = write_synth_scene(root / "s", 128, 128, seed=1)
    grid, _, _ = geo.raster_info(scene)
    intensity, mask = geo.read_array(scene), geo.read_array(zones)
    db = np.where(intensity > 0, 10 * np.log10(np.maximum(intensity, 1e-10)), 0).astype(np.float32)
    bare = geo.Grid("", (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), 128, 128)
    bad = mask.copy()
    bad[:8, :8], bad[-8:, -8:], bad[60, 60] = 5, 200, 1  # far apart: a strip-wise check sees one at a time
    paths = {
        "scene": scene,
        "zones": zones,
        "aoi": scene.parent / "aoi.geojson",
        "db": geo.write_geotiff(root / "db.tif", db, grid, nodata=0),
        "bare_scene": geo.write_geotiff(root / "bare_scene.tif", intensity, bare, nodata=0),
        "bare_mask_small": geo.write_geotiff(
            root / "bare_mask_small.tif", mask[:96, :96], geo.Grid("", bare.geotransform, 96, 96)
        ),
        "bare_mask": geo.write_geotiff(root / "bare_mask.tif", mask, bare),
        "bad_mask": geo.write_geotiff(root / "bad_mask.tif", bad, grid),
    }
    return {k: str(v) for k, v in paths.items()}


def prepare(*args: str) -> list[str]:
    return ["prepare", *args, "--out", "{tmp}/out", "--patch-size", "32"]


#: (arguments, exit status, what the line must say, what it must not say)
CASES = [
    pytest.param(
        prepare("--sar", "{db}", "--mask", "{zones}", "--units", "intensity"),
        1,
        "{db}: its values are in dB, not intensity (--units intensity, but the median value -",
        "max-nodata",
        id="db-given-as-intensity",
    ),
    pytest.param(
        prepare("--sar", "{bare_scene}", "--mask", "{zones}"),
        1,
        "{bare_scene}: has no CRS but {zones} is in EPSG:3031, so the mask cannot be placed on the scene; "
        "assign {bare_scene} its CRS",
        "grid differs",
        id="scene-without-crs",
    ),
    pytest.param(
        prepare("--sar", "{bare_scene}", "--mask", "{bare_mask_small}"),
        1,
        "{bare_mask_small}: neither it nor {bare_scene} has a CRS and their pixel grids differ "
        "(sizes 96x96 vs 128x128)",
        None,
        id="scene-and-mask-without-crs",
    ),
    pytest.param(
        prepare("--sar", "{bare_scene}", "--mask", "{bare_mask}", "--aoi", "{aoi}"),
        1,
        "{aoi}: is in EPSG:4326 but {bare_scene} has no CRS, so the area of interest cannot be placed on it",
        "pixels from",
        id="aoi-with-crs-on-scene-without",
    ),
    pytest.param(
        prepare("--sar", "{db}", "--sar", "{scene}", "--mask", "{zones}", "--mask", "{zones}"),
        1,
        "scenes are in different units (db.tif: db, scene.tif: intensity); one dataset holds one unit: "
        "convert the scenes to the same units",
        "--units",
        id="mixed-units",
    ),
    pytest.param(
        ["fit", "--data", "{tmp}/ds", "--out", "{tmp}/run", "--epochs", "0"],
        2,
        "Invalid value for '--epochs': training.epochs must be >= 1, got 0",
        "--config",
        id="fit-epochs-0",
    ),
    pytest.param(
        ["fit", "--data", "{tmp}/ds", "--out", "{tmp}/run", "--set", "training.epochs=0"],
        2,
        "Invalid value for '--config'/'--set'/'--variant': training.epochs must be >= 1, got 0",
        None,
        id="set-epochs-0-still-names-the-config",
    ),
]


@pytest.mark.parametrize("args, status, message, not_said", CASES)
def test_message_names_the_cause(files, tmp_path, args, status, message, not_said):
    names = {**files, "tmp": str(tmp_path)}
    result = CliRunner().invoke(cli, [a.format(**names) for a in args], catch_exceptions=False)
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after prepare's progress label
    assert message.format(**names) in line
    if not_said:
        assert not_said not in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spelling", ["dB", "DB", "db"])
def test_units_any_case(files, tmp_path, spelling):
    args = ["prepare", "--sar", files["db"], "--mask", files["zones"], "--units", spelling]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "ds"), "--patch-size", "32"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["scaling"]["units"] == "db"


def test_guessed_units_warn_with_evidence_and_the_option(files, tmp_path, caplog):
    """A guess is a WARNING naming the evidence and --units; the clip range is called dB, not "db range"."""
    caplog.handler.addFilter(OptionNamesInLogs())  # as the CLI's handler renders option names
    with caplog.at_level(logging.INFO, logger="pix2pix_sar"):
        args = ["prepare", "--sar", files["db"], "--mask", files["zones"], "--patch-size", "32"]
        result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{files['db']}: units guessed as db: the median value {warnings[0].split('median value ')[1].split()[0]} "
        "is negative, as only dB values are; set --units if they are not"
    ]
    kept = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("kept "))
    assert " dB (scenes in db)" in kept and "intensity range" not in kept and "db range" not in kept


def test_prepare_and_generate_list_the_same_bad_mask_values(files, tmp_path):
    from pix2pix_sar.generation.generate import check_mask
    from tests.helpers import prepare_dataset

    with pytest.raises(InputError) as by_prepare:
        prepare_dataset(files["scene"], files["bad_mask"], tmp_path / "ds", patch_size=32)
    with pytest.raises(InputError) as by_generate:
        check_mask(files["bad_mask"])
    assert str(by_prepare.value) == str(by_generate.value)
    assert "mask values 1, 5, 200 are not zone codes" in str(by_generate.value)
