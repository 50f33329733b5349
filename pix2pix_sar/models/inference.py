"""How a trained generator makes images, the same rule everywhere.

The rule (pix2pix, Isola et al. 2017): BatchNorm normalises with the statistics
of the image being generated and dropout stays on as the generator's noise,
i.e. the generator runs with ``training=True``. Images are generated one at a
time, so a batch never mixes statistics between images; results therefore do not
depend on batch size.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def make_generate_fn(generator: keras.Model):
    """A compiled ``masks (N, H, W, C) -> images (N, H, W, 1)`` under the rule above."""
    mask_spec = tf.TensorSpec((None, *generator.input_shape[1:]), tf.float32)

    @tf.function(input_signature=(mask_spec,))
    def generate(masks: tf.Tensor) -> tf.Tensor:
        return tf.map_fn(
            lambda m: generator(m[None], training=True)[0],
            masks,
            fn_output_signature=tf.TensorSpec(generator.output_shape[1:], tf.float32),
        )

    return generate


def generate_images(generator: keras.Model, masks: np.ndarray) -> np.ndarray:
    """Generate one image per encoded mask (values in [-1, 1])."""
    return make_generate_fn(generator)(tf.constant(masks, tf.float32)).numpy()
