"""The tf.data path feeds exactly the batches of the plain reference, in the
order data.sharding gives (one replica here; several in tests/training)."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.sharding import flip_schedule, replica_schedule, steps_per_epoch
from pix2pix_sar.data.zones import ZONE_CODES, class_scheme


@pytest.mark.parametrize("classes,batch_size,flip", [("binary", 1, True), ("zones", 3, True), ("binary", 4, False)])
def test_feeder_equals_reference_batches(classes, batch_size, flip):
    from pix2pix_sar.data.pipeline import SplitFeeder
    from tests.helpers import reference_batches

    rng = np.random.default_rng(0)
    n = 71  # not a multiple of the batch size: the last batch wraps around
    split = SplitArrays(
        [str(i) for i in range(n)],
        rng.choice(np.array(ZONE_CODES, np.uint8), size=(n, 16, 16)),
        rng.uniform(-1, 1, size=(n, 16, 16, 1)).astype(np.float32),
    )
    scheme = class_scheme(classes, "test")
    feeder = SplitFeeder(split, scheme)
    for epoch in (0, 5):
        rows = replica_schedule(n, 3, epoch, 0, 1, batch_size).reshape(-1)
        flips = flip_schedule(n, 3, epoch)[rows] if flip else None
        got = list(feeder.feed(rows, batch_size, flips).as_numpy_iterator())
        want = list(reference_batches(split, scheme, rows, batch_size, flips))
        assert len(got) == len(want) == steps_per_epoch(n, 1, batch_size)
        for (gm, gi), (wm, wi) in zip(got, want):
            assert gm.shape == wm.shape == (batch_size, 16, 16, scheme.channels) and gm.dtype == np.float32
            np.testing.assert_array_equal(gm, wm)
            np.testing.assert_array_equal(gi, wi)
    assert sorted(set(replica_schedule(n, 3, 0, 0, 1, batch_size).reshape(-1))) == list(range(n))  # every patch


def test_replica_shards_are_disjoint_and_cover_the_split():
    from pix2pix_sar.data.sharding import shard_indices

    n, replicas = 23, 3
    shards = [set(replica_schedule(n, 0, 2, r, replicas, 2).reshape(-1)) for r in range(replicas)]
    assert all(shards[r] == set(shard_indices(n, r, replicas)) for r in range(replicas))
    assert set().union(*shards) == set(range(n))
    assert [replica_schedule(n, 0, 2, r, replicas, 2).shape for r in range(replicas)] == [(4, 2)] * 3
    assert not np.array_equal(replica_schedule(n, 0, 1, 0, replicas, 2), replica_schedule(n, 0, 2, 0, replicas, 2))
