"""`fit`: train a variant on a patch dataset, resumable at any step, on one device,
several GPUs or several hosts (tf.distribute).

Nothing but the train step runs on the critical path that can run beside it: one
`BackgroundWriter` thread writes TensorBoard scalars and generator snapshots (every
``checkpoint_every`` epochs and at the last one, with the image strip), another the full
training state (both models, both optimizers, the position: epoch and step within it,
and the epoch's partial sums) from copies taken between two steps
(`training/state_saver.py`). The state is saved every ``training.state_every`` (epochs
or wall time, by `SaveSchedule`, the rule `seg fit` shares), at the end, and when
SIGTERM/SIGINT stops the run after the step in progress (`training/preemption.py`). The
data order is a function of seed, epoch and step (not of the replica count), and a
resumed epoch skips the steps already done, so a run that is stopped or killed resumes
from its last state and replays exactly what was lost. In multi-worker runs only the
chief writes files.

history.csv has one row per epoch: the mean loss parts, its wall seconds and where they
went (steps, waiting for input, saving, logging; the rest is the loop itself).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pix2pix_sar import RUN_FORMAT, __version__
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.config import Config, diff_configs
from pix2pix_sar.data.dataset import DatasetInfo, load_info, load_split, split_size
from pix2pix_sar.data.extra_bands import encode_inputs
from pix2pix_sar.data.packed import check_same_input, choose_input, memory_bytes
from pix2pix_sar.data.zones import class_scheme, valid_zones
from pix2pix_sar.devices import resolve_precision, resolve_xla
from pix2pix_sar.errors import ConfigError, RunStateError, TrainingDivergedError
from pix2pix_sar.noise import patch_keys
from pix2pix_sar.run_folder import RunFolder, rewind_history
from pix2pix_sar.training.preemption import StopSignals
from pix2pix_sar.training.state_saver import BackgroundWriter, SaveSchedule, StateSaver, restore_state
from pix2pix_sar.training.step import LOSS_NAMES

log = logging.getLogger(__name__)

#: Config fields that may change when a run is continued.
RESUMABLE_CHANGES = (
    "training.epochs",
    "training.checkpoint_every",
    "training.state_every",
    "training.keep_states",
    "training.strategy",
    "training.xla",
)

#: Where an epoch's seconds went (history.csv columns after ``seconds``).
TIME_PARTS = ("step_seconds", "input_seconds", "save_seconds", "log_seconds")

#: Validation patches shown in TensorBoard at each snapshot.
PREVIEW_COUNT = 3


class TrainingReporter(Protocol):
    """Receives progress; the library itself never prints."""

    def epoch_started(self, epoch: int, epochs: int, steps: int) -> None: ...

    def step_finished(self, step: int, losses: dict[str, float]) -> None: ...

    def epoch_finished(self, epoch: int, losses: dict[str, float], seconds: float) -> None: ...


class SilentReporter:
    def epoch_started(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def step_finished(self, step: int, losses: dict[str, float]) -> None:
        pass

    def epoch_finished(self, epoch: int, losses: dict[str, float], seconds: float) -> None:
        log.info("epoch %d: %s (%.1fs)", epoch, ", ".join(f"{k} {v:.4f}" for k, v in losses.items()), seconds)


@dataclass(frozen=True)
class FitResult:
    run: RunFolder
    start_epoch: int
    end_epoch: int
    config: Config
    timing: "Timing" = field(default_factory=lambda: Timing())


def _resolve_for_dataset(cfg: Config, data_dir: Path) -> tuple[Config, DatasetInfo]:
    """Take the patch size and input channels (mask channels, then extra bands) from the dataset."""
    info = load_info(data_dir)
    scheme = class_scheme(info.classes, str(data_dir / "dataset.json"))
    channels = scheme.channels + len(info.extra_bands)
    model = dataclasses.replace(cfg.model, patch_size=info.patch_size, in_channels=channels)
    if model != cfg.model:
        log.info("model follows the dataset: patch_size %d, in_channels %d", model.patch_size, model.in_channels)
    return dataclasses.replace(cfg, model=model).validate(), info


#: Why a run of an older format cannot be continued exactly (``run.json``'s "format").
_OLDER_FORMATS = {
    1: "was trained by pix2pix-sar < 0.2, whose steps normalised over the batch and drew dropout from a stateful RNG",
    2: "has run format 2, whose data order depended on the replica count (now one order for any replica count)",
}


def _check_resume(run: RunFolder, cfg: Config) -> None:
    """Refuse to continue a run with settings that would change what it is."""
    if run.exists():
        old = run.run_format()
        if old < RUN_FORMAT and run.state_dir.exists():
            why = _OLDER_FORMATS.get(old, f"has run format {old} (this version trains format {RUN_FORMAT})")
            raise RunStateError(
                f"{run.path} {why}; its snapshots still work with generate, evaluate and preview, "
                f"but training cannot continue it exactly: choose a new --out"
            )
        saved = run.load_config()
        # training.precision: _resume_precision compares what it resolves to.
        resumable = (*RESUMABLE_CHANGES, "training.precision")
        changes = [c for c in diff_configs(saved, cfg) if c.split(":")[0] not in resumable]
        if changes:
            raise RunStateError(
                f"{run.path} was trained with other settings ({'; '.join(changes)}); "
                f"rerun with the original settings to resume, or choose a new --out"
            )
    elif run.path.exists() and any(p for p in run.path.iterdir() if p.name != "state"):
        raise RunStateError(f"{run.path}: exists and is not a run folder; choose a new or empty --out")


def _resume_precision(run: RunFolder, requested: str, model) -> str:
    """The compute precision: `requested` resolved (``auto`` by the device and the
    model size, :func:`~pix2pix_sar.devices.resolve_precision`), except that a resumed
    run keeps the one it recorded: ``auto`` resolves to it, another explicit value is
    refused (the weights' rounding would change mid-run, silently)."""
    recorded = run.recorded_precision() if run.exists() else None
    if recorded is None:
        return resolve_precision(requested, model.patch_size, model.base_filters)
    if requested not in ("auto", recorded):
        raise RunStateError(
            f"{run.path} was trained in {recorded} (run.json); continuing in {requested} would change its "
            f"arithmetic mid-run: rerun with --precision {recorded} (or auto) to resume, or choose a new --out"
        )
    return recorded


def _write_run_files(run: RunFolder, cfg: Config, data_dir: Path, input_mode: str, precision: str) -> None:
    run.path.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.config_path) as tmp:
        tmp.write_text(cfg.to_yaml())
    with atomic_path(run.dataset_json) as tmp:
        shutil.copyfile(data_dir / "dataset.json", tmp)
    with atomic_path(run.run_json) as tmp:
        tmp.write_text(
            json.dumps(
                {
                    "dataset": str(data_dir.resolve()),
                    "input": input_mode,
                    "precision": precision,
                    "version": __version__,
                    "format": RUN_FORMAT,
                },
                indent=2,
            )
            + "\n"
        )


