"""Discriminators and adversarial losses besides the paper's PatchGAN (issue 22): OASIS's
segmentation discriminator and its class-balanced (N+1)-class loss, LabelMix, the
multi-scale PatchGAN, the low-pass L1; no-data never counts, and a step at batch N stays
the sum of its examples' per-replica parts."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_sar.config import LossConfig, resolve_config
from pix2pix_sar.data.zones import CLASS_SCHEMES, encoded_labels, valid_zones
from pix2pix_sar.errors import ConfigError
from pix2pix_sar.training.losses import discriminator_loss, generator_losses, labelmix_map

SEGMENTATION = ("model.discriminator=segmentation", "loss.adversarial=segmentation")


def _model_config(*assignments, variant="scene", size=64):
    return resolve_config(variant, assignments=["model.base_filters=8", f"model.patch_size={size}", *assignments]).model


def test_segmentation_discriminator_gives_classes_plus_one_logits_per_pixel_image_by_image():
    from pix2pix_sar.models import build_discriminator

    disc = build_discriminator(_model_config(*SEGMENTATION, "model.classes=3"))
    assert len(disc.inputs) == 1 and disc.output_shape == (None, 64, 64, 4)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 1)).astype(np.float32)
    together = disc(images, training=True).numpy()
    alone = np.concatenate([disc(images[i : i + 1], training=True).numpy() for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-5)  # no batch statistics


def test_multiscale_discriminator_judges_the_pair_at_two_scales():
    from pix2pix_sar.models import build_discriminator

    disc = build_discriminator(_model_config("model.discriminator=multiscale"))
    assert [tuple(s) for s in disc.output_shape] == [(None, 6, 6, 1), (None, 2, 2, 1)]


def test_discriminator_and_adversarial_loss_must_match():
    with pytest.raises(ConfigError, match="set loss.adversarial=segmentation"):
        resolve_config("scene", assignments=["model.discriminator=segmentation"])
    with pytest.raises(ConfigError, match="set loss.adversarial=patch"):
        resolve_config("scene", assignments=["loss.adversarial=segmentation"])
    with pytest.raises(ConfigError, match="l1_lowpass"):
        resolve_config("scene", assignments=["loss.l1_lowpass=6"])
    assert resolve_config("scene", assignments=["model.discriminator=multiscale"]).loss.adversarial == "patch"


def test_encoded_labels_are_the_schemes_labels_for_every_scheme():
    zones = np.random.default_rng(1).choice([0, 64, 127, 254], size=(2, 8, 8)).astype(np.uint8)
    for scheme in CLASS_SCHEMES.values():
        expected, valid = scheme.labels(zones)
        got = encoded_labels(tf.constant(scheme.encode(zones)), scheme.channels).numpy()
        np.testing.assert_array_equal(got[valid], expected[valid])


def _softmax_ce(logits, labels):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]


def _oasis_balanced(logits, labels, valid):
    """Per image: OASIS's class-balancing weights (pixels / (classes present x pixels of
    the class)) from the image's valid pixels, weighted CE summed over them / their count."""
    out = []
    for lg, lb, v in zip(logits, labels, valid):
        counts = np.bincount(lb[v], minlength=lg.shape[-1])
        weights = v.sum() / ((counts > 0).sum() * np.maximum(counts, 1))
        out.append((weights[lb] * _softmax_ce(lg, lb))[v].sum() / v.sum())
    return np.array(out)


def test_segmentation_losses_equal_a_numpy_oasis_with_no_data_left_out():
    rng = np.random.default_rng(2)
    n, size, classes = 3, 8, 3
    real, fake = (rng.normal(0, 2, (n, size, size, classes + 1)).astype(np.float32) for _ in range(2))
    labels = rng.choice(3, size=(n, size, size), p=[0.7, 0.2, 0.1]).astype(np.int32)
    labels[1] = np.where(labels[1] == 2, 0, labels[1])  # an image without class 2
    valid = np.ones((n, size, size), bool)
    valid[:, :, 5:] = False  # no data on the right
    cfg = LossConfig(adversarial="segmentation", l1_weight=0.0)
    image = np.zeros((n, size, size, 1), np.float32)

    def losses(real, fake):
        gen = generator_losses(fake, image, image, cfg, n, valid=valid[..., None], labels=labels)
        disc = discriminator_loss(real, fake, n, adversarial="segmentation", labels=labels, valid=valid[..., None])
        return float(gen["gen_gan"]), float(disc)

    gen_gan, disc = losses(real, fake)
    assert gen_gan == pytest.approx(_oasis_balanced(fake, labels, valid).mean(), rel=1e-5)
    fake_ce = np.array([_softmax_ce(f, np.full(labels[0].shape, classes))[v].mean() for f, v in zip(fake, valid)])
    assert disc == pytest.approx((_oasis_balanced(real, labels, valid) + fake_ce).mean(), rel=1e-5)
    # Not the unbalanced mean: the rare classes weigh more.
    plain = np.mean([_softmax_ce(f, lb)[v].mean() for f, lb, v in zip(fake, labels, valid)])
    assert abs(gen_gan - plain) > 1e-3
    # Logits under no data (even NaN) change nothing.
    dirty_real, dirty_fake = real.copy(), fake.copy()
    dirty_real[~valid], dirty_fake[~valid] = np.nan, 1e6
    assert losses(dirty_real, dirty_fake) == pytest.approx((gen_gan, disc), rel=1e-6)


