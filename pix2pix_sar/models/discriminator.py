"""Discriminators, chosen by ``model.discriminator`` (:data:`DISCRIMINATORS`): the PatchGAN
of pix2pix (70x70 receptive field with 4x4 kernels), PatchGANs at two scales (pix2pixHD),
and the segmentation U-Net of OASIS (Schönfeld et al., ICLR 2021). Every norm is per image,
so a batch of N images is judged as N separate batch-1 calls would be. With
``model.spectral_norm`` every conv is spectrally normalised, as in OASIS: its state (a
vector per conv, and the kernel it rescales) changes once per training call, not per image."""

from __future__ import annotations

import math

import keras

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.blocks import downsample, spectrally_normalized, weight_init
from pix2pix_sar.models.layers import Bilinear2x, PerImageBatchNorm

#: Deepest encoder of the segmentation discriminator (OASIS: 6 at 256 px, a 4x4 bottleneck).
SEGMENTATION_MAX_DEPTH = 6
#: Widest encoder block of the segmentation discriminator, in base filters.
SEGMENTATION_MAX_WIDTH = 4


def _conv(cfg: ModelConfig, conv: keras.layers.Conv2D) -> keras.layers.Layer:
    """`conv`, spectrally normalised where ``cfg.spectral_norm`` asks (OASIS's discriminator)."""
    return spectrally_normalized(conv) if cfg.spectral_norm else conv


def _patch_logits(cfg: ModelConfig, mask, image, prefix: str = ""):
    """PatchGAN logits of the (mask, image) pair (30x30 at 256 with 4x4 kernels, 32x32 with 3x3)."""
    k, base = cfg.discriminator_kernel, cfg.base_filters
    x = keras.layers.Concatenate(name=f"{prefix}pair")([mask, image])
    for i, f in enumerate((base, base * 2, base * 4)):
        x = downsample(
            f,
            k,
            normalization="per_image" if i > 0 else "none",
            leaky_slope=cfg.leaky_slope,
            init_std=cfg.init_std,
            spectral_norm=cfg.spectral_norm,
            name=f"{prefix}down{i + 1}",
        )(x)
    x = keras.layers.ZeroPadding2D(name=f"{prefix}pad1")(x)
    x = _conv(
        cfg,
        keras.layers.Conv2D(
            base * 8, k, strides=1, kernel_initializer=weight_init(cfg.init_std), use_bias=False, name=f"{prefix}conv"
        ),
    )(x)
    x = PerImageBatchNorm(name=f"{prefix}bn")(x)
    x = keras.layers.LeakyReLU(negative_slope=cfg.leaky_slope, name=f"{prefix}lrelu")(x)
    x = keras.layers.ZeroPadding2D(name=f"{prefix}pad2")(x)
    logits = keras.layers.Conv2D(
        1, k, strides=1, kernel_initializer=weight_init(cfg.init_std), dtype="float32", name=f"{prefix}logits"
    )
    return _conv(cfg, logits)(x)


def _pair_inputs(cfg: ModelConfig):
    size = cfg.patch_size
    mask = keras.Input((size, size, cfg.in_channels), name="mask")
    image = keras.Input((size, size, cfg.out_channels), name="image")
    return mask, image


def build_patch_discriminator(cfg: ModelConfig) -> keras.Model:
    """Inputs: the mask and an image (real or generated); output: patch logits."""
    mask, image = _pair_inputs(cfg)
    return keras.Model([mask, image], _patch_logits(cfg, mask, image), name="discriminator")


def build_multiscale_discriminator(cfg: ModelConfig) -> keras.Model:
    """pix2pixHD's two-scale PatchGAN: one on the pair, one on the pair averaged 2x2
    (twice the receptive field); outputs both logit maps as a list."""
    mask, image = _pair_inputs(cfg)
    half_mask = keras.layers.AveragePooling2D(2, name="half_mask")(mask)
    half_image = keras.layers.AveragePooling2D(2, name="half_image")(image)
    outputs = [_patch_logits(cfg, mask, image), _patch_logits(cfg, half_mask, half_image, prefix="half_")]
    return keras.Model([mask, image], outputs, name="discriminator")


def segmentation_depth(patch_size: int) -> int:
    """Encoder blocks of the segmentation discriminator: down to 4x4, at most
    SEGMENTATION_MAX_DEPTH (its bottleneck sees the whole patch)."""
    return max(1, min(SEGMENTATION_MAX_DEPTH, int(math.log2(patch_size)) - 2))


def build_segmentation_discriminator(cfg: ModelConfig) -> keras.Model:
    """OASIS's discriminator, small: a U-Net on the image alone (no mask input) whose
    output is ``cfg.classes + 1`` logits per pixel at full resolution: the mask's
    classes, then "fake" (index ``cfg.classes``). Encoder: strided convs (per-image norm
    after the first); decoder: bilinear 2x, the encoder's map of that size, 3x3 conv, no
    norm (OASIS has none). Widths are capped and the decoder's halved: at 64 px and base
    32 a step of `scene` with it costs about 1.2x one with the PatchGAN (measured; with
    the decoder as wide as the encoder and normalised, 1.7x)."""
    k, base, slope, std = cfg.discriminator_kernel, cfg.base_filters, cfg.leaky_slope, cfg.init_std
    image = keras.Input((cfg.patch_size, cfg.patch_size, cfg.out_channels), name="image")
    widths = [base * min(2**i, SEGMENTATION_MAX_WIDTH) for i in range(segmentation_depth(cfg.patch_size))]
    x, skips = image, [image]
    for i, f in enumerate(widths):
        norm = "per_image" if i > 0 else "none"
        x = downsample(
            f,
            k,
            normalization=norm,
            leaky_slope=slope,
            init_std=std,
            spectral_norm=cfg.spectral_norm,
            name=f"down{i + 1}",
        )(x)
        skips.append(x)
    skips.pop()  # the bottleneck is x itself
    for i in reversed(range(len(widths))):
        x = Bilinear2x(name=f"up{i + 1}_resize")(x)
        x = keras.layers.Concatenate(name=f"up{i + 1}_skip")([x, skips[i]])
        filters = max(widths[max(i - 1, 0)] // 2, 4)
        conv = keras.layers.Conv2D(
            filters, 3, padding="same", kernel_initializer=weight_init(std), name=f"up{i + 1}_conv"
        )
        x = keras.layers.LeakyReLU(negative_slope=slope, name=f"up{i + 1}_lrelu")(_conv(cfg, conv)(x))
    logits = keras.layers.Conv2D(
        cfg.classes + 1, 1, kernel_initializer=weight_init(std), dtype="float32", name="logits"
    )
    logits = _conv(cfg, logits)(x)
    return keras.Model(image, logits, name="discriminator")


#: Builders by ``model.discriminator``.
DISCRIMINATORS = {
    "patch": build_patch_discriminator,
    "multiscale": build_multiscale_discriminator,
    "segmentation": build_segmentation_discriminator,
}


def build_discriminator(cfg: ModelConfig) -> keras.Model:
    """The discriminator ``cfg.discriminator`` names."""
    return DISCRIMINATORS[cfg.discriminator](cfg)
