"""Distributed input: each worker reads only the patch files of its own replicas
(decoded once, kept in memory) and feeds per-replica batches in the order given
by data.sharding — a pure function of (seed, epoch, replica)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_sar.data.dataset import SplitArrays, load_split, split_size
from pix2pix_sar.data.sharding import flip_schedule, replica_schedule, shard_indices, steps_per_epoch
from pix2pix_sar.data.zones import ClassScheme
from pix2pix_sar.errors import ConfigError


@dataclass
class WorkerShard:
    """The training patches of this worker's replicas."""

    total: int  # patches in the whole split
    replicas: range  # global replica ids served by this worker
    num_replicas: int
    arrays: SplitArrays  # only this worker's patches
    row_of: np.ndarray  # global patch index -> row in `arrays` (-1: another worker's)


def load_worker_shard(dataset_dir: Path, split: str, num_replicas: int, num_workers: int, worker: int) -> WorkerShard:
    total = split_size(dataset_dir, split)
    if total < num_replicas:
        raise ConfigError(f"{dataset_dir}: {total} {split} patches cannot feed {num_replicas} replicas")
    per_worker = num_replicas // num_workers
    replicas = range(worker * per_worker, (worker + 1) * per_worker)
    indices = np.sort(np.concatenate([shard_indices(total, r, num_replicas) for r in replicas]))
    row_of = np.full(total, -1)
    row_of[indices] = np.arange(indices.size)
    return WorkerShard(total, replicas, num_replicas, load_split(dataset_dir, split, indices.tolist()), row_of)


def replica_batches(
    shard: WorkerShard,
    scheme: ClassScheme,
    per_replica_batch: int,
    seed: int,
    epoch: int,
    flip: bool,
):
    """Yield (mask, image) per-replica batches: step by step, this worker's replicas in order."""
    schedules = [
        replica_schedule(shard.total, seed, epoch, r, shard.num_replicas, per_replica_batch) for r in shard.replicas
    ]
    flips = flip_schedule(shard.total, seed, epoch) if flip else None
    for step in range(schedules[0].shape[0]):
        for schedule in schedules:
            patches = schedule[step]
            rows = shard.row_of[patches]
            masks = scheme.encode(shard.arrays.zones[rows])
            images = shard.arrays.images[rows]
            if flips is not None:
                masks, images = masks.copy(), images.copy()
                for j, patch in enumerate(patches):
                    if flips[patch, 0]:
                        masks[j], images[j] = masks[j, :, ::-1], images[j, :, ::-1]
                    if flips[patch, 1]:
                        masks[j], images[j] = masks[j, ::-1], images[j, ::-1]
            yield masks, images


def distributed_epoch(
    strategy: tf.distribute.Strategy,
    shard: WorkerShard,
    scheme: ClassScheme,
    global_batch: int,
    seed: int,
    epoch: int,
    flip: bool = False,
    prefetch: int = 2,
):
    """One epoch as a distributed dataset of per-replica (mask, image) batches."""
    size = shard.arrays.zones.shape[1]
    spec = (
        tf.TensorSpec((None, size, size, scheme.channels), tf.float32),
        tf.TensorSpec((None, size, size, 1), tf.float32),
    )

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        per_worker = shard.num_replicas // ctx.num_input_pipelines
        if shard.replicas != range(ctx.input_pipeline_id * per_worker, (ctx.input_pipeline_id + 1) * per_worker):
            raise RuntimeError(f"input pipeline {ctx.input_pipeline_id} was given replicas {shard.replicas}")
        per_replica = ctx.get_per_replica_batch_size(global_batch)
        ds = tf.data.Dataset.from_generator(
            lambda: replica_batches(shard, scheme, per_replica, seed, epoch, flip), output_signature=spec
        )
        return ds.prefetch(prefetch) if prefetch else ds

    return strategy.distribute_datasets_from_function(dataset_fn)


def epoch_steps(shard: WorkerShard, global_batch: int) -> int:
    return steps_per_epoch(shard.total, shard.num_replicas, global_batch // shard.num_replicas)
