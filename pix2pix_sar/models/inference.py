"""How a trained generator makes images — one rule for preview, evaluation and generation.

The rule (pix2pix, Isola et al. 2017): the generator runs as in training —
BatchNorm normalises with the statistics *of the image being generated* and
dropout stays on as the generator's noise. Trained at batch size 1, BatchNorm in
training mode is instance normalisation, so we make exactly that explicit: the
inference copy of the generator replaces every BatchNormalization by
:class:`PerImageBatchNorm` (same weights, per-image statistics, no moving-average
updates). A batch of N masks then gives what N separate batch-1 calls would give,
so generation can batch freely without mixing statistics between images, and it
never changes the trained model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


class PerImageBatchNorm(keras.layers.BatchNormalization):
    """BatchNormalization with each image's own spatial statistics (instance norm)."""

    def call(self, inputs, training=None, mask=None):
        x = keras.ops.cast(inputs, "float32")
        mean, variance = keras.ops.moments(x, axes=(1, 2), keepdims=True)
        outputs = keras.ops.batch_normalization(
            x,
            mean=mean,
            variance=variance,
            axis=-1,
            offset=keras.ops.cast(self.beta, "float32"),
            scale=keras.ops.cast(self.gamma, "float32"),
            epsilon=self.epsilon,
        )
        return keras.ops.cast(outputs, self.compute_dtype)


def _swap_batchnorm(layer: keras.layers.Layer) -> keras.layers.Layer:
    if type(layer) is keras.layers.BatchNormalization:
        return PerImageBatchNorm.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def inference_generator(generator: keras.Model) -> keras.Model:
    """A copy of `generator` that follows the rule above (weights copied)."""
    clone = keras.models.clone_model(generator, clone_function=_swap_batchnorm, recursive=True)
    clone.set_weights(generator.get_weights())
    return clone


def make_generate_fn(generator: keras.Model, jit_compile: bool = False):
    """A compiled ``masks (N, H, W, C) -> images (N, H, W, 1)`` under the rule above.

    `generator` must be an :func:`inference_generator` copy. The batch and spatial
    sizes are free (any multiple of 2**depth), so one trace serves every batch.
    """
    channels = generator.input_shape[-1]

    @tf.function(
        input_signature=(tf.TensorSpec((None, None, None, channels), tf.float32),),
        jit_compile=jit_compile,
        reduce_retracing=True,
    )
    def generate(masks: tf.Tensor) -> tf.Tensor:
        return tf.cast(generator(masks, training=True), tf.float32)

    return generate


def generate_images(generator: keras.Model, masks: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Generate one image per encoded mask (values in [-1, 1]) from a trained generator."""
    generate = make_generate_fn(inference_generator(generator))
    outputs = [
        generate(tf.constant(masks[i : i + batch_size], tf.float32)).numpy() for i in range(0, len(masks), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, *masks.shape[1:3], 1), np.float32)
