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


def test_smooth_field_is_a_smooth_keyed_function_of_scene_coordinates():
    import tensorflow as tf

    from pix2pix_sar.models.layers import SmoothField
    from pix2pix_sar.noise import patch_keys, tile_keys

    layer = SmoothField(3, salt=7, min_wavelength=8.0, max_wavelength=64.0)

    def field(seed, height, width, row, col):
        return layer([tf.zeros((1, height, width, 1)), tf.constant(tile_keys(seed, [row], [col]))]).numpy()[0]

    whole = field(5, 300, 260, -17, 3)
    # Any tile, at any origin (no alignment to a stride), is the whole scene's crop, bit for bit.
    np.testing.assert_array_equal(field(5, 77, 91, -17 + 113, 3 + 41), whole[113:190, 41:132])
    np.testing.assert_array_equal(field(5, 300, 260, -17, 3), whole)  # a key repeats
    assert np.abs(field(6, 300, 260, -17, 3) - whole).mean() > 0.5  # another seed, another field
    # What a snapshot or an export rebuilds draws the same field.
    rebuilt = SmoothField.from_config(layer.get_config())
    np.testing.assert_array_equal(
        rebuilt([tf.zeros((1, 300, 260, 1)), tf.constant(tile_keys(5, [-17], [3]))])[0], whole
    )

    many = layer([tf.zeros((16, 128, 128, 1)), tf.constant(patch_keys(1, np.arange(16)))]).numpy()
    assert abs(many.mean()) < 0.05 and 0.9 < many.std() < 1.1  # zero mean, unit variance
    # Smooth: neighbours differ far less than the field varies.
    assert np.abs(np.diff(many, axis=1)).std() < 0.4 and np.abs(np.diff(many, axis=2)).std() < 0.4


