"""Speckle per sensor (issue 25): `prepare` estimates each sensor's looks, and a `sampler`
run conditioned on the sensor draws each sensor's speckle with its own looks."""

import dataclasses

import numpy as np
import pytest

from pix2pix_sar.errors import ConfigError

SIZE = 256  # per scene: enough homogeneous 8x8 blocks for a looks estimate per sensor


@pytest.fixture(scope="module")
def two_sensor_dataset(tmp_path_factory):
    """32-px patches of two synthetic scenes, one S1 (4.4 looks) and one TSX (2.5 looks)."""
    from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
    from pix2pix_sar.data.scenes import SceneInput
    from pix2pix_sar.data.synth import write_synth_scene

    root = tmp_path_factory.mktemp("sensor_looks")
    scenes = [
        SceneInput(*write_synth_scene(root / code, SIZE, SIZE, seed=k, sensor=code))
        for k, code in enumerate(("S1", "TSX"))
    ]
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones")
    return prepare_scenes(scenes, root / "ds", options=options)


def test_prepare_records_the_looks_of_each_sensor(two_sensor_dataset, tiny_dataset):
    from pix2pix_sar.data.dataset import load_info

    info = load_info(two_sensor_dataset)
    by_sensor = info.extra["looks_by_sensor"]
    assert list(by_sensor) == ["TSX", "S1"] == list(info.sensors)  # data/sensors.py order
    assert by_sensor["S1"] > 1.2 * by_sensor["TSX"]  # S1 is multi-looked more than TSX
    assert info.extra["looks"] > 0  # the pooled estimate, as before
    assert "looks_by_sensor" not in load_info(tiny_dataset).extra  # no sensors: dataset.json as before


def test_looks_per_sensor_resolve_in_the_runs_sensor_order(two_sensor_dataset):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.data.looks import resolve_speckle

    info = load_info(two_sensor_dataset)
    recorded = info.extra["looks_by_sensor"]
    model = resolve_config("sampler").model
    resolved = resolve_speckle(model, info, "dataset.json", ("TSX", "S1"))
    assert resolved.speckle_looks_by_sensor == (recorded["TSX"], recorded["S1"])
    assert resolved.speckle_looks == info.extra["looks"]
    # Not conditioned on the sensor (sensor-blind, or one sensor): one looks, as before.
    assert resolve_speckle(model, info, "dataset.json").speckle_looks_by_sensor == ()
    # A dataset prepared before looks per sensor: the pooled looks for every sensor.
    older = dataclasses.replace(info, extra={k: v for k, v in info.extra.items() if k != "looks_by_sensor"})
    assert resolve_speckle(model, older, "dataset.json", ("TSX", "S1")).speckle_looks_by_sensor == ()
    # Looks set by hand: a single looks stays single; looks per sensor must match the sensors.
    fixed = dataclasses.replace(model, speckle_looks=3.0)
    assert resolve_speckle(fixed, info, "dataset.json", ("TSX", "S1")).speckle_looks_by_sensor == ()
    given = dataclasses.replace(model, speckle_looks_by_sensor=(2.0, 5.0))
    assert resolve_speckle(given, info, "dataset.json", ("TSX", "S1")).speckle_looks_by_sensor == (2.0, 5.0)
    with pytest.raises(ConfigError, match=r"has 2 looks, but a run on dataset.json is conditioned on 3 sensors"):
        resolve_speckle(given, info, "dataset.json", ("PALSAR", "TSX", "S1"))
    with pytest.raises(ConfigError, match="is not conditioned on the sensor; leave it empty"):
        resolve_speckle(given, info, "dataset.json")


def test_a_sampler_on_two_sensors_takes_and_keeps_each_sensors_looks(two_sensor_dataset, tmp_path, write_mask):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import load_info, split_size
    from pix2pix_sar.data.synth import synth_scene
    from pix2pix_sar.data.zones import NODATA, OCEAN
    from pix2pix_sar.generation.export import export_run
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.run_folder import RunFolder
    from pix2pix_sar.training.loop import fit

    batch = -(-split_size(two_sensor_dataset, "train") // 2)  # two steps
    sets = ["model.base_filters=8", "training.epochs=1", f"training.batch_size={batch}"]
    fit(resolve_config("sampler", assignments=sets), two_sensor_dataset, tmp_path / "run")
    recorded = load_info(two_sensor_dataset).extra["looks_by_sensor"]
    saved = RunFolder(tmp_path / "run").load_config().model  # from config.yaml
    assert saved.speckle_looks_by_sensor == (recorded["TSX"], recorded["S1"])

    model = export_run(tmp_path / "run", tmp_path / "model")
    card = (model / "model_card.md").read_text()
    assert f"{recorded['TSX']:g} looks for TSX, {recorded['S1']:g} looks for S1" in card
    zones = synth_scene(96, 80, seed=2).zones.copy()
    zones[zones == NODATA] = OCEAN
    images = {}
    for source in (tmp_path / "run", model):  # the snapshot and the export rebuild the same model
        gen = RunGenerator.load(source)
        for sensor in ("S1", "TSX"):
            gen.use_sensor(sensor)
            images[source.name, sensor] = generate_image(gen, zones, TileSettings(tile=256))  # one tile
    for sensor in ("S1", "TSX"):
        assert np.isfinite(images["run", sensor]).all()
        np.testing.assert_allclose(images["model", sensor], images["run", sensor], atol=1e-5)
    assert np.abs(images["run", "S1"] - images["run", "TSX"]).mean() > 1e-3
    gen = RunGenerator.load(tmp_path / "run")
    gen.use_sensor("TSX")
    tiled = generate_image(gen, zones, TileSettings(tile=128))  # 16-px cores
    assert np.abs(tiled - images["run", "TSX"]).max() <= 1e-3  # constant planes: tiled == whole
