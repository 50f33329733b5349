"""The `sampler` variant's generator: coarse noise that matters, keyed speckle with the data's looks."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.config import resolve_config
from pix2pix_sar.errors import ConfigError

SPECKLE = ("model.speckle_looks=4", "model.speckle_db_unit=10")


def _sampler(*assignments: str):
    """A tiny sampler with random weights (larger than the initialiser's, so every path matters)."""
    from pix2pix_sar.models import build_generator
    from pix2pix_sar.models.inference import inference_generator, make_generate_fn

    cfg = resolve_config("sampler", assignments=["model.patch_size=64", "model.base_filters=8", *assignments]).model
    gen = build_generator(cfg)
    rng = np.random.default_rng(0)
    gen.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in gen.get_weights()])
    return gen, make_generate_fn(inference_generator(gen, cfg))


def _masks(n=2, size=64):
    zones = np.random.default_rng(3).integers(0, 3, (n, size // 16, size // 16))
    one_hot = np.eye(3, dtype=np.float32)[zones.repeat(16, 1).repeat(16, 2)]
    return one_hot


def test_sampler_needs_its_looks_resolved_and_the_scene_settings():
    from pix2pix_sar.models import build_generator

    cfg = resolve_config("sampler", assignments=["model.patch_size=64"]).model
    assert cfg.speckle_looks == -1 and not cfg.speckle_resolved and cfg.whole_scene
    with pytest.raises(ConfigError, match="speckle_looks=-1 takes the looks"):
        build_generator(cfg)
    with pytest.raises(ConfigError, match="builds on the scene variant"):
        resolve_config("orig", assignments=["model.generator=sampler"])
    with pytest.raises(ConfigError, match="generator=sampler's"):
        resolve_config("scene", assignments=["model.speckle_looks=4"])
    with pytest.raises(ConfigError, match="generator=sampler's"):
        resolve_config("scene", assignments=["model.fine_noise=false"])


def test_fine_noise_off_leaves_speckle_the_only_pixel_scale_randomness():
    gen_on, _ = _sampler(*SPECKLE)
    gen_off, _ = _sampler(*SPECKLE, "model.fine_noise=false")
    noise_layers = {layer.name for layer in gen_on.layers} - {layer.name for layer in gen_off.layers}
    assert {"noise", "noise_image"} <= noise_layers  # the input's and the last scale's noise are gone
    assert gen_off.count_params() < gen_on.count_params()


def test_seeds_change_structure_not_only_speckle_and_a_seed_repeats():
    import tensorflow as tf

    from pix2pix_sar.noise import patch_keys

    _, generate = _sampler("model.speckle_looks=0", "model.in_channels=3")
    masks = tf.constant(_masks())

    def draw(seed):
        return generate(masks, tf.constant(patch_keys(seed, [0, 1]))).numpy()[..., 0]

    a, again, b = draw(1), draw(1), draw(2)
    np.testing.assert_array_equal(a, again)

    def block_means(x):
        return x.reshape(2, 8, 8, 8, 8).mean(axis=(2, 4))

    # Speckle is off: what differs is drawn by the noise at coarse scales.
    spread = np.std(block_means(a))
    assert np.abs(block_means(a) - block_means(b)).mean() > 0.1 * spread > 0


def test_speckle_stage_has_the_looks_asked_for_and_repeats_per_scene_pixel():
    import tensorflow as tf

    from pix2pix_sar.models.layers import SpeckleStage
    from pix2pix_sar.noise import tile_keys

    looks, db_unit = 4.0, 20.0  # a 40 dB span: clipping at +-20 dB from the mean is rare
    stage = SpeckleStage(looks, db_unit)
    flat = tf.zeros((1, 256, 256, 1))
    image = stage([flat, tf.constant(tile_keys(7, [0], [0]))]).numpy()
    intensity = 10.0 ** (image * db_unit / 10.0)
    assert intensity.mean() ** 2 / intensity.var() == pytest.approx(looks, rel=0.1)
    assert intensity.mean() == pytest.approx(1.0, rel=0.05)  # multiplicative speckle of mean 1
    # Keyed by scene pixel: a tile 32 px further on repeats the scene's speckle there.
    shifted = stage([flat[:, :64, :64], tf.constant(tile_keys(7, [32], [64]))]).numpy()
    np.testing.assert_array_equal(shifted[0], image[0, 32:96, 64:128])
    other = stage([flat, tf.constant(tile_keys(8, [0], [0]))]).numpy()
    assert np.abs(other - image).mean() > 0.01


def test_fit_export_and_generate_from_the_model(tiny_dataset, tmp_path):
    from pix2pix_sar import geo
    from pix2pix_sar.cli.main import cli
    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.data.synth import synth_scene
    from pix2pix_sar.generation.export import export_run
    from pix2pix_sar.run_folder import RunFolder
    from pix2pix_sar.training.loop import fit

    cfg = resolve_config(
        "sampler",
        assignments=[
            "model.base_filters=8",
            "training.epochs=1",
            "training.batch_size=32",
            "training.checkpoint_every=1",
        ],
    )
    fit(cfg, tiny_dataset, tmp_path / "run")
    saved = RunFolder(tmp_path / "run").load_config().model
    info = load_info(tiny_dataset)
    assert saved.speckle_looks == info.extra["looks"]
    assert saved.speckle_db_unit == pytest.approx((info.scaling.db_max - info.scaling.db_min) / 2)

    model = export_run(tmp_path / "run", tmp_path / "model")
    card = (model / "model_card.md").read_text()
    assert "sampler" in card and f"Gamma speckle of {saved.speckle_looks:g} looks" in card
    zones = synth_scene(90, 70, seed=2).zones
    mask = geo.write_geotiff(
        tmp_path / "m.tif",
        zones,
        geo.Grid(geo.crs_from_user("EPSG:3031"), (-2_430_000.0, 40.0, 0.0, 1_320_000.0, 0.0, -40.0), 90, 70),
        nodata=0,
    )
    images = []
    for source in (model, tmp_path / "run"):
        out = tmp_path / f"{source.name}.tif"
        args = ["-q", "generate", mask, "--run", source, "--out", out, "--units", "model", "--seed", "3"]
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        images.append(geo.read_raster(out)[0])
    np.testing.assert_allclose(images[0], images[1], atol=1e-5, equal_nan=True)
    assert np.nanstd(images[0]) > 0.01


def test_fit_refuses_speckle_without_a_db_span(tiny_dataset):
    import dataclasses

    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.data.looks import resolve_speckle

    model = resolve_config("sampler").model
    info = load_info(tiny_dataset)
    dn = dataclasses.replace(info, scaling=dataclasses.replace(info.scaling, units="dn"))
    with pytest.raises(ConfigError, match="scales DN"):
        resolve_speckle(model, dn, "dataset.json")
    with pytest.raises(ConfigError, match="records no number of looks"):
        resolve_speckle(model, dataclasses.replace(info, extra={}), "dataset.json")
    assert resolve_speckle(resolve_config("scene").model, dn, "dataset.json") == resolve_config("scene").model


def test_a_looks_map_gives_each_region_its_own_looks_with_the_scalar_stages_draws():
    import tensorflow as tf

    from pix2pix_sar.models.layers import SensorLooks, SpeckleStage
    from pix2pix_sar.noise import tile_keys

    db_unit, flat, key = 20.0, tf.zeros((1, 256, 256, 1)), tf.constant(tile_keys(7, [0], [0]))
    # Two sensors' one-hot planes after a mask channel: the left half TSX (2.5 looks), the right S1 (4.4).
    planes = np.zeros((1, 256, 256, 3), np.float32)
    planes[:, :, :128, 1], planes[:, :, 128:, 2] = 1.0, 1.0
    looks_map = SensorLooks((2.5, 4.4))(tf.constant(planes))
    stage = SpeckleStage(4.0, db_unit)
    image = stage([flat, key, looks_map]).numpy()[0, ..., 0]
    for region, looks in ((image[:, :128], 2.5), (image[:, 128:], 4.4)):
        intensity = 10.0 ** (region * db_unit / 10.0)
        assert intensity.mean() ** 2 / intensity.var() == pytest.approx(looks, rel=0.1)
    # A map of the scalar's looks draws what the scalar stage draws (the same keyed z).
    scalar = stage([flat, key]).numpy()[0, ..., 0]
    np.testing.assert_allclose(stage([flat, key, tf.fill((1, 256, 256, 1), 4.0)]).numpy()[0, ..., 0], scalar, atol=1e-5)
    # Keyed by scene pixel: a tile of the scene repeats the scene's speckle there.
    tile = stage([flat[:, :64, 96:160], tf.constant(tile_keys(7, [32], [96])), looks_map[:, 32:96, 96:160]]).numpy()
    np.testing.assert_array_equal(tile[0, ..., 0], image[32:96, 96:160])
    # What an export or a snapshot rebuilds.
    rebuilt = SensorLooks.from_config(SensorLooks((2.5, 4.4), name="looks").get_config())
    assert rebuilt.looks == (2.5, 4.4) and rebuilt.name == "looks"


def test_looks_per_sensor_are_checked():
    import dataclasses

    from pix2pix_sar.models import build_generator

    base = ["model.patch_size=64", *SPECKLE]
    cfg = resolve_config("sampler", assignments=[*base, "model.speckle_looks_by_sensor=[2.5, 4]"]).model
    assert cfg.speckle_looks_by_sensor == (2.5, 4.0)
    with pytest.raises(ConfigError, match="must hold positive looks"):
        resolve_config("sampler", assignments=[*base, "model.speckle_looks_by_sensor=[2.5, 0]"])
    with pytest.raises(ConfigError, match="must be a list of float"):
        resolve_config("sampler", assignments=[*base, "model.speckle_looks_by_sensor=2.5"])
    with pytest.raises(ConfigError, match="needs the sampler's speckle stage"):
        resolve_config("sampler", assignments=["model.speckle_looks=0", "model.speckle_looks_by_sensor=[2]"])
    with pytest.raises(ConfigError, match="sensor planes come after at least one mask channel"):
        build_generator(cfg)  # in_channels 1: no room for two sensor planes
    assert len(build_generator(dataclasses.replace(cfg, in_channels=5)).get_layer("image").input) == 3
