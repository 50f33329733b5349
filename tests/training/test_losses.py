"""The pix2pix objective: directions of the GAN terms, the loss weights of every
variant, and no-data never counting (L1 over valid pixels, hide_nodata)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_sar.config import LossConfig, resolve_config
from pix2pix_sar.training.losses import discriminator_loss, generator_losses, hide_nodata

LOG2 = math.log(2.0)


def half_nodata(rng, n=3, size=16):
    """Targets and fakes (N, H, W, 1) whose right half is no-data (valid 0 there)."""
    target = rng.uniform(-1, 1, (n, size, size, 1)).astype(np.float32)
    fake = rng.uniform(-1, 1, (n, size, size, 1)).astype(np.float32)
    valid = np.ones((n, size, size, 1), np.float32)
    valid[:, :, size // 2 :] = 0.0
    return target, fake, valid


def logits(value, n=2):
    return tf.fill((n, 4, 4, 1), float(value))


def losses(fake, target, valid=None, disc_fake=None, cfg=None, batch=None):
    cfg = LossConfig() if cfg is None else cfg
    disc_fake = logits(0.0, len(fake)) if disc_fake is None else disc_fake
    return {
        k: float(v) for k, v in generator_losses(disc_fake, fake, target, cfg, batch or len(fake), valid=valid).items()
    }


def test_l1_of_a_half_nodata_patch_is_the_l1_of_its_valid_half():
    target, fake, valid = half_nodata(np.random.default_rng(0))
    got = losses(fake, target, valid)["gen_l1"]
    half = target.shape[2] // 2
    expected = np.abs(target[:, :, :half] - fake[:, :, :half]).mean(axis=(1, 2, 3)).mean()
    assert got == pytest.approx(expected, rel=1e-6)
    # Without a mask every pixel counts (the old behaviour).
    assert losses(fake, target)["gen_l1"] == pytest.approx(np.abs(target - fake).mean(), rel=1e-6)
    # A boolean mask means the same as a float one.
    assert losses(fake, target, valid > 0)["gen_l1"] == pytest.approx(got, rel=1e-7)


def test_garbage_under_nodata_changes_neither_the_loss_nor_its_gradient():
    target, fake, valid = half_nodata(np.random.default_rng(1))
    clean = losses(fake, target, valid)["gen_l1"]
    dirty_target, dirty_fake = target.copy(), fake.copy()
    dirty_target[valid == 0] = np.nan
    dirty_target[0, 0, -1, 0] = np.inf
    dirty_fake[valid == 0] = 1e6
    assert losses(dirty_fake, dirty_target, valid)["gen_l1"] == pytest.approx(clean, rel=1e-7)

    fake_var = tf.Variable(dirty_fake)
    with tf.GradientTape() as tape:
        loss = generator_losses(logits(0.0, 3), fake_var, dirty_target, LossConfig(), 3, valid=valid)["gen_l1"]
    grad = tape.gradient(loss, fake_var).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad[valid == 0] == 0) and np.any(grad[valid == 1] != 0)


def test_an_example_without_valid_pixels_adds_zero_and_averaging_is_over_the_global_batch():
    target, fake, valid = half_nodata(np.random.default_rng(2), n=2)
    valid[1] = 0.0
    first = np.abs(target[0, :, :8] - fake[0, :, :8]).mean()
    out = losses(fake, target, valid)
    assert np.isfinite(out["gen_l1"]) and out["gen_l1"] == pytest.approx(first / 2, rel=1e-6)
    # A replica's share of a global batch of 4: its per-example losses divided by 4.
    assert losses(fake, target, valid, batch=4)["gen_l1"] == pytest.approx(first / 4, rel=1e-6)


def test_zero_logits_give_log2_and_the_labels_point_the_right_way():
    fake = target = np.zeros((2, 8, 8, 1), np.float32)
    assert losses(fake, target, disc_fake=logits(0.0))["gen_gan"] == pytest.approx(LOG2, rel=1e-6)
    assert float(discriminator_loss(logits(0.0), logits(0.0), 2)) == pytest.approx(2 * LOG2, rel=1e-6)

    # D fooled (fake logits large and positive): the generator's GAN loss is small, D's large.
    assert losses(fake, target, disc_fake=logits(10.0))["gen_gan"] < 1e-3
    assert losses(fake, target, disc_fake=logits(-10.0))["gen_gan"] > 9.0
    assert float(discriminator_loss(logits(0.0), logits(10.0), 2)) > 10.0

    # D right (real +10, fake -10): its loss is about 0; a loss with the labels swapped
    # would see exactly this as the worst case.
    right = float(discriminator_loss(logits(10.0), logits(-10.0), 2))
    wrong = float(discriminator_loss(logits(-10.0), logits(10.0), 2))
    assert right == pytest.approx(2 * math.log1p(math.exp(-10.0)), rel=1e-4) and right < 1e-3
    assert wrong == pytest.approx(2 * (10.0 + math.log1p(math.exp(-10.0))), rel=1e-4)


@pytest.mark.parametrize("variant", ["orig", "l1_1_gan100", "l1_50_gan50"])
def test_every_variants_loss_weights_reach_the_loss(variant):
    cfg = resolve_config(variant).loss
    rng = np.random.default_rng(3)
    target, fake, valid = half_nodata(rng, n=2)
    disc_fake = rng.normal(0, 2, (2, 4, 4, 1)).astype(np.float32)
    out = losses(fake, target, valid, disc_fake=tf.constant(disc_fake), cfg=cfg)

    # By hand: BCE with label 1 is softplus(-logit); L1 over the valid left half.
    gen_gan = np.log1p(np.exp(-disc_fake.astype(np.float64))).mean(axis=(1, 2, 3)).mean()
    gen_l1 = np.abs(target[:, :, :8] - fake[:, :, :8]).astype(np.float64).mean(axis=(1, 2, 3)).mean()
    assert out["gen_gan"] == pytest.approx(gen_gan, rel=1e-5)
    assert out["gen_l1"] == pytest.approx(gen_l1, rel=1e-5)
    assert out["gen_total"] == pytest.approx(cfg.gan_weight * gen_gan + cfg.l1_weight * gen_l1, rel=1e-5)
    expected_weights = {"orig": (1.0, 100.0), "l1_1_gan100": (100.0, 1.0), "l1_50_gan50": (50.0, 50.0)}
    assert (cfg.gan_weight, cfg.l1_weight) == expected_weights[variant]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float16])
def test_hide_nodata_puts_minus_one_exactly_where_the_zone_is_zero(dtype):
    rng = np.random.default_rng(4)
    zones = rng.choice([0, 64, 127, 254], size=(2, 8, 8))
    fake = rng.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    fake[0, 0, 0, 0] = np.nan  # garbage at a valid pixel stays: only no-data is replaced
    valid = (zones != 0)[..., None]
    for mask in (valid, valid.astype(np.float32)):
        out = hide_nodata(tf.constant(fake, dtype), mask)
        assert out.dtype == dtype and out.shape == fake.shape
        out = out.numpy().astype(np.float32)
        assert np.all(out[~valid] == -1.0)
        np.testing.assert_array_equal(out[valid], tf.constant(fake, dtype).numpy().astype(np.float32)[valid])
    other = hide_nodata(fake, valid, nodata_value=0.5).numpy()
    assert np.all(other[~valid] == 0.5)
