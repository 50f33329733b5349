"""Moving the front-phase context bands by a smooth keyed displacement (the sampler's
``model.front_phase_shift``): a pure function of the input and a
:class:`~pix2pix_sar.models.layers.SmoothField`, so tiles agree bit for bit."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pix_sar.models.layers import cos_cycles, cycles_to_phase


@keras.saving.register_keras_serializable(package="pix2pix_sar")
class FrontPhaseShift(keras.layers.Layer):
    """Moves the front-phase bands (sin and cos of 2 pi d / P, d the distance to the calving
    front; :mod:`pix2pix_sar.data.context`) as if d were ``d + std * field``: inputs
    ``[x, field]`` with x the generator input and field (N, H, W, 1) of unit variance
    (:class:`SmoothField`). Each pair is unscaled from the model's [-1, 1], rotated by
    ``2 pi std * field / P``, scaled back and clipped; the other channels pass unchanged.
    The rotation keeps each pair's length, so (0, 0) off the glacier stays (0, 0).

    `bands`: per period ``(sin channel, cos channel, P, sin low, sin high, cos low, cos high)``
    (:attr:`pix2pix_sar.config.ModelConfig.front_phase_bands`)."""

    def __init__(self, bands, std: float, **kwargs):
        super().__init__(**kwargs)
        self.bands = tuple(tuple(float(v) for v in band) for band in bands)
        self.std = float(std)

    def call(self, inputs):
        x, field = inputs
        x = tf.cast(x, tf.float32)
        sin_channels, cos_channels, periods, sin_low, sin_high, cos_low, cos_high = (
            np.array(values, np.float32) for values in zip(*self.bands)
        )
        sin_channels, cos_channels = sin_channels.astype(np.int64), cos_channels.astype(np.int64)
        # All periods at once, along the last axis: (N, H, W, periods).
        sin = _unscale(tf.gather(x, sin_channels, axis=-1), sin_low, sin_high)
        cos = _unscale(tf.gather(x, cos_channels, axis=-1), cos_low, cos_high)
        shift = np.float32(self.std) * tf.cast(field, tf.float32)  # (N, H, W, 1) pixels of front distance
        turn = cycles_to_phase(shift * (1.0 / periods))  # table cosines: tiles agree bit for bit
        turn_cos, turn_sin = cos_cycles(turn), cos_cycles(turn - tf.constant(1 << 30, tf.uint32))
        moved_sin = _scale(sin * turn_cos + cos * turn_sin, sin_low, sin_high)  # sin(t + turn)
        moved_cos = _scale(cos * turn_cos - sin * turn_sin, cos_low, cos_high)  # cos(t + turn)
        # Each channel from x, or from the moved bands that replace it.
        channels = x.shape[-1]
        source = np.arange(channels)
        source[sin_channels] = channels + np.arange(len(self.bands))
        source[cos_channels] = channels + len(self.bands) + np.arange(len(self.bands))
        out = tf.gather(tf.concat([x, moved_sin, moved_cos], axis=-1), source, axis=-1)
        return tf.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "bands": [list(band) for band in self.bands], "std": self.std}


def _unscale(scaled: tf.Tensor, low: np.ndarray, high: np.ndarray) -> tf.Tensor:
    """Bands' values from the model's [-1, 1] (BandScaling.from_model), one band a channel."""
    return low + (scaled + 1.0) * ((high - low) / 2.0)


def _scale(values: tf.Tensor, low: np.ndarray, high: np.ndarray) -> tf.Tensor:
    """Bands' values to the model's [-1, 1], clipped (BandScaling.to_model), one band a channel."""
    return tf.clip_by_value((values - low) * (2.0 / (high - low)) - 1.0, -1.0, 1.0)
