"""Feeders: tf.data batches of any rows of one split, in the two input modes
(``data.input``: ``memory`` or ``streamed``), with the same `feed` API.

The input family: :mod:`pix2pix_sar.data.packed` is the pack (the on-disk cache a
streamed input reads, and the choice of input mode); this module the feeders;
:mod:`pix2pix_sar.training.inputs` hands each worker of a tf.distribute strategy its
slices of every global batch, in an order given by data.sharding — a pure function of
(seed, epoch, step), whatever the replica count, so a resumed run sees exactly the
batches an uninterrupted one would.

* `MemoryFeeder` (``memory``): patches decoded once (GDAL, outside TensorFlow) and
  held as tensors; memory grows with the dataset.
* `StreamedFeeder` (``streamed``): records read from the pack batch by batch in
  parallel; memory does not grow with the dataset. Batches stay compact (uint8 zone
  codes, float16 SAR) until the last map, which encodes them.

:func:`feeder_for` picks the one for its source (decoded arrays or a pack).

Extra conditioning bands (dataset.json's ``extra_bands``) follow the mask channels in
the generator input that both feeders give: (mask channels + bands, SAR).

Speed: `MemoryFeeder` encodes the masks once (a lookup table built from the class
scheme) and keeps masks and images as tensors; every epoch is then gathered by
TensorFlow ops alone. The tests compare it against a plain numpy reference
(`reference_batches` in tests/helpers.py).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.packed import PackedSplit, PackedUnion
from pix2pix_sar.data.sensors import sensor_planes
from pix2pix_sar.data.zones import ZONE_CODES, ClassScheme
from pix2pix_sar.errors import InputError

#: Records a streamed read takes at least per call (several small batches at once).
READ_RECORDS = 64


def _without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """`ds` with tf.data's autotuning off (AUTOTUNE parallelism is then the CPU count).

    Its model thread sleeps ever longer between rounds and is only stopped when it
    wakes: deleting the iterator at the end of a 90 s `orig` run waited 28-93 s for it
    here (TF 2.21). These pipelines are a gather or one read per batch; nothing is
    left to tune."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def encoding_table(scheme: ClassScheme) -> np.ndarray:
    """(256, channels) float32: row z is the scheme's encoding of zone code z (others 0)."""
    codes = np.array(ZONE_CODES, np.uint8)
    table = np.zeros((256, scheme.channels), np.float32)
    table[codes] = scheme.encode(codes[None, :])[0]
    return table


