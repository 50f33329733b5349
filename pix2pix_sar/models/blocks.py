"""Building blocks of the pix2pix networks (Isola et al. 2017, TF pix2pix tutorial)."""

from __future__ import annotations

import keras

from pix2pix_sar.models.layers import Bilinear2x, PerImageBatchNorm

#: Normalisation layers by ``model.normalization``: each image normalised by its own
#: statistics (BatchNorm at the paper's batch size 1, at any batch size), or none.
NORMALIZATIONS = {"per_image": PerImageBatchNorm, "none": None}


def weight_init(std: float) -> keras.initializers.Initializer:
    """The paper's N(0, std) weight initialiser."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=std)


def encoder_filters(depth: int, base_filters: int) -> list[int]:
    """64, 128, 256, 512, 512, ... for base 64: doubling, capped at 8x base."""
    return [base_filters * min(2**i, 8) for i in range(depth)]


def _norm_layers(normalization: str) -> list[keras.layers.Layer]:
    layer = NORMALIZATIONS[normalization]
    return [layer()] if layer is not None else []


def spectrally_normalized(conv: keras.layers.Layer) -> keras.layers.Layer:
    """`conv` in Keras's SpectralNormalization (Miyato et al. 2018): each training call runs one
    power iteration (a non-trainable vector) and overwrites the kernel with kernel / sigma. The
    wrapper takes the conv's dtype policy: it casts outputs back to its input dtype, and a
    float32 logits conv must stay float32 under mixed precision."""
    return keras.layers.SpectralNormalization(conv, power_iterations=1, dtype=conv.dtype_policy, name=f"{conv.name}_sn")


def downsample(
    filters: int,
    kernel_size: int,
    *,
    normalization: str = "per_image",
    bias: bool = False,
    leaky_slope: float = 0.2,
    init_std: float = 0.02,
    spectral_norm: bool = False,
    name: str | None = None,
) -> keras.Sequential:
    """Conv(stride 2) - [norm] - LeakyReLU: halves height and width. The paper's
    convolutions have no bias (the first encoder block has no norm either)."""
    conv = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=weight_init(init_std),
        use_bias=bias,
    )
    layers = [
        spectrally_normalized(conv) if spectral_norm else conv,
        *_norm_layers(normalization),
        # Keras 3's LeakyReLU defaults to 0.3; the paper uses 0.2.
        keras.layers.LeakyReLU(negative_slope=leaky_slope),
    ]
    return keras.Sequential(layers, name=name)


def doubling(
    filters: int, kernel_size: int, *, upsampling: str = "transpose", bias: bool = False, init_std: float = 0.02
) -> list[keras.layers.Layer]:
    """Layers that double height and width: ConvTranspose(stride 2) (the paper), or
    bilinear 2x then a 3x3 conv ("resize", Odena et al. 2016: no checkerboard pattern
    locked to the stride)."""
    if upsampling == "resize":
        conv = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=weight_init(init_std), use_bias=bias)
        return [Bilinear2x(), conv]
    conv = keras.layers.Conv2DTranspose(
        filters, kernel_size, strides=2, padding="same", kernel_initializer=weight_init(init_std), use_bias=bias
    )
    return [conv]


def upsample(
    filters: int,
    kernel_size: int,
    *,
    normalization: str = "per_image",
    upsampling: str = "transpose",
    bias: bool = False,
    init_std: float = 0.02,
    name: str | None = None,
) -> keras.Sequential:
    """Doubling - [norm] - ReLU: doubles height and width.

    The paper's dropout (between norm and ReLU) is applied by the generator after
    this block, as a keyed layer; dropout commutes with ReLU, so the result is the same."""
    layers = [
        *doubling(filters, kernel_size, upsampling=upsampling, bias=bias, init_std=init_std),
        *_norm_layers(normalization),
        keras.layers.ReLU(),
    ]
    return keras.Sequential(layers, name=name)


def count_parameters(model: keras.Model) -> int:
    """Trainable weights plus BatchNorm statistics, as `model.summary()` of the
    TF pix2pix tutorial counts them (dropout RNG state is not a parameter)."""
    return int(sum(int(keras.ops.size(v)) for v in model.weights if "seed_generator" not in v.path))
