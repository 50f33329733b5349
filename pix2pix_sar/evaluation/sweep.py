"""Evaluate every generator snapshot of a run on all validation patches (paper Sec. III-C),
or on another split of the dataset (``split="test"``: a test split kept from CaFFe).

    RUN/eval/per_image.csv   epoch, patch_id, dice, ssim, mae (one row per snapshot and patch)
    RUN/eval/per_epoch.csv   per snapshot: mean and std of each image metric, SAR statistics
    RUN/eval/curves.png      mean Dice and SSIM per epoch (+-1 std)
    RUN/eval/eval.json       what the rows were computed on (dataset, split, patches, seed, metric version,
                             segmenter)

With a segmenter (``evaluate --segmenter SEGRUN``, :mod:`pix2pix_sar.evaluation.segscore`),
per_epoch.csv gains the segmentation score of each snapshot: ``seg_miou`` and
``seg_mde_m`` of the segmenter on the generated images against the masks they were
made from, beside ``seg_real_miou`` and ``seg_real_mde_m``, the same segmenter on the
real validation images (the ceiling; the same in every row). Snapshots evaluated
before are scored without recomputing their other columns; the segmenter is recorded
in eval.json and a different one is refused later.

No-data never counts (:mod:`pix2pix_sar.evaluation.metrics`): the metrics see only
pixels with zone != 0. A patch with nothing to score for a metric (no valid pixel;
for SSIM no wholly valid 11x11 window) gets NaN in per_image.csv; per_epoch.csv
averages over the scored patches (NaNs skipped), ``images`` is the number of
patches generated and ``<metric>_skipped`` how many of them had no score.
Rows computed under an older metric version (:data:`METRIC_VERSION`) are never
mixed with new ones, nor rows of another dataset, split or seed: such an eval folder
is refused until it is deleted (an eval.json without a split was computed on "val").

Generation follows the project's one rule (:mod:`pix2pix_sar.models.inference`):
normalisation with each image's own statistics, noise on. The noise of patch i is
keyed by (``seed``, i), so a snapshot's numbers depend neither on ``batch_size`` nor
on which snapshots were evaluated before it.

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

from pix2pix_sar import __version__, jsonio
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import SPLITS, load_manifest
from pix2pix_sar.data.extra_bands import encode_inputs
from pix2pix_sar.data.zones import class_scheme, valid_zones
from pix2pix_sar.errors import InputError, InvalidValue, RunStateError, option
from pix2pix_sar.evaluation.eval_patches import EvalPatches
from pix2pix_sar.evaluation.figures import plot_curves
from pix2pix_sar.evaluation.groups import BY_GROUP_CSV, grouped_fields, grouped_means
from pix2pix_sar.evaluation.metrics import mean_abs_error_tf, non_binary_dice_tf, ssim_tf, to_unit
from pix2pix_sar.evaluation.sar_stats import SarStatistics, stat_names
from pix2pix_sar.evaluation.segscore import SegmentationScores, Segmenter
from pix2pix_sar.noise import KEY_SIZE, patch_keys
from pix2pix_sar.run_folder import RunFolder
from pix2pix_sar.run_tables import PER_EPOCH_COUNTS, read_per_epoch, read_rows

log = logging.getLogger(__name__)

#: Per-image metrics on images scaled to [0, 1] (see evaluation.metrics).
IMAGE_METRICS = ("dice", "ssim", "mae")
PER_IMAGE_FIELDS = ("epoch", "patch_id", *IMAGE_METRICS)
#: What the numbers mean; rows of another version are never mixed. 1: every pixel
#: counted; 2: no-data pixels (zone 0) ignored, NaN for patches without a score.
METRIC_VERSION = 2


#: Curve titles by split.
_SPLIT_TITLES = {"val": "validation", "test": "test", "train": "training"}

#: per_epoch.csv columns of the segmentation score (only with a segmenter).
SEG_FIELDS = ("seg_miou", "seg_mde_m", "seg_real_miou", "seg_real_mde_m")


def per_epoch_fields(with_segmenter: bool = False) -> list[str]:
    stats = [f"{m}_{s}" for m in IMAGE_METRICS for s in ("mean", "std")]
    skipped = [f"{m}_skipped" for m in IMAGE_METRICS]
    return ["epoch", "images", *stats, *skipped, *stat_names(), *(SEG_FIELDS if with_segmenter else ())]


class EvalReporter(Protocol):
    """Receives progress; the library itself never prints."""

    def epoch_started(self, epoch: int, images: int, index: int, count: int) -> None:
        """Snapshot `epoch` starts: the `index`-th (from 0) of the `count` this call evaluates."""

    def batch_finished(self, images_done: int) -> None: ...

    def epoch_finished(self, epoch: int, row: dict[str, float]) -> None: ...


class SilentEvalReporter:
    def epoch_started(self, epoch: int, images: int, index: int, count: int) -> None:
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
    seg_scored: list[int]  # epochs whose segmentation score this call added
    images_per_second: float  # generation + metrics, snapshot loading excluded (NaN if nothing ran)


def _write_rows(path: Path, fields, rows) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(fields), restval="nan")
            writer.writeheader()
            writer.writerows(rows)


def make_evaluate_fn(generate):
    """One compiled ``(masks, keys, targets, valid) -> (images, dice, ssim, mae)`` around
    `generate` (a :func:`~pix2pix_sar.models.inference.make_generate_fn`, called as
    ``generate(masks, keys)``); metrics on [0, 1] over the pixels where `valid`
    (float 0/1, zone != 0) is 1, NaN for a patch without any (see the module docstring)."""
    import tensorflow as tf

    channels = generate.input_signature[0].shape[-1]

    @tf.function(
        input_signature=(
            tf.TensorSpec((None, None, None, channels), tf.float32),
            tf.TensorSpec((None, KEY_SIZE), tf.int32),
            tf.TensorSpec((None, None, None, 1), tf.float32),
            tf.TensorSpec((None, None, None, 1), tf.float32),
        )
    )
    def evaluate(masks: tf.Tensor, keys: tf.Tensor, targets: tf.Tensor, valid: tf.Tensor):
        images = generate(masks, keys)
        a, b = to_unit(images), to_unit(targets)
        return images, non_binary_dice_tf(a, b, valid), ssim_tf(a, b, valid), mean_abs_error_tf(a, b, valid)

    return evaluate


class SnapshotGenerator:
    """The inference copy of a run's generator, compiled once and reloaded per
    snapshot. Keyed noise makes each snapshot's images independent of the others; a
    legacy generator's seeded dropout is restarted at every load for the same reason."""

    def __init__(self, first_snapshot, cfg, seed: int):
        from pix2pix_sar.models.inference import inference_generator, legacy_dropout_states, make_generate_fn

        self.model = inference_generator(first_snapshot, cfg, seed)
        self._rng = legacy_dropout_states(self.model)
        self._initial = [v.numpy() for v in self._rng]
        self.generate = make_generate_fn(self.model)

    def load(self, snapshot) -> None:
        self.model.set_weights(snapshot.get_weights())
        for var, value in zip(self._rng, self._initial):
            var.assign(value)


