"""Building blocks of the pix2pix networks (Isola et al. 2017, TF pix2pix tutorial)."""

from __future__ import annotations

import keras


def weight_init(std: float) -> keras.initializers.Initializer:
    """The paper's N(0, std) weight initialiser."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=std)


def downsample(
    filters: int,
    kernel_size: int,
    *,
    batchnorm: bool = True,
    leaky_slope: float = 0.2,
    init_std: float = 0.02,
    name: str | None = None,
) -> keras.Sequential:
    """Conv(stride 2) - [BatchNorm] - LeakyReLU: halves height and width."""
    layers = [
        keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=2,
            padding="same",
            kernel_initializer=weight_init(init_std),
            use_bias=False,
        )
    ]
    if batchnorm:
        layers.append(keras.layers.BatchNormalization())
    # Keras 3's LeakyReLU defaults to 0.3; the paper uses 0.2.
    layers.append(keras.layers.LeakyReLU(negative_slope=leaky_slope))
    return keras.Sequential(layers, name=name)


def upsample(
    filters: int,
    kernel_size: int,
    *,
    dropout: float = 0.0,
    init_std: float = 0.02,
    name: str | None = None,
) -> keras.Sequential:
    """ConvTranspose(stride 2) - BatchNorm - [Dropout] - ReLU: doubles height and width."""
    layers = [
        keras.layers.Conv2DTranspose(
            filters,
            kernel_size,
            strides=2,
            padding="same",
            kernel_initializer=weight_init(init_std),
            use_bias=False,
        ),
        keras.layers.BatchNormalization(),
    ]
    if dropout > 0:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.ReLU())
    return keras.Sequential(layers, name=name)


def count_parameters(model: keras.Model) -> int:
    """Trainable weights plus BatchNorm statistics, as `model.summary()` of the
    TF pix2pix tutorial counts them (dropout RNG state is not a parameter)."""
    return int(sum(int(keras.ops.size(v)) for v in model.weights if "seed_generator" not in v.path))
