"""Runs made by 0.1 (Keras BatchNormalization and Dropout, one input) still generate;
fit refuses to continue them and says why."""

import json

import numpy as np
import pytest

from pix2pix_sar.config import resolve_config
from pix2pix_sar.run_folder import RunFolder


def _legacy_generator(size: int = 32):
    """A 0.1-style generator: one input, BatchNormalization, Dropout."""
    import keras

    mask = keras.Input((size, size, 1), name="mask")
    x = keras.layers.Conv2D(8, 4, strides=2, padding="same", use_bias=False)(mask)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.ReLU()(x)
    image = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", name="image")(x)
    model = keras.Model(mask, image, name="generator")
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


@pytest.fixture()
def legacy_run(tiny_dataset, tmp_path):
    cfg = resolve_config("orig", assignments=["model.patch_size=32", "model.base_filters=8"])
    run = RunFolder(tmp_path / "run")
    run.snapshot_dir.mkdir(parents=True)
    run.state_dir.mkdir()
    run.config_path.write_text(cfg.to_yaml())
    run.dataset_json.write_text((tiny_dataset / "dataset.json").read_text())
    run.run_json.write_text(json.dumps({"dataset": str(tiny_dataset), "version": "0.1.0"}))
    _legacy_generator().save(run.snapshot_path(1))
    return run


def test_a_legacy_snapshot_generates_per_image_and_repeatably(legacy_run):
    from pix2pix_sar.generation.run_generator import RunGenerator

    masks = np.random.default_rng(1).uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    origins = np.zeros((3, 2), np.int64)
    first = RunGenerator.from_run(legacy_run.path, seed=0).generate_batch(masks, origins)
    again = RunGenerator.from_run(legacy_run.path, seed=0).generate_batch(masks, origins)
    assert first.shape == (3, 32, 32, 1) and np.all(np.abs(first) <= 1)
    np.testing.assert_array_equal(first, again)  # seeded dropout: repeatable for a seed


def test_fit_refuses_to_continue_a_legacy_run_and_says_why(legacy_run, tiny_dataset):
    from pix2pix_sar.errors import RunStateError
    from pix2pix_sar.training.loop import fit

    cfg = resolve_config("orig", assignments=["model.base_filters=8", "training.epochs=2"])
    with pytest.raises(RunStateError, match="trained by pix2pix-sar < 0.2.*choose a new out"):
        fit(cfg, tiny_dataset, legacy_run.path)


def test_a_format_2_run_is_not_continued_but_still_generates(tiny_dataset, tmp_path):
    """Format 2 shuffled per replica; format 3 cuts one data order for any replica count."""
    from pix2pix_sar import RUN_FORMAT
    from pix2pix_sar.errors import RunStateError
    from pix2pix_sar.generation.run_generator import RunGenerator
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.loop import fit

    assert RUN_FORMAT > 2
    cfg = resolve_config("orig", assignments=["model.patch_size=32", "model.base_filters=8", "training.epochs=1"])
    run = RunFolder(tmp_path / "run")
    run.snapshot_dir.mkdir(parents=True)
    run.state_dir.mkdir()
    run.config_path.write_text(cfg.to_yaml())
    run.dataset_json.write_text((tiny_dataset / "dataset.json").read_text())
    run.run_json.write_text(json.dumps({"dataset": str(tiny_dataset), "version": "0.2.0", "format": 2}))
    build_pix2pix(cfg, "float32").generator.save(run.snapshot_path(1))
    before = {p: p.stat().st_mtime_ns for p in run.path.rglob("*")}

    more = resolve_config("orig", assignments=["model.base_filters=8", "training.epochs=2"])
    with pytest.raises(RunStateError, match=r"run format 2, whose data order depended on the replica count.*new out"):
        fit(more, tiny_dataset, run.path)
    assert {p: p.stat().st_mtime_ns for p in run.path.rglob("*")} == before  # nothing rewritten
    masks = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    images = RunGenerator.from_run(run.path, seed=0).generate_batch(masks, np.zeros((2, 2), np.int64))
    assert images.shape == (2, 32, 32, 1) and np.all(np.isfinite(images))