def evaluated_split(run: RunFolder) -> str:
    """The split RUN/eval was computed on ("val" where eval.json does not say, or is missing)."""
    if not run.eval_json.exists():
        return "val"
    return json.loads(run.eval_json.read_text()).get("split", "val")


def split_title(split: str) -> str:
    """The word for a split in titles and text: validation, test, training."""
    return _SPLIT_TITLES.get(split, split)


def _check_eval_record(record: dict, run: RunFolder) -> None:
    """Refuse to mix rows computed on other patches, with another seed or by other metrics."""
    if not run.eval_json.exists():
        if run.eval_per_epoch_csv.exists() or run.eval_per_image_csv.exists():
            raise RunStateError(
                f"{run.eval_dir}: holds metric rows but no eval.json, so what they were computed with is unknown; "
                f"delete {run.eval_dir} and rerun 'pix2pix-sar evaluate {run.path}'"
            )
        return
    old = json.loads(run.eval_json.read_text())
    version = old.get("metric_version", 1)
    if version != record["metric_version"]:
        raise RunStateError(
            f"{run.eval_dir}: was computed with metric version {version} (this version is "
            f"{record['metric_version']}: no-data pixels are no longer counted); delete {run.eval_dir} "
            f"and rerun 'pix2pix-sar evaluate {run.path}' to recompute every snapshot"
        )
    if old.get("segmenter") and record.get("segmenter") and old["segmenter"] != record["segmenter"]:
        raise RunStateError(
            f"{run.eval_dir}: was scored with the segmenter {old['segmenter']['path']}; "
            f"pass that {option('segmenter')}, "
            f"or delete {run.eval_dir} to score every snapshot with {record['segmenter']['path']}"
        )
    old.setdefault("split", "val")  # evaluated before the split was recorded: always validation
    old.setdefault("input", "memory")  # evaluated before streaming existed
    for key, setting in (
        ("dataset", "data"),
        ("split", "split"),
        ("patch_ids", "data"),
        ("seed", "seed"),
        ("input", "input_mode"),
    ):
        if old.get(key) != record[key]:
            shown = old.get(key) if key != "patch_ids" else f"{len(old.get(key) or [])} patches"
            raise RunStateError(
                f"{run.eval_dir}: was computed with another {key} ({shown}); pass the same {option(setting)}, "
                f"or delete {run.eval_dir} to evaluate {run.path} afresh"
            )


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    batch_size: int = 8,
    seed: int = 0,
    reporter: EvalReporter | None = None,
    segmenter: str | Path | None = None,
    split: str = "val",
    input_mode: str = "auto",
) -> EvaluateResult:
    """Evaluate the snapshots of `run_dir` not yet in RUN/eval on the patches of `split`, and
    add the segmentation score where `segmenter` (or the one eval.json records) is given; see
    the module docstring. `input_mode` (data.input's choices) reads the patches into
    memory or streams them from the pack batch by batch, as `fit` does."""
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
    if split not in SPLITS:
        raise InvalidValue("split", f"split {split!r}: choose one of {', '.join(SPLITS)}")
    split_name = split
    conditioned = run.load_config().data.sensor_conditioning
    split = EvalPatches.open(Path(data_dir), split_name, info, input_mode, conditioned)
    if len(split) == 0:
        hint = (
            "prepare it with a validation fraction > 0"
            if split_name == "val"
            else f"choose another {option('split')} (a test split comes from CaFFe's own)"
        )
        raise InputError(f"{data_dir}: has no {split_name} patches; {hint}")
    scheme = class_scheme(info.classes, str(run.dataset_json))
    keys = patch_keys(seed, np.arange(len(split)))

    record = {
        "dataset": str(Path(data_dir).resolve()),
        "split": split_name,
        "patch_ids": split.ids,
        "seed": seed,
        "input": split.input_mode,
        "metric_version": METRIC_VERSION,
        "version": __version__,
    }
    seg = _load_segmenter(run, segmenter)
    if seg is not None:
        seg.check_compatible(info, str(run.dataset_json))
        record["segmenter"] = {"path": str(seg.folder.path.resolve()), "sha256": seg.folder.fingerprint()}
        _warn_leakage(seg, Path(data_dir), split_name)
    _check_eval_record(record, run)
    per_epoch = read_per_epoch(run.eval_per_epoch_csv)
    done = {r["epoch"] for r in per_epoch}
    # Rows of an epoch that never reached per_epoch.csv (interrupted) are redone.
    per_image = [r for r in read_rows(run.eval_per_image_csv) if int(r["epoch"]) in done]
    todo = [e for e in snapshots if e not in done]
    skipped = [e for e in snapshots if e in done]
    unscored = {r["epoch"] for r in per_epoch if seg is not None and not math.isfinite(r.get("seg_miou", math.nan))}
    work = sorted({*todo, *unscored})
    if work:
        run.eval_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(run.eval_json, suffix=".json") as tmp:
            tmp.write_text(jsonio.dumps(record, indent=2) + "\n")
    ceiling = {}
    if seg is not None and work:
        real = SegmentationScores(seg.scheme)
        for start, (zones, targets, _) in split.batches(batch_size):
            real.add(seg.predict(targets), zones, split.pixel_sizes[start : start + len(zones)])
        real = real.result()
        ceiling = {"seg_real_miou": real["miou"], "seg_real_mde_m": real.get("mde_m", math.nan)}

    seeded: SnapshotGenerator | None = None
    evaluate = None
    seconds, images_done = 0.0, 0
    for index, epoch in enumerate(work):
        snapshot = load_generator(run.find_snapshot(epoch)[1])
        if seeded is None:
            seeded = SnapshotGenerator(snapshot, run.load_config().model, seed)
            evaluate = make_evaluate_fn(seeded.generate)
        seeded.load(snapshot)
        reporter.epoch_started(epoch, len(split), index, len(work))
        stats = SarStatistics(info.scaling)
        metrics = {m: [] for m in IMAGE_METRICS}
        scores = SegmentationScores(seg.scheme) if seg is not None else None
        t0 = time.perf_counter()
        for start, (zones, targets, extras) in split.batches(batch_size):
            stop = start + len(zones)
            images, *values = evaluate(
                tf.constant(encode_inputs(scheme, zones, extras), tf.float32),
                tf.constant(keys[start:stop], tf.int32),
                tf.constant(targets, tf.float32),
                tf.constant(valid_zones(zones)[..., None], tf.float32),
            )
            for name, value in zip(IMAGE_METRICS, values):
                metrics[name].append(value.numpy())
            stats.add(zones, targets, images.numpy())
            if scores is not None:
                scores.add(seg.predict(images.numpy()), zones, split.pixel_sizes[start:stop])
            reporter.batch_finished(stop)
        if epoch in todo:
            metrics = {m: np.concatenate(v).astype(np.float64) for m, v in metrics.items()}
            for i, patch_id in enumerate(split.ids):
                per_image.append(
                    {"epoch": epoch, "patch_id": patch_id, **{m: f"{metrics[m][i]:.6f}" for m in IMAGE_METRICS}}
                )
            row: dict[str, float] = {"epoch": epoch, "images": len(split)}
            for m, v in metrics.items():
                row[f"{m}_mean"], row[f"{m}_std"], row[f"{m}_skipped"] = _nan_summary(v)
            row.update(stats.summary())
        else:  # evaluated before: only the segmentation score is new
            row = next(r for r in per_epoch if r["epoch"] == epoch)
        if scores is not None:
            scores = scores.result()
            row.update(seg_miou=scores["miou"], seg_mde_m=scores.get("mde_m", math.nan), **ceiling)
        seconds += time.perf_counter() - t0
        images_done += len(split)
        per_epoch = sorted([*(r for r in per_epoch if r["epoch"] != epoch), row], key=lambda r: r["epoch"])
        per_image.sort(key=lambda r: int(r["epoch"]))
        _write_rows(run.eval_per_image_csv, PER_IMAGE_FIELDS, per_image)
        # Data naming its sensors: the image metrics by sensor and by resolution too.
        sizes = dict(zip(split.ids, (float(p) for p in split.pixel_sizes)))
        grouped = grouped_means(per_image, IMAGE_METRICS, dict(zip(split.ids, split.sensors)), sizes)
        if grouped:
            _write_rows(run.eval_dir / BY_GROUP_CSV, grouped_fields(IMAGE_METRICS), grouped)
        fields = per_epoch_fields(with_segmenter=any("seg_miou" in r for r in per_epoch))
        _write_rows(run.eval_per_epoch_csv, fields, [_formatted(r) for r in per_epoch])
        reporter.epoch_finished(epoch, row)
    if work or (per_epoch and not run.eval_curves_png.exists()):
        plot_curves(
            {_run_label(run): per_epoch},
            run.eval_curves_png,
            title=f"{run.path.name}: {split_title(split_name)} ({len(split)} patches)",
        )
    seg_scored = [e for e in work if seg is not None]
    return EvaluateResult(run, todo, skipped, seg_scored, images_done / seconds if seconds else math.nan)


