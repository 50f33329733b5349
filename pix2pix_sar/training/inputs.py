"""Distributed input: each worker feeds its replicas' slices of every global batch, in
the order given by data.sharding — a pure function of (seed, epoch, step), the same for
any replica or worker count. In memory, every worker holds every training patch (decoded
once, in a data.pipeline.MemoryFeeder: its replicas' patches change from step to step);
streamed, a worker reads only the records of its own slices.

The input family: :mod:`pix2pix_sar.data.packed` (the pack, and the choice of input
mode), :mod:`pix2pix_sar.data.pipeline` (the feeders), this module (a strategy's
workers and replicas)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_sar.data.dataset import load_split, split_size
from pix2pix_sar.data.packed import PackedSplit
from pix2pix_sar.data.pipeline import MemoryFeeder, StreamedFeeder, feeder_for
from pix2pix_sar.data.sharding import epoch_schedule, flip_schedule, steps_per_epoch
from pix2pix_sar.data.zones import ClassScheme
from pix2pix_sar.errors import InputError, option


@dataclass
class WorkerShard:
    """One worker's view of a split: its replicas, and a feeder over every patch."""

    total: int  # patches in the whole split
    replicas: range  # global replica ids served by this worker
    num_replicas: int
    feeder: MemoryFeeder | StreamedFeeder  # every patch: in memory, or read batch by batch
    row_of: np.ndarray  # global patch index -> row in `feeder`


def load_worker_shard(
    dataset_dir: Path,
    split: str,
    scheme: ClassScheme,
    num_replicas: int,
    num_workers: int,
    worker: int,
    input_mode: str = "memory",
    sensors: tuple[str, ...] = (),
) -> WorkerShard:
    """The split's patches for this worker: all decoded into memory, or (`input_mode`
    "streamed") read from the packed cache batch by batch — the same rows, in the same order;
    `sensors`: the run's conditioning sensors (one-hot planes after the extra bands)."""
    total = split_size(dataset_dir, split)
    if total < 1:
        raise InputError(
            f"{dataset_dir}: has no {split} patches; "
            f"prepare more patches (smaller {option('val_fraction')} or more scenes)"
        )
    per_worker = num_replicas // num_workers
    replicas = range(worker * per_worker, (worker + 1) * per_worker)
    if input_mode == "streamed":
        source = PackedSplit.open(dataset_dir, split, with_extras=True)
    else:
        source = load_split(dataset_dir, split)
    feeder = feeder_for(source, scheme, sensors)
    return WorkerShard(total, replicas, num_replicas, feeder, np.arange(total))


def worker_rows(
    shard: WorkerShard, per_replica_batch: int, seed: int, epoch: int, flip: bool, skip: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """This worker's feeder rows for `epoch`: step by step, its replicas' contiguous
    slice of each global batch (replica by replica: how tf.distribute hands a worker's
    batches to its replicas), and their flips when `flip`; without the first `skip`
    steps (a run resumed mid-epoch sees exactly the rest of the epoch an uninterrupted
    run sees)."""
    global_batch = per_replica_batch * shard.num_replicas
    mine = slice(shard.replicas.start * per_replica_batch, shard.replicas.stop * per_replica_batch)
    patches = epoch_schedule(shard.total, seed, epoch, global_batch)[skip:, mine].reshape(-1)
    flips = flip_schedule(shard.total, seed, epoch, global_batch)[skip:, mine].reshape(-1, 2) if flip else None
    return shard.row_of[patches], flips


def worker_dataset(
    shard: WorkerShard,
    per_replica_batch: int,
    seed: int,
    epoch: int,
    flip: bool = False,
    prefetch: int = 2,
    skip: int = 0,
    epochs: int = 1,
    compact: bool = False,
) -> tf.data.Dataset:
    """This worker's per-replica (mask, image) batches of `epochs` epochs from `epoch` on,
    without the first `skip` steps. One dataset for all epochs of a run costs its
    set-up once, and prefetches across epoch ends."""
    parts = [
        worker_rows(shard, per_replica_batch, seed, e, flip, skip if e == epoch else 0)
        for e in range(epoch, epoch + epochs)
    ]
    rows = np.concatenate([r for r, _ in parts])
    flips = np.concatenate([f for _, f in parts]) if flip else None
    return shard.feeder.feed(rows, per_replica_batch, flips, prefetch, compact=compact)


def distributed_epoch(
    strategy: tf.distribute.Strategy,
    shard: WorkerShard,
    global_batch: int,
    seed: int,
    epoch: int,
    flip: bool = False,
    prefetch: int = 2,
    skip: int = 0,
    epochs: int = 1,
    compact: bool = False,
):
    """`epochs` epochs from `epoch` on as an iterable of per-replica (mask, image) batches
    for `strategy.run` (with one replica, the plain dataset), without the first `skip` steps;
    `compact` batches are decoded in the step (``shard.feeder.decode``)."""
    if strategy.num_replicas_in_sync == 1:
        # One replica takes the plain dataset: the distributed wrapper's iterator took
        # 23-25 s to delete at the end of an `orig` run on this CPU (TF 2.21; 1 ms plain).
        return worker_dataset(shard, global_batch, seed, epoch, flip, prefetch, skip, epochs, compact)

    per_replica = global_batch // strategy.num_replicas_in_sync
    dataset = worker_dataset(shard, per_replica, seed, epoch, flip, prefetch, skip, epochs, compact)
    return _ReplicaBatches(strategy, dataset, shard.replicas)


class _ReplicaBatches:
    """A worker's plain dataset handed to `strategy.run` as per-replica values: one batch
    per local replica a step (`worker_dataset` gives them replica by replica); batches
    stay on the host until the step.

    Not tf.distribute's distributed dataset: it wraps each worker's dataset in a
    MultiDeviceIterator whose per-device datasets run tf.data's autotuning, and deleting
    it waits for that model thread's next wake-up (0-10 s at the end of a tiny
    two-worker run on this CPU, TF 2.21; see data.pipeline._without_autotune). Under
    multi-worker it also all-reduced at every step to find the end of the data, which
    the schedule fixes anyway."""

    def __init__(self, strategy: tf.distribute.Strategy, dataset: tf.data.Dataset, replicas: range):
        self.strategy, self.dataset, self.replicas = strategy, dataset, replicas

    def __iter__(self):
        return _ReplicaIterator(self.strategy, iter(self.dataset), self.replicas)


class _ReplicaIterator:
    def __init__(self, strategy: tf.distribute.Strategy, batches, replicas: range):
        self.strategy, self.batches, self.replicas = strategy, batches, replicas

    def __iter__(self):
        return self

    def __next__(self):
        local = [next(self.batches) for _ in self.replicas]  # StopIteration at the end of the data
        first = self.replicas.start
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: local[ctx.replica_id_in_sync_group - first]
        )


def epoch_steps(shard: WorkerShard, global_batch: int) -> int:
    return steps_per_epoch(shard.total, global_batch)
