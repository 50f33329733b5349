"""Custom layers: per-image normalisation and stateless, keyed noise.

One rule for randomness: every random draw is a pure function of a *noise key*
(what a key holds in training, evaluation and generation: :mod:`pix2pix_sar.noise`),
never of a hidden RNG state. :class:`KeyedDropout` (the paper's noise) draws one
mask per example from its whole key, so a tile's mask depends on where the tile
lies; :class:`CoordinateNoise` (the ``scene`` variant) draws a noise image whose
pixels depend only on the key's seed words and the scene coordinates, identical
wherever a tile cuts the scene; :class:`SmoothField` (options of the ``sampler``) draws
smooth random fields from the seed words and the scene coordinates, the same at any tile
origin. None depends on the batch size, on the other examples of a batch or on the
replica, so resuming, batching and replicas cannot change results.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pix_sar.noise import KEY_SIZE

_GOLDEN = 0x9E3779B9


def _mix(x: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer finaliser ("lowbias32", C. Wellons): every input bit flips
    about half the output bits."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _combine(h: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    return _mix(tf.bitwise.bitwise_xor(h, value) + tf.constant(_GOLDEN, tf.uint32))


def _uint(x: tf.Tensor) -> tf.Tensor:
    return tf.bitcast(tf.cast(x, tf.int32), tf.uint32)


def _unit_uniform(bits: tf.Tensor) -> tf.Tensor:
    """Uniform in [0, 1) from the top 24 bits."""
    return tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) * (1.0 / (1 << 24))


def example_hash(key: tf.Tensor, salt: int, words: int = KEY_SIZE) -> tf.Tensor:
    """(N,) uint32: a hash of the first `words` int32 of each key and a layer salt."""
    key = _uint(key)
    h = _mix(tf.fill(tf.shape(key)[:1], tf.constant(salt * 2654435761 % (1 << 32), tf.uint32)))
    for i in range(words):
        h = _combine(h, key[:, i])
    return h


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class PerImageBatchNorm(keras.layers.BatchNormalization):
    """BatchNormalization with each image's own spatial statistics, in training and
    inference alike (instance normalisation with BatchNorm's weights).

    It is what BatchNorm computes at the paper's batch size 1, made independent of
    the batch: a step at batch N is the mean of N batch-1 steps, and a batch of N
    images generates what N separate calls would. The moving statistics are kept
    (and counted, as the paper's parameter counts do) but never used.

    Computed with TensorFlow's fused batch-norm kernel (forward and gradient): what
    :func:`per_image_moments_norm` computes, within float rounding, in fewer passes.
    A batch (N, H, W, C) is laid out as one image (1, H, W, N*C), whose channels'
    statistics are each image's own."""

    def call(self, inputs, training=None, mask=None):
        x = keras.ops.cast(inputs, "float32")
        gamma, beta = keras.ops.cast(self.gamma, "float32"), keras.ops.cast(self.beta, "float32")
        if len(x.shape) == 4 and self.axis in (-1, 3, [-1], [3]):
            outputs = per_image_fused_norm(x, gamma, beta, self.epsilon)
        else:
            outputs = per_image_moments_norm(x, gamma, beta, self.epsilon, axis=self.axis)
        return keras.ops.cast(outputs, self.compute_dtype)


def per_image_moments_norm(x, gamma, beta, epsilon: float, axis=-1):
    """Each image normalised by its own spatial mean and (biased) variance, then
    scaled by `gamma` and shifted by `beta`: the reference formula."""
    mean, variance = keras.ops.moments(x, axes=(1, 2), keepdims=True)
    axis = axis[0] if isinstance(axis, (list, tuple)) else axis
    return keras.ops.batch_normalization(
        x, mean=mean, variance=variance, axis=axis, offset=beta, scale=gamma, epsilon=epsilon
    )


def per_image_fused_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float) -> tf.Tensor:
    """:func:`per_image_moments_norm` of a float32 (N, H, W, C) batch by the fused
    kernel in training mode. At N = 1 the batch statistics are the image's own; for
    N > 1 the batch is transposed to (1, H, W, N*C) first (channel n*C + c is channel
    c of image n), so each channel's statistics are still one image's. The raw op
    (not tf.nn.fused_batch_norm, which raises epsilon to 1.001e-5) keeps Keras's epsilon."""
    shape = tf.shape(x)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    as_one = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])
    empty = tf.zeros([0], tf.float32)
    y = tf.raw_ops.FusedBatchNormV3(
        x=as_one,
        scale=tf.tile(gamma, [n]),
        offset=tf.tile(beta, [n]),
        mean=empty,
        variance=empty,
        epsilon=float(epsilon),
        is_training=True,
    )[0]
    return tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class Bilinear2x(keras.layers.Layer):
    """Bilinear upsampling by 2 for inputs of any (unknown) size; a fixed 4-tap
    stencil (half-pixel centres), so shifting the input by 2 shifts the output by 4."""

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * 2
        return tf.cast(tf.image.resize(inputs, size, method="bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else 2 * h, None if w is None else 2 * w, c)


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class KeyedDropout(keras.layers.Layer):
    """Dropout whose mask is a pure function of the example's noise key and `salt`.

    Applied whenever `rate` > 0 (pix2pix keeps dropout on when generating: it is
    the generator's noise); inputs ``[x, key]``."""

    def __init__(self, rate: float, salt: int, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.salt = int(salt)

    def call(self, inputs):
        x, key = inputs
        if self.rate <= 0:
            return x
        shape = tf.shape(x)
        per_example = tf.reduce_prod(shape[1:])
        h = example_hash(key, self.salt)[:, None]
        index = tf.bitcast(tf.range(per_example, dtype=tf.int32), tf.uint32)[None, :]
        uniform = tf.reshape(_unit_uniform(_combine(h, index)), shape)
        keep = tf.cast(uniform >= self.rate, x.dtype)
        return x * keep / tf.cast(1.0 - self.rate, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "salt": self.salt}


def coordinate_bits(key: tf.Tensor, height, width, salt: int, level: int) -> tf.Tensor:
    """(N, height, width) uint32: a hash of ``(k0, k1, salt, level, row / 2**level + i,
    col / 2**level + j)``, the same wherever a tile cuts the scene (tile origins must be
    multiples of 2**level)."""
    h = example_hash(key, salt + 7919 * level, words=2)[:, None, None]
    origin = tf.bitwise.right_shift(key[:, 2:4], level)  # arithmetic: negative origins stay exact
    rows = _uint(origin[:, 0])[:, None, None] + _uint(tf.range(height))[None, :, None]
    cols = _uint(origin[:, 1])[:, None, None] + _uint(tf.range(width))[None, None, :]
    return _combine(_combine(h, rows), cols)


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class CoordinateNoise(keras.layers.Layer):
    """A noise image (N, H, W, channels), uniform with zero mean and unit variance, whose
    pixel (i, j) depends only on ``(k0, k1, row / 2**level + i, col / 2**level + j)``
    of the key: the same field wherever a tile cuts the scene, at the resolution of
    `level` (tile origins must be multiples of 2**level). Inputs ``[x, key]`` (x gives the size)."""

    def __init__(self, salt: int = 0, level: int = 0, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.salt = int(salt)
        self.level = int(level)
        self.channels = int(channels)

    def call(self, inputs):
        mask, key = inputs
        shape = tf.shape(mask)
        bits = coordinate_bits(key, shape[1], shape[2], self.salt, self.level)[..., None]
        if self.channels > 1:  # one channel keeps the field it always drew
            bits = _combine(bits, _uint(tf.range(self.channels)))
        noise = (_unit_uniform(bits) - 0.5) * np.float32(np.sqrt(12.0))
        return tf.cast(noise, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:3], self.channels)

    def get_config(self):
        return {**super().get_config(), "salt": self.salt, "level": self.level, "channels": self.channels}


#: Plane waves per channel of a :class:`SmoothField`.
SMOOTH_WAVES = 16
#: Index bits of the cosine table (:func:`cos_cycles`): 4096 steps a cycle, linear
#: interpolation within a step (error < 3e-7).
_TABLE_BITS = 12
_FRACTION_BITS = 32 - _TABLE_BITS
_COS_TABLE = np.cos(2 * np.pi * np.arange((1 << _TABLE_BITS) + 1) / (1 << _TABLE_BITS)).astype(np.float32)


def cos_cycles(phase: tf.Tensor) -> tf.Tensor:
    """float32 cos(2 pi phase / 2**32) of uint32 phases (a cycle is 2**32), from a table.

    Not tf.cos: its vectorised and scalar paths differ in the last bit, and which path a
    pixel takes depends on where it falls in the tensor, so a tile and the whole scene would
    differ; a table lookup, a multiply and an add are exact in every path."""
    index = tf.cast(tf.bitwise.right_shift(phase, tf.constant(_FRACTION_BITS, tf.uint32)), tf.int32)
    low = tf.constant(_COS_TABLE[:-1])
    step = tf.constant(np.diff(_COS_TABLE).astype(np.float32))
    fraction = tf.bitwise.bitwise_and(phase, tf.constant((1 << _FRACTION_BITS) - 1, tf.uint32))
    fraction = tf.cast(fraction, tf.float32) * np.float32(1.0 / (1 << _FRACTION_BITS))
    return tf.gather(low, index) + fraction * tf.gather(step, index)


def cycles_to_phase(cycles: tf.Tensor) -> tf.Tensor:
    """float32 cycles -> uint32 phases (a cycle is 2**32), exactly for the float given."""
    fraction = cycles - tf.floor(cycles)  # in [0, 1], exact
    return tf.cast(tf.cast(tf.round(fraction * np.float32(1 << 32)), tf.int64), tf.uint32)  # 2**32 wraps to 0


def smooth_field(
    key: tf.Tensor, height, width, channels: int, salt: int, min_wavelength: float, max_wavelength: float,
    waves: int = SMOOTH_WAVES,
) -> tf.Tensor:  # fmt: skip
    """(N, height, width, channels) float32: :class:`SmoothField`'s field (its docstring)."""
    bits = _combine(example_hash(key, salt, words=2)[:, None, None], _uint(tf.range(channels))[None, :, None])
    bits = _combine(bits, _uint(tf.range(waves))[None, None, :])  # (N, channels, waves): one draw per wave

    def draw(index: int) -> tf.Tensor:
        return _combine(bits, tf.constant(index, tf.uint32))

    direction = draw(0)  # the wave's angle, as a uint32 phase
    # Log-uniform wavelengths, one of 4096 steps of (max / min) ** (1 / 4096) each.
    steps = (np.arange(1 << _TABLE_BITS) + 0.5) / (1 << _TABLE_BITS)
    inverse_wavelengths = tf.constant((1.0 / (min_wavelength * (max_wavelength / min_wavelength) ** steps)), tf.float32)
    inverse = tf.gather(inverse_wavelengths, tf.cast(tf.bitwise.right_shift(draw(1), _FRACTION_BITS), tf.int32))
    quarter = tf.constant(1 << 30, tf.uint32)

    def frequency(cos_angle: tf.Tensor) -> tf.Tensor:  # cycles per pixel as uint32 phases
        return cycles_to_phase(cos_angle * inverse)

    row_frequency, col_frequency = frequency(cos_cycles(direction)), frequency(cos_cycles(direction - quarter))
    # Phases as 32-bit integers (a cycle is 2**32, wrapping): exact at any scene coordinate,
    # negative ones included, and the same in a tile and in the whole scene.
    rows = _uint(key[:, 2])[:, None] + _uint(tf.range(height))[None, :]
    cols = _uint(key[:, 3])[:, None] + _uint(tf.range(width))[None, :]
    # (N, C, F, H) with the wave's phase, and (N, C, F, W).
    row_phase = rows[:, None, None, :] * row_frequency[..., None] + draw(2)[..., None]
    col_phase = cols[:, None, None, :] * col_frequency[..., None]
    # cos(a + b) = cos a cos b - sin a sin b: table lookups per row and per column only, then
    # products and sums per pixel (exact float ops: any path gives the same bits). Laid out
    # (N, C, H, W) until the end: TF broadcasts a product over the last two axes far faster.
    row_cos = tf.unstack(cos_cycles(row_phase)[..., None], waves, axis=2)
    row_minus_sin = tf.unstack(-cos_cycles(row_phase - quarter)[..., None], waves, axis=2)
    col_cos = tf.unstack(cos_cycles(col_phase)[..., None, :], waves, axis=2)
    col_sin = tf.unstack(cos_cycles(col_phase - quarter)[..., None, :], waves, axis=2)
    field = row_cos[0] * col_cos[0] + row_minus_sin[0] * col_sin[0]
    for f in range(1, waves):  # a fixed order of sums, one (N, C, H, W) plane at a time
        field = field + row_cos[f] * col_cos[f] + row_minus_sin[f] * col_sin[f]
    return tf.transpose(field, [0, 2, 3, 1]) * np.float32(np.sqrt(2.0 / waves))


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class SmoothField(keras.layers.Layer):
    """A smooth random field (N, H, W, channels) with zero mean and unit variance (in
    expectation), keyed like :class:`CoordinateNoise` but smooth at any scale between
    `min_wavelength` and `max_wavelength` pixels: random Fourier features, per example and
    channel ``sqrt(2/F) sum_f cos(2 pi (r cos(a_f) + c sin(a_f)) / l_f + p_f)`` over F plane
    waves with the angle a and phase p uniform and the wavelength l log-uniform, all drawn
    from ``(k0, k1, salt, channel, f)``, and (r, c) the pixel's scene coordinates (the key's
    row and col plus the pixel's index). A pure function of scene coordinates: any tile, at
    any origin, gives the whole scene's values, bit for bit.

    Phases are 32-bit fixed point (a cycle is 2**32; each wave's frequency rounded to
    2**-32 cycles per pixel), summed in integers: exact at any coordinate, with no float32
    precision lost far from the origin; the cosine comes from a table (:func:`cos_cycles`).
    Inputs ``[x, key]`` (x gives the size)."""

    def __init__(
        self, channels: int = 1, salt: int = 0, min_wavelength: float = 32.0, max_wavelength: float = 256.0,
        waves: int = SMOOTH_WAVES, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        if not 2.0 < min_wavelength <= max_wavelength:
            raise ValueError(f"wavelengths must satisfy 2 < min <= max px, got {min_wavelength} and {max_wavelength}")
        self.channels = int(channels)
        self.salt = int(salt)
        self.min_wavelength = float(min_wavelength)
        self.max_wavelength = float(max_wavelength)
        self.waves = int(waves)

    def call(self, inputs):
        x, key = inputs
        shape = tf.shape(x)
        field = smooth_field(
            tf.cast(key, tf.int32), shape[1], shape[2], self.channels, self.salt,
            self.min_wavelength, self.max_wavelength, self.waves,
        )  # fmt: skip
        return tf.cast(field, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:3], self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "salt": self.salt,
            "min_wavelength": self.min_wavelength,
            "max_wavelength": self.max_wavelength,
            "waves": self.waves,
        }


#: The fewest looks a looks map gives a pixel (where no sensor plane is 1).
MIN_LOOKS = 0.01


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class SpeckleStage(keras.layers.Layer):
    """Multiplicative Gamma speckle on a backscatter in model units: adds
    ``10 log10(S) / db_unit`` with S ~ Gamma(looks, 1 / looks) (mean 1) drawn per scene
    pixel from the key (like :class:`CoordinateNoise` at level 0), then clips to [-1, 1]
    as the training targets are. S by Wilson-Hilferty, ``(1 - 1/(9L) + z sqrt(1/(9L)))**3``
    with z from two keyed uniforms (Box-Muller): within 2 % of the Gamma's variance for
    L >= 1. Inputs ``[x, key]``, or ``[x, key, looks]`` with a looks map (N, H, W, 1)
    (:class:`SensorLooks`) that replaces `looks` pixel by pixel (the same draws z)."""

    def __init__(self, looks: float, db_unit: float, salt: int = 101, **kwargs):
        super().__init__(**kwargs)
        self.looks = float(looks)
        self.db_unit = float(db_unit)
        self.salt = int(salt)

    def call(self, inputs):
        x, key = inputs[:2]
        shape = tf.shape(x)
        bits = coordinate_bits(key, shape[1], shape[2], self.salt, 0)
        u1 = _unit_uniform(bits) + np.float32(0.5 / (1 << 24))  # (0, 1): log(u1) is finite
        u2 = _unit_uniform(_mix(bits + tf.constant(_GOLDEN, tf.uint32)))
        z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(np.float32(2 * np.pi) * u2)
        if len(inputs) > 2:
            # Floored: a pixel outside every sensor plane (all 0) stays finite.
            looks = tf.maximum(tf.cast(inputs[2][..., 0], tf.float32), np.float32(MIN_LOOKS))
            c = 1.0 / (9.0 * looks)
            cube_root = tf.maximum(1.0 - c + z * tf.sqrt(c), 1e-3)
        else:
            c = np.float32(1.0 / (9.0 * self.looks))
            cube_root = tf.maximum(1.0 - c + z * np.float32(np.sqrt(c)), 1e-3)  # S >= 1e-9: far below any clip
        speckle_db = np.float32(30.0 / np.log(10.0)) * tf.math.log(cube_root)  # 10 log10(cube_root**3)
        noisy = tf.cast(x, tf.float32) + (speckle_db / np.float32(self.db_unit))[..., None]
        return tf.cast(tf.clip_by_value(noisy, -1.0, 1.0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "looks": self.looks, "db_unit": self.db_unit, "salt": self.salt}


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class SensorLooks(keras.layers.Layer):
    """A looks map (N, H, W, 1) from the sensor one-hot planes, the last ``len(looks)``
    channels of the generator input: ``sum_s plane_s * looks_s``, each pixel its sensor's
    looks (constant over a tile, as the planes are). Input: the generator input."""

    def __init__(self, looks, **kwargs):
        super().__init__(**kwargs)
        self.looks = tuple(float(v) for v in looks)

    def call(self, inputs):
        planes = tf.cast(inputs[..., -len(self.looks) :], tf.float32)
        return tf.reduce_sum(planes * tf.constant(self.looks, tf.float32), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)

    def get_config(self):
        return {**super().get_config(), "looks": list(self.looks)}


def training_keys(seed: int, epoch: tf.Tensor, step: tf.Tensor, examples: tf.Tensor) -> tf.Tensor:
    """(N, 4) int32 noise keys of training examples (in-graph): ``k1`` hashes
    (epoch, step, global example index within the step)."""
    k1 = _combine(_combine(_mix(_uint(epoch) + tf.constant(0x51ED27, tf.uint32)), _uint(step)), _uint(examples))
    k1 = tf.bitcast(k1, tf.int32)
    zeros = tf.zeros_like(k1)
    return tf.stack([tf.fill(tf.shape(k1), tf.constant(seed, tf.int32)), k1, zeros, zeros], axis=1)
