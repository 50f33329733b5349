"""The data order is a function of (seed, epoch, step) only: every replica count cuts
the same global batches, and a short last batch wraps within the epoch's permutation."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_sar.data.sharding import epoch_schedule, flip_schedule, replica_schedule, steps_per_epoch


@pytest.mark.parametrize("n,global_batch", [(23, 4), (24, 8), (5, 8), (3, 4)])
def test_every_replica_count_takes_slices_of_the_same_global_batches(n, global_batch):
    for epoch in (0, 3):
        cut = {
            replicas: np.concatenate(
                [replica_schedule(n, 7, epoch, r, replicas, global_batch // replicas) for r in range(replicas)], axis=1
            )
            for replicas in (1, 2, 4)
        }
        assert cut[1].shape == (steps_per_epoch(n, global_batch), global_batch)
        np.testing.assert_array_equal(cut[2], cut[1])
        np.testing.assert_array_equal(cut[4], cut[1])
        np.testing.assert_array_equal(cut[1], epoch_schedule(n, 7, epoch, global_batch))


@pytest.mark.parametrize("n,global_batch", [(23, 4), (25, 8), (9, 8), (5, 8), (3, 4)])
def test_the_short_last_batch_wraps_within_the_epoch(n, global_batch):
    schedule = epoch_schedule(n, 1, 2, global_batch)
    flat = schedule.reshape(-1)
    assert sorted(flat[:n]) == list(range(n))  # one permutation: every patch once
    np.testing.assert_array_equal(flat[n:], np.resize(flat[:n], flat.size)[n:])  # then its first patches again
    for batch in schedule:
        assert len(set(batch)) == (global_batch if n >= global_batch else n)  # no patch twice unless n < batch


def test_epochs_and_seeds_shuffle_differently_and_flips_keep_their_places():
    assert not np.array_equal(epoch_schedule(23, 0, 1, 4), epoch_schedule(23, 0, 2, 4))
    assert not np.array_equal(epoch_schedule(23, 0, 1, 4), epoch_schedule(23, 1, 1, 4))
    flips = flip_schedule(23, 0, 1, 4)
    assert flips.shape == (6, 4, 2) and 0.3 < flips.mean() < 0.7
    # A place in the epoch keeps its flips at any global batch (its example does too, up to the wrap).
    np.testing.assert_array_equal(flip_schedule(23, 0, 1, 8).reshape(-1, 2)[:23], flips.reshape(-1, 2)[:23])
    np.testing.assert_array_equal(
        epoch_schedule(23, 0, 1, 8).reshape(-1)[:23], epoch_schedule(23, 0, 1, 4).reshape(-1)[:23]
    )


def test_workers_feed_their_replicas_slices_with_the_flips_of_the_global_batch():
    """training.inputs.worker_rows: 1 worker x 1/2/4 replicas, 2 workers x 2 replicas and
    4 workers x 1 replica, skipping steps: the same rows and flips per global batch."""
    from pix2pix_sar.training.inputs import WorkerShard, worker_rows

    n, global_batch, skip = 23, 4, 2

    def cut(replicas, workers):
        per_worker = replicas // workers
        rows, flips = [], []
        for w in range(workers):
            shard = WorkerShard(n, range(w * per_worker, (w + 1) * per_worker), replicas, None, np.arange(n))
            r, f = worker_rows(shard, global_batch // replicas, 5, 1, flip=True, skip=skip)
            rows.append(r.reshape(-1, global_batch // workers))
            flips.append(f.reshape(-1, global_batch // workers, 2))
        return np.concatenate(rows, axis=1), np.concatenate(flips, axis=1)

    rows, flips = cut(1, 1)
    assert rows.shape == (steps_per_epoch(n, global_batch) - skip, global_batch)
    np.testing.assert_array_equal(rows, epoch_schedule(n, 5, 1, global_batch)[skip:])
    for replicas, workers in ((2, 1), (4, 1), (2, 2), (4, 4)):
        r, f = cut(replicas, workers)
        np.testing.assert_array_equal(r, rows)
        np.testing.assert_array_equal(f, flips)
