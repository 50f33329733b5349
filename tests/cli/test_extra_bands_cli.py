"""Extra conditioning bands end to end (issue 12): a DEM at 60 m on a 20 m scene goes
through prepare, fit, evaluate and generate; generate refuses a missing, unknown or
not-covering band with one line, no traceback and no output."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.run_folder import RunFolder

TINY_FIT = ["--set", "model.base_filters=8"]


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def dem_run(tmp_path_factory):
    """A 20 m synthetic scene, its 60 m DEM, a dataset with the DEM and a 1-epoch run."""
    root = tmp_path_factory.mktemp("dem_e2e")
    result = run_cli("synth", root / "scene", "--width", 160, "--height", 160, "--pixel-size", 20, "--seed", 2)
    assert result.exit_code == 0, result.output
    dem = root / "scene/dem.tif"
    dem_grid, _, _ = geo.raster_info(dem)
    assert dem_grid.geotransform[1] == 60.0  # 3x the scene's pixel: prepare has to resample it
    result = run_cli(
        "prepare",
        "--sar",
        root / "scene/scene.tif",
        "--mask",
        root / "scene/zones.tif",
        "--extra",
        f"dem={dem}",
        "--out",
        root / "ds",
        "--patch-size",
        32,
    )
    assert result.exit_code == 0, result.output
    result = run_cli(
        "-q", "fit", "--data", root / "ds", "--out", root / "run", "--epochs", 1, "--batch-size", 4, *TINY_FIT
    )
    assert result.exit_code == 0, result.output
    return root


def test_dem_goes_through_prepare_fit_and_generate(dem_run):
    info = json.loads((dem_run / "ds/dataset.json").read_text())
    assert info["format_version"] == 4
    [band] = info["extra_bands"]
    assert band["name"] == "dem" and band["units"] == "m" and band["resampling"] == "bilinear"
    assert band["high"] > band["low"] >= 0.0
    patch_id = next(p.name[: -len("_mask.tif")] for p in (dem_run / "ds/train").glob("*_mask.tif"))
    values, grid, _ = geo.read_raster(dem_run / f"ds/train/{patch_id}_dem.tif")
    assert values.shape == (32, 32) and grid.geotransform[1] == 20.0
    assert values.min() >= -1.0 and values.max() <= 1.0

    run = RunFolder(dem_run / "run")
    assert run.load_config().model.in_channels == 2  # binary mask + dem
    assert run.dataset_info().band_names == ["dem"]

    out, dem = dem_run / "gen.tif", dem_run / "scene/dem.tif"
    result = run_cli("generate", dem_run / "scene/zones.tif", "--run", run.path, "--extra", f"dem={dem}", "--out", out)
    assert result.exit_code == 0, result.output
    image, grid, _ = geo.read_raster(out)
    assert image.shape == (160, 160) and np.isfinite(image[image == image]).all()

    result = run_cli("preview", run.path, "--out", dem_run / "p.png", "--count", 2)
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", run.path)
    assert result.exit_code == 0, result.output
    assert run.eval_per_epoch_csv.exists()
    # A synthetic dataset of a run with bands carries them, so that 'fit' can read it.
    result = run_cli(
        "generate",
        dem_run / "scene/zones.tif",
        "--run",
        run.path,
        "--extra",
        f"dem={dem}",
        "--as-dataset",
        dem_run / "gds",
    )
    assert result.exit_code == 0, result.output
    generated = json.loads((dem_run / "gds/dataset.json").read_text())
    assert generated["extra_bands"] == info["extra_bands"] and generated["synthetic"]
    assert len(list((dem_run / "gds/train").glob("*_dem.tif"))) == len(list((dem_run / "gds/train").glob("*_sar.tif")))


def _half_dem(dem_run):
    """The DEM cut to its left half: it no longer covers the mask."""
    values, grid, nodata = geo.read_raster(dem_run / "scene/dem.tif")
    half = grid.window(0, 0, values.shape[1] // 2, values.shape[0])
    return geo.write_geotiff(dem_run / "half_dem.tif", values[:, : values.shape[1] // 2], half, nodata=nodata)


def test_generate_without_the_band_fails_in_one_line_and_writes_nothing(dem_run):
    out = dem_run / "refused.tif"
    # catch_exceptions=False: anything but the one-line error would raise here, traceback and all.
    result = run_cli("generate", dem_run / "scene/zones.tif", "--run", dem_run / "run", "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith("Error: band dem: missing") and "--extra dem=RASTER" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists() and not list(dem_run.glob(".refused*"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["dem={root}/scene/dem.tif", "slope={root}/scene/dem.tif"], "band slope: unknown"),
        (["dem={root}/half_dem.tif"], "band dem: {root}/half_dem.tif does not cover"),
        (["dem={root}/nope.tif"], "band dem: {root}/nope.tif: no such file or folder"),
    ],
)
def test_generate_refuses_an_unknown_or_not_covering_band(dem_run, extra, message):
    _half_dem(dem_run)
    out = dem_run / "refused.tif"
    bands = [arg for text in extra for arg in ("--extra", text.format(root=dem_run))]
    result = CliRunner().invoke(
        cli, ["generate", str(dem_run / "scene/zones.tif"), "--run", str(dem_run / "run"), *bands, "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert message.format(root=dem_run) in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists() and not list(dem_run.glob(".refused*"))
