"""The pix2pix objective (Eq. 2-5): BCE on PatchGAN logits plus weighted L1."""

from __future__ import annotations

import tensorflow as tf

from pix2pix_sar.config import LossConfig


def _bce(labels_like: tf.Tensor, value: float, logits: tf.Tensor) -> tf.Tensor:
    labels = tf.fill(tf.shape(labels_like), tf.cast(value, logits.dtype))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def generator_losses(
    disc_fake: tf.Tensor, fake: tf.Tensor, target: tf.Tensor, cfg: LossConfig
) -> dict[str, tf.Tensor]:
    """gen_total = gan_weight * BCE(D(x, G(x)), 1) + l1_weight * |y - G(x)|."""
    gen_gan = _bce(disc_fake, 1.0, disc_fake)
    gen_l1 = tf.reduce_mean(tf.abs(target - fake))
    return {
        "gen_total": cfg.gan_weight * gen_gan + cfg.l1_weight * gen_l1,
        "gen_gan": gen_gan,
        "gen_l1": gen_l1,
    }


def discriminator_loss(disc_real: tf.Tensor, disc_fake: tf.Tensor) -> tf.Tensor:
    """BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)."""
    return _bce(disc_real, 1.0, disc_real) + _bce(disc_fake, 0.0, disc_fake)
