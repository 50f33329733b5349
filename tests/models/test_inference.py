import numpy as np

from pix2pix_sar.config import resolve_config


def _generator_with_random_batchnorm():
    from pix2pix_sar.models import build_generator

    cfg = resolve_config("orig", assignments=["model.patch_size=32", "model.base_filters=8", "model.dropout=0.0"]).model
    gen = build_generator(cfg)
    rng = np.random.default_rng(0)
    gen.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in gen.get_weights()])
    return gen


def test_batched_generation_equals_one_image_at_a_time():
    from pix2pix_sar.models.inference import generate_images

    gen = _generator_with_random_batchnorm()
    masks = np.random.default_rng(1).uniform(-1, 1, (5, 32, 32, 1)).astype(np.float32)
    one_by_one = np.concatenate([gen(masks[i : i + 1], training=True).numpy() for i in range(5)])
    for batch_size in (1, 2, 5):
        np.testing.assert_allclose(generate_images(gen, masks, batch_size=batch_size), one_by_one, atol=1e-5)
    # Plain training-mode batching would mix statistics between images.
    assert np.abs(gen(masks, training=True).numpy() - one_by_one).max() > 1e-2


def test_generation_leaves_the_trained_model_untouched():
    from pix2pix_sar.models.inference import generate_images

    gen = _generator_with_random_batchnorm()
    before = [w.copy() for w in gen.get_weights()]
    generate_images(gen, np.zeros((2, 32, 32, 1), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(before, gen.get_weights()))
