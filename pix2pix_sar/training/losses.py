"""The pix2pix objective (Eq. 2-5): BCE on PatchGAN logits plus weighted L1; and the
OASIS objective (``loss.adversarial=segmentation``): class-balanced (N+1)-class
cross-entropy of a segmentation discriminator, with optional LabelMix.

Losses are computed per example and averaged over the *global* batch
(tf.nn.compute_average_loss), so summing them over replicas gives the same
number a single device would compute for the whole batch.

No-data never counts: patches may hold pixels of zone 0 (no data; CaFFe allows
up to half a patch). The L1 term averages only over valid pixels (``valid``),
and :func:`hide_nodata` gives the generated image the real image's no-data value
there before the discriminator sees it, so D cannot tell real from fake by the
no-data area. The segmentation losses average over valid pixels only.

OASIS balances classes by their pixel frequency in the *batch*; here each image is
balanced by its own (every image's loss is the mean over its classes of the class's mean
cross-entropy), so a step at batch N stays the mean of N batch-1 steps on any replicas.
"""

from __future__ import annotations

import tensorflow as tf

from pix2pix_sar.config import LossConfig

#: The value real SAR patches hold at no-data pixels, in the model range [-1, 1].
NODATA_VALUE = -1.0


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=tf.range(1, tf.rank(x)))


def _per_example_bce(logits, label: float) -> tf.Tensor:
    """Mean BCE per example; a list of logit maps (multi-scale) gives the sum over maps."""
    total = 0.0
    for part in tf.nest.flatten(logits):
        part = tf.cast(part, tf.float32)
        labels = tf.fill(tf.shape(part), label)
        total += _per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=part))
    return total


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


def _per_example_balanced_ce(logits: tf.Tensor, labels: tf.Tensor, valid) -> tf.Tensor:
    """(N,): per image, the mean over the classes present of the class's mean cross-entropy
    of `logits` (N, H, W, K) toward `labels` (N, H, W) over valid pixels: OASIS's weights
    (pixels / (classes present x pixels of the class)) with each image's own counts.
    0 for an image without valid pixels."""
    logits = tf.cast(logits, tf.float32)
    valid = _as_valid(valid, labels) if valid is not None else tf.ones_like(labels, tf.bool)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    ce = tf.where(valid, ce, tf.zeros_like(ce))  # no-data garbage reaches neither sum nor gradient
    members = tf.one_hot(labels, tf.shape(logits)[-1], dtype=tf.float32) * tf.cast(valid, tf.float32)[..., None]
    count = tf.reduce_sum(members, axis=(1, 2))  # (N, K)
    class_mean = tf.reduce_sum(members * ce[..., None], axis=(1, 2)) / tf.maximum(count, 1.0)
    present = tf.cast(count > 0, tf.float32)
    return tf.reduce_sum(class_mean * present, axis=1) / tf.maximum(tf.reduce_sum(present, axis=1), 1.0)


def _fake_class(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """`labels`' shape, all the "fake" class: the discriminator's last logit."""
    return tf.fill(tf.shape(labels), tf.shape(logits)[-1] - 1)


def _patch_generator_term(disc_fake, labels, valid):
    return _per_example_bce(disc_fake, 1.0)


def _patch_discriminator_term(disc_real, disc_fake, labels, valid):
    return _per_example_bce(disc_real, 1.0) + _per_example_bce(disc_fake, 0.0)


def _segmentation_generator_term(disc_fake, labels, valid):
    return _per_example_balanced_ce(disc_fake, labels, valid)


def _segmentation_discriminator_term(disc_real, disc_fake, labels, valid):
    # OASIS: the real term balanced by class, the "fake" term a plain mean (valid pixels here).
    fake_ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=_fake_class(disc_fake, labels), logits=tf.cast(disc_fake, tf.float32)
    )
    valid = tf.ones_like(labels, tf.float32) if valid is None else valid
    real_ce = _per_example_balanced_ce(disc_real, labels, valid)
    return real_ce + _per_example_valid_mean(fake_ce, _as_valid(valid, labels))


#: Per-example adversarial terms by ``loss.adversarial``: (generator, discriminator).
ADVERSARIAL_TERMS = {
    "patch": (_patch_generator_term, _patch_discriminator_term),
    "segmentation": (_segmentation_generator_term, _segmentation_discriminator_term),
}


def _squeeze_valid(valid):
    """(N, H, W, 1) -> (N, H, W): the shape of per-pixel class labels."""
    return None if valid is None else tf.convert_to_tensor(valid)[..., 0]


def _per_example_l1(fake: tf.Tensor, target: tf.Tensor, valid, lowpass: int) -> tf.Tensor:
    """Mean |y - G(x)| per example over valid pixels, or with `lowpass` B > 0 over the BxB
    block means of the valid pixels (blocks without any left out): the structure, not the speckle."""
    if valid is None and not lowpass:
        return _per_example_mean(tf.abs(target - fake))
    is_valid = _as_valid(tf.ones_like(fake) if valid is None else valid, fake)
    # Zero the difference before abs: the gradient stays finite under no-data garbage.
    diff = tf.where(is_valid, target - fake, tf.zeros_like(fake))
    if not lowpass:
        return _per_example_valid_mean(tf.abs(diff), is_valid)
    share = tf.nn.avg_pool2d(tf.cast(is_valid, tf.float32), lowpass, lowpass, "VALID")
    block_diff = tf.nn.avg_pool2d(diff, lowpass, lowpass, "VALID") / tf.maximum(share, 1e-6)
    return _per_example_valid_mean(tf.abs(block_diff), share > 0)


