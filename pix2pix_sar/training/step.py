"""The training step: one tape per network, both updated from the same forward pass."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from pix2pix_sar.config import LossConfig
from pix2pix_sar.training.losses import discriminator_loss, generator_losses

LOSS_NAMES = ("gen_total", "gen_gan", "gen_l1", "disc")

TrainStep = Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]


def make_train_step(
    generator: keras.Model,
    discriminator: keras.Model,
    generator_optimizer: keras.optimizers.Optimizer,
    discriminator_optimizer: keras.optimizers.Optimizer,
    loss_cfg: LossConfig,
    mask_channels: int,
    patch_size: int,
) -> TrainStep:
    """A compiled step ``(mask, target) -> {gen_total, gen_gan, gen_l1, disc}``.

    The step has no state of its own: everything it changes lives in the models
    and optimizers (and so in the checkpoint).
    """
    signature = (
        tf.TensorSpec((None, patch_size, patch_size, mask_channels), tf.float32),
        tf.TensorSpec((None, patch_size, patch_size, 1), tf.float32),
    )

    @tf.function(input_signature=signature)
    def train_step(mask: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake = generator(mask, training=True)
            disc_real = discriminator([mask, target], training=True)
            disc_fake = discriminator([mask, fake], training=True)
            losses = generator_losses(disc_fake, fake, target, loss_cfg)
            losses["disc"] = discriminator_loss(disc_real, disc_fake)
        gen_grads = gen_tape.gradient(losses["gen_total"], generator.trainable_variables)
        disc_grads = disc_tape.gradient(losses["disc"], discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
        return losses

    return train_step
