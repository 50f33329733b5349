"""The tf.data path feeds exactly the batches of the plain reference, in the
order data.sharding gives (one replica here; several in tests/data/test_sharding.py and tests/training)."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.sharding import epoch_schedule, flip_schedule, steps_per_epoch
from pix2pix_sar.data.zones import ZONE_CODES, class_scheme


@pytest.mark.parametrize("classes,batch_size,flip", [("binary", 1, True), ("zones", 3, True), ("binary", 4, False)])
def test_feeder_equals_reference_batches(classes, batch_size, flip):
    from pix2pix_sar.data.pipeline import MemoryFeeder
    from tests.helpers import reference_batches

    rng = np.random.default_rng(0)
    n = 71  # not a multiple of the batch size: the last batch wraps around
    split = SplitArrays(
        [str(i) for i in range(n)],
        rng.choice(np.array(ZONE_CODES, np.uint8), size=(n, 16, 16)),
        rng.uniform(-1, 1, size=(n, 16, 16, 1)).astype(np.float32),
    )
    scheme = class_scheme(classes, "test")
    feeder = MemoryFeeder(split, scheme)
    for epoch in (0, 5):
        rows = epoch_schedule(n, 3, epoch, batch_size).reshape(-1)
        flips = flip_schedule(n, 3, epoch, batch_size).reshape(-1, 2) if flip else None
        got = list(feeder.feed(rows, batch_size, flips).as_numpy_iterator())
        want = list(reference_batches(split, scheme, rows, batch_size, flips))
        assert len(got) == len(want) == steps_per_epoch(n, batch_size)
        for (gm, gi), (wm, wi) in zip(got, want):
            assert gm.shape == wm.shape == (batch_size, 16, 16, scheme.channels) and gm.dtype == np.float32
            np.testing.assert_array_equal(gm, wm)
            np.testing.assert_array_equal(gi, wi)
    assert sorted(set(epoch_schedule(n, 3, 0, batch_size).reshape(-1))) == list(range(n))  # every patch