def _front_phase_input(size=128, period=8):
    """Zones one-hot (rock left, glacier right), then the sin and cos of 2 pi d / period on the
    glacier (d the distance to its right edge, 0 on rock), scaled as BandScalings, and those."""
    from pix2pix_sar.data.extra_bands import BandScaling

    scalings = (
        BandScaling("front_sin_8", "1", -1.1, 1.05, "bilinear"),
        BandScaling("front_cos_8", "1", -1.02, 1.2, "bilinear"),
    )
    glacier = np.zeros((size, size), bool)
    glacier[:, size // 2 :] = True
    distance = np.broadcast_to(size - 1 - np.arange(size, dtype=np.float64), (size, size))
    raw = [np.where(glacier, wave(2 * np.pi * distance / period), 0.0) for wave in (np.sin, np.cos)]
    planes = [np.where(glacier, 0.0, 1.0), glacier.astype(float), np.zeros((size, size))]
    planes += [scaling.to_model(r) for scaling, r in zip(scalings, raw)]
    bands = ((3, 4, period, scalings[0].low, scalings[0].high, scalings[1].low, scalings[1].high),)
    return np.stack(planes, axis=-1).astype(np.float32)[None], glacier, distance, scalings, bands


def test_front_phase_shift_moves_the_bands_on_the_glacier_only():
    import tensorflow as tf

    from pix2pix_sar.models.front_shift import FrontPhaseShift
    from pix2pix_sar.models.layers import SmoothField
    from pix2pix_sar.noise import tile_keys

    x, glacier, distance, scalings, bands = _front_phase_input()
    field_layer = SmoothField(1, salt=201, min_wavelength=64.0, max_wavelength=512.0)

    def shifted(std, seed):
        field = field_layer([tf.constant(x), tf.constant(tile_keys(seed, [0], [0]))])
        return FrontPhaseShift(bands, std)([tf.constant(x), field]).numpy()[0], field.numpy()[0, ..., 0]

    np.testing.assert_allclose(shifted(0.0, 1)[0], x[0], atol=1e-6)  # no shift: the input
    out, field = shifted(8.0, 1)
    np.testing.assert_array_equal(out[..., :3], x[0, ..., :3])  # the zones pass unchanged
    sin, cos = (scaling.from_model(out[..., 3 + i]) for i, scaling in enumerate(scalings))
    # The bands of the distance moved by 8 px x the field, in the data's units: a rotation,
    # so the length of (sin, cos) is kept and (0, 0) off the glacier stays (0, 0).
    moved = 2 * np.pi * (distance + 8.0 * field) / 8
    np.testing.assert_allclose(sin[glacier], np.sin(moved)[glacier], atol=1e-4)
    np.testing.assert_allclose(cos[glacier], np.cos(moved)[glacier], atol=1e-4)
    np.testing.assert_allclose((sin**2 + cos**2)[glacier], 1.0, atol=1e-4)
    np.testing.assert_allclose(np.stack([sin, cos])[:, ~glacier], 0.0, atol=1e-5)
    assert np.abs(field).max() > 0.5  # moved by pixels, not by nothing
    other = shifted(8.0, 2)[0]
    assert np.abs(other - out)[glacier].mean() > 0.1  # another seed moves the bands elsewhere
    rebuilt = FrontPhaseShift.from_config(FrontPhaseShift(bands, 8.0, name="front_shift").get_config())
    assert rebuilt.bands == tuple(tuple(float(v) for v in b) for b in bands) and rebuilt.std == 8.0


def test_front_phase_and_smooth_noise_options_are_checked(tiny_dataset, tmp_path):
    from pix2pix_sar.models import build_generator
    from pix2pix_sar.training.loop import _resolve_for_dataset

    on = ["model.front_phase_shift=8", "model.smooth_noise_channels=4"]
    cfg = resolve_config("sampler", assignments=on)
    assert (cfg.model.front_phase_shift, cfg.model.smooth_noise_channels) == (8.0, 4)
    config_file = tmp_path / "c.yaml"
    config_file.write_text("model:\n  front_phase_shift: 8\n  smooth_noise_channels: 4\n")
    assert resolve_config("sampler", config_file=config_file) == cfg
    assert resolve_config("sampler").model.front_phase_shift == 0  # off unless asked for
    bad = {
        "model.front_phase_shift=-1": "must be >= 0",
        "model.smooth_noise_channels=-2": "must be >= 0",
        "model.front_phase_bands=[[3, 4, 8, -1, 1]]": "holds \\(sin channel",
        "model.front_phase_bands=[[3, 9, 8, -1, 1, -1, 1]]": "channels must be input channels",
        "model.iceberg_noise=1.5": "is a probability",
        "model.iceberg_gate_channel=5": "an input channel or -1",
        "model.iceberg_share=0.5": "share of the ocean icebergs cover, in \\(0, 0.2\\]",
        "model.iceberg_share=-0.5": "share of the ocean icebergs cover",
        "model.iceberg_share=0.01": "iceberg_contrast_db must be > 0 dB",
    }
    for assignment, message in bad.items():
        with pytest.raises(ConfigError, match=message) as info:
            resolve_config("sampler", assignments=["model.in_channels=5", assignment])
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="needs model.speckle_looks"):
        resolve_config("sampler", assignments=["model.speckle_looks=0", "model.iceberg_share=-1"])
    for other in [*on, "model.iceberg_noise=0.3", "model.iceberg_share=-1"]:
        with pytest.raises(ConfigError, match="generator=sampler's; leave them"):
            resolve_config("scene", assignments=[other])
    with pytest.raises(ConfigError, match="front-phase bands' channels and scaling"):
        build_generator(resolve_config("sampler", assignments=[*SPECKLE, *on]).model)
    with pytest.raises(ConfigError, match="has no front-phase bands .* prepare the dataset with context"):
        _resolve_for_dataset(cfg, tiny_dataset)  # a dataset prepared without context bands
    icebergs = resolve_config("sampler", assignments=[*SPECKLE, "model.iceberg_noise=0.3"])
    with pytest.raises(ConfigError, match="ocean's input channel"):
        build_generator(icebergs.model)
    with pytest.raises(ConfigError, match="classes are land, ocean; prepare the dataset with classes zones"):
        _resolve_for_dataset(icebergs, tiny_dataset)  # binary classes: no ocean channel to gate by
    stage = resolve_config("sampler", assignments=[*SPECKLE, "model.iceberg_share=-1"])
    with pytest.raises(ConfigError, match="ocean's input channel"):
        build_generator(stage.model)
    with pytest.raises(ConfigError, match="model.iceberg_share puts icebergs in the ocean's one-hot channel"):
        _resolve_for_dataset(stage, tiny_dataset)


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
