"""tf.distribute on this CPU: 2 logical devices (mirrored) and 2 processes on
localhost (multi-worker) must do the same arithmetic as one device that runs the
two batch-1 halves separately and averages their gradients — with dropout on, each
example drawing its own mask from its key (seed, epoch, step, global example index)."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pix2pix_sar.run_folder import RunFolder

pytestmark = pytest.mark.slow  # every test reads runs trained by `fit` subprocesses

#: float32 sums over replicas are ordered differently than in the reference.
WEIGHT_ATOL = 1e-5
ARGS = ["--batch-size", "2", "--checkpoint-every", "1", "--set", "model.base_filters=8"]


def _fit(data, out, strategy, epochs, env_extra=None, wait=True):
    argv = [
        sys.executable,
        "-m",
        "pix2pix_sar",
        "-q",
        "fit",
        "--data",
        str(data),
        "--out",
        str(out),
        "--strategy",
        strategy,
        "--epochs",
        str(epochs),
        *ARGS,
    ]
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out_text, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return proc


def _generator_weights(run_dir, epoch):
    import keras

    import pix2pix_sar.models.layers  # noqa: F401  (registers the custom layers the snapshot names)

    model = keras.models.load_model(RunFolder(run_dir).snapshot_path(epoch), compile=False)
    return [v.numpy() for v in model.trainable_variables]


def _history(run_dir):
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(RunFolder(run_dir).history_csv.open())]


@pytest.fixture(scope="module")
def mirrored_run(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "run"
    _fit(tiny_dataset, out, "mirrored", 1, {"PIX2PIX_SAR_LOGICAL_CPUS": "2"})
    return out


def test_mirrored_equals_two_separate_halves_on_one_device(mirrored_run, tiny_dataset):
    import keras
    import tensorflow as tf

    from pix2pix_sar.data.zones import CLASS_SCHEMES
    from pix2pix_sar.models.layers import training_keys
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.inputs import load_worker_shard, worker_dataset
    from pix2pix_sar.training.step import LOSS_NAMES, make_gradient_fn

    cfg = RunFolder(mirrored_run).load_config()
    assert cfg.training.strategy == "mirrored" and cfg.training.batch_size == 2 and cfg.model.dropout == 0.5
    keras.utils.set_random_seed(cfg.training.seed)
    nets = build_pix2pix(cfg, "float32")
    gradients = make_gradient_fn(nets, cfg.loss, global_batch_size=2, mask_channels=1)
    shard = load_worker_shard(tiny_dataset, "train", CLASS_SCHEMES["binary"], num_replicas=2, num_workers=1, worker=0)
    batches = list(worker_dataset(shard, 1, cfg.training.seed, 0).as_numpy_iterator())  # replica 0, 1, 0, 1, ...
    sums, steps = dict.fromkeys(LOSS_NAMES, 0.0), len(batches) // 2
    for step in range(steps):
        halves = [
            gradients(tf.constant(m), tf.constant(t), training_keys(cfg.training.seed, 0, step, tf.constant([r])))
            for r, (m, t) in enumerate(batches[2 * step : 2 * step + 2])
        ]
        for k in LOSS_NAMES:
            sums[k] += sum(float(h[0][k]) for h in halves)
        gen_grads = [a + b for a, b in zip(halves[0][1], halves[1][1])]
        disc_grads = [a + b for a, b in zip(halves[0][2], halves[1][2])]
        nets.generator_optimizer.apply_gradients(zip(gen_grads, nets.generator.trainable_variables))
        nets.discriminator_optimizer.apply_gradients(zip(disc_grads, nets.discriminator.trainable_variables))

    mirrored = _generator_weights(mirrored_run, 1)
    reference = [v.numpy() for v in nets.generator.trainable_variables]
    assert len(mirrored) == len(reference)
    for a, b in zip(mirrored, reference):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)
    (row,) = _history(mirrored_run)
    for k in LOSS_NAMES:
        assert row[k] == pytest.approx(sums[k] / steps, rel=1e-4)


def test_mirrored_equals_one_device_at_the_same_global_batch(mirrored_run, tiny_dataset, tmp_path):
    """The data order is the same for 1 and 2 replicas (each replica takes its slice of
    the same global batch, the short last one included), so a whole epoch of steps with
    dropout on ends with the same weights and losses."""
    import dataclasses

    from pix2pix_sar.data.dataset import split_size
    from pix2pix_sar.training.loop import fit

    mirrored_cfg = RunFolder(mirrored_run).load_config()
    assert split_size(tiny_dataset, "train") % 2 == 1  # the last batch wraps
    cfg = dataclasses.replace(mirrored_cfg, training=dataclasses.replace(mirrored_cfg.training, strategy="one-device"))
    fit(cfg, tiny_dataset, tmp_path / "one")
    one = _generator_weights(tmp_path / "one", 1)
    mirrored = _generator_weights(mirrored_run, 1)
    assert len(one) == len(mirrored)
    for a, b in zip(one, mirrored):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)
    (row,), (mirrored_row,) = _history(tmp_path / "one"), _history(mirrored_run)
    for k in ("gen_total", "gen_gan", "gen_l1", "disc"):
        assert row[k] == pytest.approx(mirrored_row[k], rel=1e-4)


def spectral_norm_steps(data, strategy_name: str, steps, out=None):
    """`steps` train steps (global batch 2) of a tiny `orig` with ``model.spectral_norm`` under
    `strategy_name`: D's and G's weights, and how far apart the replicas' copies of them are
    (saved to `out` as .npz too, for a subprocess with logical CPUs)."""
    from pix2pix_sar.training.distribute import make_strategy

    strategy = make_strategy(strategy_name)  # first: it may split the CPU
    import keras
    import tensorflow as tf

    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.zones import encode_binary
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.step import make_train_step

    cfg = resolve_config(
        "orig", assignments=["model.base_filters=8", "model.patch_size=32", "model.spectral_norm=true"]
    )
    keras.utils.set_random_seed(0)
    with strategy.scope():
        nets = build_pix2pix(cfg, "float32")
    step = make_train_step(strategy, nets, cfg.loss, global_batch_size=2, mask_channels=1)
    split = load_split(data, "train", range(2 * int(steps)))
    pairs = tf.data.Dataset.from_tensor_slices((encode_binary(split.zones), split.images)).batch(2)
    for i, (mask, target) in enumerate(strategy.experimental_distribute_dataset(pairs)):
        step(mask, target, 0, i)
    variables = nets.discriminator.weights + nets.generator.weights
    copies = [getattr(v.value, "values", (v.value,)) for v in variables]
    spread = max(float(np.abs(c.numpy() - vs[0].numpy()).max()) for vs in copies for c in vs)
    weights = [v.numpy() for v in variables]
    if out is not None:
        np.savez(out, *weights, spread=spread)
    return weights, spread


def test_mirrored_steps_with_spectral_norm_equal_one_device(tiny_dataset, tmp_path, monkeypatch):
    """Spectral norm's power iteration writes D's vectors and kernels inside each replica's
    step (their aggregation is none: each replica writes its own copy). Every replica computes
    them from the same mirrored values and no data, so the copies stay equal and 2 replicas
    step as one device does."""
    import keras

    from pix2pix_sar.training.adam import FusedAdam

    out, steps = tmp_path / "mirrored.npz", 8
    code = "import sys; from tests.training.test_distributed import spectral_norm_steps as run; run(*sys.argv[1:])"
    env = {**os.environ, "PIX2PIX_SAR_LOGICAL_CPUS": "2"}
    subprocess.run(
        [sys.executable, "-c", code, str(tiny_dataset), "mirrored", str(steps), str(out)],
        env=env,
        cwd=Path(__file__).parents[2],  # the repository root: `tests` is importable
        check=True,
        timeout=300,
    )
    # Replicas update with Keras's Adam (adam.py), one device with the fused op: rounding apart, and
    # on a longer run a generator ReLU crossed zero by that rounding (then weights 1e-4..3e-3 apart).
    monkeypatch.setattr(FusedAdam, "update_step", keras.optimizers.Adam.update_step)
    one, _ = spectral_norm_steps(tiny_dataset, "one-device", steps)
    with np.load(out) as saved:
        assert float(saved["spread"]) == 0.0  # the replicas' copies are equal
        mirrored = [saved[f"arr_{i}"] for i in range(len(one))]
    for a, b in zip(one, mirrored, strict=True):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start_workers(data, out, epochs, env_of_worker=None):
    """Two `fit --strategy multi-worker` processes on free localhost ports (not waited for)."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    return [
        _fit(
            data,
            out,
            "multi-worker",
            epochs,
            {
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                **(env_of_worker or {}).get(i, {}),
            },
            wait=False,
        )
        for i in range(2)
    ]


