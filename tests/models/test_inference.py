"""Batch size and replicas are throughput knobs: per-image normalisation and keyed noise."""

import numpy as np

from pix2pix_sar.config import resolve_config
from pix2pix_sar.noise import patch_keys


def _random_generator(dropout: float = 0.5, variant: str = "orig"):
    from pix2pix_sar.models import build_generator

    sets = ["model.patch_size=32", "model.base_filters=8"]
    if variant != "scene":
        sets.append(f"model.dropout={dropout}")
    cfg = resolve_config(variant, assignments=sets).model
    gen = build_generator(cfg)
    rng = np.random.default_rng(0)
    gen.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in gen.get_weights()])
    return gen, cfg


def _masks(n: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (n, size, size, 1)).astype(np.float32)


def test_training_mode_batch_equals_each_image_alone_with_dropout_on():
    gen, _ = _random_generator(dropout=0.5)
    masks, keys = _masks(4), patch_keys(3, np.arange(4))
    batch = gen([masks, keys], training=True).numpy()
    alone = np.concatenate([gen([masks[i : i + 1], keys[i : i + 1]], training=True).numpy() for i in range(4)])
    np.testing.assert_allclose(batch, alone, atol=1e-4)
    # The noise is on and keyed: another key gives another image, the same key the same.
    other = gen([masks[:1], patch_keys(3, [7])], training=True).numpy()
    assert np.abs(other - alone[:1]).max() > 1e-3
    np.testing.assert_array_equal(gen([masks[:1], keys[:1]], training=True).numpy(), alone[:1])


def test_generate_images_does_not_depend_on_batch_size_and_leaves_the_model_untouched():
    from pix2pix_sar.models.inference import generate_images

    gen, cfg = _random_generator(dropout=0.5)
    before = [w.copy() for w in gen.get_weights()]
    masks, keys = _masks(5), patch_keys(0, np.arange(5))
    ones = generate_images(gen, masks, keys, batch_size=1, cfg=cfg)
    for batch_size in (2, 5):
        np.testing.assert_allclose(generate_images(gen, masks, keys, batch_size=batch_size, cfg=cfg), ones, atol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(before, gen.get_weights(), strict=True))


def test_a_step_at_batch_n_is_the_mean_of_n_batch_one_steps():
    import tensorflow as tf

    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.step import make_gradient_fn

    cfg = resolve_config("orig", assignments=["model.patch_size=32", "model.base_filters=8", "model.dropout=0.0"])
    nets = build_pix2pix(cfg, "float32")
    rng = np.random.default_rng(2)
    masks = np.sign(rng.standard_normal((4, 32, 32, 1))).astype(np.float32)
    targets = rng.uniform(-1, 1, (4, 32, 32, 1)).astype(np.float32)
    keys = tf.constant(patch_keys(0, np.arange(4)))
    _, gen_batch, disc_batch = make_gradient_fn(nets, cfg.loss, 4, mask_channels=1)(masks, targets, keys)
    single = make_gradient_fn(nets, cfg.loss, 1, mask_channels=1)
    parts = [single(masks[i : i + 1], targets[i : i + 1], keys[i : i + 1]) for i in range(4)]
    for batch_grads, index in ((gen_batch, 1), (disc_batch, 2)):
        for g, *singles in zip(batch_grads, *(p[index] for p in parts), strict=True):
            mean = np.mean([s.numpy() for s in singles], axis=0)
            np.testing.assert_allclose(g.numpy(), mean, atol=1e-5, rtol=1e-4)


def test_training_keys_differ_per_example_step_and_epoch():
    import tensorflow as tf

    from pix2pix_sar.models.layers import training_keys

    keys = training_keys(0, tf.constant(0), tf.constant(0), tf.range(8)).numpy()
    assert len({tuple(k) for k in keys}) == 8
    later = training_keys(0, tf.constant(0), tf.constant(1), tf.range(8)).numpy()
    next_epoch = training_keys(0, tf.constant(1), tf.constant(0), tf.range(8)).numpy()
    assert not (keys == later).all(axis=1).any() and not (keys == next_epoch).all(axis=1).any()
