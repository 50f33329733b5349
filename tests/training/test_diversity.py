"""The mode-seeking term (issue 22, "noise must matter"): a second sample of each mask with
salted keys, rewarded for differing from the first beyond speckle, up to a cap, with twice
the gradient through the first sample; off (weight 0) the step is what it always was."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_sar.config import LossConfig, resolve_config
from pix2pix_sar.data.zones import CLASS_SCHEMES, valid_zones
from pix2pix_sar.errors import ConfigError

#: A tiny `sampler` (its looks resolved, as fit does from dataset.json) on zones masks.
SAMPLER = [
    "model.base_filters=8",
    "model.patch_size=64",
    "model.in_channels=3",
    "model.classes=3",
    "model.speckle_looks=4",
    "model.speckle_db_unit=10",
    # Spectral norm rescales the discriminator in every training call; these tests compare
    # several calls of one step, so they need a discriminator that a call leaves as it was.
    "model.spectral_norm=false",
]


def test_diversity_settings_are_checked():
    assert LossConfig().diversity_weight == 0.0  # off unless asked for
    for bad in ({"diversity_weight": -1.0}, {"diversity_block": 6}, {"diversity_block": 0}, {"diversity_cap": 0.0}):
        with pytest.raises(ConfigError) as info:
            LossConfig(**bad).validate()
        assert "\n" not in str(info.value)
    LossConfig(diversity_weight=1.0, diversity_block=16, diversity_cap=0.1).validate()


def test_block_distance_is_the_mean_over_valid_pixels_of_their_blocks_difference():
    from pix2pix_sar.training.losses import per_example_block_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 2, 16, 16, 1)).astype(np.float32)
    valid = np.ones((2, 16, 16, 1), np.float32)
    valid[0, :, 12:] = 0  # half of the right-hand blocks, and all of...
    valid[1, 8:, 8:] = 0  # ...one block of the second image
    expected = []
    for i in range(2):
        diff = np.where(valid[i] > 0, a[i] - b[i], 0.0)[..., 0].reshape(2, 8, 2, 8)
        count = valid[i, ..., 0].reshape(2, 8, 2, 8).sum(axis=(1, 3))
        block = diff.sum(axis=(1, 3)) / np.maximum(count, 1)
        expected.append((count * np.abs(block)).sum() / count.sum())
    dirty = np.where(valid > 0, a, np.nan)  # no-data never counts, even NaN
    got = per_example_block_distance(tf.constant(dirty), tf.constant(b), tf.constant(valid), 8)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    pixels = per_example_block_distance(tf.constant(a), tf.constant(b), tf.constant(valid), 1).numpy()
    np.testing.assert_allclose(pixels[1], np.abs(a[1] - b[1])[valid[1] > 0].mean(), rtol=1e-5)


def test_second_keys_are_other_keys_of_the_same_examples():
    from pix2pix_sar.models.layers import training_keys
    from pix2pix_sar.training.step import second_sample_keys

    keys = training_keys(7, 2, 3, tf.range(4)).numpy()
    second = second_sample_keys(tf.constant(keys)).numpy()
    np.testing.assert_array_equal(second[:, [0, 2, 3]], keys[:, [0, 2, 3]])  # seed and origin kept
    assert len(set(second[:, 1]) | set(keys[:, 1])) == 8  # new draws, no example's key reused
    np.testing.assert_array_equal(second_sample_keys(tf.constant(keys[2:3])).numpy(), second[2:3])  # per example


def _sampler_nets(cfg):
    """The pair with the generator's weights away from their initial values (so the coarse noise shows)."""
    import keras

    from pix2pix_sar.training.assembly import build_pix2pix

    keras.utils.set_random_seed(0)
    nets = build_pix2pix(cfg, "float32")
    rng = np.random.default_rng(1)
    nets.generator.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in nets.generator.get_weights()])
    return nets


@pytest.fixture(scope="module")
def sampler_batch():
    """A sampler pair, two zones masks (one with no data) and their targets."""
    cfg = resolve_config("sampler", assignments=SAMPLER)
    nets = _sampler_nets(cfg)
    rng = np.random.default_rng(1)
    zones = np.kron(rng.choice([64, 127, 254], size=(2, 4, 4)), np.ones((16, 16), int)).astype(np.uint8)
    zones[0, :, 40:] = 0
    masks = tf.constant(CLASS_SCHEMES["zones"].encode(zones))
    sar = rng.uniform(-1, 1, (2, 64, 64, 1))
    targets = tf.constant(np.where(valid_zones(zones)[..., None], sar, -1.0), tf.float32)
    return cfg, nets, masks, targets, valid_zones(zones)[..., None]


def _gradients(nets, cfg, **loss):
    from pix2pix_sar.training.step import make_gradient_fn

    return make_gradient_fn(nets, dataclasses.replace(cfg.loss, **loss), global_batch_size=2, mask_channels=3)


