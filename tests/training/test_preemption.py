"""State saved in the background, time-based state saving, and stopping on SIGTERM/SIGINT:
a run stopped mid-epoch and rerun ends bit-identical to an uninterrupted one, and resume
never trusts a state it cannot read."""

import csv
import signal

import numpy as np
import pytest

from pix2pix_sar.config import Interval, resolve_config
from pix2pix_sar.errors import ConfigError, RunStateError, TrainingInterrupted
from pix2pix_sar.run_folder import RunFolder

#: Two epochs at batch 2 (~29 steps each) of the tiny model, two encoder blocks deep (a
#: resume is exact at any depth; a shallow one is faster), the state only at the end.
ARGS = ("training.batch_size=2", "model.unet_depth=2")


def _state(run_dir):
    """Every tensor of the run's newest state (both networks, both optimizers, the position)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(RunFolder(run_dir).state_dir))
    names = [n for n in reader.get_variable_to_shape_map() if not n.startswith(("save_counter", "_CHECKPOINTABLE"))]
    return {n: reader.get_tensor(n) for n in names}


def _assert_same_run(a, b):
    state_a, state_b = _state(a), _state(b)
    assert state_a.keys() == state_b.keys() and any(k.startswith("discriminator/") for k in state_a)
    different = [k for k in state_a if not np.array_equal(state_a[k], state_b[k])]
    assert not different, different[:5]
    rows_a, rows_b = (list(csv.DictReader(RunFolder(r).history_csv.open())) for r in (a, b))
    losses = ("epoch", "gen_total", "gen_gan", "gen_l1", "disc")
    assert [[r[k] for k in losses] for r in rows_a] == [[r[k] for k in losses] for r in rows_b]


@pytest.fixture(scope="module")
def straight_run(tiny_dataset, tmp_path_factory):
    """Two epochs without interruption (the reference)."""
    from pix2pix_sar.training.loop import fit

    out = tmp_path_factory.mktemp("straight") / "run"
    fit(resolve_config("orig", assignments=["model.base_filters=8", "training.epochs=2", *ARGS]), tiny_dataset, out)
    return out


def _config(*extra, epochs=2):
    return resolve_config("orig", assignments=["model.base_filters=8", f"training.epochs={epochs}", *ARGS, *extra])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, Interval(epochs=3)),
        ("90s", Interval(seconds=90.0)),
        ("10m", Interval(seconds=600.0)),
        ("1.5h", Interval(seconds=5400.0)),
    ],
)
def test_state_every_takes_epochs_or_a_duration(value, expected):
    cfg = resolve_config("orig", assignments=[f"training.state_every={value}"])
    assert cfg.training.state_interval == expected


@pytest.mark.parametrize("value", ["0", "10x", "0s", "-1", "true", "m"])
def test_state_every_refuses_what_is_neither(value):
    with pytest.raises(ConfigError, match="training.state_every"):
        resolve_config("orig", assignments=[f"training.state_every={value}"])


def test_time_schedule_is_due_after_the_interval_at_steps_and_epoch_ends_and_resets_on_save():
    from pix2pix_sar.training.state_saver import SaveSchedule

    now = [0.0]
    schedule = SaveSchedule(Interval(seconds=60.0), clock=lambda: now[0])
    now[0] = 59.0
    assert not schedule.due_after_step() and not schedule.due_after_epoch(1)
    assert schedule.due_after_epoch(1, final=True)  # the last state is always written
    now[0] = 60.0
    assert schedule.due_after_step() and schedule.due_after_epoch(1)  # an epoch end counts too
    schedule.saved()
    assert not schedule.due_after_step() and not schedule.due_after_epoch(2)
    now[0] = 125.0  # one step per epoch: only epoch ends are asked
    assert schedule.due_after_epoch(3)
    epochs = SaveSchedule(Interval(epochs=2), clock=lambda: now[0])
    now[0] = 1e9
    assert [epochs.due_after_epoch(e) for e in (1, 2, 3, 4)] == [False, True, False, True]
    assert not epochs.due_after_step() and epochs.due_after_epoch(3, final=True)


def test_fit_saves_by_time_at_epoch_ends_with_one_step_per_epoch(tiny_dataset, tmp_path, monkeypatch):
    """A duration shorter than an epoch: a state at every epoch end (before, only the last).
    The other cases of the rule are in the schedule's test above."""
    from pix2pix_sar.data.dataset import split_size
    from pix2pix_sar.training.loop import fit
    from pix2pix_sar.training.state_saver import recorded_states
    from tests.helpers import count_state_saves

    numbers = count_state_saves(monkeypatch)
    batch = split_size(tiny_dataset, "train")  # the whole split: one step per epoch
    cfg = resolve_config(
        "orig",
        assignments=["model.base_filters=8", "model.unet_depth=2", "training.epochs=3", f"training.batch_size={batch}",
                     "training.state_every=0.001s", "training.keep_states=5"],
    )  # fmt: skip
    result = fit(cfg, tiny_dataset, tmp_path / "run")
    assert numbers == [1, 2, 3] and result.timing.state_saves == 3
    on_disk = recorded_states(RunFolder(tmp_path / "run").state_dir)
    assert sorted(int(p.rsplit("-", 1)[1]) for p in on_disk) == [1, 2, 3]