def _wait_all(workers, timeout=300):
    """Each worker's stderr once all have ended; a worker left hanging (the other gone) is killed."""
    try:
        return [proc.communicate(timeout=timeout)[1] for proc in workers]
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_multi_worker_sigterm_to_one_stops_both_at_the_same_step_then_resumes_to_the_mirrored_run(
    mirrored_run, tiny_dataset, tmp_path
):
    """Three rounds of two workers (one chain, so each round is started once): SIGTERM to
    one stops both after the same agreed step; the rerun ends epoch 1 with the mirrored
    run's weights; a third round resumes at the epoch end to epoch 2."""
    import tensorflow as tf

    from pix2pix_sar.training.preemption import AGREE_EVERY, SIGNAL_AT_STEP_ENV

    out, run = tmp_path / "run", RunFolder(tmp_path / "run")
    # Worker 1 (not the chief) gets SIGTERM after step 3; the workers agree on stopping every AGREE_EVERY steps.
    signal_worker_1 = {1: {SIGNAL_AT_STEP_ENV: "3"}}
    workers = _start_workers(tiny_dataset, out, 1, signal_worker_1)
    errors = _wait_all(workers)
    assert [proc.returncode for proc in workers] == [143, 143], errors
    for err in errors:
        assert f"SIGTERM: stopped after epoch 1, step {AGREE_EVERY} of " in err and "to resume, rerun:" in err, err
        assert "Traceback" not in err
    state = tf.train.load_checkpoint(str(run.state_dir))  # written once, by the chief
    assert state.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 0
    assert state.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == AGREE_EVERY
    assert list(run.snapshots()) == []

    # Both rerun as before: they continue after step AGREE_EVERY (so step 3, worker 1's signal, never
    # comes again) and end as the uninterrupted run does.
    workers = _start_workers(tiny_dataset, out, 1, signal_worker_1)
    errors = _wait_all(workers)
    assert [proc.returncode for proc in workers] == [0, 0], errors
    assert list(run.snapshots()) == [1] and [int(r["epoch"]) for r in _history(out)] == [1]
    state = tf.train.load_checkpoint(str(run.state_dir))
    assert state.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 1
    for a, b in zip(_generator_weights(out, 1), _generator_weights(mirrored_run, 1)):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)
    assert _history(out)[0]["gen_total"] == pytest.approx(_history(mirrored_run)[0]["gen_total"], rel=1e-4)

    # Resumed at the epoch end to epoch 2: one set of snapshots and one state, by the chief.
    workers = _start_workers(tiny_dataset, out, 2)
    errors = _wait_all(workers)
    assert [proc.returncode for proc in workers] == [0, 0], errors
    assert list(run.snapshots()) == [1, 2]
    assert [int(r["epoch"]) for r in _history(out)] == [1, 2]
    state = tf.train.load_checkpoint(str(run.state_dir))
    assert (
        state.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 2
        and state.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 0
    )
    assert [p.name for p in run.state_dir.iterdir() if p.is_dir()] == []  # only the chief writes state