def test_lowpass_l1_compares_block_means_of_valid_pixels():
    rng = np.random.default_rng(3)
    target, fake = (rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32) for _ in range(2))
    valid = np.ones((2, 16, 16, 1), np.float32)
    valid[1, :, 12:] = 0  # a block half no-data, another all no-data
    fake[1, :, 12:] = np.nan
    got = generator_losses(tf.zeros((2, 2, 2, 1)), fake, target, LossConfig(l1_lowpass=8), 2, valid=valid)["gen_l1"]
    expected = []
    for t, f, v in zip(target[..., 0], fake[..., 0], valid[..., 0] > 0):
        blocks = [
            abs(
                t[i : i + 8, j : j + 8][v[i : i + 8, j : j + 8]].mean()
                - f[i : i + 8, j : j + 8][v[i : i + 8, j : j + 8]].mean()
            )
            for i in (0, 8)
            for j in (0, 8)
            if v[i : i + 8, j : j + 8].any()
        ]
        expected.append(np.mean(blocks))
    assert float(got) == pytest.approx(np.mean(expected), rel=1e-5)


def test_labelmix_map_draws_whole_classes_by_key():
    from pix2pix_sar.models.layers import training_keys

    labels = tf.constant(np.random.default_rng(4).integers(0, 3, (8, 16, 16)), tf.int32)
    keys = training_keys(0, 0, 0, tf.range(8))
    mix = labelmix_map(labels, keys).numpy()[..., 0]
    for m, lb in zip(mix, labels.numpy()):
        for c in range(3):
            assert len(np.unique(m[lb == c])) == 1  # one draw per class and image
    assert 0 < mix.mean() < 1  # real and generated both drawn
    alone = labelmix_map(labels[3:4], keys[3:4]).numpy()[..., 0]
    np.testing.assert_array_equal(alone[0], mix[3])  # keyed: the batch does not matter


KINDS = {
    "patch": (),
    "multiscale": ("model.discriminator=multiscale", "loss.l1_lowpass=8"),
    "segmentation": (*SEGMENTATION, "model.classes=3", "loss.labelmix_weight=1.0", "loss.l1_weight=0.0"),
    # Spectral norm: each training call of D runs a power iteration and rescales the kernels in place.
    "segmentation_spectral_norm": (
        *SEGMENTATION,
        "model.classes=3",
        "loss.labelmix_weight=1.0",
        "loss.l1_weight=0.0",
        "model.spectral_norm=true",
    ),  # fmt: skip
    # The sampler with the mode-seeking term: a second sample per image, keyed by its example.
    "sampler_diversity": (
        *SEGMENTATION,
        "model.classes=3",
        "loss.l1_weight=0.0",
        "model.generator=sampler",
        "model.noise_channels=8",
        "model.speckle_looks=4",
        "model.speckle_db_unit=10",
        "loss.diversity_weight=1.0",
    ),  # fmt: skip
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_step_at_batch_2_is_the_sum_of_its_examples_parts(kind):
    """What each replica computes for its example (divided by the global batch) sums to
    the whole batch's losses and gradients: no per-batch statistics, keyed noise and mix."""
    import keras

    from pix2pix_sar.models.layers import training_keys
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.step import make_gradient_fn

    tiny = ["model.base_filters=8", "model.patch_size=64", "model.in_channels=3"]
    cfg = resolve_config("scene", assignments=[*tiny, *KINDS[kind]])
    keras.utils.set_random_seed(0)
    nets = build_pix2pix(cfg, "float32")
    rng = np.random.default_rng(5)
    zones = rng.choice([64, 127, 254], size=(2, 64, 64)).astype(np.uint8)
    zones[0, :, 40:] = 0  # some no data
    masks = tf.constant(CLASS_SCHEMES["zones"].encode(zones))
    targets = tf.constant(np.where(valid_zones(zones)[..., None], rng.uniform(-1, 1, (2, 64, 64, 1)), -1.0), tf.float32)
    gradients = make_gradient_fn(nets, cfg.loss, global_batch_size=2, mask_channels=3)
    keys = training_keys(0, 0, 0, tf.range(2))
    # Every call starts from the same D: spectral norm's power iteration changes D's state once
    # per step (as every replica does, from the same mirrored values), whatever the batch.
    state = nets.discriminator.get_weights()

    def from_state(*args):
        nets.discriminator.set_weights(state)
        return gradients(*args)

    whole = from_state(masks, targets, keys)
    changed = any(not np.array_equal(a, b) for a, b in zip(state, nets.discriminator.get_weights()))
    assert changed == cfg.model.spectral_norm
    parts = [from_state(masks[i : i + 1], targets[i : i + 1], keys[i : i + 1]) for i in range(2)]
    for name, value in whole[0].items():
        assert np.isfinite(float(value))
        assert float(value) == pytest.approx(sum(float(p[0][name]) for p in parts), rel=1e-4, abs=1e-6)
    for net in (1, 2):
        for w, a, b in zip(whole[net], parts[0][net], parts[1][net]):
            np.testing.assert_allclose(w.numpy(), (a + b).numpy(), rtol=1e-3, atol=1e-5)


def test_fit_trains_the_segmentation_discriminator_with_the_datasets_classes(zones_dataset, tiny_config, tmp_path):
    from pix2pix_sar.run_folder import RunFolder
    from pix2pix_sar.training.loop import fit

    cfg = tiny_config("scene", *SEGMENTATION, "loss.l1_weight=0.0", "training.batch_size=16", epochs=1)
    fit(cfg, zones_dataset, tmp_path / "run")
    run = RunFolder(tmp_path / "run")
    assert run.load_config().model.classes == 3  # rock, glacier, ocean
    (row,) = list(csv.DictReader(run.history_csv.open()))
    assert all(np.isfinite(float(row[k])) for k in ("gen_total", "gen_gan", "gen_l1", "disc"))
    assert float(row["gen_total"]) == pytest.approx(float(row["gen_gan"]), rel=1e-5)  # no L1