HISTORY_HEADER = ["epoch", *LOSS_NAMES, "seconds", *TIME_PARTS]


def _append_history(path: Path, epoch: int, losses: dict[str, float], times: dict[str, float]) -> None:
    """One row per epoch; a history written before the time columns existed gets the
    new header (its old rows leave them empty)."""
    rows = list(csv.reader(path.open(newline=""))) if path.exists() else []
    if rows and rows[0] != HISTORY_HEADER:
        with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
            csv.writer(fh).writerows([HISTORY_HEADER, *rows[1:]])
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if not rows:
            writer.writerow(HISTORY_HEADER)
        writer.writerow(
            [
                epoch,
                *(f"{losses[k]:.6g}" for k in LOSS_NAMES),
                *(f"{times[k]:.3f}" for k in ("seconds", *TIME_PARTS)),
            ]
        )


@dataclass
class _EpochAccount:
    """The running sums of an epoch: loss parts and seconds. Kept in the state as one
    float64 vector, so an epoch resumed mid-way reports the same means."""

    losses: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_NAMES, 0.0))
    times: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("seconds", *TIME_PARTS), 0.0))

    SIZE = len(LOSS_NAMES) + 1 + len(TIME_PARTS)

    def vector(self) -> np.ndarray:
        return np.array([*self.losses.values(), *self.times.values()], np.float64)

    @classmethod
    def from_vector(cls, values: np.ndarray) -> "_EpochAccount":
        account = cls()
        names = [*account.losses, *account.times]
        for name, value in zip(names, values.tolist()):
            (account.losses if name in account.losses else account.times)[name] = value
        return account


