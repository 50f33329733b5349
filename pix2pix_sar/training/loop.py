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
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pix2pix_sar.config import Config, TrainingConfig
from pix2pix_sar.data.context import resolve_front_phase, resolve_iceberg_gate
from pix2pix_sar.data.dataset import DatasetInfo, load_info, split_size
from pix2pix_sar.data.icebergs import resolve_icebergs
from pix2pix_sar.data.looks import resolve_speckle
from pix2pix_sar.data.packed import choose_input, memory_bytes
from pix2pix_sar.data.sensors import conditioning_sensors
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.devices import resolve_xla
from pix2pix_sar.errors import ConfigError, TrainingDivergedError
from pix2pix_sar.run_folder import RunFolder
from pix2pix_sar.training.assembly import build_pix2pix
from pix2pix_sar.training.outputs import ChiefOutputs, Preview
from pix2pix_sar.training.preemption import StopSignals
from pix2pix_sar.training.state_saver import BackgroundWriter, SaveSchedule, StateSaver, restore_state
from pix2pix_sar.training.step import LOSS_NAMES
from pix2pix_sar.training.timing import TIME_PARTS, EpochAccount, Timing

log = logging.getLogger(__name__)


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
    timing: Timing = field(default_factory=Timing)


def _resolve_for_dataset(cfg: Config, data_dir: Path) -> tuple[Config, DatasetInfo]:
    """Take the patch size and input channels (mask channels, extra bands, sensors) from the
    dataset, and its classes where the discriminator needs them (only there: earlier runs'
    configs, which lack the field, still resume)."""
    info = load_info(data_dir)
    scheme = class_scheme(info.classes, str(data_dir / "dataset.json"))
    sensors = conditioning_sensors(info.sensors, cfg.data.sensor_conditioning)
    channels = scheme.channels + len(info.extra_bands) + len(sensors)
    classes = len(scheme.class_names) if cfg.model.discriminator == "segmentation" else cfg.model.classes
    if cfg.loss.diversity_caps and len(cfg.loss.diversity_caps) != len(scheme.class_names):
        raise ConfigError(
            f"loss.diversity_caps holds {len(cfg.loss.diversity_caps)} caps, but {data_dir / 'dataset.json'} has "
            f"{len(scheme.class_names)} classes ({', '.join(scheme.class_names)}): give one cap per class, "
            "in that order"
        )
    model = dataclasses.replace(cfg.model, patch_size=info.patch_size, in_channels=channels, classes=classes)
    model = resolve_speckle(model, info, str(data_dir / "dataset.json"), sensors)  # sampler: looks, dB unit
    model = resolve_front_phase(model, info.extra_bands, scheme.channels, str(data_dir / "dataset.json"))
    model = resolve_iceberg_gate(model, scheme.class_names, str(data_dir / "dataset.json"))
    model = resolve_icebergs(model, info, str(data_dir / "dataset.json"))  # sampler: the iceberg stage
    if model != cfg.model:
        log.info("model follows the dataset: patch_size %d, in_channels %d", model.patch_size, model.in_channels)
    return dataclasses.replace(cfg, model=model).validate(), info


