"""The pix2pix objective (Eq. 2-5): BCE on PatchGAN logits plus weighted L1.

Losses are computed per example and averaged over the *global* batch
(tf.nn.compute_average_loss), so summing them over replicas gives the same
number a single device would compute for the whole batch.
"""

from __future__ import annotations

import tensorflow as tf

from pix2pix_sar.config import LossConfig


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=tf.range(1, tf.rank(x)))


def _per_example_bce(logits: tf.Tensor, label: float) -> tf.Tensor:
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), label)
    return _per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def generator_losses(
    disc_fake: tf.Tensor, fake: tf.Tensor, target: tf.Tensor, cfg: LossConfig, global_batch_size: int
) -> dict[str, tf.Tensor]:
    """gen_total = gan_weight * BCE(D(x, G(x)), 1) + l1_weight * |y - G(x)|."""
    gen_gan = tf.nn.compute_average_loss(_per_example_bce(disc_fake, 1.0), global_batch_size=global_batch_size)
    gen_l1 = tf.nn.compute_average_loss(
        _per_example_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(fake, tf.float32))),
        global_batch_size=global_batch_size,
    )
    return {
        "gen_total": cfg.gan_weight * gen_gan + cfg.l1_weight * gen_l1,
        "gen_gan": gen_gan,
        "gen_l1": gen_l1,
    }


def discriminator_loss(disc_real: tf.Tensor, disc_fake: tf.Tensor, global_batch_size: int) -> tf.Tensor:
    """BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)."""
    per_example = _per_example_bce(disc_real, 1.0) + _per_example_bce(disc_fake, 0.0)
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
