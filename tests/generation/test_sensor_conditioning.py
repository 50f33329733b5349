"""Sensor conditioning (issue 25): a run on two or more sensors takes one constant one-hot
plane per sensor after the mask channels; `generate --sensor` picks the sensor."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene, write_synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN, class_scheme

SIZE = 128
SEG_TINY = ["--base-filters", "4", "--depth", "2", "--batch-size", "16", "--steps", "2"]


@pytest.fixture(scope="module")
def sensor_dataset(tmp_path_factory):
    """32-px patches of two synthetic scenes, one S1 and one TSX."""
    from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
    from pix2pix_sar.data.scenes import SceneInput

    root = tmp_path_factory.mktemp("sensors")
    scenes = [
        SceneInput(*write_synth_scene(root / code, SIZE, SIZE, seed=k, sensor=code))
        for k, code in enumerate(("S1", "TSX"))
    ]
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones")
    return prepare_scenes(scenes, root / "ds", options=options)


@pytest.fixture(scope="module")
def sensor_run(sensor_dataset, tmp_path_factory):
    """A whole-scene (`scene`) run trained 1 epoch on `sensor_dataset`."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    run = tmp_path_factory.mktemp("sensor_run") / "run"
    fit(resolve_config("scene", assignments=["model.base_filters=8", "training.epochs=1"]), sensor_dataset, run)
    return run


def _zones():
    zones = synth_scene(200, 160, seed=3).zones.copy()
    zones[zones == NODATA] = OCEAN
    return zones


def test_input_channels_follow_the_sensors(sensor_dataset, tiny_dataset):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import _resolve_for_dataset

    cfg = resolve_config("scene", assignments=["model.base_filters=8"])
    channels = class_scheme("zones", "x").channels
    with_sensors, info = _resolve_for_dataset(cfg, sensor_dataset)
    assert info.sensors == ("TSX", "S1") and with_sensors.model.in_channels == channels + 2
    # No sensors in the data: the input is what it always was.
    plain, plain_info = _resolve_for_dataset(cfg, tiny_dataset)
    assert plain_info.sensors == () and plain.model.in_channels == class_scheme(plain_info.classes, "x").channels


def test_sensor_blind_run_has_the_channels_of_a_run_without_sensors(sensor_dataset, tmp_path, write_mask):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_facts import model_facts
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.run_folder import RunFolder
    from pix2pix_sar.training.loop import _resolve_for_dataset, fit

    sets = ["model.base_filters=8", "model.unet_depth=2", "training.epochs=1", "data.sensor_conditioning=false"]
    cfg = resolve_config("scene", assignments=sets)
    blind, info = _resolve_for_dataset(cfg, sensor_dataset)
    assert info.sensors == ("TSX", "S1") and blind.model.in_channels == class_scheme("zones", "x").channels
    run = tmp_path / "blind"
    fit(cfg, sensor_dataset, run)
    folder = RunFolder(run)
    assert folder.load_config().data.sensor_conditioning is False  # config.yaml says the run is blind
    facts = model_facts(folder, folder.load_config(), folder.dataset_info(), 1)
    assert "sensors" not in facts["input"] and facts["input"]["total_channels"] == facts["input"]["channels"]
    gen = RunGenerator.load(run)
    zones = _zones()
    assert gen.sensors == () and generate_image(gen, zones, TileSettings(tile=128)).shape == zones.shape
    mask = write_mask(tmp_path / "m.tif", zones)
    result = CliRunner().invoke(cli, ["-q", "generate", str(mask), "--run", str(run), "--out", str(tmp_path / "g.tif")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        cli, ["generate", str(mask), "--run", str(run), "--out", str(tmp_path / "s.tif")] + ["--sensor", "S1"]
    )
    assert result.exit_code != 0 and "is not conditioned on the sensor; leave out --sensor" in result.output


def test_generate_renders_the_sensor_asked_for(sensor_run, tmp_path, write_mask):
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    zones = _zones()
    mask = write_mask(tmp_path / "m.tif", zones)
    out = tmp_path / "g.tif"
    args = ["-q", "generate", str(mask), "--run", str(sensor_run), "--units", "model", "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--sensor", "s1"])
    assert result.exit_code == 0, result.output
    assert geo.raster_metadata(out)["sensor"] == "S1" and geo.raster_metadata(out)["run_sensors"] == "TSX,S1"

    gen = RunGenerator.load(sensor_run)
    assert gen.use_sensor("S1") == "S1"
    s1 = generate_image(gen, zones, TileSettings(tile=256))
    np.testing.assert_allclose(geo.read_raster(out)[0], s1, atol=1e-3)
    tiled = generate_image(gen, zones, TileSettings(tile=128))
    assert np.abs(s1 - tiled).max() <= 1e-3  # constant planes: tiled == whole
    gen.use_sensor("tsx")
    assert np.abs(generate_image(gen, zones, TileSettings(tile=256)) - s1).mean() > 1e-3


