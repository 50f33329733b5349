"""tf.data input: patches decoded once (GDAL, outside TensorFlow), then fed
per epoch in a seeded order.

The order and flips of epoch `e` depend only on (seed, e), so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.zones import ClassScheme


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of `n` patches used in `epoch` (0-based)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def epoch_batches(
    split: SplitArrays,
    scheme: ClassScheme,
    batch_size: int,
    seed: int,
    epoch: int,
    flip: bool = False,
):
    """Yield (mask, image) float32 batches of one epoch, shuffled by (seed, epoch)."""
    order = epoch_order(len(split), seed, epoch)
    flips = np.random.default_rng([seed, epoch, 1]).integers(0, 2, size=(len(split), 2)).astype(bool)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        masks = scheme.encode(split.zones[idx])
        images = split.images[idx]
        if flip:
            masks, images = masks.copy(), images.copy()
            for j, i in enumerate(idx):
                if flips[i, 0]:
                    masks[j], images[j] = masks[j, :, ::-1], images[j, :, ::-1]
                if flips[i, 1]:
                    masks[j], images[j] = masks[j, ::-1], images[j, ::-1]
        yield masks, images


def epoch_dataset(
    split: SplitArrays,
    scheme: ClassScheme,
    batch_size: int,
    seed: int,
    epoch: int,
    flip: bool = False,
    prefetch: int = 2,
) -> tf.data.Dataset:
    """The batches of one epoch as a prefetched tf.data.Dataset."""
    size = split.zones.shape[1]
    spec = (
        tf.TensorSpec((None, size, size, scheme.channels), tf.float32),
        tf.TensorSpec((None, size, size, 1), tf.float32),
    )
    ds = tf.data.Dataset.from_generator(
        lambda: epoch_batches(split, scheme, batch_size, seed, epoch, flip), output_signature=spec
    )
    return ds.prefetch(prefetch) if prefetch else ds


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)
