"""How a trained generator makes images — one rule for preview, evaluation and generation.

The rule (pix2pix, Isola et al. 2017): the generator runs as in training. Every
normalisation uses the statistics of the image being generated
(:class:`~pix2pix_sar.models.layers.PerImageBatchNorm`, which is also what training
uses, at any batch size) and the noise stays on: keyed dropout for the paper's
variants, a coordinate noise channel for ``scene``. The noise is a pure function of
each example's key (:mod:`pix2pix_sar.models.layers`), so a batch of N masks gives
what N separate calls give: batch size changes speed, never pixels.

Runs made before per-image normalisation was built into the models (their
generators hold Keras ``BatchNormalization`` and ``Dropout``) still load: their
BatchNorm layers are swapped for per-image ones (what they computed at batch 1)
and their dropout draws from Keras' seeded RNG (repeatable for a given seed and
batch size, but not keyed).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.generator import build_generator
from pix2pix_sar.models.layers import PerImageBatchNorm
from pix2pix_sar.noise import KEY_SIZE, patch_keys


def is_legacy(generator: keras.Model) -> bool:
    """True for a generator saved before noise keys (one input: the mask)."""
    return len(generator.inputs) == 1


def _swap_batchnorm(layer: keras.layers.Layer) -> keras.layers.Layer:
    if type(layer) is keras.layers.BatchNormalization:
        return PerImageBatchNorm.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def inference_generator(generator: keras.Model, cfg: ModelConfig | None = None, seed: int = 0) -> keras.Model:
    """A copy of `generator` that follows the rule above and, given its `cfg`, takes
    any input size (multiples of 2**depth); the trained model is never changed.
    `seed` seeds a legacy generator's dropout (keyed generators ignore it)."""
    if is_legacy(generator):
        keras.utils.set_random_seed(seed)
        clone = keras.models.clone_model(generator, clone_function=_swap_batchnorm, recursive=True)
    elif cfg is not None:
        clone = build_generator(cfg, any_size=True)
    else:
        clone = keras.models.clone_model(generator)
    clone.set_weights(generator.get_weights())
    return clone


def legacy_dropout_states(generator: keras.Model) -> list:
    """The seed-generator states of a legacy generator's Keras dropout layers (empty
    for keyed generators), so a caller can restart its noise."""
    return [
        layer.seed_generator.state for layer in generator._flatten_layers() if isinstance(layer, keras.layers.Dropout)
    ]


def make_generate_fn(generator: keras.Model, jit_compile: bool = False):
    """A compiled ``(masks (N, H, W, C), keys (N, 4) int32) -> images (N, H, W, 1)``.

    `generator` is an :func:`inference_generator` copy. One trace serves every batch size."""
    channels = generator.input_shape[0][-1] if not is_legacy(generator) else generator.input_shape[-1]
    legacy = is_legacy(generator)

    @tf.function(
        input_signature=(
            tf.TensorSpec((None, None, None, channels), tf.float32),
            tf.TensorSpec((None, KEY_SIZE), tf.int32),
        ),
        jit_compile=jit_compile,
        reduce_retracing=True,
    )
    def generate(masks: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
        inputs = masks if legacy else [masks, keys]
        return tf.cast(generator(inputs, training=True), tf.float32)

    return generate


def generate_images(
    generator: keras.Model,
    masks: np.ndarray,
    keys: np.ndarray | None = None,
    batch_size: int = 8,
    cfg: ModelConfig | None = None,
) -> np.ndarray:
    """One image per encoded mask (values in [-1, 1]); `keys` default to
    ``patch_keys(0, range(N))``."""
    keys = patch_keys(0, np.arange(len(masks))) if keys is None else keys
    generate = make_generate_fn(inference_generator(generator, cfg))
    outputs = [
        generate(tf.constant(masks[i : i + batch_size], tf.float32), tf.constant(keys[i : i + batch_size])).numpy()
        for i in range(0, len(masks), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, *masks.shape[1:3], 1), np.float32)