def test_model_facts_name_the_sensor_channels(sensor_run):
    from pix2pix_sar.generation.run_facts import model_facts
    from pix2pix_sar.run_folder import RunFolder

    run = RunFolder(sensor_run)
    facts = model_facts(run, run.load_config(), run.dataset_info(), 1)
    assert facts["input"]["sensors"] == ["TSX", "S1"]
    assert facts["input"]["total_channels"] == facts["input"]["channels"] + 2


def test_generate_sensor_errors_are_one_line_and_write_nothing(sensor_run, tiny_run, tmp_path, write_mask):
    mask = write_mask(tmp_path / "m.tif", _zones())
    out = tmp_path / "g.tif"
    base = ["generate", str(mask), "--run", str(sensor_run), "--out", str(out)]
    cases = [
        ([*base, "--sensor", "ERS"], f"{sensor_run}: unknown sensor 'ERS'; this run knows TSX, S1"),
        (base, f"{sensor_run} is conditioned on the sensor; give --sensor, one of TSX, S1"),
        (
            ["generate", str(mask), "--run", str(tiny_run), "--out", str(out), "--sensor", "S1"],
            f"{tiny_run} is not conditioned on the sensor; leave out --sensor",
        ),
    ]
    for argv, message in cases:
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code != 0 and not out.exists()
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_api_takes_the_sensor(sensor_run):
    import pix2pix_sar
    from pix2pix_sar.errors import InputError

    g = pix2pix_sar.load(sensor_run)
    assert g.sensors == ("TSX", "S1")
    zones = _zones()
    a, b = g.generate(zones, sensor="S1"), g.generate(zones, sensor="TSX")
    assert a.shape == zones.shape and np.nanmean(np.abs(a - b)) > 0
    with pytest.raises(InputError, match="give sensor, one of TSX, S1"):
        g.generate(zones)


def test_evaluate_and_seg_evaluate_break_scores_down_by_sensor(sensor_run, sensor_dataset, tmp_path):
    import csv

    from pix2pix_sar.data.dataset import load_manifest
    from pix2pix_sar.evaluation.segscore import seg_evaluate
    from pix2pix_sar.evaluation.sweep import evaluate_run

    evaluate_run(sensor_run, sensor_dataset, split="train")  # the sensor planes reach the generator
    with (sensor_run / "eval" / "by_group.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    train = [r for r in load_manifest(sensor_dataset) if r.split == "train"]
    by_sensor = {r["group"]: int(r["images"]) for r in rows if r["by"] == "sensor"}
    assert by_sensor == {code: sum(r.sensor == code for r in train) for code in ("S1", "TSX")}
    assert {r["group"] for r in rows if r["by"] == "resolution"} == {"20 m", "7 m"}
    assert all(r["dice_mean"] != "nan" for r in rows)

    seg = tmp_path / "seg"
    result = CliRunner().invoke(cli, ["-q", "seg", "fit", "--data", str(sensor_dataset), "--out", str(seg), *SEG_TINY])
    assert result.exit_code == 0, result.output
    scores = seg_evaluate(seg, sensor_dataset, "train")
    assert {k: v["patches"] for k, v in scores["by_sensor"].items()} == by_sensor
    assert set(scores["by_resolution"]) == {"20 m", "7 m"} and "miou" in scores["by_sensor"]["S1"]


def test_generate_as_dataset_names_the_sensor_it_rendered(sensor_run, tmp_path, write_mask):
    from pix2pix_sar.data.dataset import load_info, load_manifest

    mask = write_mask(tmp_path / "m.tif", _zones())
    out = tmp_path / "synthetic"
    args = ["-q", "generate", str(mask), "--run", str(sensor_run), "--as-dataset", str(out), "--sensor", "tsx"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert load_info(out).sensors == ("TSX",)
    assert {r.sensor for r in load_manifest(out)} == {"TSX"}
    assert (out / "manifest.csv").read_text().splitlines()[0].endswith(",sensor")


def test_scene_measures_and_preview_render_the_scenes_sensor(sensor_run, tmp_path):
    from pix2pix_sar.errors import InputError
    from pix2pix_sar.evaluation.scene_eval import evaluate_scene

    sar, zones = write_synth_scene(tmp_path / "s1", 96, 96, seed=5, sensor="S1")
    assert evaluate_scene(sensor_run, zones, sar, samples=1)["sensor"] == "S1"  # the scene's SENSOR item
    assert evaluate_scene(sensor_run, zones, sar, samples=1, sensor="tsx")["sensor"] == "TSX"
    plain_sar, plain_zones = write_synth_scene(tmp_path / "plain", 96, 96, seed=5)
    with pytest.raises(InputError, match="names no sensor; give sensor, one of TSX, S1"):
        evaluate_scene(sensor_run, plain_zones, plain_sar, samples=1)

    out = tmp_path / "preview.png"
    args = ["-q", "preview", str(sensor_run), "--out", str(out), "--count", "1", "--scene", str(zones), str(sar)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and out.exists(), result.output
    result = CliRunner().invoke(cli, ["evaluate", str(sensor_run), "--sensor", "S1"])
    assert result.exit_code != 0 and "--sensor applies to --scene" in result.output
