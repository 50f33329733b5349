"""`fit`: train a variant on a patch dataset, resumable at any time, on one device,
several GPUs or several hosts (tf.distribute).

Each epoch ends with, in this order: TensorBoard scalars and history.csv, a
generator snapshot when the epoch is a multiple of ``checkpoint_every`` (and at
the last epoch), then the full training state (both models, both optimizers, the
dropout RNG states, the epoch counter; the data order is a function of seed,
epoch and replica). A run that is killed resumes from the last state and replays
exactly what was lost. In multi-worker runs only the chief writes files other
than its checkpoint share.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pix2pix_sar import RUN_FORMAT, __version__
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.config import Config, diff_configs
from pix2pix_sar.data.dataset import DatasetInfo, load_info, load_split, split_size
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.devices import resolve_precision, resolve_xla
from pix2pix_sar.errors import ConfigError, RunStateError, TrainingDivergedError
from pix2pix_sar.noise import patch_keys
from pix2pix_sar.run_folder import RunFolder, rewind_history
from pix2pix_sar.training.step import LOSS_NAMES

log = logging.getLogger(__name__)

#: Config fields that may change when a run is continued.
RESUMABLE_CHANGES = ("training.epochs", "training.checkpoint_every", "training.strategy", "training.xla")

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


def _resolve_for_dataset(cfg: Config, data_dir: Path) -> tuple[Config, DatasetInfo]:
    """Take the patch size and input channels from the dataset."""
    info = load_info(data_dir)
    scheme = class_scheme(info.classes, str(data_dir / "dataset.json"))
    model = dataclasses.replace(cfg.model, patch_size=info.patch_size, in_channels=scheme.channels)
    if model != cfg.model:
        log.info("model follows the dataset: patch_size %d, in_channels %d", model.patch_size, model.in_channels)
    return dataclasses.replace(cfg, model=model).validate(), info


def _check_resume(run: RunFolder, cfg: Config) -> None:
    """Refuse to continue a run with settings that would change what it is."""
    if run.exists():
        if run.run_format() < RUN_FORMAT and run.state_dir.exists():
            raise RunStateError(
                f"{run.path} was trained by pix2pix-sar < 0.2, whose steps normalised over the batch and drew "
                f"dropout from a stateful RNG; its snapshots still work with generate, evaluate and preview, "
                f"but training cannot continue it exactly: choose a new --out"
            )
        saved = run.load_config()
        changes = [c for c in diff_configs(saved, cfg) if c.split(":")[0] not in RESUMABLE_CHANGES]
        if changes:
            raise RunStateError(
                f"{run.path} was trained with other settings ({'; '.join(changes)}); "
                f"rerun with the original settings to resume, or choose a new --out"
            )
    elif run.path.exists() and any(p for p in run.path.iterdir() if p.name != "state"):
        raise RunStateError(f"{run.path}: exists and is not a run folder; choose a new or empty --out")


def _write_run_files(run: RunFolder, cfg: Config, data_dir: Path) -> None:
    run.path.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.config_path) as tmp:
        tmp.write_text(cfg.to_yaml())
    with atomic_path(run.dataset_json) as tmp:
        shutil.copyfile(data_dir / "dataset.json", tmp)
    with atomic_path(run.run_json) as tmp:
        tmp.write_text(
            json.dumps({"dataset": str(data_dir.resolve()), "version": __version__, "format": RUN_FORMAT}, indent=2)
            + "\n"
        )


def _append_history(path: Path, epoch: int, losses: dict[str, float], seconds: float) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["epoch", *LOSS_NAMES, "seconds"])
        writer.writerow([epoch, *(f"{losses[k]:.6g}" for k in LOSS_NAMES), f"{seconds:.2f}"])


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
    from pix2pix_sar.training.step import Pix2Pix

    with _dtype_policy(precision):
        generator = build_generator(cfg.model)
        discriminator = build_discriminator(cfg.model)
    opt = cfg.optimizer
    optimizers = []
    for model in (generator, discriminator):
        optimizer = keras.optimizers.Adam(opt.learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2)
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
    """Train (or continue training) `cfg` on the dataset at `data_dir` into `run_dir`."""
    from pix2pix_sar.training.distribute import make_strategy

    # The strategy first: it may configure devices, which must precede any TF op.
    strategy = make_strategy(cfg.training.strategy)
    import keras
    import tensorflow as tf

    from pix2pix_sar.training.distribute import is_chief, num_workers, state_dir_for, task_index
    from pix2pix_sar.training.inputs import distributed_epoch, epoch_steps, load_worker_shard
    from pix2pix_sar.training.step import make_train_step

    reporter = reporter or SilentReporter()
    data_dir, run = Path(data_dir), RunFolder(run_dir)
    cfg, info = _resolve_for_dataset(cfg, data_dir)
    tcfg = cfg.training
    chief = is_chief(strategy)
    replicas, workers = strategy.num_replicas_in_sync, num_workers(strategy)
    if tcfg.batch_size % replicas:
        raise ConfigError(f"training.batch_size {tcfg.batch_size} must be a multiple of the {replicas} replicas")
    precision, xla = resolve_precision(tcfg.precision), resolve_xla(tcfg.xla)
    log.info(
        "strategy %s: %d replica(s) on %d worker(s), %s, XLA %s",
        type(strategy).__name__,
        replicas,
        workers,
        precision,
        "on" if xla else "off",
    )
    _check_resume(run, cfg)
    scheme = class_scheme(info.classes, str(data_dir))
    shard = load_worker_shard(data_dir, "train", scheme, replicas, workers, task_index(strategy))
    if chief:
        _write_run_files(run, cfg, data_dir)

    keras.utils.set_random_seed(tcfg.seed)  # the weight initialisers (the noise is keyed, not seeded)
    if tcfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        nets = build_pix2pix(cfg, precision)
        epoch_var = tf.Variable(0, dtype=tf.int64, name="epoch", trainable=False)
        checkpoint = tf.train.Checkpoint(
            generator=nets.generator,
            discriminator=nets.discriminator,
            generator_optimizer=nets.generator_optimizer,
            discriminator_optimizer=nets.discriminator_optimizer,
            epoch=epoch_var,
        )
    save_dir = state_dir_for(strategy, run.state_dir)
    manager = tf.train.CheckpointManager(checkpoint, str(save_dir), max_to_keep=tcfg.keep_states)
    latest = tf.train.latest_checkpoint(str(run.state_dir))  # every worker restores the chief's state
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        log.info("resumed %s at epoch %d", run.path, int(epoch_var.numpy()))
    start = int(epoch_var.numpy())
    if chief:
        rewind_history(run.history_csv, start)
    if start >= tcfg.epochs:
        log.info("%s is already trained to epoch %d (asked: %d)", run.path, start, tcfg.epochs)
        return FitResult(run, start, start, cfg)

    train_step = make_train_step(strategy, nets, cfg.loss, tcfg.batch_size, seed=tcfg.seed, jit_compile=xla)
    writer = tf.summary.create_file_writer(str(run.log_dir)) if chief else tf.summary.create_noop_writer()
    preview = _Preview(data_dir, scheme, tcfg.seed) if chief else None
    steps = epoch_steps(shard, tcfg.batch_size)

    for epoch in range(start, tcfg.epochs):
        t0 = time.perf_counter()
        reporter.epoch_started(epoch + 1, tcfg.epochs, steps)
        sums = dict.fromkeys(LOSS_NAMES, 0.0)
        batches = distributed_epoch(
            strategy, shard, tcfg.batch_size, tcfg.seed, epoch, cfg.data.flip, cfg.data.prefetch
        )
        for step, (mask, target) in enumerate(batches):
            losses = {k: float(v) for k, v in train_step(mask, target, epoch, step).items()}
            if not all(math.isfinite(v) for v in losses.values()):
                raise TrainingDivergedError(
                    f"loss became {losses} at epoch {epoch + 1}, step {step + 1}; training stopped and "
                    f"the last good state ({manager.latest_checkpoint or 'none saved yet'}) is kept; "
                    f"lower optimizer.learning_rate and rerun to resume"
                )
            for k in LOSS_NAMES:
                sums[k] += losses[k]
            reporter.step_finished(step + 1, losses)
        means = {k: v / steps for k, v in sums.items()}
        done = epoch + 1
        seconds = time.perf_counter() - t0
        epoch_var.assign(done)
        if chief:
            with writer.as_default(step=done):
                for k, v in means.items():
                    tf.summary.scalar(f"loss/{k}", v)
            _append_history(run.history_csv, done, means, seconds)
            if done % tcfg.checkpoint_every == 0 or done == tcfg.epochs:
                _save_snapshot(run, nets.generator, done)
                with writer.as_default(step=done):
                    tf.summary.image("mask_target_output", preview.strip(nets.generator), max_outputs=PREVIEW_COUNT)
            writer.flush()
        if done % tcfg.state_every == 0 or done == tcfg.epochs:
            manager.save(checkpoint_number=done)  # collective: every worker saves
            if not chief:
                shutil.rmtree(save_dir, ignore_errors=True)
        reporter.epoch_finished(done, means, seconds)
    return FitResult(run, start, tcfg.epochs, cfg)


class _Preview:
    """A few validation patches, generated at each snapshot for TensorBoard."""

    def __init__(self, data_dir: Path, scheme, seed: int):
        name = "val" if split_size(data_dir, "val") else "train"
        split = load_split(data_dir, name, list(range(min(PREVIEW_COUNT, split_size(data_dir, name)))))
        self.masks = scheme.encode(split.zones)
        self.targets = split.images
        self.keys = patch_keys(seed, np.arange(len(self.masks)))

    def strip(self, generator) -> np.ndarray:
        """mask | target | output per row, scaled to [0, 1]."""
        from pix2pix_sar.models.inference import generate_images

        outputs = generate_images(generator, self.masks, self.keys)
        panels = [self.masks[..., :1], self.targets, outputs]
        return np.clip((np.concatenate(panels, axis=2) + 1.0) / 2.0, 0.0, 1.0)


def _save_snapshot(run: RunFolder, generator, epoch: int) -> Path:
    path = run.snapshot_path(epoch)
    with atomic_path(path, suffix=".keras") as tmp:
        generator.save(tmp)
    return path