#: history.csv columns: one row per epoch.
HISTORY_HEADER = ["epoch", *LOSS_NAMES, "seconds", *TIME_PARTS]


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
    from pix2pix_sar.training.step import make_train_step, remapper_guard

    timing.mark("imports")
    reporter = reporter or SilentReporter()
    data_dir, run = Path(data_dir), RunFolder(run_dir)
    cfg, info = _resolve_for_dataset(cfg, data_dir)
    tcfg = cfg.training
    chief = is_chief(strategy)
    replicas, workers = strategy.num_replicas_in_sync, num_workers(strategy)
    if tcfg.batch_size % replicas:
        raise ConfigError(f"training.batch_size {tcfg.batch_size} must be a multiple of the {replicas} replicas")
    precision = run.resume_precision(tcfg.precision, cfg.model.patch_size, cfg.model.base_filters)
    xla = resolve_xla(tcfg.xla)
    log.info(
        "strategy %s: %d replica(s) on %d worker(s), %s, XLA %s",
        type(strategy).__name__,
        replicas,
        workers,
        precision,
        "on" if xla else "off",
    )
    run.check_resume(cfg)
    run.check_resume_data(data_dir)  # a resume rewrites RUN/dataset.json: same scaling only
    scheme = class_scheme(info.classes, str(data_dir))
    patches = split_size(data_dir, "train")
    sensors = conditioning_sensors(info.sensors, cfg.data.sensor_conditioning)
    # A sensor-conditioned run reads from memory (the pack does not hold the sensors).
    wanted_input = "memory" if sensors and cfg.data.input == "auto" else cfg.data.input
    input_mode = choose_input(
        wanted_input, [data_dir], memory_bytes(patches, info.patch_size, scheme.channels, len(info.extra_bands))
    )
    run.check_same_input(input_mode)
    shard = load_worker_shard(data_dir, "train", scheme, replicas, workers, task_index(strategy), input_mode, sensors)
    if chief:
        run.start(cfg, data_dir, input_mode, precision)
    timing.mark("patches")

    keras.utils.set_random_seed(tcfg.seed)  # the weight initialisers (the noise is keyed, not seeded)
    if tcfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        nets = build_pix2pix(cfg, precision)
        position = _Position(
            epoch=tf.Variable(0, dtype=tf.int64, name="epoch", trainable=False),
            step=tf.Variable(0, dtype=tf.int64, name="step", trainable=False),
            partial=tf.Variable(np.zeros(EpochAccount.SIZE), dtype=tf.float64, name="partial", trainable=False),
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
        run.rewind_history(start_epoch)
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
    preview = Preview(data_dir, scheme, tcfg.seed, sensors) if chief else None
    outputs = ChiefOutputs(run, nets.generator, preview, outputs_writer) if chief else None
    timing.mark("state")
    loop = _Loop(
        cfg=cfg,
        strategy=strategy,
        shard=shard,
        train_step=train_step,
        steps=steps,
        position=position,
        saver=saver,
        outputs=outputs,
        reporter=reporter,
        timing=timing,
    )
    # Signals only set a flag until the last write is done: a SIGTERM after the last step
    # lets the final state finish instead of killing its write.
    with StopSignals() as stop, remapper_guard(cfg.model):
        try:
            loop.run(start_epoch, start_step, stop)
        finally:
            try:
                timing.final_wait = writer.close()
            finally:
                timing.final_wait += outputs_writer.close()
        timing.teardown = loop.release_input()
    log.debug("timing %s", timing.finish().to_json())  # for -v: where the time went
    return FitResult(run, start_epoch, tcfg.epochs, cfg, timing)


@dataclass
class _Position:
    """Where training is, in the state: epochs done, steps done in the next epoch, and
    that epoch's partial sums (an `EpochAccount` vector)."""

    epoch: object
    step: object
    partial: object


@dataclass(kw_only=True)
class _Loop:
    """The epochs and steps of one `fit` call, and everything that happens between steps."""

    cfg: Config
    strategy: object  # the tf.distribute strategy
    shard: object  # this worker's training patches (training/inputs.py)
    train_step: Callable  # (mask, target, epoch, step) -> loss parts
    steps: int  # per epoch
    position: _Position
    saver: StateSaver
    outputs: ChiefOutputs | None  # None on the workers that are not the chief
    reporter: TrainingReporter
    timing: Timing
    batches: Iterator | None = field(default=None, init=False)  # the input iterator of all epochs left
    schedule: SaveSchedule = field(init=False)

    def __post_init__(self) -> None:
        self.schedule = SaveSchedule(self.tcfg.state_interval)

    @property
    def tcfg(self) -> TrainingConfig:
        return self.cfg.training

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
            carried = self.position.partial.numpy() if first else np.zeros(EpochAccount.SIZE)
            self._epoch(epoch, first, EpochAccount.from_vector(carried), batches, stop)

    def release_input(self) -> float:
        """Let go of the input iterator; the seconds it took (a few ms: read to its end
        first, so its threads have stopped; see distributed_epoch for why it is quick)."""
        start = time.perf_counter()
        if self.batches is not None:
            with contextlib.suppress(StopIteration):
                next(self.batches)  # all steps were taken: this is the end of the data
            self.batches = None
        return time.perf_counter() - start

    def _epoch(self, epoch: int, first: int, account: EpochAccount, batches, stop) -> None:
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

    def _end_epoch(self, done: int, account: EpochAccount, carried_seconds: float, began: float) -> None:
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
            spent = (f"{times[k]:.3f}" for k in ("seconds", *TIME_PARTS))
            row = [done, *(f"{means[k]:.6g}" for k in LOSS_NAMES), *spent]
            self.outputs.run.append_history(HISTORY_HEADER, row)
            times["log_seconds"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        saving = self._save(done, 0, EpochAccount()) if state_due else 0.0
        self.reporter.epoch_finished(done, means, carried_seconds + time.perf_counter() - began)
        self.timing.epoch_ends += time.perf_counter() - t0 - saving

    def _save(self, epoch: int, step: int, account: EpochAccount) -> float:
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
