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


def test_export_of_a_run_with_a_band_lists_it_and_generates_the_runs_pixels(dem_run):
    model, dem, zones = dem_run / "model", dem_run / "scene/dem.tif", dem_run / "scene/zones.tif"
    result = run_cli("-q", "export", dem_run / "run", "--out", model)
    assert result.exit_code == 0, result.output
    facts = json.loads((model / "export.json").read_text())
    [band] = facts["input"]["extra_bands"]
    ranges = json.loads((dem_run / "ds/dataset.json").read_text())["extra_bands"][0]
    assert (
        band["name"] == "dem"
        and band["units"] == "m"
        and (band["low"], band["high"]) == (ranges["low"], ranges["high"])
    )
    assert facts["input"]["total_channels"] == 2 and facts["config"]["model"]["in_channels"] == 2
    card = (model / "model_card.md").read_text()
    assert "| band | units | low | high |" in card and f"| dem | m | {band['low']:.6g} | {band['high']:.6g} |" in card
    assert "followed by the extra bands dem" in card

    images = []
    for source in (model, dem_run / "run"):
        out = dem_run / f"export_{source.name}.tif"
        result = run_cli(
            "-q", "generate", zones, "--run", source, "--extra", f"dem={dem}", "--out", out, "--units", "model"
        )
        assert result.exit_code == 0, result.output
        images.append(geo.read_raster(out)[0])
    assert images[0].shape == (160, 160) and np.isfinite(images[0]).any()
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)
    # The model needs the band as the run does.
    result = CliRunner().invoke(cli, ["generate", str(zones), "--run", str(model), "--out", str(dem_run / "no.tif")])
    assert result.exit_code == 1 and "band dem: missing" in result.output, result.output
    assert not (dem_run / "no.tif").exists()


@pytest.fixture(scope="module")
def plain_run(dem_run):
    """The same scene prepared and trained as `dem_run`, without the DEM."""
    scene = dem_run / "scene"
    result = run_cli(
        "prepare",
        "--sar",
        scene / "scene.tif",
        "--mask",
        scene / "zones.tif",
        "--out",
        dem_run / "ds_plain",
        "--patch-size",
        32,
    )
    assert result.exit_code == 0, result.output
    result = run_cli(
        "-q",
        "fit",
        "--data",
        dem_run / "ds_plain",
        "--out",
        dem_run / "run_plain",
        "--epochs",
        1,
        "--batch-size",
        4,
        *TINY_FIT,
    )
    assert result.exit_code == 0, result.output
    return dem_run / "run_plain"


def test_report_compares_a_run_with_a_dem_and_one_without(dem_run, plain_run, tmp_path):
    for run in (plain_run, dem_run / "run"):
        assert run_cli("-q", "evaluate", run).exit_code == 0
    # The run without the band first: Fig. 4 still shows the DEM run's data, which both can read.
    out = tmp_path / "report"
    result = run_cli("report", plain_run, dem_run / "run", "--out", out, "--count", 2, "--allow-different-data")
    assert result.exit_code == 0, result.output
    table = (out / "table1.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in table[1:]] == ["orig (run_plain)", "orig (run)"]
    md = (out / "report.md").read_text()
    assert "**orig (run_plain)**" in md and "extra bands: none" in md and "extra bands: dem" in md
    assert f"patches of `{dem_run / 'ds'}`" in md and (out / "fig4_examples.png").stat().st_size > 0

    # A Fig. 4 dataset without the band is refused in one line, before anything is written.
    refused = tmp_path / "refused"
    result = run_cli(
        "report", plain_run, dem_run / "run", "--out", refused, "--data", dem_run / "ds_plain", "--allow-different-data"
    )
    assert result.exit_code == 1 and "bands none vs dem" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not refused.exists()


def test_report_refuses_runs_whose_bands_no_dataset_holds():
    from types import SimpleNamespace

    from pix2pix_sar.errors import InputError
    from pix2pix_sar.evaluation.report import EvaluatedRun, examples_dataset

    def run(label, bands):
        info = SimpleNamespace(band_names=bands)
        return EvaluatedRun(SimpleNamespace(dataset_info=lambda: info), label, "orig", [])

    with pytest.raises(InputError, match=r"no run was trained with them all \(a: dem; b: slope; c: none\)"):
        examples_dataset([run("a", ["dem"]), run("b", ["slope"]), run("c", [])], None)
