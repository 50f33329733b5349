"""The `sampler` variant's generator: `scene`'s U-Net made to draw structure, not a texture.

Three changes from `scene` (:mod:`pix2pix_sar.models.generator`), each keeping generation
a fixed, translation-equivariant function of the mask and of keyed noise on the scene's
grid, so any tile still gives the whole scene's pixels:

* 3-D noise (OASIS, Schönfeld et al. 2021): `noise_channels` coordinate-noise channels at
  the bottleneck and the two decoder scales below it (1/16, 1/8, 1/4 at depth 4: where
  16-48 px structure is drawn, terrain, crevasse bands, icebergs), each keyed by scene
  coordinates at its own level; one channel at the finer scales, as in `scene`.
* class-adaptive modulation (CLADE, Tan et al. 2021): after each decoder convolution a
  per-class scale and bias, from the mask averaged down to that scale through a 1x1
  convolution (a lookup for one-hot masks; class fractions at boundaries). No batch or
  instance statistics.
* a speckle stage: the network draws a smooth backscatter (tanh, model units) and
  :class:`~pix2pix_sar.models.layers.SpeckleStage` adds keyed Gamma speckle with the
  data's number of looks (dB of multiplicative speckle), clipped like the targets; a run
  on several sensors with looks per sensor (``model.speckle_looks_by_sensor``) gives each
  pixel its sensor's looks, read from the sensor planes (the last input channels).
"""

from __future__ import annotations

import keras

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.errors import ConfigError, option
from pix2pix_sar.models.blocks import downsample, encoder_filters, weight_init
from pix2pix_sar.models.layers import Bilinear2x, CoordinateNoise, SensorLooks, SpeckleStage
from pix2pix_sar.noise import KEY_SIZE

#: Scales (from the bottleneck down) whose noise has `noise_channels` channels.
COARSE_SCALES = 3


def _with_noise(x, key, level: int, channels: int, name: str):
    """`x` with `channels` more: coordinate noise at the resolution of `level`."""
    if channels == 0:
        return x
    noise = CoordinateNoise(salt=level + 1, level=level, channels=channels, name=name)([x, key])
    return keras.layers.Concatenate(name=f"{name}_concat")([x, noise])


def _modulate(x, mask, level: int, filters: int, name: str):
    """CLADE: ``x * scale(mask) + shift(mask)`` with the mask averaged to `level`'s scale
    (starts as the identity: scale 1, shift 0)."""
    classes = keras.layers.AveragePooling2D(2**level, name=f"{name}_mask")(mask) if level else mask
    scale = keras.layers.Conv2D(filters, 1, kernel_initializer="zeros", bias_initializer="ones", name=f"{name}_scale")
    shift = keras.layers.Conv2D(filters, 1, kernel_initializer="zeros", use_bias=False, name=f"{name}_shift")
    scaled = keras.layers.Multiply(name=f"{name}_scaled")([x, scale(classes)])
    return keras.layers.Add(name=f"{name}_modulated")([scaled, shift(classes)])


def _decoder_block(x, mask, filters: int, level: int, cfg: ModelConfig, name: str):
    """Bilinear 2x - 3x3 conv - CLADE - ReLU: doubles height and width, out at `level`."""
    x = Bilinear2x(name=f"{name}_resize")(x)
    conv = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=weight_init(cfg.init_std), name=name)
    return keras.layers.ReLU(name=f"{name}_relu")(_modulate(conv(x), mask, level, filters, name))


def build_sampler(cfg: ModelConfig, any_size: bool = False) -> keras.Model:
    """The sampler generator: inputs (mask, noise key), output the image in [-1, 1]."""
    if not cfg.speckle_resolved:
        raise ConfigError(
            "model.speckle_looks=-1 takes the looks and model.speckle_db_unit from dataset.json at fit; "
            f"outside fit set both (e.g. {option('assignments')} model.speckle_looks=4 "
            f"{option('assignments')} model.speckle_db_unit=10)"
        )
    if len(cfg.speckle_looks_by_sensor) >= cfg.in_channels:
        raise ConfigError(
            f"model.speckle_looks_by_sensor gives {len(cfg.speckle_looks_by_sensor)} sensors' looks, but the input "
            f"has {cfg.in_channels} channels: the sensor planes come after at least one mask channel"
        )
    depth = cfg.depth
    filters = encoder_filters(depth, cfg.base_filters)
    side = None if any_size else cfg.patch_size

    mask = keras.Input((side, side, cfg.in_channels), name="mask")
    key = keras.Input((KEY_SIZE,), dtype="int32", name="noise_key")
    # Off, speckle is the only randomness at the finest two scales (as in the data): noise
    # there can add to it and lower the ENL below the data's looks.
    fine = 1 if cfg.fine_noise else 0
    x = mask
    if fine:
        x = keras.layers.Concatenate(name="mask_noise")([mask, CoordinateNoise(name="noise")([mask, key])])
    skips = []
    for i, f in enumerate(filters):
        down = downsample(
            f, cfg.generator_kernel, normalization="none", bias=True, leaky_slope=cfg.leaky_slope,
            init_std=cfg.init_std, name=f"down{i + 1}",
        )  # fmt: skip
        x = down(x)
        skips.append(x)

    def channels(level: int) -> int:
        return cfg.noise_channels if level > depth - COARSE_SCALES else fine

    x = _with_noise(x, key, level=depth, channels=channels(depth), name="noise_bottleneck")
    for j, (f, skip) in enumerate(zip(reversed(filters[:-1]), reversed(skips[:-1]))):
        level = depth - 1 - j
        x = _decoder_block(x, mask, f, level, cfg, name=f"up{j + 1}")
        x = _with_noise(x, key, level=level, channels=channels(level), name=f"noise{j + 1}")
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skip])

    x = _with_noise(Bilinear2x(name="image_resize")(x), key, level=0, channels=fine, name="noise_image")
    backscatter = keras.layers.Conv2D(
        cfg.out_channels, 3, padding="same", kernel_initializer=weight_init(cfg.init_std), activation="tanh",
        dtype="float32", name="backscatter" if cfg.speckle_looks > 0 else "image",
    )(x)  # fmt: skip
    image = backscatter
    if cfg.speckle_looks > 0:
        speckle_inputs = [backscatter, key]
        if cfg.speckle_looks_by_sensor:  # each sensor's own looks, from its plane
            speckle_inputs.append(SensorLooks(cfg.speckle_looks_by_sensor, dtype="float32", name="looks")(mask))
        image = SpeckleStage(cfg.speckle_looks, cfg.speckle_db_unit, dtype="float32", name="image")(speckle_inputs)
    return keras.Model([mask, key], image, name="generator")
