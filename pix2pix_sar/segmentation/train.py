"""`seg_fit`: train the reference segmenter on a patch dataset, resumable.

SEGRUN/config.yaml     the resolved SegConfig
SEGRUN/run.json        dataset path, package version, kind "segmenter"
SEGRUN/dataset.json    the training dataset's description
SEGRUN/history.csv     mean loss per epoch (and at the last step), with seconds
SEGRUN/logs/           TensorBoard scalars
SEGRUN/state/          tf.train.CheckpointManager (model, optimizer, step counter)
SEGRUN/segmenter.keras the trained model

The batch order is a pure function of (seed, epoch), so a run killed at any point
resumes from its last state (saved at the end of every epoch and at the end) and
replays exactly what was lost.
"""

from __future__ import annotations

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
import yaml

from pix2pix_sar import __version__
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.errors import ConfigError, InputError, RunStateError, TrainingDivergedError
from pix2pix_sar.run_folder import rewind_history
from pix2pix_sar.segmentation.model import build_segmenter, check_depth, num_classes, zone_labels

log = logging.getLogger(__name__)

RUN_KIND = "segmenter"
#: Fields that may change when a run is continued (how long to train).
RESUMABLE_FIELDS = ("steps", "epochs")
HISTORY_FIELDS = ("step", "epoch", "loss", "seconds")


@dataclass(frozen=True)
class SegConfig:
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 8
    learning_rate: float = 1e-3
    base_filters: int = 16
    depth: int = 4
    seed: int = 0

    def validate(self) -> "SegConfig":
        if (self.steps is None) == (self.epochs is None):
            raise ConfigError("give exactly one of steps and epochs")
        for name in ("steps", "epochs", "batch_size", "base_filters", "depth"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class SegReporter(Protocol):
    def started(self, step: int, total: int) -> None: ...

    def step_finished(self, step: int, loss: float) -> None: ...


class SilentSegReporter:
    def started(self, step: int, total: int) -> None:
        pass

    def step_finished(self, step: int, loss: float) -> None:
        pass


@dataclass(frozen=True)
class SegFitResult:
    run_dir: Path
    start_step: int
    end_step: int
    steps_per_epoch: int
    model_path: Path
    config: SegConfig


def masked_loss(logits, labels, valid):
    """Sparse categorical cross-entropy over valid pixels, averaged per example over
    its valid pixels, then over the batch. Invalid pixels may hold any label or logit."""
    import tensorflow as tf

    valid = tf.cast(valid, tf.bool)
    labels = tf.where(valid, tf.cast(labels, tf.int32), 0)
    logits = tf.where(valid[..., None], tf.cast(logits, tf.float32), 0.0)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    ce = tf.where(valid, ce, 0.0)
    count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=[1, 2])
    per_example = tf.reduce_sum(ce, axis=[1, 2]) / tf.maximum(count, 1.0)
    return tf.reduce_mean(per_example)


