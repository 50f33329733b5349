"""The training step: one tape per network, both updated from the same forward pass.

`make_gradient_fn` is the pure, optionally XLA-compiled part (forward, losses,
backward). `make_train_step` wraps it for a tf.distribute strategy: every replica
computes its gradients on its own per-replica batch, the optimizers all-reduce and
apply them, and the loss parts come back summed over replicas — each was already
divided by the global batch size.

Batch size and replicas are throughput knobs: every normalisation is per image and
every example's noise is keyed by (seed, epoch, step, global example index)
(:func:`~pix2pix_sar.models.layers.training_keys`), so a step at batch N computes
the mean of N batch-1 gradients, whatever the replica count. No-data pixels (zone 0:
all of the class scheme's `mask_channels` 0; extra bands after them never count,
see :func:`~pix2pix_sar.data.zones.valid_pixels`) count in no loss, and the
discriminator sees the real image's no-data value (-1) there in generated images too.

The patch discriminators judge (mask, image) pairs; the segmentation discriminator
(``loss.adversarial=segmentation``) judges the image alone, against the mask's classes.
With ``loss.diversity_weight`` > 0 the generator also draws every mask a second time with
keys salted from its own (:func:`second_sample_keys`), forward only, and is rewarded for
the two samples' capped distance (mode seeking); D judges only the first.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import keras
import tensorflow as tf

from pix2pix_sar.config import LossConfig, ModelConfig
from pix2pix_sar.data.zones import encoded_labels, valid_pixels
from pix2pix_sar.models.layers import example_hash, training_keys
from pix2pix_sar.training.losses import (
    discriminator_loss,
    diversity_loss,
    generator_losses,
    hide_nodata,
    labelmix_loss,
    labelmix_map,
)

LOSS_NAMES = ("gen_total", "gen_gan", "gen_l1", "disc")
#: Salt of the second sample's keys (mode seeking; distinct from LabelMix's and the noise layers' salts).
DIVERSITY_SALT = 0xD17E5


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


def _judge(nets: Pix2Pix, loss_cfg: LossConfig, mask: tf.Tensor, images: tf.Tensor, copies: int):
    """D on `images` (`copies` batches of the size of `mask`, concatenated): with the mask
    for the conditional (patch) discriminators, alone for the segmentation one."""
    if loss_cfg.adversarial == "segmentation":
        return nets.discriminator(images, training=True)
    return nets.discriminator([tf.concat([mask] * copies, 0), images], training=True)


def _part(judged, i: int, n):
    """The logits of the `i`-th batch of `n` images of a joint call (every map of a multi-scale list)."""
    return tf.nest.map_structure(lambda t: t[i * n : (i + 1) * n], judged)


def second_sample_keys(keys: tf.Tensor) -> tf.Tensor:
    """Keys of another draw for the same examples: ``k1`` replaced by a salted hash of the
    whole key, so, like the key, a pure function of (seed, epoch, step, global example index)."""
    k1 = tf.bitcast(example_hash(keys, DIVERSITY_SALT), tf.int32)
    return tf.concat([keys[:, :1], k1[:, None], keys[:, 2:]], axis=1)


def _generate(nets: Pix2Pix, loss_cfg: LossConfig, mask: tf.Tensor, keys: tf.Tensor):
    """(the sample D judges, a second sample of the same masks with other keys, or None
    without the diversity term). The second is a constant to the tapes: no backward pass
    through it (see :func:`_diversity_objective`)."""
    fake = nets.generator([mask, keys], training=True)
    if loss_cfg.diversity_weight <= 0:
        return fake, None
    return fake, tf.stop_gradient(nets.generator([mask, second_sample_keys(keys)], training=True))


def _diversity_objective(part: tf.Tensor) -> tf.Tensor:
    """`part`'s value with twice its gradient. `part` reaches the weights through the first
    sample only; the two keys are exchangeable, so twice that is an unbiased estimate of the
    gradient through both samples (MSGAN's), without a backward pass through the second.
    Measured at the demo config (64 px, 32 filters, batch 1) on 2 shared CPU cores, median
    step vs `scene`'s: 1.42-1.50x this way, 1.70-1.75x with both samples in one recorded
    generator call (the sampler without the term: 1.31x)."""
    return 2.0 * part - tf.stop_gradient(part)


def make_gradient_fn(
    nets: Pix2Pix, loss_cfg: LossConfig, global_batch_size: int, *, mask_channels: int, jit_compile: bool = False
):
    """``(mask, target, keys) -> (losses, generator_grads, discriminator_grads)`` for one replica.

    `mask_channels`: how many of the input's leading channels are the class scheme's
    encoding (the dataset's ``scheme.channels``); validity comes from those alone.

    With ``loss_cfg.diversity_weight`` > 0 the losses also hold ``gen_diversity`` (the capped
    mean distance of two samples, :func:`~pix2pix_sar.training.losses.diversity_loss`;
    gen_total already subtracts it times the weight); :func:`make_train_step` keeps
    :data:`LOSS_NAMES` only."""

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def compute_gradients(mask, target, keys):
        valid = valid_pixels(mask, mask_channels)
        segmentation = loss_cfg.adversarial == "segmentation"
        needs_labels = segmentation or (loss_cfg.diversity_weight > 0 and bool(loss_cfg.diversity_caps))
        labels = encoded_labels(mask, mask_channels) if needs_labels else None
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake, second = _generate(nets, loss_cfg, mask, keys)
            judged_fake = hide_nodata(fake, valid)
            real = tf.cast(target, judged_fake.dtype)
            # Real and generated images in one call: every norm is per image, so this is what
            # two calls compute (to float rounding), and one batch of 2N runs faster than two of N.
            images = [real, judged_fake]
            mix = None
            if loss_cfg.labelmix_weight > 0:
                mix = labelmix_map(labels, keys)
                images.append(mix * real + (1.0 - mix) * judged_fake)
            n = tf.shape(mask)[0]
            judged = _judge(nets, loss_cfg, mask, tf.concat(images, 0), len(images))
            disc_real, disc_fake, disc_mixed = (_part(judged, i, n) for i in range(3))
            losses = generator_losses(disc_fake, fake, target, loss_cfg, global_batch_size, valid=valid, labels=labels)
            if second is not None:
                losses["gen_diversity"] = diversity_loss(fake, second, valid, loss_cfg, global_batch_size, labels)
                losses["gen_total"] -= loss_cfg.diversity_weight * _diversity_objective(losses["gen_diversity"])
            losses["disc"] = discriminator_loss(
                disc_real, disc_fake, global_batch_size, adversarial=loss_cfg.adversarial, labels=labels, valid=valid
            )
            if mix is not None:
                losses["disc"] += loss_cfg.labelmix_weight * labelmix_loss(
                    disc_mixed, disc_real, disc_fake, mix, valid, global_batch_size
                )
            gen_objective = _scale(nets.generator_optimizer, losses["gen_total"])
            disc_objective = _scale(nets.discriminator_optimizer, losses["disc"])
        gen_grads = gen_tape.gradient(gen_objective, nets.generator.trainable_variables)
        disc_grads = disc_tape.gradient(disc_objective, nets.discriminator.trainable_variables)
        return losses, gen_grads, disc_grads

    return compute_gradients


def replica_keys(seed: int, epoch, step, per_replica_batch) -> tf.Tensor:
    """Noise keys of this replica's examples: global index = replica id x per-replica
    batch + position (the order in which tf.distribute splits a global batch)."""
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    first = tf.cast(replica, tf.int32) * per_replica_batch
    return training_keys(seed, epoch, step, first + tf.range(per_replica_batch, dtype=tf.int32))


@contextlib.contextmanager
def remapper_guard(model: ModelConfig) -> Iterator[None]:
    """Grappler's remapper pass off while a generator without normalisation trains on CPU.

    Its convolutions have a bias, so each encoder block is Conv2D + BiasAdd + LeakyRelu. On
    CPU (oneDNN) builds, TF 2.21's remapper fuses that pattern although the backward pass's
    LeakyReluGrad still reads the BiasAdd output; the rewrite fails ("E0000 ...
    meta_optimizer.cc ... remapper failed: INVALID_ARGUMENT: Mutation::Apply error: fanout
    '.../LeakyReluGrad' exist for missing node '.../BiasAdd'"), and the meta-optimizer drops
    the whole pass for the train step, so it ran without any remapper fusion anyway. Off, the
    step gets the same graph without that error line (which reads like a crash). Restored
    afterwards: generation graphs have no gradients, and their fusions work. GPUs are left as
    they are (not measured there)."""
    if model.normalization != "none" or tf.config.list_physical_devices("GPU"):
        yield
        return
    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})


def make_train_step(
    strategy: tf.distribute.Strategy,
    nets: Pix2Pix,
    loss_cfg: LossConfig,
    global_batch_size: int,
    *,
    mask_channels: int,
    seed: int = 0,
    jit_compile: bool = False,
    decode: Callable | None = None,
) -> Callable[..., dict[str, tf.Tensor]]:
    """A compiled distributed step ``(mask, target, epoch, step) -> {gen_total, gen_gan, gen_l1, disc}``.

    `mask` and `target` are per-replica values from `strategy`'s distributed dataset;
    `epoch` and `step` (0-based) key the noise. The step holds no state of its own:
    all it changes lives in `nets` (and so in the checkpoint). `decode` turns compact
    batches (zone codes, float16 SAR) into float32 inputs on the device, first thing.
    `mask_channels`: the class scheme's channels at the front of `mask` (extra bands follow).
    """
    compute_gradients = make_gradient_fn(
        nets, loss_cfg, global_batch_size, mask_channels=mask_channels, jit_compile=jit_compile
    )

    def replica_step(mask, target, epoch, step):
        if decode is not None:
            mask, target = decode(mask, target)
        keys = replica_keys(seed, epoch, step, tf.shape(mask)[0])
        losses, gen_grads, disc_grads = compute_gradients(mask, target, keys)
        nets.generator_optimizer.apply_gradients(zip(gen_grads, nets.generator.trainable_variables))
        nets.discriminator_optimizer.apply_gradients(zip(disc_grads, nets.discriminator.trainable_variables))
        # history.csv, the state's epoch sums and the progress line hold these; gen_diversity is in gen_total.
        return {k: losses[k] for k in LOSS_NAMES}

    @tf.function(reduce_retracing=True)
    def distributed_step(mask, target, epoch, step):
        per_replica = strategy.run(replica_step, args=(mask, target, epoch, step))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    def train_step(mask, target, epoch, step):
        # Tensors, not Python ints: a tf.function traces anew for every Python value.
        return distributed_step(mask, target, tf.constant(epoch, tf.int32), tf.constant(step, tf.int32))

    return train_step
