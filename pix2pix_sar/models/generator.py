"""U-Net generator of pix2pix, its depth following the patch size."""

from __future__ import annotations

import math

import keras

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.blocks import downsample, upsample, weight_init

#: Decoder blocks nearest the bottleneck that apply dropout (pix2pix: 3).
DROPOUT_BLOCKS = 3


def unet_depth(patch_size: int) -> int:
    """Number of encoder blocks: down to 1x1 at the bottleneck (8 at 256)."""
    return int(math.log2(patch_size))


def encoder_filters(depth: int, base_filters: int) -> list[int]:
    """64, 128, 256, 512, 512, ... for base 64: doubling, capped at 8x base."""
    return [base_filters * min(2**i, 8) for i in range(depth)]


def build_generator(cfg: ModelConfig) -> keras.Model:
    """pix2pix U-Net: `depth` encoder blocks, `depth - 1` decoder blocks with skip
    connections, and a final ConvTranspose + tanh to `out_channels`."""
    depth = unet_depth(cfg.patch_size)
    filters = encoder_filters(depth, cfg.base_filters)
    k = cfg.generator_kernel

    inputs = keras.Input((cfg.patch_size, cfg.patch_size, cfg.in_channels), name="mask")
    x = inputs
    skips = []
    for i, f in enumerate(filters):
        x = downsample(
            f,
            k,
            batchnorm=i > 0,
            leaky_slope=cfg.leaky_slope,
            init_std=cfg.init_std,
            name=f"down{i + 1}",
        )(x)
        skips.append(x)

    # Mirror the encoder: decoder block j joins encoder output depth-2-j.
    for j, (f, skip) in enumerate(zip(reversed(filters[:-1]), reversed(skips[:-1]))):
        x = upsample(
            f,
            k,
            dropout=cfg.dropout if j < DROPOUT_BLOCKS else 0.0,
            init_std=cfg.init_std,
            name=f"up{j + 1}",
        )(x)
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skip])

    outputs = keras.layers.Conv2DTranspose(
        cfg.out_channels,
        k,
        strides=2,
        padding="same",
        kernel_initializer=weight_init(cfg.init_std),
        activation="tanh",
        dtype="float32",  # keep the image in float32 under mixed precision
        name="image",
    )(x)
    return keras.Model(inputs, outputs, name="generator")
