"""The training step: one tape per network, both updated from the same forward pass.

`compute_gradients` is the pure, optionally XLA-compiled part (forward, losses,
backward). `make_train_step` wraps it for a tf.distribute strategy: every replica
computes its gradients on its own per-replica batch (BatchNorm statistics are per
replica), the optimizers all-reduce and apply them, and the loss parts come back
summed over replicas — each was already divided by the global batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import tensorflow as tf

from pix2pix_sar.config import LossConfig
from pix2pix_sar.training.losses import discriminator_loss, generator_losses

LOSS_NAMES = ("gen_total", "gen_gan", "gen_l1", "disc")


@dataclass
class Pix2Pix:
    """Both networks and their optimizers: everything a step changes."""

    generator: keras.Model
    discriminator: keras.Model
    generator_optimizer: keras.optimizers.Optimizer
    discriminator_optimizer: keras.optimizers.Optimizer


def _scale(optimizer, loss):
    # Mixed float16 wraps optimizers in a LossScaleOptimizer; it unscales in apply.
    return optimizer.scale_loss(loss) if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else loss


def make_gradient_fn(nets: Pix2Pix, loss_cfg: LossConfig, global_batch_size: int, jit_compile: bool = False):
    """``(mask, target) -> (losses, generator_grads, discriminator_grads)`` for one replica."""

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def compute_gradients(mask, target):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake = nets.generator(mask, training=True)
            disc_real = nets.discriminator([mask, target], training=True)
            disc_fake = nets.discriminator([mask, fake], training=True)
            losses = generator_losses(disc_fake, fake, target, loss_cfg, global_batch_size)
            losses["disc"] = discriminator_loss(disc_real, disc_fake, global_batch_size)
            gen_objective = _scale(nets.generator_optimizer, losses["gen_total"])
            disc_objective = _scale(nets.discriminator_optimizer, losses["disc"])
        gen_grads = gen_tape.gradient(gen_objective, nets.generator.trainable_variables)
        disc_grads = disc_tape.gradient(disc_objective, nets.discriminator.trainable_variables)
        return losses, gen_grads, disc_grads

    return compute_gradients


def make_train_step(
    strategy: tf.distribute.Strategy,
    nets: Pix2Pix,
    loss_cfg: LossConfig,
    global_batch_size: int,
    jit_compile: bool = False,
) -> Callable[[object, object], dict[str, tf.Tensor]]:
    """A compiled distributed step ``(mask, target) -> {gen_total, gen_gan, gen_l1, disc}``.

    Inputs are per-replica values from `strategy`'s distributed dataset. The step
    holds no state of its own: all it changes lives in `nets` (and so in the checkpoint).
    """
    compute_gradients = make_gradient_fn(nets, loss_cfg, global_batch_size, jit_compile)

    def replica_step(mask, target):
        losses, gen_grads, disc_grads = compute_gradients(mask, target)
        nets.generator_optimizer.apply_gradients(zip(gen_grads, nets.generator.trainable_variables))
        nets.discriminator_optimizer.apply_gradients(zip(disc_grads, nets.discriminator.trainable_variables))
        return losses

    @tf.function(reduce_retracing=True)
    def train_step(mask, target):
        per_replica = strategy.run(replica_step, args=(mask, target))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    return train_step
