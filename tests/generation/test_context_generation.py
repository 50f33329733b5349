"""A run trained with context bands computes them from each whole mask: `generate`
needs no `--extra`, the file equals the in-memory image, and tiled == whole holds, with
the sampler's smooth keyed fields (which move the front-phase bands) and iceberg stage on."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.context import CONTEXT_BANDS
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN


@pytest.fixture(scope="module")
def context_dataset(scene, tmp_path_factory):
    """32-px zones patches of `scene` with the context bands."""
    from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
    from pix2pix_sar.data.scenes import SceneInput

    sar, zones = scene
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones", context=True)
    return prepare_scenes([SceneInput(sar, zones)], tmp_path_factory.mktemp("context_ds") / "ds", options=options)


#: The sampler's smooth keyed fields, which the context bands make possible: its front-phase
#: bands moved from sample to sample, smooth noise channels and candidate icebergs beside the
#: input; and its iceberg stage (given here: the tiny scene has too little ocean to measure).
SMOOTH_FIELDS = (
    "model.front_phase_shift=8",
    "model.smooth_noise_channels=2",
    "model.iceberg_noise=0.3",
    "model.iceberg_share=0.02",
    "model.iceberg_contrast_db=12",
    "model.iceberg_radius=3",
)


@pytest.fixture(scope="module")
def context_run(context_dataset, tmp_path_factory):
    """A `sampler` run (with its smooth keyed fields) trained 1 epoch on `context_dataset`."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    run = tmp_path_factory.mktemp("context_run") / "run"
    cfg = resolve_config("sampler", assignments=["model.base_filters=8", "training.epochs=1", *SMOOTH_FIELDS])
    fit(cfg, context_dataset, run)
    return run


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


def test_fit_takes_the_front_phase_bands_and_seeds_move_them(context_dataset, context_run):
    """Fit takes each front-phase pair's channels and scaling from dataset.json into the run's
    config (model.front_phase_shift); generation repeats a seed and moves the bands for another."""
    from pix2pix_sar.data.context import FRONT_PHASE_PERIODS
    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.data.zones import GLACIER
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_facts import model_facts
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.run_folder import RunFolder

    bands = load_info(context_dataset).extra_bands
    channel = {band.name: 3 + i for i, band in enumerate(bands)}  # after the 3 zone channels
    scaling = {band.name: band for band in bands}
    expected = tuple(
        (
            *(float(channel[f"front_{wave}_{period}"]) for wave in ("sin", "cos")),
            float(period),
            *(getattr(scaling[f"front_{wave}_{period}"], end) for wave in ("sin", "cos") for end in ("low", "high")),
        )
        for period in FRONT_PHASE_PERIODS
    )
    run = RunFolder(context_run)
    assert run.load_config().model.front_phase_bands == expected
    # What the model card says of its noise.
    noise = model_facts(run, run.load_config(), run.dataset_info(), 1)["noise"]
    assert "front-phase bands (periods 8, 16, 32, 64 px) are moved" in noise and "2 smooth random field" in noise
    assert "an iceberg stage before the speckle draws soft disks into the ocean (3 px mean radius, covering 2 %" in (
        noise
    )

    zones = synth_scene(200, 160, seed=3).zones.copy()
    zones[zones == NODATA] = OCEAN
    gen = RunGenerator.load(context_run)

    def draw(seed):
        gen.seed = seed
        return generate_image(gen, zones, TileSettings(tile=256, seed=seed))

    first = draw(1)
    np.testing.assert_array_equal(draw(1), first)
    assert np.abs(draw(2) - first)[zones == GLACIER].mean() > 1e-3


@pytest.mark.slow
def test_an_export_draws_what_the_run_draws_icebergs_included(context_run, tmp_path, write_mask):
    """export -> generate --run MODEL equals generate --run RUN: context, smooth fields,
    iceberg noise and the iceberg stage all travel in the SavedModel."""
    zones = synth_scene(160, 128, seed=6).zones.copy()
    zones[zones == NODATA] = OCEAN
    mask = write_mask(tmp_path / "m.tif", zones)
    model = tmp_path / "model"
    result = CliRunner().invoke(cli, ["-q", "export", str(context_run), "--out", str(model)])
    assert result.exit_code == 0, result.output
    images = []
    for source in (model, context_run):
        out = tmp_path / f"{source.name}.tif"
        argv = ["-q", "generate", str(mask), "--run", str(source), "--seed", "4", "--units", "model", "--out", str(out)]
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, result.output
        images.append(geo.read_raster(out)[0])
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)