def generator_losses(
    disc_fake,
    fake: tf.Tensor,
    target: tf.Tensor,
    cfg: LossConfig,
    global_batch_size: int,
    valid: tf.Tensor | None = None,
    labels: tf.Tensor | None = None,
) -> dict[str, tf.Tensor]:
    """gen_total = gan_weight * adversarial + l1_weight * |y - G(x)|.

    The adversarial term by ``cfg.adversarial``: patch, BCE(D(x, G(x)), 1) over all
    PatchGAN logits (each map's mean, summed over a multi-scale list); segmentation, the
    class-balanced cross-entropy of D(G(x)) toward `labels` ((N, H, W) int class
    indices, :func:`~pix2pix_sar.data.zones.encoded_labels`) over valid pixels.
    `valid` (optional, (N, H, W, 1), bool or float, nonzero = valid, i.e. zone != 0)
    restricts L1 (and the segmentation term) to valid pixels: per example, the mean over
    its valid pixels (0 for an example without any); ``cfg.l1_lowpass`` B > 0 compares
    BxB block means instead of pixels. Values under no-data, even NaN, do not change the
    loss or its gradients.
    """
    generator_term, _ = ADVERSARIAL_TERMS[cfg.adversarial]
    per_example_gan = generator_term(disc_fake, labels, _squeeze_valid(valid))
    gen_gan = tf.nn.compute_average_loss(per_example_gan, global_batch_size=global_batch_size)
    target, fake = tf.cast(target, tf.float32), tf.cast(fake, tf.float32)
    per_example_l1 = _per_example_l1(fake, target, valid, cfg.l1_lowpass)
    gen_l1 = tf.nn.compute_average_loss(per_example_l1, global_batch_size=global_batch_size)
    return {
        "gen_total": cfg.gan_weight * gen_gan + cfg.l1_weight * gen_l1,
        "gen_gan": gen_gan,
        "gen_l1": gen_l1,
    }


def discriminator_loss(
    disc_real,
    disc_fake,
    global_batch_size: int,
    *,
    adversarial: str = "patch",
    labels: tf.Tensor | None = None,
    valid: tf.Tensor | None = None,
) -> tf.Tensor:
    """patch: BCE(D(x, y), 1) + BCE(D(x, G(x)), 0). segmentation: the class-balanced
    cross-entropy of D(y) toward `labels` plus the cross-entropy of D(G(x)) toward
    "fake" (the last logit), each over valid pixels."""
    _, discriminator_term = ADVERSARIAL_TERMS[adversarial]
    per_example = discriminator_term(disc_real, disc_fake, labels, _squeeze_valid(valid))
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)


#: Salt of the LabelMix draw (distinct from the generator's noise layers' salts).
LABELMIX_SALT = 0x1AB31
#: Classes LabelMix can draw for (one bit of a 32-bit hash each).
LABELMIX_MAX_CLASSES = 32


def labelmix_map(labels: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
    """(N, H, W, 1) float 0/1: OASIS's LabelMix map, every class of an image drawn real (1)
    or generated (0) by one bit of a hash of the image's noise key, so the draw is keyed,
    not stateful, and an image's map does not depend on its batch."""
    from pix2pix_sar.models.layers import example_hash

    bits = example_hash(keys, LABELMIX_SALT)[:, None, None]
    shift = tf.bitcast(tf.minimum(labels, LABELMIX_MAX_CLASSES - 1), tf.uint32)
    chosen = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, shift), tf.constant(1, tf.uint32))
    return tf.cast(chosen, tf.float32)[..., None]


def labelmix_loss(disc_mixed, disc_real, disc_fake, mix: tf.Tensor, valid, global_batch_size: int) -> tf.Tensor:
    """OASIS's LabelMix consistency: D's logits on the mixed image should be the mix of its
    logits on the real and the generated image (mean squared difference over valid pixels)."""
    expected = mix * tf.cast(disc_real, tf.float32) + (1.0 - mix) * tf.cast(disc_fake, tf.float32)
    squared = tf.reduce_mean(tf.square(expected - tf.cast(disc_mixed, tf.float32)), axis=-1, keepdims=True)
    per_example = _per_example_valid_mean(squared, tf.ones_like(squared) if valid is None else valid)
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)


