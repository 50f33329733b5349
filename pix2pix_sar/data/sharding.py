"""Which patches each replica trains on, step by step — a pure function of
(seed, epoch, replica), so single-device, multi-GPU and multi-host runs with the
same number of replicas see identical batches, and a resumed run replays exactly.

Files are sharded by index (patch ``i`` belongs to replica ``i % replicas``), so a
worker only reads the patches of its own replicas. Each replica shuffles its shard
per epoch; shards are wrapped around to the longest one so every replica takes the
same number of full steps (collective ops need that).
"""

from __future__ import annotations

import numpy as np


def shard_indices(n: int, replica: int, replicas: int) -> np.ndarray:
    """Patch indices owned by `replica`."""
    return np.arange(replica, n, replicas)


def steps_per_epoch(n: int, replicas: int, per_replica_batch: int) -> int:
    """Steps of one epoch: the longest shard in full per-replica batches."""
    longest = -(-n // replicas)
    return -(-longest // per_replica_batch)


def replica_schedule(n: int, seed: int, epoch: int, replica: int, replicas: int, per_replica_batch: int) -> np.ndarray:
    """(steps, per_replica_batch) patch indices of `replica` in `epoch` (0-based)."""
    shard = shard_indices(n, replica, replicas)
    if shard.size == 0:
        raise ValueError(f"replica {replica} of {replicas} has no patches (only {n} in the split)")
    order = shard[np.random.default_rng([seed, epoch, replica]).permutation(shard.size)]
    steps = steps_per_epoch(n, replicas, per_replica_batch)
    return np.resize(order, steps * per_replica_batch).reshape(steps, per_replica_batch)


def flip_schedule(n: int, seed: int, epoch: int) -> np.ndarray:
    """(n, 2) booleans: flip patch i left-right / up-down in `epoch` (when enabled)."""
    return np.random.default_rng([seed, epoch, 1 << 20]).integers(0, 2, size=(n, 2)).astype(bool)
