"""Which patches each step trains on — a pure function of (seed, epoch, step), the
same for any number of replicas or workers, so a resumed run replays exactly and one
device, several GPUs and several hosts at the same global batch see the same batches.

Each epoch is one permutation of the split, keyed by (seed, epoch); step s takes the
global batch at positions s*B .. s*B+B-1 of it. A short last batch wraps around to the
start of the same permutation, so it holds no patch twice unless the split is smaller
than the batch (then the permutation repeats). Replica r of R takes the contiguous
slice r*B/R .. (r+1)*B/R-1 of each global batch: the order in which tf.distribute
splits a global batch, and the global example index that keys the noise
(:func:`pix2pix_sar.training.step.replica_keys`). Flips are drawn per global example
(its position in the epoch), so they do not depend on the replica count either.
"""

from __future__ import annotations

import numpy as np


def steps_per_epoch(n: int, global_batch: int) -> int:
    """Steps of one epoch: `n` patches in global batches, the last one wrapped."""
    return -(-n // global_batch)


def epoch_schedule(n: int, seed: int, epoch: int, global_batch: int) -> np.ndarray:
    """(steps, global_batch) patch indices of `epoch` (0-based), step by step."""
    if n < 1:
        raise ValueError("no patches to schedule")
    order = np.random.default_rng([seed, epoch]).permutation(n)
    steps = steps_per_epoch(n, global_batch)
    return np.resize(order, steps * global_batch).reshape(steps, global_batch)


def replica_schedule(n: int, seed: int, epoch: int, replica: int, replicas: int, per_replica_batch: int) -> np.ndarray:
    """(steps, per_replica_batch) patch indices of `replica` in `epoch`: its slice of each global batch."""
    first = replica * per_replica_batch
    return epoch_schedule(n, seed, epoch, replicas * per_replica_batch)[:, first : first + per_replica_batch]


def flip_schedule(n: int, seed: int, epoch: int, global_batch: int) -> np.ndarray:
    """(steps, global_batch, 2) booleans: flip the example at that place of
    :func:`epoch_schedule` left-right / up-down (when enabled). Drawn per position
    in the epoch, so a position keeps its flips at any batch size."""
    steps = steps_per_epoch(n, global_batch)
    draws = np.random.default_rng([seed, epoch, 1 << 20]).random((steps * global_batch, 2))
    return (draws < 0.5).reshape(steps, global_batch, 2)
