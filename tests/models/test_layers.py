"""PerImageBatchNorm's fused kernel computes the per-image moments formula."""

import numpy as np
import pytest


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_per_image_batchnorm_equals_the_moments_formula_forward_and_gradient(batch, dtype):
    import keras
    import tensorflow as tf

    from pix2pix_sar.models.layers import PerImageBatchNorm, per_image_moments_norm

    rng = np.random.default_rng(batch)
    # Channels with their own offsets and spreads, so per-image statistics differ from the batch's.
    x = rng.normal(0, 1, (batch, 8, 6, 5)) * rng.uniform(0.1, 3, (batch, 1, 1, 5)) + rng.normal(0, 2, (batch, 1, 1, 5))
    x = tf.constant(x.astype(np.float32))
    layer = PerImageBatchNorm(dtype=dtype)
    layer.build(x.shape)
    layer.gamma.assign(rng.uniform(0.5, 2, 5).astype(np.float32))
    layer.beta.assign(rng.normal(0, 1, 5).astype(np.float32))
    weight = tf.constant(rng.normal(0, 1, x.shape).astype(np.float32))

    def run(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(fn(x), tf.float32)
            loss = tf.reduce_sum(y * weight)
        grads = tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])
        return [y.numpy()] + [g.numpy() for g in grads]

    def reference(x):
        x32 = tf.cast(tf.cast(x, layer.compute_dtype), tf.float32)
        out = per_image_moments_norm(
            x32, tf.convert_to_tensor(layer.gamma), tf.convert_to_tensor(layer.beta), layer.epsilon
        )
        return tf.cast(out, layer.compute_dtype)

    fused, moments = run(lambda x: layer(tf.cast(x, layer.compute_dtype), training=True)), run(reference)
    tol = 1e-5 if dtype == "float32" else 1e-2  # bfloat16 outputs round to 8 bits
    for got, want in zip(fused, moments, strict=True):
        np.testing.assert_allclose(got, want, atol=tol * max(1.0, np.abs(want).max()), rtol=0)
    # Each image is normalised alone: a batch equals its images one by one.
    alone = np.concatenate([layer(x[i : i + 1], training=True).numpy() for i in range(batch)])
    np.testing.assert_allclose(layer(x, training=True).numpy(), alone, atol=1e-5)
    assert keras.ops.convert_to_numpy(layer.moving_mean).tolist() == [0.0] * 5  # never used, never updated