def _load_segmenter(run: RunFolder, segmenter: str | Path | None):
    """The segmenter to score with: the one given, else the one eval.json records (None: no score)."""
    if segmenter is not None:
        return Segmenter.load(segmenter)
    recorded = json.loads(run.eval_json.read_text()).get("segmenter") if run.eval_json.exists() else None
    if not recorded:
        return None
    if not Path(recorded["path"]).exists():
        raise RunStateError(
            f"{run.eval_json}: records the segmenter {recorded['path']}, which is gone; restore it, "
            f"or delete {run.eval_dir} to evaluate afresh"
        )
    return Segmenter.load(recorded["path"])


def _warn_leakage(seg, data_dir: Path, split: str = "val") -> None:
    """Warn when the segmenter trained on patches that overlap the evaluated patches
    (same source file, intersecting windows): its score on them would be optimistic."""
    val = [r for r in load_manifest(data_dir) if r.split == split]
    by_source: dict[str, list] = {}
    for r in val:
        by_source.setdefault(r.source, []).append(r)
    for path, synthetic in seg.folder.datasets():
        if synthetic or not (path / "manifest.csv").exists():
            continue
        overlapping = sum(
            any(_windows_intersect(t, v) for v in by_source.get(t.source, ()))
            for t in load_manifest(path)
            if t.split == "train"
        )
        if overlapping:
            log.warning(
                "%s: %d training patch(es) of the segmenter %s overlap the %s patches of %s; its "
                "score is optimistic there — train the segmenter on data without them",
                path,
                overlapping,
                seg.folder.path,
                split,
                data_dir,
            )


def _windows_intersect(a, b) -> bool:
    return (
        a.col_off < b.col_off + b.width
        and b.col_off < a.col_off + a.width
        and a.row_off < b.row_off + b.height
        and b.row_off < a.row_off + a.height
    )


def _nan_summary(values: np.ndarray) -> tuple[float, float, int]:
    """Mean and std over the scored (non-NaN) values, and how many were NaN."""
    scored = values[~np.isnan(values)]
    if not scored.size:
        return math.nan, math.nan, int(values.size)
    return float(scored.mean()), float(scored.std()), int(values.size - scored.size)


def _formatted(row: dict[str, float]) -> dict[str, str]:
    return {k: (str(v) if k in PER_EPOCH_COUNTS else f"{v:.6g}") for k, v in row.items()}


def _run_label(run: RunFolder) -> str:
    return run.load_config().variant
