import dataclasses

import numpy as np
import pytest

from pix2pix_sar.config import VARIANTS, resolve_config


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_builds_with_the_right_shapes(variant):
    from pix2pix_sar.models import build_discriminator, build_generator, unet_depth

    fit_sets = ["model.speckle_looks=4", "model.speckle_db_unit=10"] if variant == "sampler" else []  # from the data
    cfg = resolve_config(variant, assignments=["model.patch_size=64", "model.base_filters=8", *fit_sets]).model
    gen, disc = build_generator(cfg), build_discriminator(cfg)
    assert gen.input_shape == [(None, 64, 64, 1), (None, 4)] and gen.output_shape == (None, 64, 64, 1)
    assert unet_depth(64) == 6 and len([item for item in gen.layers if item.name.startswith("down")]) == cfg.depth
    if cfg.discriminator == "segmentation":  # the image alone; the classes and "fake" per pixel
        assert disc(np.zeros((2, 64, 64, 1), np.float32)).shape == (2, 64, 64, cfg.classes + 1)
    else:
        out = disc([np.zeros((2, 64, 64, 1), np.float32)] * 2)
        # 64 -> 32 -> 16 -> 8 -> pad 10 -> conv k -> pad -> conv k
        side = 8 + 2 - cfg.discriminator_kernel + 1 + 2 - cfg.discriminator_kernel + 1
        assert out.shape == (2, side, side, 1)
    image = gen([np.ones((1, 64, 64, 1), np.float32), np.zeros((1, 4), np.int32)], training=False)
    assert np.all(np.abs(image) <= 1.0)  # tanh


def test_blocks_follow_the_paper():
    import keras

    from pix2pix_sar.models import build_generator
    from pix2pix_sar.models.layers import KeyedDropout

    cfg = resolve_config("orig", assignments=["model.patch_size=32", "model.base_filters=8"]).model
    gen = build_generator(cfg)
    layers = list(gen._flatten_layers())
    slopes = {item.negative_slope for item in layers if isinstance(item, keras.layers.LeakyReLU)}
    assert slopes == {0.2}
    dropouts = [item for item in layers if isinstance(item, KeyedDropout)]
    assert len(dropouts) == 3 and all(d.rate == 0.5 for d in dropouts)
    down1 = gen.get_layer("down1")
    assert not any(isinstance(item, keras.layers.BatchNormalization) for item in down1.layers)
    kernels = [
        item.kernel
        for item in layers
        if isinstance(item, keras.layers.Conv2D) and not isinstance(item, keras.layers.Conv2DTranspose)
    ]
    assert all(k.shape[:2] == (4, 4) for k in kernels)
    assert 0.015 < float(np.std(kernels[-1].numpy())) < 0.025  # N(0, 0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant, generator_params, discriminator_params, logits",
    [
        ("orig", 54_419_713, 2_766_337, 30),
        ("gen5", 85_018_561, 2_766_337, 30),
        ("dis3", 54_419_713, 1_557_633, 32),
    ],
)
def test_exact_parameter_counts_at_256(variant, generator_params, discriminator_params, logits):
    from pix2pix_sar.models import build_discriminator
    from pix2pix_sar.models.summary import parameter_counts

    cfg = resolve_config(variant).model
    assert parameter_counts(cfg) == (generator_params, discriminator_params)
    assert build_discriminator(cfg).output_shape == (None, logits, logits, 1)


@pytest.mark.slow
def test_three_channel_counts_match_the_tf_tutorial():
    from pix2pix_sar.models.summary import parameter_counts

    cfg = dataclasses.replace(resolve_config("orig").model, in_channels=3, out_channels=3)
    assert parameter_counts(cfg) == (54_425_859, 2_770_433)
