"""Structured noise: a keyed field of sparse soft blobs (candidate icebergs), and the
iceberg stage that draws icebergs with it.

The plain noise layers (:mod:`pix2pix_sar.models.layers`) give the generator white
noise per pixel; a sparse, bright, compact object is hard to grow from that. A field
of blobs, each a pure function of the key's seed words and its GLOBAL cell, gives the
generator candidates it can keep (turn into icebergs) or suppress where its context
says so. Like :class:`~pix2pix_sar.models.layers.CoordinateNoise`, a pixel depends only
on ``(k0, k1, scene row, scene col)``, so any tile of a scene, at any origin (negative
ones included: :class:`~pix2pix_sar.generation.tiling.CropPlan` starts at ``-margin``),
gives exactly the whole scene's pixels.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pix_sar.models.layers import _combine, _uint, _unit_uniform, example_hash

#: Default salt: distinct from the other keyed layers' (CoordinateNoise 1.., SpeckleStage 101).
BLOB_SALT = 311


def _axis_cells(origin: tf.Tensor, length, cell: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Along one axis of tiles starting at scene pixel `origin` (N,) int32: the first cell
    of the grid (one cell before the tile's first: the neighbour ring) (N,), each pixel's
    cell as an index into that grid (N, length), and each pixel centre's offset from its
    cell's corner (N, length) float32.

    Offsets from the cell corner, not scene coordinates, so the float arithmetic is on
    small numbers and identical wherever a tile cuts the scene."""
    pos = origin[:, None] + tf.range(length, dtype=tf.int32)[None, :]
    cells = tf.math.floordiv(pos, cell)  # floor division: exact for negative positions
    first = tf.math.floordiv(origin, cell) - 1
    within = tf.cast(pos - cells * cell, tf.float32) + 0.5
    return first, cells - first[:, None], within


def blob_cells(
    key: tf.Tensor,
    first_row: tf.Tensor,
    first_col: tf.Tensor,
    rows: int,
    cols: int,
    cell: int,
    probability: float,
    min_radius: float,
    max_radius: float,
    salt: int = BLOB_SALT,
) -> tf.Tensor:
    """(N, rows, cols, 3) float32 blobs of cells ``first_row + i``, ``first_col + j``
    (scene cell indices, (N,) int32): each cell's blob centre (row, col) from its corner
    in pixels, uniform in [0, cell), and its radius, uniform in [min_radius,
    max_radius], or -cell where the cell has no blob (probability 1 - `probability`).
    A pure function of ``(k0, k1, salt, cell row, cell col)``."""
    h = example_hash(key, salt, words=2)[:, None, None]
    cell_rows = _uint(first_row[:, None] + tf.range(rows, dtype=tf.int32)[None, :])[:, :, None]
    cell_cols = _uint(first_col[:, None] + tf.range(cols, dtype=tf.int32)[None, :])[:, None, :]
    bits = _combine(_combine(h, cell_rows), cell_cols)
    present, u_row, u_col, u_radius = (_unit_uniform(_combine(bits, tf.constant(i, tf.uint32))) for i in range(4))
    radius = min_radius + u_radius * (max_radius - min_radius)
    # An absent blob gets a radius no pixel can reach: the soft disk clips it to 0.
    radius = tf.where(present < probability, radius, tf.constant(-float(cell), tf.float32))
    return tf.stack([u_row * cell, u_col * cell, radius], axis=-1)


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class KeyedBlobs(keras.layers.Layer):
    """A field (N, H, W, 1) in [0, 1] of sparse soft disks on the scene's global grid.

    The scene is cut into `cell`-pixel squares (cell index ``floor(scene pixel / cell)``);
    each holds, with `probability`, one disk at a uniform position inside it with a radius
    uniform in [`min_radius`, `max_radius`] (:func:`blob_cells`). A pixel's value is the
    max over the disks of its own and its 8 neighbouring cells of
    ``clip((radius - distance) / softness + 0.5, 0, 1)``: a flat top of 1 with a linear
    edge `softness` px wide (about each pixel's coverage by the disk at softness 1). A
    compactly supported profile, not a Gaussian: a Gaussian's tail would be cut where the
    3x3 neighbourhood ends, leaving steps on cell borders; with ``max_radius + softness / 2
    <= cell`` no disk reaches beyond the neighbouring cells, so the 3x3 max is exact.

    Inputs ``[x, key]``: x gives N, H and W; key (N, 4) int32, ``(k0, k1, row, col)``
    with (row, col) the tile's top-left scene pixel (any value: no alignment needed).
    With `gate_channel` set, the field is multiplied by ``x[..., gate_channel]`` (e.g. the
    ocean channel of the one-hot mask), so blobs appear only there."""

    def __init__(
        self,
        cell: int = 16,
        probability: float = 0.3,
        min_radius: float = 1.5,
        max_radius: float = 6.0,
        softness: float = 1.0,
        gate_channel: int | None = None,
        salt: int = BLOB_SALT,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = int(cell)
        self.probability = float(probability)
        self.min_radius = float(min_radius)
        self.max_radius = float(max_radius)
        self.softness = float(softness)
        self.gate_channel = None if gate_channel is None else int(gate_channel)
        self.salt = int(salt)
        assert self.cell >= 1 and 0.0 <= self.probability <= 1.0, (self.cell, self.probability)
        assert 0.0 < self.min_radius <= self.max_radius, (self.min_radius, self.max_radius)
        assert self.softness > 0.0, self.softness
        # The disk's support ends at radius + softness / 2: it must stay within the 3x3 cells.
        assert self.max_radius + 0.5 * self.softness <= self.cell, (self.max_radius, self.softness, self.cell)

    def call(self, inputs):
        x, key = inputs
        key = tf.cast(key, tf.int32)
        shape = tf.shape(x)
        height, width = shape[1], shape[2]
        first_row, row_index, row_within = _axis_cells(key[:, 2], height, self.cell)
        first_col, col_index, col_within = _axis_cells(key[:, 3], width, self.cell)
        # Cells a tile touches, plus the ring: an upper bound, the same for every example.
        blobs = blob_cells(
            key,
            first_row,
            first_col,
            height // self.cell + 4,
            width // self.cell + 4,
            self.cell,
            self.probability,
            self.min_radius,
            self.max_radius,
            self.salt,
        )
        field = None
        # Gather each neighbour's blob per pixel (rows, then columns: the grid is small),
        # rather than hash 9 cells per pixel.
        for dr in (-1, 0, 1):
            by_row = tf.gather(blobs, row_index + dr, axis=1, batch_dims=1)  # (N, H, cols, 3)
            dy = row_within[:, :, None] - (by_row[..., 0] + float(dr * self.cell))  # (N, H, cols)
            by_row = tf.stack([dy, by_row[..., 1], by_row[..., 2]], axis=-1)
            for dc in (-1, 0, 1):
                per_pixel = tf.gather(by_row, col_index + dc, axis=2, batch_dims=1)  # (N, H, W, 3)
                dx = col_within[:, None, :] - (per_pixel[..., 1] + float(dc * self.cell))
                distance = tf.sqrt(tf.square(per_pixel[..., 0]) + tf.square(dx))
                disk = tf.clip_by_value((per_pixel[..., 2] - distance) / self.softness + 0.5, 0.0, 1.0)
                field = disk if field is None else tf.maximum(field, disk)
        field = field[..., None]
        if self.gate_channel is not None:
            field = field * tf.cast(x[..., self.gate_channel : self.gate_channel + 1], tf.float32)
        return tf.cast(field, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:3], 1)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell,
            "probability": self.probability,
            "min_radius": self.min_radius,
            "max_radius": self.max_radius,
            "softness": self.softness,
            "gate_channel": self.gate_channel,
            "salt": self.salt,
        }


