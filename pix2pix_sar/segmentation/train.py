"""`seg_fit`: train the reference segmenter on one or more patch datasets, resumable.

The run folder is :class:`pix2pix_sar.run_folder.SegRunFolder`.

Mixing: without ``synthetic_share`` every batch is drawn from all training patches
pooled. With it, each batch holds a fixed number of synthetic patches (datasets whose
dataset.json says ``"synthetic": true``) — ``round(share * batch)``, at least one of
each kind when 0 < share < 1 — and the rest real. One epoch is one pass over the
real patches (or over the pool, without a share).

The batch order is a pure function of (seed, step): each pool is read as an endless
stream of permutations keyed by (seed, pool, pass), so a run killed at any point resumes
from its last state and replays exactly what was lost. The state is written in the
background (:mod:`pix2pix_sar.training.state_saver`) every ``state_every`` (a number of
epochs, or a duration checked after every step and at every epoch end: the
`SaveSchedule` rule ``fit`` follows) and at the end; SIGTERM or SIGINT stops after the
step in progress, saves the state of that step and exits 143/130
(:mod:`pix2pix_sar.training.preemption`), as ``fit`` does. Patches go through the same
tf.data feeders as ``fit`` (:mod:`pix2pix_sar.data.pipeline`, in memory or streamed from
the pack), as class indices (-1 = no data, ignored by the loss).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.config import SegConfig
from pix2pix_sar.data.dataset import DatasetInfo, SplitArrays, load_info, load_split, split_size
from pix2pix_sar.data.packed import PackedSplit, PackedUnion, choose_input, memory_bytes
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.errors import InputError, InvalidValue, TrainingDivergedError, option
from pix2pix_sar.run_folder import SegRunFolder
from pix2pix_sar.segmentation.model import build_segmenter, check_depth
from pix2pix_sar.training.preemption import StopSignals

log = logging.getLogger(__name__)

#: history.csv columns: the step an epoch (or the run) ended at, its epochs, its mean loss, its seconds.
HISTORY_FIELDS = ("step", "epoch", "loss", "seconds")


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


def stream_rows(n: int, seed: int, pool: int, start: int, count: int) -> np.ndarray:
    """Positions start..start+count of an endless stream over range(n): pass k is the
    permutation keyed by (seed, pool, k). A pure function, so any step can be replayed."""
    positions = np.arange(start, start + count)
    out = np.empty(count, np.int64)
    for k in np.unique(positions // n):
        at = positions // n == k
        out[at] = np.random.default_rng([seed, pool, int(k)]).permutation(n)[positions[at] % n]
    return out


@dataclass(frozen=True)
class Pool:
    """Patches drawn `per_batch` at a time: `rows` index the feeder."""

    name: str
    rows: np.ndarray
    per_batch: int


@dataclass(frozen=True)
class TrainingSet:
    """The training patches of all datasets, and how batches draw from them."""

    source: SplitArrays | PackedUnion  # in memory, or streamed from the packed cache
    input: str  # "memory" or "streamed"
    pools: tuple[Pool, ...]

    @property
    def steps_per_epoch(self) -> int:
        """One pass over the first pool (the real patches, or all of them)."""
        first = self.pools[0]
        return max(1, len(first.rows) // first.per_batch)

    def rows(self, seed: int, start: int, stop: int) -> np.ndarray:
        """Feeder rows of steps start..stop-1, batch after batch."""
        steps = stop - start
        parts = [
            pool.rows[stream_rows(len(pool.rows), seed, i, start * pool.per_batch, steps * pool.per_batch)].reshape(
                steps, pool.per_batch
            )
            for i, pool in enumerate(self.pools)
        ]
        return np.concatenate(parts, axis=1).reshape(-1)

    def feeder(self, table: np.ndarray):
        """The tf.data feeder of these patches, yielding `table[zone code]` and SAR."""
        from pix2pix_sar.data.pipeline import feeder_for

        return feeder_for(self.source, table)


def load_training_set(data_dirs: Sequence[Path], infos: Sequence[DatasetInfo], cfg: SegConfig) -> TrainingSet:
    """The train splits of every dataset, in memory or streamed (``cfg.input``); refuse
    datasets that do not go together."""
    first = infos[0]
    for d, info in zip(data_dirs[1:], infos[1:]):
        for what, ours, theirs, fix in (
            ("patch size", info.patch_size, first.patch_size, "--patch-size"),
            ("class scheme", info.classes, first.classes, "--classes"),
            ("SAR scaling", info.scaling, first.scaling, "the same scaling"),
        ):
            if ours != theirs:
                raise InputError(
                    f"{d}: its {what} ({ours}) differs from {data_dirs[0]}'s ({theirs}); "
                    f"the segmenter reads one kind of patch: prepare both with {fix}"
                )
    counts = [split_size(d, "train") for d in data_dirs]
    for d, count in zip(data_dirs, counts):
        if not count:
            raise InputError(f"{d}: the train split is empty; re-run 'pix2pix-sar prepare' with more patches")
    mode = choose_input(cfg.input, list(data_dirs), memory_bytes(sum(counts), first.patch_size, 1))
    if mode == "memory":
        splits = [load_split(d, "train") for d in data_dirs]
        source: SplitArrays | PackedUnion = SplitArrays(
            [f"{i}/{pid}" for i, s in enumerate(splits) for pid in s.ids],
            np.concatenate([s.zones for s in splits]),
            np.concatenate([s.images for s in splits]),
            np.concatenate([s.pixel_sizes for s in splits]),
        )
    else:
        source = PackedUnion([PackedSplit.open(d, "train") for d in data_dirs])
    synthetic = np.concatenate([np.full(count, info.synthetic) for count, info in zip(counts, infos)])
    rows = np.arange(len(synthetic))
    if cfg.synthetic_share is None:
        return TrainingSet(source, mode, (Pool("all", rows, cfg.batch_size),))
    n_synthetic = cfg.synthetic_per_batch()
    pools = []
    for kind, is_synthetic, count in (("real", False, cfg.batch_size - n_synthetic), ("synthetic", True, n_synthetic)):
        if not count:
            continue
        if not (synthetic == is_synthetic).any():
            raise InvalidValue(
                "synthetic_share",
                f"{cfg.synthetic_share} needs a {kind} dataset among {option('data')} "
                f'(dataset.json "synthetic": {str(is_synthetic).lower()}); none was given',
            )
        pools.append(Pool(kind, rows[synthetic == is_synthetic], count))
    return TrainingSet(source, mode, tuple(pools))


def seg_fit(
    cfg: SegConfig,
    data_dirs: Sequence[str | Path] | str | Path,
    run_dir: str | Path,
    reporter: SegReporter | None = None,
) -> SegFitResult:
    """Train (or continue training) the segmenter on the train splits of `data_dirs` into `run_dir`."""
    import keras
    import tensorflow as tf

    from pix2pix_sar.training.state_saver import BackgroundWriter, SaveSchedule, StateSaver, restore_state

    cfg = cfg.validate()
    reporter = reporter or SilentSegReporter()
    if isinstance(data_dirs, (str, Path)):
        data_dirs = [data_dirs]
    data_dirs = [Path(d) for d in data_dirs]
    if not data_dirs:
        raise InvalidValue("data", "give at least one dataset")
    folder = SegRunFolder(run_dir)
    infos = [load_info(d) for d in data_dirs]
    datasets = [{"path": str(d.resolve()), "synthetic": i.synthetic} for d, i in zip(data_dirs, infos)]
    check_depth(infos[0].patch_size, cfg.depth)
    folder.check_resume(cfg, [d["path"] for d in datasets])
    folder.check_resume_data(data_dirs[0])  # same path, but re-prepared with another scaling?
    training, info = load_training_set(data_dirs, infos, cfg), infos[0]
    folder.check_same_input(training.input)
    scheme = class_scheme(info.classes, str(data_dirs[0] / "dataset.json"))
    steps_per_epoch = training.steps_per_epoch
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    folder.start(cfg, datasets, training.input)

    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_segmenter(info.patch_size, len(scheme.class_names), cfg.base_filters, cfg.depth)
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    optimizer.build(model.trainable_variables)  # Keras 3 makes slots lazily; restore needs them
    step_var = tf.Variable(0, dtype=tf.int64, name="step", trainable=False)
    objects = {"model": model, "optimizer": optimizer, "step": step_var}
    if restore_state(objects, folder.state_dir):
        log.info("resumed %s at step %d", folder.path, int(step_var.numpy()))
    start = int(step_var.numpy())
    folder.rewind_history(start)
    if start >= total:
        if not folder.model_path.exists():
            _save_model(model, folder.model_path)
        return SegFitResult(folder.path, start, start, steps_per_epoch, folder.model_path, cfg)

    # Class index per zone code, -1 for no data: the feeder's "mask" is the label map.
    feeder = training.feeder(scheme.label_table()[:, None])

    @tf.function
    def train_step(codes, images):
        labels = tf.cast(codes[..., 0], tf.int32)
        with tf.GradientTape() as tape:
            loss = masked_loss(model(images, training=True), labels, labels >= 0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    # The state is written in the background (as fit's): when `schedule` says so (after a
    # step or at an epoch end), at the end, and when SIGTERM/SIGINT stops the run after
    # the step in progress.
    background = BackgroundWriter()
    saver = StateSaver(objects, folder.state_dir, 2, background)
    schedule = SaveSchedule(cfg.state_interval)
    writer = tf.summary.create_file_writer(str(folder.log_dir))
    reporter.started(start, total)
    step, since, loss_sum, t0 = start, start, 0.0, time.perf_counter()
    try:
        with StopSignals() as stop:
            while step < total:
                epoch_end = min(total, (step // steps_per_epoch + 1) * steps_per_epoch)
                batches = feeder.feed(training.rows(cfg.seed, step, epoch_end), cfg.batch_size)
                for codes, images in batches:
                    loss = float(train_step(codes, images))
                    if not math.isfinite(loss):
                        raise TrainingDivergedError(
                            f"loss became {loss} at step {step + 1}; the last good state "
                            f"({saver.latest or 'none saved yet'}) is kept; lower {option('learning_rate')} and rerun"
                        )
                    step += 1
                    loss_sum += loss
                    step_var.assign(step)
                    with writer.as_default(step=step):
                        tf.summary.scalar("loss", loss)
                    reporter.step_finished(step, loss)
                    stop.after_step(step)
                    if stop.should_stop(step) and step < epoch_end:
                        saver.save(step)
                        background.wait()
                        raise stop.interrupted(f"stopped after step {step}; the state is in {folder.state_dir}")
                    if step < epoch_end and schedule.due_after_step():
                        saver.save(step)
                        schedule.saved()
                seconds = time.perf_counter() - t0
                row = [step, f"{step / steps_per_epoch:.6g}", f"{loss_sum / (step - since):.6g}", f"{seconds:.2f}"]
                folder.append_history(HISTORY_FIELDS, row)
                writer.flush()
                stopping = stop.should_stop(step) and step < total
                if schedule.due_after_epoch(step // steps_per_epoch, final=step >= total) or stopping:
                    saver.save(step)
                    schedule.saved()
                since, loss_sum, t0 = step, 0.0, time.perf_counter()
                if stopping:
                    background.wait()
                    raise stop.interrupted(f"stopped after step {step}; the state is in {folder.state_dir}")
    finally:
        background.close()
        writer.close()
    _save_model(model, folder.model_path)
    return SegFitResult(folder.path, start, step, steps_per_epoch, folder.model_path, cfg)


def _save_model(model, path: Path) -> None:
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