class MemoryFeeder:
    """One split held as TensorFlow tensors, fed in any order of rows.

    Built once per split (the costly part: encoding the masks and copying the
    patches into TensorFlow's memory); each epoch then only gathers batches with
    TensorFlow ops, so after the first epoch nothing runs in Python per patch.
    Masks are kept as int8 where the scheme's values allow it (they all do: -1/0/1)
    and cast to float32 per batch.
    """

    def __init__(
        self,
        split: SplitArrays,
        encoding: ClassScheme | np.ndarray,
        with_extras: bool = True,
        sensors: tuple[str, ...] = (),
    ):
        """`encoding`: a class scheme (the generator's input channels) or any (256, C)
        table of what each zone code becomes (e.g. a segmenter's class index). The
        split's extra bands (if any, and `with_extras`) follow the mask channels (float32),
        then one-hot planes of each patch's sensor for a run conditioned on `sensors`."""
        self.size = split.zones.shape[1]
        self.count = len(split)
        table = encoding_table(encoding) if isinstance(encoding, ClassScheme) else np.asarray(encoding, np.float32)
        extras = split.extras if with_extras and split.extras is not None and split.extras.shape[-1] else None
        if sensors:
            planes = sensor_planes(split.sensors, sensors, split.zones.shape[1:], "the training data")
            extras = planes if extras is None else np.concatenate([extras, planes], axis=-1)
        compact = np.array_equal(table.astype(np.int8), table) and extras is None
        masks = np.take(table.astype(np.int8) if compact else table, split.zones, axis=0)
        if extras is not None:
            masks = np.concatenate([masks, extras.astype(np.float32)], axis=-1)
        self.masks = tf.constant(masks)
        self.images = tf.constant(split.images)

    @staticmethod
    def decode(masks: tf.Tensor, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """A compact batch (int8 mask channels, float32 SAR) -> float32 (masks, images)."""
        return tf.cast(masks, tf.float32), tf.cast(images, tf.float32)

    def feed(
        self,
        rows: np.ndarray,
        batch_size: int,
        flips: np.ndarray | None = None,
        prefetch: int = 2,
        compact: bool = False,
    ) -> tf.data.Dataset:
        """Batches of the patches `rows` (in that order, consecutive runs of `batch_size`).

        `flips` (len(rows), 2) flips row j left-right / up-down. Any schedule that is a
        pure function of (seed, epoch) — e.g. a worker's slices of each global batch,
        step by step — can be fed this way. `compact` leaves the masks in their stored type;
        the consumer applies :meth:`decode` (in the train step, on the device).
        """
        masks_all, images_all = self.masks, self.images

        def cast(masks):
            return masks if compact else tf.cast(masks, tf.float32)

        def gather_batch(idx):
            return cast(tf.gather(masks_all, idx)), tf.gather(images_all, idx)

        def gather_flipped(idx, flip_flags):
            # One patch, (H, W, C): flips are per patch (tf.reverse is ~2x faster than ::-1 slicing).
            masks, images = cast(tf.gather(masks_all, idx)), tf.gather(images_all, idx)
            for axis in (1, 0):  # left-right first, then up-down (the tests' reference does the same)
                masks, images = tf.cond(
                    flip_flags[1 - axis],
                    lambda: (tf.reverse(masks, [axis]), tf.reverse(images, [axis])),
                    lambda: (masks, images),
                )
            return masks, images

        rows = np.asarray(rows, np.int64)
        if flips is not None:
            ds = tf.data.Dataset.from_tensor_slices((rows, np.asarray(flips, bool)))
            ds = ds.map(gather_flipped, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)
        else:  # whole batches at once: one gather per batch
            ds = tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)
            ds = ds.map(gather_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return _without_autotune(ds.prefetch(prefetch) if prefetch else ds)


class StreamedFeeder:
    """One split streamed from the packed cache, fed in any order of rows: the same
    batches as :class:`MemoryFeeder`, with SAR rounded to float16.

    Each batch is one `tf.numpy_function` that reads its records with ``os.pread``
    (the GIL is released while reading) and flips them in numpy; `parallel` batches
    are read at once and `prefetch` wait ready. Only the rows of the schedule are
    read, so a worker reads only its own slices of each batch. Batches are compact (uint8 zone
    codes, float16 SAR) until :meth:`decode`, which the training step applies on the
    device; without ``compact`` the pipeline decodes them itself.
    """

    def __init__(self, packed: PackedSplit | PackedUnion, encoding: ClassScheme | np.ndarray, parallel: int = 4):
        self.packed = packed  # its reads carry the extra bands (if opened with them) after the SAR
        self.size = packed.size
        self.count = packed.count
        self.parallel = parallel
        table = encoding_table(encoding) if isinstance(encoding, ClassScheme) else np.asarray(encoding, np.float32)
        self.table = tf.constant(table)

    def decode(self, zones: tf.Tensor, sar: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """A compact batch (uint8 zone codes, float16 SAR then the extra bands) -> float32
        (masks followed by the extra bands, images)."""
        masks, sar = tf.gather(self.table, tf.cast(zones, tf.int32)), tf.cast(sar, tf.float32)
        if not self.packed.extra_count:
            return masks, sar
        return tf.concat([masks, sar[..., 1:]], axis=-1), sar[..., :1]

    def feed(
        self,
        rows: np.ndarray,
        batch_size: int,
        flips: np.ndarray | None = None,
        prefetch: int = 2,
        compact: bool = False,
    ) -> tf.data.Dataset:
        """Batches of the patches `rows` (in that order, consecutive runs of `batch_size`);
        `flips` (len(rows), 2) flips row j left-right / up-down, as MemoryFeeder does."""
        size, packed = self.size, self.packed
        planes = 1 + packed.extra_count  # SAR, then the extra bands
        rows = np.asarray(rows, np.int64)
        flips = np.zeros((len(rows), 2), bool) if flips is None else np.asarray(flips, bool)
        # One numpy_function call costs ~0.4 ms whatever it reads, so small batches are read
        # `group` at a time (at least READ_RECORDS records per call) and split again with
        # unbatch, a C++ op; the last, partial batch is read on its own.
        group = max(1, READ_RECORDS // batch_size)
        whole = len(rows) // batch_size * batch_size

        def read(idx, flip_flags):
            shape = tf.shape(idx)
            zones, sar = tf.numpy_function(
                packed.read,
                [tf.reshape(idx, [-1]), tf.reshape(flip_flags, [-1, 2])],
                [tf.uint8, tf.float16],
                stateful=False,
            )
            zones = tf.reshape(zones, tf.concat([shape, [size, size]], 0))
            sar = tf.reshape(sar, tf.concat([shape, [size, size, planes]], 0))
            return (
                tf.ensure_shape(zones, [*idx.shape, size, size]),
                tf.ensure_shape(sar, [*idx.shape, size, size, planes]),
            )

        ds = tf.data.Dataset.from_tensor_slices(
            (rows[:whole].reshape(-1, batch_size), flips[:whole].reshape(-1, batch_size, 2))
        )
        ds = ds.batch(group).map(read, num_parallel_calls=self.parallel, deterministic=True).unbatch()
        if whole < len(rows):
            ds = ds.concatenate(
                tf.data.Dataset.from_tensors((rows[whole:], flips[whole:])).map(read, deterministic=True)
            )
        if not compact:
            ds = ds.map(self.decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return _without_autotune(ds.prefetch(prefetch) if prefetch else ds)


def feeder_for(
    source: SplitArrays | PackedSplit | PackedUnion, encoding: ClassScheme | np.ndarray, sensors: tuple[str, ...] = ()
) -> MemoryFeeder | StreamedFeeder:
    """The feeder of `source`: decoded arrays feed from memory, a pack streams. A run
    conditioned on `sensors` reads from memory (the pack does not hold the sensors)."""
    if isinstance(source, SplitArrays):
        return MemoryFeeder(source, encoding, sensors=sensors)
    if sensors:
        raise InputError(
            "data.input streamed: a run conditioned on the sensor reads its patches from memory; "
            "set data.input to memory"
        )
    return StreamedFeeder(source, encoding)
