"""A run trained with context bands computes them from each whole mask: `generate`
needs no `--extra`, the file equals the in-memory image, and tiled == whole holds."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.context import CONTEXT_BANDS
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN


@pytest.fixture(scope="module")
def context_run(scene, tmp_path_factory):
    """A `sampler` run trained 1 epoch on 32-px zones patches with the context bands."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
    from pix2pix_sar.data.scenes import SceneInput
    from pix2pix_sar.training.loop import fit

    sar, zones = scene
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones", context=True)
    root = tmp_path_factory.mktemp("context_run")
    dataset = prepare_scenes([SceneInput(sar, zones)], root / "ds", options=options)
    fit(resolve_config("sampler", assignments=["model.base_filters=8", "training.epochs=1"]), dataset, root / "run")
    return root / "run"


def test_generate_computes_the_context_and_tiles_exactly(context_run, tmp_path, write_mask):
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    zones = synth_scene(200, 160, seed=3).zones.copy()
    zones[zones == NODATA] = OCEAN
    mask = write_mask(tmp_path / "m.tif", zones)
    out = tmp_path / "g.tif"
    result = CliRunner().invoke(
        cli, ["-q", "generate", str(mask), "--run", str(context_run), "--units", "model", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = geo.read_raster(out)[0]

    gen = RunGenerator.load(context_run)
    assert [b.name for b in gen.bands] == list(CONTEXT_BANDS) and gen.user_bands == ()
    whole = generate_image(gen, zones, TileSettings(tile=256))
    tiled = generate_image(gen, zones, TileSettings(tile=128))
    assert np.abs(whole - tiled).max() <= 1e-3
    np.testing.assert_allclose(written, whole, atol=1e-3)
    # The generator takes the context in: other distances, another image.
    flat = np.zeros((*zones.shape, len(CONTEXT_BANDS)), np.float32)
    assert np.abs(generate_image(gen, zones, TileSettings(tile=256), flat) - whole).mean() > 1e-3


def test_samples_of_one_mask_compute_its_context_once(context_run, monkeypatch):
    import pix2pix_sar
    from pix2pix_sar.generation import run_generator

    calls = []
    planes = run_generator.context_planes
    monkeypatch.setattr(run_generator, "context_planes", lambda *a, **k: calls.append(1) or planes(*a, **k))
    zones = synth_scene(96, 64, seed=4).zones.copy()
    zones[zones == NODATA] = OCEAN
    g = pix2pix_sar.load(context_run)
    alone = g.generate(zones, seed=1)  # its own context, computed
    samples = g.generate(zones, seed=0, samples=3)
    assert len(calls) == 1
    np.testing.assert_array_equal(samples[1], alone)  # the reused context gives the same pixels
    other = zones.copy()
    other[:8] = OCEAN
    g.generate(other)
    assert len(calls) == 2  # another mask: its own context
