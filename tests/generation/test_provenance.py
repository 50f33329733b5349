"""Generated outputs describe themselves (unit, description, provenance), and `prepare`
reads their unit back without --units."""

import dataclasses
import hashlib
import json

import numpy as np
from click.testing import CliRunner
from osgeo import gdal

from pix2pix_sar import __version__, geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.scenes import guess_units
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN
from pix2pix_sar.run_folder import RunFolder


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _mask(write_mask, path, size=96):
    zones = synth_scene(size, size, seed=2).zones.copy()
    zones[zones == NODATA] = OCEAN
    zones[:10, :10] = NODATA
    return write_mask(path, zones)


def _units_prepare_finds(image, mask, out) -> str:
    result = run_cli("-q", "prepare", "--sar", image, "--mask", mask, "--out", out, "--patch-size", 32)
    assert result.exit_code == 0, result.output
    return json.loads((out / "dataset.json").read_text())["scaling"]["units"]


def test_gdalinfo_of_a_generated_geotiff_shows_unit_description_and_provenance(tiny_run, tmp_path, write_mask):
    mask = _mask(write_mask, tmp_path / "front.tif")
    out = tmp_path / "gen.tif"
    args = ("--out", out, "--units", "db", "--seed", 4, "--samples", 2)
    assert run_cli("-q", "generate", mask, "--run", tiny_run, *args).exit_code == 0
    info = gdal.Info(str(tmp_path / "gen_s1.tif"))
    snapshot = RunFolder(tiny_run).find_snapshot()[1]
    assert "Unit Type: dB" in info and "Description = synthetic SAR backscatter (dB)" in info
    for item in (
        "tool=pix2pix-sar",
        f"tool_version={__version__}",
        "synthetic=true",
        f"run={tiny_run.resolve()}",
        f"snapshot_sha256={hashlib.sha256(snapshot.read_bytes()).hexdigest()}",
        "epoch=2",
        "variant=orig",
        "seed=5",  # sample 1 of seed 4
        "sample=1",
        "mask=front.tif",
    ):
        assert f"  {item}\n" in info, item


def test_generate_then_prepare_needs_no_units(tiny_run, tmp_path, write_mask):
    """Amplitude output is positive like intensity: only its unit type tells them apart."""
    mask = _mask(write_mask, tmp_path / "m.tif")
    for units in ("amplitude", "db", "intensity"):
        out = tmp_path / f"{units}.tif"
        assert run_cli("-q", "generate", mask, "--run", tiny_run, "--out", out, "--units", units).exit_code == 0
        assert geo.RasterSource(out).band_info().unit == {"db": "dB"}.get(units, units)
        assert _units_prepare_finds(out, mask, tmp_path / f"ds_{units}") == units
    info = geo.RasterSource(tmp_path / "amplitude.tif").band_info()
    preview = geo.read_array(tmp_path / "amplitude.tif").astype(np.float64)
    assert guess_units(dataclasses.replace(info, unit="", text=""), preview) == "intensity"  # without it: wrong


def test_dn_output_says_dn_and_an_integer_raster_states_its_unit(tiny_run, tmp_path, write_mask):
    from pix2pix_sar.generation.generate import generate_file
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    mask = _mask(write_mask, tmp_path / "m.tif")
    gen = RunGenerator.from_run(tiny_run)
    gen.info = dataclasses.replace(gen.info, scaling=SarScaling("dn", 1.0, 255.0, "uint8", 0.0))  # as a CaFFe run
    out = generate_file(gen, mask, tmp_path / "dn.tif", TileSettings())
    band = geo.RasterSource(out).band_info()
    assert (band.dtype, band.unit) == ("uint8", "DN") and "dn, scaled as the training data" in band.text
    assert _units_prepare_finds(out, mask, tmp_path / "ds") == "dn"
    # The unit type is read before the data type: an 8-bit raster stating amplitude is amplitude.
    assert guess_units(geo.BandInfo("uint8", None, "", "amplitude"), np.ones((4, 4))) == "amplitude"
    assert guess_units(geo.BandInfo("float32", None, "", "Decibel"), np.ones((4, 4))) == "db"


def test_png_output_gets_an_aux_xml_sidecar(tiny_run, tmp_path, write_mask):
    mask = _mask(write_mask, tmp_path / "m.tif", size=64)
    out = tmp_path / "picture.png"
    assert run_cli("-q", "generate", mask, "--run", tiny_run, "--out", out).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("picture")) == [
        "picture.png",
        "picture.png.aux.xml",
    ]
    info = gdal.Info(str(out))
    assert "Description = synthetic SAR picture" in info and "  synthetic=true\n" in info and "  mask=m.tif\n" in info
    assert geo.raster_info(out)[0].epsg == 3031  # the mask's grid too
