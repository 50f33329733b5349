import csv

import numpy as np
import pytest

from pix2pix_sar.errors import RunStateError, TrainingDivergedError
from pix2pix_sar.run_folder import RunFolder

#: Two encoder blocks instead of five: what these tests check does not depend on the depth,
#: and a fit traces and runs in about 40 % less time.
SHALLOW = "model.unet_depth=2"


def _weights(path):
    import keras

    return keras.models.load_model(path, compile=False).get_weights()


def test_one_train_step_changes_both_networks_and_returns_loss_parts(tiny_dataset, tiny_config):
    import dataclasses

    import tensorflow as tf

    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.zones import encode_binary
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.step import make_train_step

    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, patch_size=32))
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        nets = build_pix2pix(cfg, "float32")
    step = make_train_step(strategy, nets, cfg.loss, global_batch_size=2, mask_channels=1)
    split = load_split(tiny_dataset, "train")
    before_g = [w.copy() for w in nets.generator.get_weights()]
    before_d = [w.copy() for w in nets.discriminator.get_weights()]
    losses = step(tf.constant(encode_binary(split.zones[:2])), tf.constant(split.images[:2]), 0, 0)
    assert set(losses) == {"gen_total", "gen_gan", "gen_l1", "disc"}
    total = float(losses["gen_gan"]) * 1.0 + 100.0 * float(losses["gen_l1"])
    assert float(losses["gen_total"]) == pytest.approx(total, rel=1e-5)
    assert 0.3 < float(losses["gen_gan"]) < 3 and 0.6 < float(losses["disc"]) < 4  # BCE near log 2 at init
    assert any(not np.array_equal(a, b) for a, b in zip(before_g, nets.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(before_d, nets.discriminator.get_weights()))


def test_fit_writes_the_run_folder(tiny_dataset, tiny_config, tmp_path):
    from pix2pix_sar.training.loop import fit

    result = fit(tiny_config("dis3", SHALLOW, epochs=2), tiny_dataset, tmp_path / "run")
    run = RunFolder(tmp_path / "run")
    assert (result.start_epoch, result.end_epoch) == (0, 2)
    assert list(run.snapshots()) == [1, 2]
    cfg = run.load_config()
    assert cfg.variant == "dis3" and cfg.model.patch_size == 32 and cfg.model.discriminator_kernel == 3
    assert run.dataset_info().patch_size == 32
    rows = list(csv.DictReader(run.history_csv.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("gen_total", "gen_gan", "gen_l1", "disc"))
    assert list(run.log_dir.glob("events.out.tfevents.*"))
    assert (run.state_dir / "checkpoint").exists()
    # Nothing temporary is left behind.
    assert not list(run.path.rglob(".*.keras")) and not list(run.path.glob(".*.yaml"))


def _spectral_vectors(run_dir):
    import tensorflow as tf

    state = tf.train.load_checkpoint(str(RunFolder(run_dir).state_dir))
    return {k: state.get_tensor(k) for k in state.get_variable_to_shape_map() if "vector_u" in k}


# Spectral norm: D's power-iteration vectors (non-trainable) must come back from the state too.
@pytest.mark.parametrize("extra", [(), ("model.spectral_norm=true",)], ids=["plain", "spectral_norm"])
def test_resumed_run_equals_uninterrupted_run(extra, tiny_dataset, tiny_config, tmp_path):
    from pix2pix_sar.training.loop import fit

    fit(tiny_config("orig", SHALLOW, *extra, epochs=3), tiny_dataset, tmp_path / "straight")
    fit(tiny_config("orig", SHALLOW, *extra, epochs=1), tiny_dataset, tmp_path / "resumed")
    result = fit(tiny_config("orig", SHALLOW, *extra, epochs=3), tiny_dataset, tmp_path / "resumed")
    assert result.start_epoch == 1
    a = _weights(RunFolder(tmp_path / "straight").snapshot_path(3))
    b = _weights(RunFolder(tmp_path / "resumed").snapshot_path(3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    straight, resumed = _spectral_vectors(tmp_path / "straight"), _spectral_vectors(tmp_path / "resumed")
    assert len(straight) == (5 if extra else 0) and straight.keys() == resumed.keys()  # the PatchGAN's 5 convs
    assert all(np.array_equal(straight[k], resumed[k]) for k in straight)
    rows = list(csv.DictReader(RunFolder(tmp_path / "resumed").history_csv.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # Asking again for the same epochs does nothing.
    again = fit(tiny_config("orig", SHALLOW, *extra, epochs=3), tiny_dataset, tmp_path / "resumed")
    assert again.start_epoch == again.end_epoch == 3


def test_resume_refuses_another_variant_or_architecture(tiny_dataset, tiny_config, tmp_path):
    from pix2pix_sar.training.loop import fit

    fit(tiny_config("orig", SHALLOW, epochs=1), tiny_dataset, tmp_path / "run")
    with pytest.raises(RunStateError, match=r"variant: orig -> gen5"):
        fit(tiny_config("gen5", SHALLOW, epochs=2), tiny_dataset, tmp_path / "run")
    with pytest.raises(RunStateError, match=r"model.base_filters: 8 -> 16"):
        fit(tiny_config("orig", SHALLOW, "model.base_filters=16", epochs=2), tiny_dataset, tmp_path / "run")


def test_non_finite_loss_stops_with_a_clear_error(tiny_dataset, tiny_config, tmp_path):
    from pix2pix_sar.training.loop import fit

    with pytest.raises(TrainingDivergedError, match="loss became .*inf.* at epoch 1, step 1"):
        fit(tiny_config("orig", SHALLOW, "loss.l1_weight=1e39", epochs=2), tiny_dataset, tmp_path / "run")
    assert RunFolder(tmp_path / "run").snapshots() == {}


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_resumes(precision, tiny_dataset, tiny_config, tmp_path):
    import keras

    from pix2pix_sar.training.loop import fit

    cfg = tiny_config("orig", SHALLOW, f"training.precision={precision}", epochs=1)
    fit(cfg, tiny_dataset, tmp_path / "run")
    result = fit(tiny_config("orig", SHALLOW, f"training.precision={precision}"), tiny_dataset, tmp_path / "run")
    assert result.start_epoch == 1
    run = RunFolder(tmp_path / "run")
    rows = list(csv.DictReader(run.history_csv.open()))
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("gen_total", "gen_gan", "gen_l1", "disc"))
    generator = keras.models.load_model(run.snapshot_path(2), compile=False)
    assert generator.output.dtype == "float32"  # the image stays float32
    assert any(item.compute_dtype != "float32" for item in generator.layers)


def test_an_empty_split_is_an_input_error_and_few_patches_feed_many_replicas(tiny_dataset):
    from pix2pix_sar.data.dataset import split_size
    from pix2pix_sar.data.zones import CLASS_SCHEMES
    from pix2pix_sar.errors import InputError
    from pix2pix_sar.training.inputs import epoch_steps, load_worker_shard, worker_rows

    with pytest.raises(InputError, match=r"has no test patches; prepare more patches"):
        load_worker_shard(tiny_dataset, "test", CLASS_SCHEMES["binary"], num_replicas=1, num_workers=1, worker=0)
    # Fewer patches than replicas: the epoch's permutation repeats to fill the global batch.
    n = split_size(tiny_dataset, "val")
    shard = load_worker_shard(tiny_dataset, "val", CLASS_SCHEMES["binary"], num_replicas=4 * n, num_workers=1, worker=0)
    rows, _ = worker_rows(shard, 1, 0, 0, flip=False)
    assert epoch_steps(shard, 4 * n) == 1 and sorted(rows) == sorted(list(range(n)) * 4)


def test_a_generator_trained_at_batch_4_generates_each_mask_as_alone(tiny_dataset, tiny_config, tmp_path):
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.zones import encode_binary
    from pix2pix_sar.models.snapshots import load_generator
    from pix2pix_sar.noise import patch_keys
    from pix2pix_sar.training.loop import fit

    fit(tiny_config("orig", "training.batch_size=4", epochs=1), tiny_dataset, tmp_path / "run")
    generator = load_generator(RunFolder(tmp_path / "run").snapshot_path(1))
    masks = encode_binary(load_split(tiny_dataset, "train").zones[:4])
    keys = patch_keys(0, np.arange(4))
    batch = generator([masks, keys], training=True).numpy()  # dropout on: the generator's noise
    alone = [generator([masks[i : i + 1], keys[i : i + 1]], training=True).numpy() for i in range(4)]
    np.testing.assert_allclose(batch, np.concatenate(alone), atol=1e-4)