def test_the_step_subtracts_the_capped_distance_of_two_samples(sampler_batch):
    from pix2pix_sar.models.layers import training_keys
    from pix2pix_sar.training.step import LOSS_NAMES, second_sample_keys

    cfg, nets, masks, targets, valid = sampler_batch
    keys = training_keys(0, 0, 0, tf.range(2))
    off, off_gen, _ = _gradients(nets, cfg, diversity_weight=0.0)(masks, targets, keys)
    assert set(off) == set(LOSS_NAMES)  # weight 0: the four parts, as always
    # The distance by hand, from two separate generator calls.
    first = nets.generator([masks, keys], training=True).numpy()
    second = nets.generator([masks, second_sample_keys(keys)], training=True).numpy()
    d = []
    for i in range(2):
        diff = np.where(valid[i], first[i] - second[i], 0.0)[..., 0].reshape(8, 8, 8, 8)
        d.append(np.abs(diff.sum(axis=(1, 3))).sum() / valid[i].sum())
    assert min(d) > 0.01  # the samples differ beyond rounding
    weight, cap = 3.0, (d[0] + d[1]) / 2  # one image capped, one not
    on, on_gen, _ = _gradients(nets, cfg, diversity_weight=weight, diversity_cap=cap)(masks, targets, keys)
    expected = np.minimum(d, cap).sum() / 2
    assert float(on["gen_diversity"]) == pytest.approx(expected, rel=1e-4)
    assert float(on["gen_total"]) == pytest.approx(float(off["gen_total"]) - weight * expected, rel=1e-4, abs=1e-5)
    for name in ("gen_gan", "gen_l1", "disc"):  # D judges the first sample, as without the term
        assert float(on[name]) == pytest.approx(float(off[name]), rel=1e-4, abs=1e-6)
    # Its gradient: twice the term's through the first sample (the second is a constant).
    from pix2pix_sar.training.losses import diversity_loss

    loss_cfg = dataclasses.replace(cfg.loss, diversity_weight=weight, diversity_cap=cap)
    with tf.GradientTape() as tape:
        term = diversity_loss(nets.generator([masks, keys], training=True), second, valid, loss_cfg, 2)
    through_first = tape.gradient(term, nets.generator.trainable_variables)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in through_first) > 1e-3
    for on_g, off_g, g in zip(on_gen, off_gen, through_first):
        np.testing.assert_allclose((on_g - off_g).numpy(), -2 * weight * g.numpy(), rtol=1e-2, atol=1e-5)
    # Both samples past the cap: the term is a constant, its gradient 0.
    capped, capped_gen, _ = _gradients(nets, cfg, diversity_weight=weight, diversity_cap=1e-4)(masks, targets, keys)
    assert float(capped["gen_diversity"]) == pytest.approx(1e-4, rel=1e-5)
    for a, b in zip(capped_gen, off_gen):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-6)


def test_the_train_step_reports_the_four_parts_with_the_term(sampler_batch):
    from pix2pix_sar.training.step import LOSS_NAMES, make_train_step

    cfg, _, masks, targets, _ = sampler_batch
    nets = _sampler_nets(cfg)  # its own: the step changes the weights
    loss = dataclasses.replace(cfg.loss, diversity_weight=1.0)
    losses = make_train_step(tf.distribute.get_strategy(), nets, loss, 2, mask_channels=3)(masks, targets, 0, 0)
    assert set(losses) == set(LOSS_NAMES)  # history.csv's columns; gen_diversity is inside gen_total
    assert all(np.isfinite(float(v)) for v in losses.values())


def test_per_class_caps_cap_each_class_on_its_own():
    from pix2pix_sar.training.losses import diversity_loss, per_example_block_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 2, 16, 16, 1)).astype(np.float32)
    labels = np.zeros((2, 16, 16), np.int32)
    labels[:, :, 8:] = 1  # class 1 on the right half
    labels[1, 8:] = 2  # and class 2 in the lower half of the second image
    valid = np.ones((2, 16, 16, 1), np.float32)
    valid[0, :4] = 0
    caps = (0.05, 10.0, 0.3)
    expected = []
    for i in range(2):
        total = 0.0
        for c, cap in enumerate(caps):
            in_class = (valid[i, ..., 0] > 0) & (labels[i] == c)
            if not in_class.any():
                continue
            d = per_example_block_distance(
                tf.constant(a[i : i + 1]), tf.constant(b[i : i + 1]), tf.constant(in_class[None, ..., None]), 4
            )
            total += in_class.sum() * min(float(d[0]), cap)
        expected.append(total / (valid[i] > 0).sum())
    assert expected[0] != pytest.approx(float(per_example_block_distance(a[:1], b[:1], valid[:1], 4)[0]))
    cfg = LossConfig(diversity_weight=1.0, diversity_block=4, diversity_caps=caps)
    got = diversity_loss(tf.constant(a), tf.constant(b), tf.constant(valid), cfg, 2, tf.constant(labels))
    assert float(got) == pytest.approx(sum(expected) / 2, rel=1e-5)
    # Several image channels (model.out_channels > 1): the mean over channels, so two copies give the same.
    two = diversity_loss(
        tf.constant(np.concatenate([a, a], -1)), tf.constant(np.concatenate([b, b], -1)),
        tf.constant(valid), cfg, 2, tf.constant(labels),
    )  # fmt: skip
    assert float(two) == pytest.approx(float(got), rel=1e-5)
    with pytest.raises(ConfigError):
        LossConfig(diversity_caps=(0.1, 0.0)).validate()


def test_fit_refuses_caps_that_do_not_match_the_classes(zones_dataset):
    from pix2pix_sar.training.loop import _resolve_for_dataset

    cfg = resolve_config("sampler", assignments=["loss.diversity_caps=[0.1,0.2]"])
    with pytest.raises(ConfigError, match="one cap per class") as info:
        _resolve_for_dataset(cfg, zones_dataset)
    assert "rock, glacier, ocean" in str(info.value)
