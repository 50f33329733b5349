"""The chunked tf.data path feeds exactly the batches of the plain reference."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.zones import ZONE_CODES, class_scheme


@pytest.mark.parametrize("classes,batch_size,flip", [("binary", 1, True), ("zones", 3, True), ("binary", 4, False)])
def test_epoch_dataset_equals_reference_batches(classes, batch_size, flip):
    from pix2pix_sar.data.pipeline import epoch_batches, epoch_dataset, steps_per_epoch

    rng = np.random.default_rng(0)
    n = 71  # not a multiple of the chunk or the batch size
    split = SplitArrays(
        [str(i) for i in range(n)],
        rng.choice(np.array(ZONE_CODES, np.uint8), size=(n, 16, 16)),
        rng.uniform(-1, 1, size=(n, 16, 16, 1)).astype(np.float32),
    )
    scheme = class_scheme(classes, "test")
    for epoch in (0, 5):
        got = list(epoch_dataset(split, scheme, batch_size, seed=3, epoch=epoch, flip=flip).as_numpy_iterator())
        want = list(epoch_batches(split, scheme, batch_size, seed=3, epoch=epoch, flip=flip))
        assert len(got) == len(want) == steps_per_epoch(n, batch_size)
        for (gm, gi), (wm, wi) in zip(got, want):
            assert gm.shape == wm.shape and gm.dtype == np.float32
            np.testing.assert_array_equal(gm, wm)
            np.testing.assert_array_equal(gi, wi)
