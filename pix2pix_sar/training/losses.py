"""The pix2pix objective (Eq. 2-5): BCE on PatchGAN logits plus weighted L1.

Losses are computed per example and averaged over the *global* batch
(tf.nn.compute_average_loss), so summing them over replicas gives the same
number a single device would compute for the whole batch.

No-data never counts: patches may hold pixels of zone 0 (no data; CaFFe allows
up to half a patch). The L1 term averages only over valid pixels (``valid``),
and :func:`hide_nodata` gives the generated image the real image's no-data value
there before the discriminator sees it, so D cannot tell real from fake by the
no-data area.
"""

from __future__ import annotations

import tensorflow as tf

from pix2pix_sar.config import LossConfig

#: The value real SAR patches hold at no-data pixels, in the model range [-1, 1].
NODATA_VALUE = -1.0


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=tf.range(1, tf.rank(x)))


def _per_example_bce(logits: tf.Tensor, label: float) -> tf.Tensor:
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), label)
    return _per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _as_valid(valid, like: tf.Tensor) -> tf.Tensor:
    """A boolean validity mask (nonzero = valid) broadcast to the shape of `like`."""
    valid = tf.convert_to_tensor(valid)
    if valid.dtype != tf.bool:
        valid = tf.not_equal(valid, tf.zeros([], valid.dtype))
    return tf.broadcast_to(valid, tf.shape(like))


def _per_example_valid_mean(x: tf.Tensor, valid) -> tf.Tensor:
    """Mean of `x` (N, ...) over its valid elements per example; 0 where none is valid."""
    x = tf.cast(x, tf.float32)
    valid = _as_valid(valid, x)
    axes = tf.range(1, tf.rank(x))
    # tf.where (not x * mask): NaN or inf under no-data cannot leak into the sum.
    total = tf.reduce_sum(tf.where(valid, x, tf.zeros_like(x)), axis=axes)
    count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=axes)
    return total / tf.maximum(count, 1.0)


def generator_losses(
    disc_fake: tf.Tensor,
    fake: tf.Tensor,
    target: tf.Tensor,
    cfg: LossConfig,
    global_batch_size: int,
    valid: tf.Tensor | None = None,
) -> dict[str, tf.Tensor]:
    """gen_total = gan_weight * BCE(D(x, G(x)), 1) + l1_weight * |y - G(x)|.

    `valid` (optional, (N, H, W, 1), bool or float, nonzero = valid, i.e. zone != 0)
    restricts L1 to valid pixels: per example, the mean of |y - G(x)| over its valid
    pixels (0 for an example without any). Values under no-data, even NaN, do not
    change the loss or its gradients. The GAN term is over all PatchGAN logits.
    """
    gen_gan = tf.nn.compute_average_loss(_per_example_bce(disc_fake, 1.0), global_batch_size=global_batch_size)
    target, fake = tf.cast(target, tf.float32), tf.cast(fake, tf.float32)
    if valid is None:
        per_example_l1 = _per_example_mean(tf.abs(target - fake))
    else:
        is_valid = _as_valid(valid, fake)
        # Zero the difference before abs: the gradient stays finite under no-data garbage.
        diff = tf.where(is_valid, target - fake, tf.zeros_like(fake))
        per_example_l1 = _per_example_valid_mean(tf.abs(diff), is_valid)
    gen_l1 = tf.nn.compute_average_loss(per_example_l1, global_batch_size=global_batch_size)
    return {
        "gen_total": cfg.gan_weight * gen_gan + cfg.l1_weight * gen_l1,
        "gen_gan": gen_gan,
        "gen_l1": gen_l1,
    }


def discriminator_loss(disc_real: tf.Tensor, disc_fake: tf.Tensor, global_batch_size: int) -> tf.Tensor:
    """BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)."""
    per_example = _per_example_bce(disc_real, 1.0) + _per_example_bce(disc_fake, 0.0)
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)


def hide_nodata(fake: tf.Tensor, valid: tf.Tensor, nodata_value: float = NODATA_VALUE) -> tf.Tensor:
    """`fake` (N, H, W, C) with every pixel where `valid` (N, H, W, 1; bool or float,
    nonzero = valid, i.e. zone != 0) is false set to `nodata_value`, the value real
    images hold there (-1 in the model range). Same dtype as `fake`; no gradient
    flows to the generator through the replaced pixels."""
    fake = tf.convert_to_tensor(fake)
    return tf.where(_as_valid(valid, fake), fake, tf.cast(tf.fill(tf.shape(fake), nodata_value), fake.dtype))
