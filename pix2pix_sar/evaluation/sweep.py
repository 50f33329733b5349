"""Evaluate every generator snapshot of a run on all validation patches (paper Sec. III-C).

    RUN/eval/per_image.csv   epoch, patch_id, dice, ssim, mae (one row per snapshot and patch)
    RUN/eval/per_epoch.csv   per snapshot: mean and std of each image metric, SAR statistics
    RUN/eval/curves.png      mean Dice and SSIM per epoch (+-1 std)
    RUN/eval/eval.json       what the rows were computed on (dataset, patches, seed)

Generation follows the project's one rule (:mod:`pix2pix_sar.models.inference`):
BatchNorm with each image's own statistics, dropout on. Dropout is seeded: before
each snapshot the dropout RNG states are reset to those drawn from ``seed``, so a
snapshot's numbers do not depend on which snapshots were evaluated before it (they
do depend on ``batch_size``, which sets the shape of the dropout draw).

Incremental: epochs already in per_epoch.csv are skipped; the CSVs are rewritten
atomically after each snapshot, so an interrupted sweep loses at most one epoch.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pix2pix_sar import __version__
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_split
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.errors import InputError, InvalidValue, RunStateError
from pix2pix_sar.evaluation.figures import plot_curves
from pix2pix_sar.evaluation.metrics import mean_abs_error_tf, non_binary_dice_tf, ssim_tf, to_unit
from pix2pix_sar.evaluation.sar_stats import SarStatistics, stat_names
from pix2pix_sar.run_folder import RunFolder

log = logging.getLogger(__name__)

#: Per-image metrics on images scaled to [0, 1] (see evaluation.metrics).
IMAGE_METRICS = ("dice", "ssim", "mae")
PER_IMAGE_FIELDS = ("epoch", "patch_id", *IMAGE_METRICS)


def per_epoch_fields() -> list[str]:
    stats = [f"{m}_{s}" for m in IMAGE_METRICS for s in ("mean", "std")]
    return ["epoch", "images", *stats, *stat_names()]


class EvalReporter(Protocol):
    """Receives progress; the library itself never prints."""

    def epoch_started(self, epoch: int, images: int) -> None: ...

    def batch_finished(self, images_done: int) -> None: ...

    def epoch_finished(self, epoch: int, row: dict[str, float]) -> None: ...


class SilentEvalReporter:
    def epoch_started(self, epoch: int, images: int) -> None:
        pass

    def batch_finished(self, images_done: int) -> None:
        pass

    def epoch_finished(self, epoch: int, row: dict[str, float]) -> None:
        log.info("epoch %d: dice %.4f, ssim %.4f", epoch, row["dice_mean"], row["ssim_mean"])


@dataclass(frozen=True)
class EvaluateResult:
    run: RunFolder
    evaluated: list[int]  # epochs evaluated by this call
    skipped: list[int]  # epochs already evaluated before
    images_per_second: float  # generation + metrics, snapshot loading excluded (NaN if nothing ran)


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def read_per_epoch(path: Path) -> list[dict[str, float]]:
    """per_epoch.csv as numbers (``epoch`` and ``images`` as int), in epoch order."""
    rows = []
    for row in read_rows(path):
        try:
            parsed = {k: float(v) for k, v in row.items()}
        except (TypeError, ValueError):
            raise InputError(f"{path}: malformed row {row}; delete it and rerun 'pix2pix-sar evaluate'") from None
        parsed["epoch"], parsed["images"] = int(parsed["epoch"]), int(parsed["images"])
        rows.append(parsed)
    return sorted(rows, key=lambda r: r["epoch"])


def _write_rows(path: Path, fields, rows) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(fields))
            writer.writeheader()
            writer.writerows(rows)


def make_evaluate_fn(generate):
    """One compiled ``(masks, targets) -> (images, dice, ssim, mae)`` around `generate`
    (a :func:`~pix2pix_sar.models.inference.make_generate_fn`); metrics on [0, 1]."""
    import tensorflow as tf

    channels = generate.input_signature[0].shape[-1]

    @tf.function(
        input_signature=(
            tf.TensorSpec((None, None, None, channels), tf.float32),
            tf.TensorSpec((None, None, None, 1), tf.float32),
        )
    )
    def evaluate(masks: tf.Tensor, targets: tf.Tensor):
        images = generate(masks)
        a, b = to_unit(images), to_unit(targets)
        return images, non_binary_dice_tf(a, b), ssim_tf(a, b), mean_abs_error_tf(a, b)

    return evaluate


class SeededGenerator:
    """The inference copy of a run's generator, reloaded per snapshot, with dropout
    RNG states that restart from the same seeded values for every snapshot."""

    def __init__(self, first_snapshot, seed: int):
        from pix2pix_sar.models.inference import inference_generator, make_generate_fn
        from pix2pix_sar.models.noise import dropout_rng_states, seed_dropout

        seed_dropout(seed)
        self.model = inference_generator(first_snapshot)
        self._rng = dropout_rng_states(self.model)
        self._initial = [v.numpy() for v in self._rng]
        self.generate = make_generate_fn(self.model)

    def load(self, snapshot) -> None:
        self.model.set_weights(snapshot.get_weights())
        for var, value in zip(self._rng, self._initial):
            var.assign(value)


def _check_eval_record(record: dict, run: RunFolder) -> None:
    """Refuse to mix rows computed on other patches or with another seed."""
    if not run.eval_json.exists():
        return
    old = json.loads(run.eval_json.read_text())
    for key, hint in (("dataset", "--data"), ("patch_ids", "--data"), ("seed", "--seed")):
        if old.get(key) != record[key]:
            shown = old.get(key) if key != "patch_ids" else f"{len(old.get(key) or [])} patches"
            raise RunStateError(
                f"{run.eval_dir}: was computed with another {key} ({shown}); pass the same {hint}, "
                f"or delete {run.eval_dir} to evaluate {run.path} afresh"
            )


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    batch_size: int = 8,
    seed: int = 0,
    reporter: EvalReporter | None = None,
) -> EvaluateResult:
    """Evaluate the snapshots of `run_dir` not yet in RUN/eval; see the module docstring."""
    import tensorflow as tf

    from pix2pix_sar.models.snapshots import load_generator

    reporter = reporter or SilentEvalReporter()
    if batch_size < 1:
        raise InvalidValue("batch_size", f"batch size {batch_size}: must be >= 1")
    run = RunFolder(run_dir).require()
    snapshots = run.snapshots()
    if not snapshots:
        raise RunStateError(f"{run.path}: has no generator snapshots yet; train longer with 'pix2pix-sar fit'")
    data_dir = run.dataset_dir(data_dir)
    info = run.dataset_info()
    split = load_split(data_dir, "val")
    if len(split) == 0:
        raise InputError(f"{data_dir}: has no validation patches; prepare it with a validation fraction > 0")
    scheme = class_scheme(info.classes, str(run.dataset_json))
    masks = scheme.encode(split.zones)

    record = {"dataset": str(Path(data_dir).resolve()), "patch_ids": split.ids, "seed": seed, "version": __version__}
    _check_eval_record(record, run)
    per_epoch = read_per_epoch(run.eval_per_epoch_csv)
    done = {r["epoch"] for r in per_epoch}
    # Rows of an epoch that never reached per_epoch.csv (interrupted) are redone.
    per_image = [r for r in read_rows(run.eval_per_image_csv) if int(r["epoch"]) in done]
    todo = [e for e in snapshots if e not in done]
    skipped = [e for e in snapshots if e in done]
    if todo:
        run.eval_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(run.eval_json, suffix=".json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")

    seeded: SeededGenerator | None = None
    evaluate = None
    seconds, images_done = 0.0, 0
    for epoch in todo:
        snapshot = load_generator(run.find_snapshot(epoch)[1])
        if seeded is None:
            seeded = SeededGenerator(snapshot, seed)
            evaluate = make_evaluate_fn(seeded.generate)
        seeded.load(snapshot)
        reporter.epoch_started(epoch, len(split))
        stats = SarStatistics(info.scaling)
        metrics = {m: [] for m in IMAGE_METRICS}
        t0 = time.perf_counter()
        for start in range(0, len(split), batch_size):
            stop = min(start + batch_size, len(split))
            images, *values = evaluate(
                tf.constant(masks[start:stop], tf.float32), tf.constant(split.images[start:stop], tf.float32)
            )
            for name, value in zip(IMAGE_METRICS, values):
                metrics[name].append(value.numpy())
            stats.add(split.zones[start:stop], split.images[start:stop], images.numpy())
            reporter.batch_finished(stop)
        seconds += time.perf_counter() - t0
        images_done += len(split)
        metrics = {m: np.concatenate(v).astype(np.float64) for m, v in metrics.items()}
        for i, patch_id in enumerate(split.ids):
            per_image.append(
                {"epoch": epoch, "patch_id": patch_id, **{m: f"{metrics[m][i]:.6f}" for m in IMAGE_METRICS}}
            )
        row: dict[str, float] = {"epoch": epoch, "images": len(split)}
        for m, v in metrics.items():
            row[f"{m}_mean"], row[f"{m}_std"] = float(v.mean()), float(v.std())
        row.update(stats.summary())
        per_epoch = sorted([*per_epoch, row], key=lambda r: r["epoch"])
        per_image.sort(key=lambda r: int(r["epoch"]))
        _write_rows(run.eval_per_image_csv, PER_IMAGE_FIELDS, per_image)
        _write_rows(run.eval_per_epoch_csv, per_epoch_fields(), [_formatted(r) for r in per_epoch])
        reporter.epoch_finished(epoch, row)
    if todo or (per_epoch and not run.eval_curves_png.exists()):
        plot_curves(
            {_run_label(run): per_epoch},
            run.eval_curves_png,
            title=f"{run.path.name}: validation ({len(split)} patches)",
        )
    return EvaluateResult(run, todo, skipped, images_done / seconds if seconds else math.nan)


def _formatted(row: dict[str, float]) -> dict[str, str]:
    return {k: (str(v) if k in ("epoch", "images") else f"{v:.6g}") for k, v in row.items()}


def _run_label(run: RunFolder) -> str:
    return run.load_config().variant