@dataclass
class Timing:
    """Where the time of a `fit` call went besides the epochs' rows in history.csv
    (``experiments/benchmark.py`` reads it from the ``timing`` log line)."""

    startup: dict[str, float] = field(default_factory=dict)  # seconds per phase before the first step
    first_step: float = 0.0  # the first step, input and tracing included (also in epoch 1's step_seconds)
    state_saves: int = 0
    state_save_seconds: float = 0.0  # on the training thread (copies handed to the writer, waits)
    snapshots: int = 0
    snapshot_seconds: float = 0.0  # on the training thread
    epoch_ends: float = 0.0  # after the epochs' history rows, state saves not included
    final_wait: float = 0.0  # for the last writes, after the last epoch
    teardown: float = 0.0  # dropping the input iterator
    total: float = 0.0  # the whole `fit` call

    def __post_init__(self) -> None:
        self._start = self._last = time.perf_counter()

    def finish(self) -> "Timing":
        self.total = time.perf_counter() - self._start
        return self

    def mark(self, phase: str) -> None:
        """The start-up phase `phase` ends now."""
        now = time.perf_counter()
        self.startup[phase] = self.startup.get(phase, 0.0) + now - self._last
        self._last = now

    def startup_line(self) -> str:
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in self.startup.items())
        return f"start-up {sum(self.startup.values()):.2f} s ({parts}); first step {self.first_step:.2f} s"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Build layers under a Keras dtype policy, restoring the previous one after."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_pix2pix(cfg: Config, precision: str):
    """Both networks and both Adam optimizers (built, so a checkpoint can restore them).

    Call inside the strategy's scope; the caller seeds first.
    """
    import keras

    from pix2pix_sar.models import build_discriminator, build_generator
    from pix2pix_sar.training.adam import FusedAdam
    from pix2pix_sar.training.step import Pix2Pix

    with _dtype_policy(precision):
        generator = build_generator(cfg.model)
        discriminator = build_discriminator(cfg.model)
    opt = cfg.optimizer
    optimizers = []
    for model in (generator, discriminator):
        optimizer = FusedAdam(opt.learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Keras 3 optimizers create their slots lazily; build them so restore has targets.
        optimizer.build(model.trainable_variables)
        optimizers.append(optimizer)
    return Pix2Pix(generator, discriminator, *optimizers)


def fit(
    cfg: Config,
    data_dir: str | Path,
    run_dir: str | Path,
    reporter: TrainingReporter | None = None,
) -> FitResult:
    """Train (or continue training) `cfg` on the dataset at `data_dir` into `run_dir`.

    Raises TrainingInterrupted (after saving the state) when SIGTERM or SIGINT stops it."""
    timing = Timing()
    from pix2pix_sar.training.distribute import make_strategy

    # The strategy first: it may configure devices, which must precede any TF op.
    strategy = make_strategy(cfg.training.strategy)
    import keras
    import tensorflow as tf

    from pix2pix_sar.training.distribute import is_chief, num_workers, task_index
    from pix2pix_sar.training.inputs import epoch_steps, load_worker_shard
    from pix2pix_sar.training.step import make_train_step

    timing.mark("imports")
    reporter = reporter or SilentReporter()
    data_dir, run = Path(data_dir), RunFolder(run_dir)
    cfg, info = _resolve_for_dataset(cfg, data_dir)
    tcfg = cfg.training
    chief = is_chief(strategy)
    replicas, workers = strategy.num_replicas_in_sync, num_workers(strategy)
    if tcfg.batch_size % replicas:
        raise ConfigError(f"training.batch_size {tcfg.batch_size} must be a multiple of the {replicas} replicas")
    precision = _resume_precision(run, tcfg.precision, cfg.model)
    xla = resolve_xla(tcfg.xla)
    log.info(
        "strategy %s: %d replica(s) on %d worker(s), %s, XLA %s",
        type(strategy).__name__,
        replicas,
        workers,
        precision,
        "on" if xla else "off",
    )
    _check_resume(run, cfg)
    run.check_resume_data(data_dir)  # a resume rewrites RUN/dataset.json: same scaling only
    scheme = class_scheme(info.classes, str(data_dir))
    patches = split_size(data_dir, "train")
    input_mode = choose_input(
        cfg.data.input, [data_dir], memory_bytes(patches, info.patch_size, scheme.channels, len(info.extra_bands))
    )
    check_same_input(run.run_json, input_mode, "--set data.input=")
    shard = load_worker_shard(data_dir, "train", scheme, replicas, workers, task_index(strategy), input_mode)
    if chief:
        _write_run_files(run, cfg, data_dir, input_mode, precision)
    timing.mark("patches")

    keras.utils.set_random_seed(tcfg.seed)  # the weight initialisers (the noise is keyed, not seeded)
    if tcfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        nets = build_pix2pix(cfg, precision)
        position = _Position(
            epoch=tf.Variable(0, dtype=tf.int64, name="epoch", trainable=False),
            step=tf.Variable(0, dtype=tf.int64, name="step", trainable=False),
            partial=tf.Variable(np.zeros(_EpochAccount.SIZE), dtype=tf.float64, name="partial", trainable=False),
        )
    objects = {
        "generator": nets.generator,
        "discriminator": nets.discriminator,
        "generator_optimizer": nets.generator_optimizer,
        "discriminator_optimizer": nets.discriminator_optimizer,
        **vars(position),
    }
    timing.mark("models")
    restored = restore_state(objects, run.state_dir, optional=("step", "partial"))  # every worker: the chief's
    start_epoch, start_step = int(position.epoch.numpy()), int(position.step.numpy())
    if restored:
        log.info("resumed %s at epoch %d, step %d (%s)", run.path, start_epoch, start_step, Path(restored).name)
    if chief:
        rewind_history(run.history_csv, start_epoch)
    if start_epoch >= tcfg.epochs:
        log.info("%s is already trained to epoch %d (asked: %d)", run.path, start_epoch, tcfg.epochs)
        return FitResult(run, start_epoch, start_epoch, cfg, timing.finish())
    # The input is the scheme's mask channels, then the dataset's extra bands (model.in_channels
    # counts both); only the mask channels say where there is data.
    train_step = make_train_step(
        strategy,
        nets,
        cfg.loss,
        tcfg.batch_size,
        mask_channels=scheme.channels,
        seed=tcfg.seed,
        jit_compile=xla,
        decode=shard.feeder.decode,
    )
    steps = epoch_steps(shard, tcfg.batch_size)
    # Two writer threads: the state's writes never wait behind a snapshot's, and the last two overlap.
    writer, outputs_writer = BackgroundWriter(), BackgroundWriter()
    saver = StateSaver(objects, run.state_dir, tcfg.keep_states, writer, write=chief)
    preview = _Preview(data_dir, scheme, tcfg.seed) if chief else None
    outputs = _ChiefOutputs(run, nets.generator, preview, outputs_writer) if chief else None
    timing.mark("state")
    loop = _Loop(cfg, strategy, shard, train_step, steps, position, saver, outputs, reporter, timing)
    # Signals only set a flag until the last write is done: a SIGTERM after the last step
    # lets the final state finish instead of killing its write.
    with StopSignals() as stop:
        try:
            loop.run(start_epoch, start_step, stop)
        finally:
            try:
                timing.final_wait = writer.close()
            finally:
                timing.final_wait += outputs_writer.close()
        timing.teardown = loop.release_input()
    log.info("timing %s", timing.finish().to_json())
    return FitResult(run, start_epoch, tcfg.epochs, cfg, timing)


@dataclass
class _Position:
    """Where training is, in the state: epochs done, steps done in the next epoch, and
    that epoch's partial sums (an `_EpochAccount` vector)."""

    epoch: object
    step: object
    partial: object


class _Loop:
    """The epochs and steps of one `fit` call, and everything that happens between steps."""

    def __init__(self, cfg, strategy, shard, train_step, steps, position, saver, outputs, reporter, timing):
        self.cfg, self.tcfg = cfg, cfg.training
        self.strategy, self.shard, self.train_step, self.steps = strategy, shard, train_step, steps
        self.position, self.saver, self.outputs, self.reporter = position, saver, outputs, reporter
        self.timing = timing
        self.batches = None  # the input iterator of all epochs left
        self.schedule = SaveSchedule(self.tcfg.state_interval)

    def run(self, start_epoch: int, start_step: int, stop: StopSignals) -> None:
        from pix2pix_sar.training.inputs import distributed_epoch

        tcfg, data = self.tcfg, self.cfg.data
        # One dataset for every epoch left (its set-up once; it prefetches across epoch ends).
        self.batches = batches = iter(
            distributed_epoch(
                self.strategy, self.shard, tcfg.batch_size, tcfg.seed, start_epoch, data.flip, data.prefetch,
                skip=start_step, epochs=tcfg.epochs - start_epoch, compact=True,
            )
        )  # fmt: skip
        self.timing.mark("input")
        for epoch in range(start_epoch, tcfg.epochs):
            first = start_step if epoch == start_epoch else 0
            carried = self.position.partial.numpy() if first else np.zeros(_EpochAccount.SIZE)
            self._epoch(epoch, first, _EpochAccount.from_vector(carried), batches, stop)

    def release_input(self) -> float:
        """Let go of the input iterator; the seconds it took (a few ms: read to its end
        first, so its threads have stopped; see distributed_epoch for why it is quick)."""
        start = time.perf_counter()
        if self.batches is not None:
            with contextlib.suppress(StopIteration):
                next(self.batches)  # all steps were taken: this is the end of the data
            self.batches = None
        return time.perf_counter() - start

    def _epoch(self, epoch: int, first: int, account: _EpochAccount, batches, stop) -> None:
        tcfg, times = self.tcfg, account.times
        began, carried_seconds = time.perf_counter(), times["seconds"]
        self.reporter.epoch_started(epoch + 1, tcfg.epochs, self.steps)
        for step in range(first, self.steps):
            t0 = time.perf_counter()
            mask, target = next(batches)
            waited = time.perf_counter() - t0
            losses = {k: float(v) for k, v in self.train_step(mask, target, epoch, step).items()}
            t2 = time.perf_counter()
            if not self.timing.first_step:
                self.timing.first_step = t2 - t0
                log.info("%s", self.timing.startup_line())
            times["input_seconds"] += waited
            times["step_seconds"] += t2 - t0 - waited
            self._check_finite(losses, epoch, step)
            for k in LOSS_NAMES:
                account.losses[k] += losses[k]
            self.reporter.step_finished(step + 1, losses)
            global_step = epoch * self.steps + step + 1
            stop.after_step(global_step)
            t3 = time.perf_counter()
            times["log_seconds"] += t3 - t2
            if stop.should_stop(global_step, self.strategy):
                times["seconds"] = carried_seconds + time.perf_counter() - began
                self._save(epoch, step + 1, account)
                self.saver.writer.wait()
                stop.barrier(self.strategy)
                raise stop.interrupted(
                    f"stopped after epoch {epoch + 1}, step {step + 1} of {self.steps}; "
                    f"the state is saved in {self.saver.directory}"
                )
            if step + 1 < self.steps and self.schedule.due_after_step():
                times["seconds"] = carried_seconds + time.perf_counter() - began
                times["save_seconds"] += self._save(epoch, step + 1, account)
        self._end_epoch(epoch + 1, account, carried_seconds, began)

    def _end_epoch(self, done: int, account: _EpochAccount, carried_seconds: float, began: float) -> None:
        """Scalars, snapshot, history row, then the state (after the row, so that a state
        never exists without its row; a row without its state is rewound on resume)."""
        tcfg, times = self.tcfg, account.times
        means = {k: v / self.steps for k, v in account.losses.items()}
        state_due = self.schedule.due_after_epoch(done, final=done == tcfg.epochs)  # also when time is up
        if self.outputs is not None:
            t0 = time.perf_counter()
            self.outputs.scalars(done, means)
            times["log_seconds"] += time.perf_counter() - t0
            if done % tcfg.checkpoint_every == 0 or done == tcfg.epochs:
                seconds = self.outputs.snapshot(done)
                times["save_seconds"] += seconds
                self.timing.snapshots += 1
                self.timing.snapshot_seconds += seconds
            t0 = time.perf_counter()
            times["seconds"] = carried_seconds + t0 - began
            _append_history(self.outputs.run.history_csv, done, means, times)
            times["log_seconds"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        saving = self._save(done, 0, _EpochAccount()) if state_due else 0.0
        self.reporter.epoch_finished(done, means, carried_seconds + time.perf_counter() - began)
        self.timing.epoch_ends += time.perf_counter() - t0 - saving

    def _save(self, epoch: int, step: int, account: _EpochAccount) -> float:
        """Hand the state at (epochs done, steps done in the next) to the writer; the
        seconds it took on this thread."""
        start = time.perf_counter()
        self.position.epoch.assign(epoch)
        self.position.step.assign(step)
        self.position.partial.assign(account.vector())
        self.saver.save(epoch * self.steps + step)
        self.schedule.saved()
        seconds = time.perf_counter() - start
        self.timing.state_saves += 1
        self.timing.state_save_seconds += seconds
        return seconds

    def _check_finite(self, losses: dict[str, float], epoch: int, step: int) -> None:
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingDivergedError(
                f"loss became {losses} at epoch {epoch + 1}, step {step + 1}; training stopped and "
                f"the last good state ({self.saver.latest or 'none saved yet'}) is kept; "
                f"lower optimizer.learning_rate and rerun to resume"
            )


class _ChiefOutputs:
    """What only the chief writes besides the state, all through the background writer:
    TensorBoard scalars per epoch, and generator snapshots with the image strip."""

    def __init__(self, run: RunFolder, generator, preview: "_Preview", writer):
        import tensorflow as tf

        self.run, self.generator, self.preview, self.writer = run, generator, preview, writer
        self.summaries = tf.summary.create_file_writer(str(run.log_dir))
        self._copy = None  # a host copy of the generator for snapshots and the strip
        # Made (and the strip's function traced) behind the first steps, not at the first snapshot.
        writer.submit(self._prepare)

    def _prepare(self) -> None:
        import keras
        import tensorflow as tf

        with tf.device("/cpu:0"):
            self._copy = keras.models.clone_model(self.generator)
        self.preview.strip(self._copy)

    def scalars(self, epoch: int, means: dict[str, float]) -> None:
        def job():
            import tensorflow as tf

            with self.summaries.as_default(step=epoch):
                for k, v in means.items():
                    tf.summary.scalar(f"loss/{k}", v)
            self.summaries.flush()

        self.writer.submit(job)

    def snapshot(self, epoch: int) -> float:
        """Copy the generator's weights now (between steps); save them and the strip
        behind. The seconds spent on this thread."""
        start = time.perf_counter()
        weights = [v.value.read_value() for v in self.generator.weights]
        self.writer.submit(lambda: self._write_snapshot(weights, epoch))
        return time.perf_counter() - start

    def _write_snapshot(self, weights, epoch: int) -> None:
        import tensorflow as tf

        for variable, value in zip(self._copy.weights, weights):
            variable.assign(value)
        _save_snapshot(self.run, self._copy, epoch)
        with self.summaries.as_default(step=epoch):
            tf.summary.image("mask_target_output", self.preview.strip(self._copy), max_outputs=PREVIEW_COUNT)
        self.summaries.flush()


class _Preview:
    """A few validation patches, generated at each snapshot for TensorBoard (by one
    generation function, traced once)."""

    def __init__(self, data_dir: Path, scheme, seed: int):
        name = "val" if split_size(data_dir, "val") else "train"
        split = load_split(data_dir, name, list(range(min(PREVIEW_COUNT, split_size(data_dir, name)))))
        self.masks = encode_inputs(scheme, split.zones, split.extras)
        self.valid = valid_zones(split.zones)[..., None]
        self.targets = split.images
        self.keys = patch_keys(seed, np.arange(len(self.masks)))
        self._generate = None

    def strip(self, generator) -> np.ndarray:
        """mask | target | output per row, scaled to [0, 1]. `generator` is always the
        same model (its weights change), so its generation function is made once."""
        import tensorflow as tf

        from pix2pix_sar.models.inference import make_generate_fn

        if self._generate is None:
            self._generate = make_generate_fn(generator)
        outputs = self._generate(tf.constant(self.masks, tf.float32), tf.constant(self.keys)).numpy()
        outputs = np.where(self.valid, outputs, -1.0)  # no data as in the target
        panels = [self.masks[..., :1], self.targets, outputs]
        return np.clip((np.concatenate(panels, axis=2) + 1.0) / 2.0, 0.0, 1.0)


def _save_snapshot(run: RunFolder, generator, epoch: int) -> Path:
    path = run.snapshot_path(epoch)
    with atomic_path(path, suffix=".keras") as tmp:
        generator.save(tmp)
    return path