def epoch_rows(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The batches of one epoch (row indices): a permutation keyed by (seed, epoch),
    cut into full batches (the remainder is dropped; a split smaller than one batch
    is one batch)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    steps = max(1, n // batch_size)
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(steps)]


def _check_resume(run_dir: Path, cfg: SegConfig) -> None:
    config_path = run_dir / "config.yaml"
    if config_path.exists():
        run_json = run_dir / "run.json"
        kind = json.loads(run_json.read_text()).get("kind") if run_json.exists() else None
        if kind != RUN_KIND:
            raise RunStateError(f"{run_dir}: is not a segmenter run folder; choose a new --out")
        saved = yaml.safe_load(config_path.read_text()) or {}
        new = cfg.to_dict()
        changes = [
            f"{k}: {saved.get(k)} -> {new.get(k)}"
            for k in sorted(set(saved) | set(new))
            if k not in RESUMABLE_FIELDS and saved.get(k) != new.get(k)
        ]
        if changes:
            raise RunStateError(
                f"{run_dir} was trained with other settings ({'; '.join(changes)}); "
                f"rerun with the original settings to resume, or choose a new --out"
            )
    elif run_dir.exists() and any(p.name != "state" for p in run_dir.iterdir()):
        raise RunStateError(f"{run_dir}: exists and is not a run folder; choose a new or empty --out")


def _write_run_files(run_dir: Path, cfg: SegConfig, data_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    with atomic_path(run_dir / "dataset.json") as tmp:
        shutil.copyfile(data_dir / "dataset.json", tmp)
    with atomic_path(run_dir / "run.json") as tmp:
        info = {"dataset": str(data_dir.resolve()), "version": __version__, "kind": RUN_KIND}
        tmp.write_text(json.dumps(info, indent=2) + "\n")


def _append_history(path: Path, step: int, epoch: float, loss: float, seconds: float) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(HISTORY_FIELDS)
        writer.writerow([step, f"{epoch:.6g}", f"{loss:.6g}", f"{seconds:.2f}"])


def seg_fit(
    cfg: SegConfig, data_dir: str | Path, run_dir: str | Path, reporter: SegReporter | None = None
) -> SegFitResult:
    """Train (or continue training) the segmenter on the train split of `data_dir` into `run_dir`."""
    import keras
    import tensorflow as tf

    cfg = cfg.validate()
    reporter = reporter or SilentSegReporter()
    data_dir, run_dir = Path(data_dir), Path(run_dir)
    info = load_info(data_dir)
    check_depth(info.patch_size, cfg.depth)
    classes = num_classes(info.classes)
    _check_resume(run_dir, cfg)
    split = load_split(data_dir, "train")
    if not len(split):
        raise InputError(f"{data_dir}: the train split is empty; re-run 'pix2pix-sar prepare' with more patches")
    labels, valid = zone_labels(split.zones, info.classes)
    images = split.images
    steps_per_epoch = len(epoch_rows(len(split), cfg.batch_size, cfg.seed, 0))
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    _write_run_files(run_dir, cfg, data_dir)

    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_segmenter(info.patch_size, classes, cfg.base_filters, cfg.depth)
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    optimizer.build(model.trainable_variables)  # Keras 3 makes slots lazily; restore needs them
    step_var = tf.Variable(0, dtype=tf.int64, name="step", trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, str(run_dir / "state"), max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resumed %s at step %d", run_dir, int(step_var.numpy()))
    start = int(step_var.numpy())
    rewind_history(run_dir / "history.csv", start)
    model_path = run_dir / "segmenter.keras"
    if start >= total:
        if not model_path.exists():
            _save_model(model, model_path)
        return SegFitResult(run_dir, start, start, steps_per_epoch, model_path, cfg)

    @tf.function
    def train_step(x, y, v):
        with tf.GradientTape() as tape:
            loss = masked_loss(model(x, training=True), y, v)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    writer = tf.summary.create_file_writer(str(run_dir / "logs"))
    reporter.started(start, total)
    step, since, loss_sum, t0 = start, start, 0.0, time.perf_counter()
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        batches = epoch_rows(len(split), cfg.batch_size, cfg.seed, epoch)
        for rows in batches[offset:]:
            loss = float(train_step(images[rows], labels[rows], valid[rows]))
            if not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {loss} at step {step + 1}; the last good state "
                    f"({manager.latest_checkpoint or 'none saved yet'}) is kept; lower --learning-rate and rerun"
                )
            step += 1
            loss_sum += loss
            step_var.assign(step)
            with writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
            reporter.step_finished(step, loss)
            if step % steps_per_epoch == 0 or step == total:
                seconds = time.perf_counter() - t0
                _append_history(
                    run_dir / "history.csv", step, step / steps_per_epoch, loss_sum / (step - since), seconds
                )
                writer.flush()
                manager.save(checkpoint_number=step)
                since, loss_sum, t0 = step, 0.0, time.perf_counter()
            if step == total:
                break
    writer.close()
    _save_model(model, model_path)
    return SegFitResult(run_dir, start, step, steps_per_epoch, model_path, cfg)


def _save_model(model, path: Path) -> None:
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