def test_skipping_steps_gives_the_rest_of_the_epoch(tiny_dataset):
    from pix2pix_sar.data.zones import CLASS_SCHEMES
    from pix2pix_sar.training.inputs import load_worker_shard, worker_dataset

    shard = load_worker_shard(tiny_dataset, "train", CLASS_SCHEMES["binary"], 1, 1, 0)
    whole = [m.numpy() for m, _ in worker_dataset(shard, 3, seed=5, epoch=2, flip=True)]
    rest = [m.numpy() for m, _ in worker_dataset(shard, 3, seed=5, epoch=2, flip=True, skip=4)]
    assert len(rest) == len(whole) - 4
    assert all(np.array_equal(a, b) for a, b in zip(whole[4:], rest))


def test_background_state_holds_the_values_of_the_moment_it_was_saved(tmp_path):
    import keras
    import tensorflow as tf

    from pix2pix_sar.training.state_saver import BackgroundWriter, StateSaver, restore_state

    def objects():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
        return {"model": model, "optimizer": optimizer, "step": tf.Variable(0, dtype=tf.int64)}

    live = objects()
    writer = BackgroundWriter()
    saver = StateSaver(live, tmp_path / "state", max_to_keep=2, writer=writer)
    expected = []
    for number in (1, 2):
        live["step"].assign(number)
        for v in live["model"].trainable_variables:
            v.assign(v + 1.0)
        expected = [v.numpy().copy() for v in live["model"].weights]
        saver.save(number)
        for v in live["model"].trainable_variables:  # changed while (maybe) being written
            v.assign(v * 0.0 - 7.0)
    writer.close()
    fresh = objects()
    assert restore_state(fresh, tmp_path / "state").endswith("ckpt-2")
    assert int(fresh["step"].numpy()) == 2
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(expected, fresh["model"].weights))


def test_sigterm_mid_epoch_then_rerun_is_bit_identical(straight_run, tiny_dataset, tmp_path, monkeypatch):
    from pix2pix_sar.training.loop import fit

    out = tmp_path / "run"
    monkeypatch.setenv("PIX2PIX_SAR_SIGNAL_AT_STEP", "11")  # mid epoch 1
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="SIGTERM: stopped after epoch 1, step 11 of ") as stopped:
        fit(_config(), tiny_dataset, out)
    assert stopped.value.exit_status == 143 and signal.getsignal(signal.SIGTERM) is previous
    assert _state(out)["step/.ATTRIBUTES/VARIABLE_VALUE"] == 11 and not RunFolder(out).history_csv.exists()
    result = fit(_config(), tiny_dataset, out)  # the hook does not fire again: step 11 is done
    assert (result.start_epoch, result.end_epoch) == (0, 2)
    _assert_same_run(straight_run, out)
    rows = list(csv.DictReader(RunFolder(out).history_csv.open()))
    assert all(float(r["seconds"]) >= float(r["step_seconds"]) + float(r["input_seconds"]) > 0 for r in rows)


def test_unreadable_newest_state_falls_back_and_a_partial_write_is_ignored(straight_run, tiny_dataset, tmp_path):
    from pix2pix_sar.training.loop import fit
    from pix2pix_sar.training.state_saver import recorded_states

    out = tmp_path / "run"
    fit(_config("training.state_every=1"), tiny_dataset, out)
    state_dir = RunFolder(out).state_dir
    newest, before = recorded_states(state_dir)
    data = next(state_dir.glob(f"{newest.split('/')[-1]}.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a disk that lost the end of the write
    # What a kill during a later write leaves: its temporary folder, never recorded.
    (state_dir / "ckpt-999_temp").mkdir()
    (state_dir / "ckpt-999_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 100)
    result = fit(_config("training.state_every=1"), tiny_dataset, out)
    assert result.start_epoch == 1  # from the state before
    _assert_same_run(straight_run, out)
    for path in recorded_states(state_dir):
        for data in state_dir.glob(f"{path.split('/')[-1]}.data-*"):
            data.write_bytes(b"")
    with pytest.raises(RunStateError, match="no recorded state can be read"):
        fit(_config("training.state_every=1", epochs=3), tiny_dataset, out)


def test_fit_cli_exits_130_on_sigint_and_says_how_to_resume(tiny_dataset, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pix2pix_sar.cli.main import cli

    monkeypatch.setenv("PIX2PIX_SAR_SIGNAL_AT_STEP", "3:INT")
    argv = ["-q", "fit", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--epochs", "1"]
    result = CliRunner().invoke(
        cli,
        [*argv, "--state-every", "5m", "--set", "model.base_filters=8", "--set", "model.unet_depth=2"],
        prog_name="pix2pix-sar",
    )
    assert result.exit_code == 130, result.output
    assert "SIGINT: stopped after epoch 1, step 3" in result.output
    assert "to resume, rerun: pix2pix-sar -q fit --data" in result.output