#: The iceberg stage's salt: its disks are not the iceberg noise's (BLOB_SALT).
ICEBERG_STAGE_SALT = 313
#: The stage's disks: radius uniform in [LOW, HIGH] x the mean radius.
ICEBERG_RADIUS_RANGE = (0.5, 1.5)


def iceberg_probability(share: float, radius: float, cell: int = 16) -> float:
    """The chance per `cell`-px cell of a disk that makes disks of radius uniform in
    ICEBERG_RADIUS_RANGE x `radius` cover `share` of the plane on average: the expected
    disk area pi E[r^2] per cell area (at most 1: then they cover less)."""
    low, high = (f * radius for f in ICEBERG_RADIUS_RANGE)
    mean_square = (low * low + low * high + high * high) / 3.0
    return float(min(1.0, share * cell * cell / (np.pi * mean_square)))


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class IcebergStage(keras.layers.Layer):
    """Icebergs drawn into a backscatter in model units, as the speckle stage draws speckle:
    adds ``contrast_db / db_unit`` times a :class:`KeyedBlobs` field gated by the ocean's
    one-hot channel (soft disks of radius uniform in 0.5-1.5x `radius`, as many as cover
    `share` of the ocean on average), then clips to [-1, 1]. A pure function of the key's
    seed words and scene coordinates: another seed moves the icebergs, tiles agree with
    the whole scene. `share`, `contrast_db` and `radius` are what `prepare` measures
    (:mod:`pix2pix_sar.data.icebergs`). Inputs ``[x, mask, key]``."""

    def __init__(
        self, share: float, contrast_db: float, radius: float, db_unit: float, gate_channel: int,
        salt: int = ICEBERG_STAGE_SALT, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self.share = float(share)
        self.contrast_db = float(contrast_db)
        self.radius = float(radius)
        self.db_unit = float(db_unit)
        self.gate_channel = int(gate_channel)
        self.salt = int(salt)
        low, high = (f * self.radius for f in ICEBERG_RADIUS_RANGE)
        self.blobs = KeyedBlobs(
            probability=iceberg_probability(self.share, self.radius), min_radius=low, max_radius=high,
            gate_channel=self.gate_channel, salt=self.salt, dtype="float32",
        )  # fmt: skip

    def build(self, input_shape):
        self.blobs.build(list(input_shape[1:]))  # weightless: what is built is the disks' layer
        super().build(input_shape)

    def call(self, inputs):
        x, mask, key = inputs
        field = self.blobs([mask, key])
        raised = tf.cast(x, tf.float32) + field * np.float32(self.contrast_db / self.db_unit)
        return tf.cast(tf.clip_by_value(raised, -1.0, 1.0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "share": self.share,
            "contrast_db": self.contrast_db,
            "radius": self.radius,
            "db_unit": self.db_unit,
            "gate_channel": self.gate_channel,
            "salt": self.salt,
        }
