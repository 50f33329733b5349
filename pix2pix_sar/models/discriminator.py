"""PatchGAN discriminator of pix2pix (70x70 receptive field with 4x4 kernels)."""

from __future__ import annotations

import keras

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.blocks import downsample, weight_init
from pix2pix_sar.models.layers import PerImageBatchNorm


def build_discriminator(cfg: ModelConfig) -> keras.Model:
    """Inputs: the mask and an image (real or generated); output: patch logits
    (30x30 at 256 with 4x4 kernels, 32x32 with 3x3). Every norm is per image, so a
    batch of N pairs is judged as N separate batch-1 calls would be."""
    k = cfg.discriminator_kernel
    base = cfg.base_filters
    size = cfg.patch_size
    mask = keras.Input((size, size, cfg.in_channels), name="mask")
    image = keras.Input((size, size, cfg.out_channels), name="image")
    x = keras.layers.Concatenate(name="pair")([mask, image])
    for i, f in enumerate((base, base * 2, base * 4)):
        x = downsample(
            f,
            k,
            normalization="per_image" if i > 0 else "none",
            leaky_slope=cfg.leaky_slope,
            init_std=cfg.init_std,
            name=f"down{i + 1}",
        )(x)
    x = keras.layers.ZeroPadding2D(name="pad1")(x)
    x = keras.layers.Conv2D(
        base * 8, k, strides=1, kernel_initializer=weight_init(cfg.init_std), use_bias=False, name="conv"
    )(x)
    x = PerImageBatchNorm(name="bn")(x)
    x = keras.layers.LeakyReLU(negative_slope=cfg.leaky_slope, name="lrelu")(x)
    x = keras.layers.ZeroPadding2D(name="pad2")(x)
    logits = keras.layers.Conv2D(
        1, k, strides=1, kernel_initializer=weight_init(cfg.init_std), dtype="float32", name="logits"
    )(x)
    return keras.Model([mask, image], logits, name="discriminator")
