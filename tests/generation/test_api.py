"""`pix2pix_sar.load(PATH).generate(zones)`: the CLI's pixels as a numpy array in the run's
units, NaN at no data; the CLI's checks; `import pix2pix_sar` stays light."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import pix2pix_sar
from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN
from pix2pix_sar.errors import InputError
from pix2pix_sar.run_folder import RunFolder


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _zones(width=70, height=50):
    zones = synth_scene(width, height, seed=4).zones.copy()
    zones[zones == NODATA] = OCEAN
    zones[:9, :11] = NODATA
    return zones


def test_import_pix2pix_sar_loads_nothing_heavy():
    code = "import sys, pix2pix_sar; print([m for m in ('tensorflow', 'numpy', 'osgeo') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_generate_gives_the_cli_image_in_run_units_with_nan_at_nodata(tiny_run, tmp_path, write_mask):
    zones = _zones()
    mask = write_mask(tmp_path / "m.tif", zones)
    assert run_cli("-q", "generate", mask, "--run", tiny_run, "--out", tmp_path / "cli.tif", "--seed", 3).exit_code == 0
    g = pix2pix_sar.load(tiny_run)
    assert (g.variant, g.bands, g.scaling) == ("orig", (), RunFolder(tiny_run).dataset_info().scaling)
    image = g.generate(zones, seed=3)
    assert image.shape == (50, 70) and image.dtype == np.float32
    np.testing.assert_array_equal(image, geo.read_array(tmp_path / "cli.tif"))  # NaN where the file has no data
    np.testing.assert_array_equal(np.isnan(image), zones == NODATA)
    two = g.generate(zones, seed=3, samples=2)
    assert two.shape == (2, 50, 70)
    np.testing.assert_array_equal(two[0], image)
    assert not np.array_equal(two[1], image)  # sample 1: seed 4


def test_bad_input_raises_value_errors_naming_the_values(tiny_run):
    g = pix2pix_sar.load(tiny_run)
    zones = _zones()
    zones[5, 5], zones[6, 6] = 5, 200
    with pytest.raises(ValueError, match="mask values 5, 200 are not zone codes"):
        g.generate(zones)
    with pytest.raises(ValueError, match=r"shape \(2, 50, 70\)"):
        g.generate(np.stack([_zones(), _zones()]))
    with pytest.raises(InputError, match="band dem is unknown"):
        g.generate(_zones(), extra={"dem": np.zeros((50, 70))})
    with pytest.raises(InputError, match="samples 0"):
        g.generate(_zones(), samples=0)


def test_an_export_generates_the_run_pixels(tiny_run, tmp_path):
    model = tmp_path / "model"
    assert run_cli("-q", "export", tiny_run, "--out", model).exit_code == 0
    zones = _zones(64, 64)
    from_export = pix2pix_sar.load(model)
    assert from_export.epoch == 2 and from_export.variant == "orig"
    expected = pix2pix_sar.load(tiny_run).generate(zones, seed=1)
    np.testing.assert_allclose(from_export.generate(zones, seed=1), expected, rtol=1e-5)
    # The export names the run's snapshot, as the files generated from either record it.
    snapshot = RunFolder(tiny_run).find_snapshot(2)[1]
    facts = json.loads((model / "export.json").read_text())
    assert facts["snapshot_sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()
