"""U-Net generator of pix2pix (the paper's variants) and of the `scene` variant.

Inputs: the encoded mask (N, H, W, C) and a noise key (N, 4) int32 (see
:mod:`pix2pix_sar.models.layers`). The paper's generator goes down to a 1x1
bottleneck (depth = log2(patch size)) and draws its noise as keyed dropout in the
three decoder blocks nearest the bottleneck. The `scene` variant has a fixed depth
(its bottleneck grows with the input), no normalisation, and takes its noise as
an extra input channel drawn from the scene's pixel coordinates: a fixed,
translation-equivariant function with a finite receptive field. The `sampler`
variant's generator is built by :mod:`pix2pix_sar.models.sampler`.
"""

from __future__ import annotations

import math

import keras

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.blocks import downsample, encoder_filters, upsample, weight_init
from pix2pix_sar.models.layers import Bilinear2x, CoordinateNoise, KeyedDropout
from pix2pix_sar.models.sampler import build_sampler
from pix2pix_sar.noise import KEY_SIZE

#: Decoder blocks nearest the bottleneck that apply dropout (pix2pix: 3).
DROPOUT_BLOCKS = 3


def unet_depth(patch_size: int) -> int:
    """Number of encoder blocks of the paper's U-Net: down to 1x1 (8 at 256)."""
    return int(math.log2(patch_size))


def _with_noise(x, key, level: int, name: str):
    """`x` with one more channel: coordinate noise at the resolution of `level`
    (the scene variant's noise enters at every decoder scale, so texture down to
    single pixels, like speckle, has a source)."""
    return keras.layers.Concatenate(name=f"{name}_concat")(
        [x, CoordinateNoise(salt=level + 1, level=level, name=name)([x, key])]
    )


def build_generator(cfg: ModelConfig, any_size: bool = False) -> keras.Model:
    """The generator `cfg.generator` names (:data:`GENERATOR_BUILDERS`).

    With `any_size` the input takes any height and width that are multiples of
    2**depth (whole-scene generation); else the patch size."""
    return GENERATOR_BUILDERS[cfg.generator](cfg, any_size)


def build_unet(cfg: ModelConfig, any_size: bool = False) -> keras.Model:
    """U-Net: `depth` encoder blocks, `depth - 1` decoder blocks with skip connections,
    and a final ConvTranspose + tanh to `out_channels`.

    With `any_size` the input takes any height and width that are multiples of
    2**depth (whole-scene generation); else the patch size."""
    depth = cfg.depth
    filters = encoder_filters(depth, cfg.base_filters)
    k = cfg.generator_kernel
    side = None if any_size else cfg.patch_size

    mask = keras.Input((side, side, cfg.in_channels), name="mask")
    key = keras.Input((KEY_SIZE,), dtype="int32", name="noise_key")
    x = mask
    if cfg.noise == "coordinates":
        x = keras.layers.Concatenate(name="mask_noise")([mask, CoordinateNoise(name="noise")([mask, key])])
    bias = cfg.normalization == "none"  # without norm, convolutions need their bias
    skips = []
    for i, f in enumerate(filters):
        x = downsample(
            f,
            k,
            normalization=cfg.normalization if i > 0 else "none",
            bias=bias,
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
            normalization=cfg.normalization,
            upsampling=cfg.upsampling,
            bias=bias,
            init_std=cfg.init_std,
            name=f"up{j + 1}",
        )(x)
        if j < DROPOUT_BLOCKS and cfg.dropout > 0:
            x = KeyedDropout(cfg.dropout, salt=j + 1, name=f"dropout{j + 1}")([x, key])
        if cfg.noise == "coordinates":
            x = _with_noise(x, key, level=depth - 1 - j, name=f"noise{j + 1}")
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skip])

    if cfg.upsampling == "resize":
        x = Bilinear2x(name="image_resize")(x)
        if cfg.noise == "coordinates":
            x = _with_noise(x, key, level=0, name="noise_image")
        last = keras.layers.Conv2D(cfg.out_channels, 3, padding="same", kernel_initializer=weight_init(cfg.init_std),
                                   activation="tanh", dtype="float32", name="image")  # fmt: skip
    else:
        last = keras.layers.Conv2DTranspose(
            cfg.out_channels,
            k,
            strides=2,
            padding="same",
            kernel_initializer=weight_init(cfg.init_std),
            activation="tanh",
            dtype="float32",  # keep the image in float32 under mixed precision
            name="image",
        )
    outputs = last(x)
    return keras.Model([mask, key], outputs, name="generator")


#: Generator builders by ``model.generator``: ``(cfg, any_size) -> keras.Model``.
GENERATOR_BUILDERS = {"unet": build_unet, "sampler": build_sampler}
