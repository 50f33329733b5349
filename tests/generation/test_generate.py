"""`generate`: any size, georeferenced, seamless, in the training units; bad input."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def zone_mask(width, height, seed=0, nodata_corner=True):
    zones = synth_scene(width, height, seed=seed).zones.copy()
    zones[zones == NODATA] = OCEAN
    if nodata_corner:
        zones[: height // 5, : width // 7] = NODATA
    return zones


def test_1000x700_geotiff_keeps_grid_and_nodata(tiny_run, tmp_path, write_mask):
    zones = zone_mask(1000, 700)
    mask = write_mask(tmp_path / "scene_mask.tif", zones)
    out = tmp_path / "out" / "generated.tif"
    result = run_cli("-q", "generate", mask, "--run", tiny_run, "--out", out, "--seed", 3)
    assert result.exit_code == 0, result.output
    image, grid, nodata = geo.read_raster(out)
    mask_grid = geo.raster_info(mask)[0]
    assert image.shape == (700, 1000) and image.dtype == np.float32
    assert grid.same_as(mask_grid) and grid.epsg == 3031
    assert np.isnan(nodata) and geo.is_cog(out)
    np.testing.assert_array_equal(np.isnan(image), zones == NODATA)
    assert (image[zones != NODATA] > 0).all()  # linear intensity, as the training data
    # Deterministic by seed; another seed draws other dropout noise.
    again = tmp_path / "again.tif"
    assert run_cli("-q", "generate", mask, "--run", tiny_run, "--out", again, "--seed", 3).exit_code == 0
    np.testing.assert_array_equal(geo.read_raster(again)[0], image)
    other = tmp_path / "other.tif"
    assert (
        run_cli("-q", "generate", mask, "--run", tiny_run, "--out", other, "--seed", 4, "--units", "db").exit_code == 0
    )
    assert not np.allclose(geo.read_raster(other)[0][zones != NODATA], 10 * np.log10(image[zones != NODATA]), atol=1e-3)


def test_units_convert_the_same_generation(tiny_run, tmp_path, write_mask):
    mask = write_mask(tmp_path / "m.tif", zone_mask(70, 50))
    outs = {}
    for units in ("intensity", "db", "model"):
        outs[units] = tmp_path / f"{units}.tif"
        result = run_cli("-q", "generate", mask, "--run", tiny_run, "--out", outs[units], "--units", units)
        assert result.exit_code == 0, result.output
    intensity, db, model = (geo.read_raster(outs[u])[0] for u in ("intensity", "db", "model"))
    valid = ~np.isnan(model)
    np.testing.assert_allclose(db[valid], 10 * np.log10(intensity[valid]), atol=1e-3)
    assert model[valid].min() >= -1 and model[valid].max() <= 1
    result = run_cli("generate", mask, "--run", tiny_run, "--out", tmp_path / "x.tif", "--units", "furlongs")
    assert result.exit_code == 2 and "Invalid value for '--units': units furlongs" in result.output


def test_small_png_mask_gives_png_of_the_same_size(tiny_run, tmp_path):
    zones = zone_mask(37, 41)
    png = tmp_path / "sketch.png"
    with geo.RasterRowWriter(png, geo.Grid("", (0, 1, 0, 0, 0, 1), 37, 41), np.uint8) as w:
        w.write_rows(0, zones)
        w.commit()
    folder_out = tmp_path / "pngs"
    result = run_cli("-q", "generate", tmp_path, "--run", tiny_run, "--out", folder_out)  # a folder of masks
    assert result.exit_code == 0, result.output
    image = geo.read_raster(folder_out / "sketch.png")[0]
    assert image.shape == (41, 37) and image.dtype == np.uint8
    np.testing.assert_array_equal(image == 0, zones == NODATA)
    assert sorted(p.name for p in folder_out.iterdir()) == ["sketch.png", "sketch.png.aux.xml"]  # its description


def test_binary_mask_values_generate_like_the_same_zones(tiny_run, tmp_path, write_mask):
    land = zone_mask(60, 50, nodata_corner=False) != OCEAN
    binary = write_mask(tmp_path / "binary.tif", np.where(land, 255, 0))
    zones = write_mask(tmp_path / "zones.tif", np.where(land, GLACIER, OCEAN))
    result = run_cli(
        "-q", "generate", binary, "--run", tiny_run, "--out", tmp_path / "b.tif", "--mask-values", "binary"
    )
    assert result.exit_code == 0, result.output
    assert run_cli("-q", "generate", zones, "--run", tiny_run, "--out", tmp_path / "z.tif").exit_code == 0
    np.testing.assert_array_equal(geo.read_raster(tmp_path / "b.tif")[0], geo.read_raster(tmp_path / "z.tif")[0])
    result = run_cli("generate", binary, "--run", tiny_run, "--out", tmp_path / "c.tif")
    assert result.exit_code == 1 and "mask values 255 are not zone codes" in result.output


def test_tiles_blend_without_seams_on_a_large_mask(tiny_run):
    """Mean |step| across tile edges vs across tile middles: within 10% when blended,
    and closer to 1 than with hard tile edges (no overlap)."""
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.generation.seams import seam_stats

    zones = zone_mask(768, 768, seed=5, nodata_corner=False)
    gen = RunGenerator.from_run(tiny_run, seed=0)
    ratios = {}
    for overlap in (None, 0):  # default: a quarter of the tile
        settings = TileSettings(overlap=overlap, batch_size=64)
        image = generate_image(gen, zones, settings)
        ratios[overlap] = seam_stats(image, gen.plan(768, 768, settings)).ratio
    assert abs(ratios[None] - 1) < 0.10, ratios
    assert abs(ratios[None] - 1) < abs(ratios[0] - 1), ratios


@pytest.mark.parametrize(
    "case, message",
    [
        ("bad_values", "mask values 3 are not zone codes"),
        ("empty_folder", "holds no mask files"),
        ("no_snapshots", "has no generator snapshots"),
        ("missing_epoch", "saved epochs: 1, 2"),
        ("unwritable", "cannot write there"),
        ("exists", "already exists; pass --overwrite"),
        ("bad_tile", "Invalid value for '--tile': tile 48: a orig run generates 32-pixel tiles only"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, message, tiny_run, tmp_path, write_mask):
    good = write_mask(tmp_path / "good.tif", zone_mask(40, 40))
    run, mask, out, extra = tiny_run, good, tmp_path / "out.tif", []
    if case == "bad_values":
        mask = write_mask(tmp_path / "bad.tif", np.full((40, 40), 3, np.uint8))
    elif case == "empty_folder":
        mask = tmp_path / "empty"
        mask.mkdir()
        out = tmp_path / "outdir"
    elif case == "no_snapshots":
        run = tmp_path / "run"
        run.mkdir()
        (run / "config.yaml").write_text((tiny_run / "config.yaml").read_text())
        (run / "dataset.json").write_text((tiny_run / "dataset.json").read_text())
    elif case == "missing_epoch":
        extra = ["--epoch", "7"]
    elif case == "unwritable":
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out = blocker / "out.tif"
    elif case == "exists":
        out.write_text("keep me")
    elif case == "bad_tile":
        extra = ["--tile", "48"]
    # In this process (TensorFlow started once), through the same entry point as `python -m
    # pix2pix_sar`: an exception that escaped the CLI's handling would fail the test here.
    result = CliRunner().invoke(
        cli, ["generate", str(mask), "--run", str(run), "--out", str(out), *extra], catch_exceptions=False
    )
    assert result.exit_code != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len([item for item in result.stderr.splitlines() if item.startswith("Error")]) == 1, result.stderr
    if case == "exists":
        assert out.read_text() == "keep me"
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()], "temporary files left behind"


def test_xla_generation_matches_plain_generation(tiny_run):
    from pix2pix_sar.generation.run_generator import RunGenerator

    masks = np.where(zone_mask(64, 64, seed=2, nodata_corner=False) == 254, -1.0, 1.0)[None, ..., None]
    masks = np.repeat(masks.astype(np.float32), 2, axis=0)
    origins = np.array([[0, 0], [0, 64]])
    plain = RunGenerator.from_run(tiny_run, seed=0, xla="off").generate_batch(masks, origins)
    compiled = RunGenerator.from_run(tiny_run, seed=0, xla="on").generate_batch(masks, origins)
    assert compiled.shape == plain.shape == (2, 64, 64, 1) and np.all(np.abs(compiled) <= 1)
    # Same weights, same keys: the keyed dropout draws the same masks under XLA.
    np.testing.assert_allclose(compiled, plain, atol=1e-4)


def test_batch_size_changes_speed_never_pixels(tiny_run, tmp_path, write_mask):
    mask = write_mask(tmp_path / "m.tif", zone_mask(100, 90))
    outs = {}
    for batch in (1, 7):
        outs[batch] = tmp_path / f"b{batch}.tif"
        args = (
            "-q",
            "generate",
            mask,
            "--run",
            tiny_run,
            "--out",
            outs[batch],
            "--units",
            "model",
            "--batch-size",
            batch,
        )
        assert run_cli(*args).exit_code == 0
    a, b = (geo.read_raster(outs[k])[0] for k in (1, 7))
    np.testing.assert_allclose(a, b, atol=1e-5, equal_nan=True)


@pytest.fixture(scope="module")
def scene_run(tiny_dataset, tmp_path_factory):
    """A `scene` run trained for 1 epoch on the 32-pixel `tiny_dataset`."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    cfg = resolve_config("scene", assignments=["model.base_filters=8", "training.epochs=1"])
    run_dir = tmp_path_factory.mktemp("scene_run") / "run"
    fit(cfg, tiny_dataset, run_dir)
    return run_dir


def test_scene_run_generates_the_same_pixels_with_any_tile(scene_run, tmp_path, write_mask):
    mask = write_mask(tmp_path / "m.tif", zone_mask(300, 250))
    outs = {}
    for tile in (128, 512):
        outs[tile] = tmp_path / f"t{tile}.tif"
        args = ("-q", "generate", mask, "--run", scene_run, "--out", outs[tile], "--units", "model", "--tile", tile)
        assert run_cli(*args).exit_code == 0
    small, large = (geo.read_raster(outs[t])[0] for t in (128, 512))
    assert np.isnan(small).sum() == np.isnan(large).sum() > 0  # no-data where the mask has none
    np.testing.assert_allclose(small, large, atol=1e-3, equal_nan=True)
    result = run_cli("generate", mask, "--run", scene_run, "--out", tmp_path / "x.tif", "--tile", 96)
    assert result.exit_code == 2 and "larger than 112" in result.output and not (tmp_path / "x.tif").exists()