def per_example_block_distance(first: tf.Tensor, second: tf.Tensor, valid, block: int) -> tf.Tensor:
    """(N,): the mean over valid pixels of |avgpool_B(first) - avgpool_B(second)| (B = `block`;
    0 or 1: pixels), block means taken over valid pixels only: how far two images differ
    beyond speckle. Values under no-data, even NaN, change neither it nor its gradient."""
    first, second = tf.cast(first, tf.float32), tf.cast(second, tf.float32)
    is_valid = _as_valid(valid, first)
    diff = tf.where(is_valid, first - second, tf.zeros_like(first))
    if block <= 1:
        return _per_example_valid_mean(tf.abs(diff), is_valid)
    # A block's |mean difference| x its valid share, summed, over the valid share: each valid
    # pixel counts its block's difference once (VALID pooling leaves partial blocks at the edge out).
    block_sum = tf.abs(tf.nn.avg_pool2d(diff, block, block, "VALID"))
    share = tf.nn.avg_pool2d(tf.cast(is_valid, tf.float32), block, block, "VALID")
    return tf.reduce_sum(block_sum, axis=(1, 2, 3)) / tf.maximum(tf.reduce_sum(share, axis=(1, 2, 3)), 1e-6)


def diversity_loss(
    first: tf.Tensor, second: tf.Tensor, valid, cfg: LossConfig, global_batch_size: int, labels=None
) -> tf.Tensor:
    """Mode seeking (MSGAN, Mao et al. 2019; DSGAN, Yang et al. 2019): per image
    min(d, ``cfg.diversity_cap``), d the :func:`per_example_block_distance` of two samples
    of its mask at ``cfg.diversity_block``, averaged over the global batch. The generator
    loss subtracts it times ``cfg.diversity_weight``; the cap stops the reward where the
    oracle's redraws differ, so the samples are not pushed apart further than real ones.

    The default cap, 0.19, is that distance (B = 8, whole scene) between two oracle draws of
    one world: synth seed 0 and seed 0 with content seed 1 (1024 px), scaled to model units
    by prepare's clip range for that scene (-25.7 .. 3.7 dB), i.e. 2.8 dB; over its 64-px
    patches 0.08 .. 0.28 (10th .. 90th percentile). Speckle alone (4 looks) gives about 0.02.

    With ``cfg.diversity_caps`` (one per class; `labels` (N, H, W) class indices then needed)
    each class's distance is capped on its own (:func:`_per_class_capped_distance`)."""
    if cfg.diversity_caps:
        capped = _per_class_capped_distance(first, second, valid, labels, cfg.diversity_caps, cfg.diversity_block)
    else:
        capped = tf.minimum(per_example_block_distance(first, second, valid, cfg.diversity_block), cfg.diversity_cap)
    return tf.nn.compute_average_loss(capped, global_batch_size=global_batch_size)


def _per_class_capped_distance(first, second, valid, labels, caps, block: int) -> tf.Tensor:
    """(N,): sum over classes c of share_c * min(d_c, caps[c]), d_c the block distance over
    class c's valid pixels only and share_c its share of the valid pixels. Each class is pushed
    apart only up to its own cap: one cap over all classes lets a class whose real redraws
    differ little (glacier) be pushed as far as one whose redraws differ much (rock)."""
    first, second = tf.cast(first, tf.float32), tf.cast(second, tf.float32)
    is_valid = _as_valid(tf.ones_like(first) if valid is None else valid, first)
    # All classes in one pooling: image channel i of class c's valid pixels in channel i * C + c
    # (the loop per class cost a pass each); the distance is the mean over image channels.
    classes = len(caps)
    valid_any = tf.reduce_any(is_valid, axis=-1)
    in_class = tf.one_hot(tf.convert_to_tensor(labels), classes) * tf.cast(valid_any, tf.float32)[..., None]
    diff = tf.where(is_valid, first - second, tf.zeros_like(first))[..., None] * in_class[..., None, :]
    stacked = tf.concat(tf.unstack(diff, axis=3), axis=-1)  # (N, H, W, image channels * C)
    block_sum = tf.abs(tf.nn.avg_pool2d(stacked, block, block, "VALID"))
    block_share = tf.nn.avg_pool2d(in_class, block, block, "VALID")
    per_channel = tf.reshape(tf.reduce_sum(block_sum, axis=(1, 2)), (tf.shape(first)[0], -1, classes))
    distance = tf.reduce_mean(per_channel, axis=1) / tf.maximum(tf.reduce_sum(block_share, axis=(1, 2)), 1e-6)
    share = tf.reduce_mean(in_class, axis=(1, 2))  # (N, C)
    capped = tf.reduce_sum(share * tf.minimum(distance, tf.constant(caps, tf.float32)), axis=-1)
    return capped / tf.maximum(tf.reduce_sum(share, axis=-1), 1e-6)


def hide_nodata(fake: tf.Tensor, valid: tf.Tensor, nodata_value: float = NODATA_VALUE) -> tf.Tensor:
    """`fake` (N, H, W, C) with every pixel where `valid` (N, H, W, 1; bool or float,
    nonzero = valid, i.e. zone != 0) is false set to `nodata_value`, the value real
    images hold there (-1 in the model range). Same dtype as `fake`; no gradient
    flows to the generator through the replaced pixels."""
    fake = tf.convert_to_tensor(fake)
    return tf.where(_as_valid(valid, fake), fake, tf.cast(tf.fill(tf.shape(fake), nodata_value), fake.dtype))
