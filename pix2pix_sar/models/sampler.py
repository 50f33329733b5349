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

Four options, off by default (0), each a pure function of the key's seed words and scene
coordinates (:class:`~pix2pix_sar.models.layers.SmoothField`), so tiles still agree:

* ``model.front_phase_shift``: the front-phase context bands are a fixed function of the
  mask, so the glacier's bands parallel to the front would sit in the same place in every
  sample; a smooth keyed displacement of the front distance (that many pixels std, 64-512 px
  waves) moves them (:class:`~pix2pix_sar.models.front_shift.FrontPhaseShift`), for the encoder
  and the CLADE modulation alike.
* ``model.smooth_noise_channels``: smooth random fields (32-256 px waves) beside the input,
  for terrain and large structures that the blocky 1/16-scale noise cannot place smoothly.
* ``model.iceberg_noise``: sparse soft disks in the ocean class
  (:class:`~pix2pix_sar.models.object_noise.KeyedBlobs`) beside the input: compact bright
  objects are hard to grow from white noise, so the generator gets candidate icebergs at
  keyed places it can keep or drop.
* ``model.iceberg_share``: an iceberg stage before the speckle stage
  (:class:`~pix2pix_sar.models.object_noise.IcebergStage`): keyed soft disks in the ocean
  raised by a contrast in dB, as many and as large and bright as `prepare` measured in the
  data (:mod:`pix2pix_sar.data.icebergs`); the network is left the mélange and the sea.
"""

from __future__ import annotations

import keras

from pix2pix_sar.config import FRONT_SHIFT_WAVELENGTHS, SMOOTH_NOISE_WAVELENGTHS, ModelConfig
from pix2pix_sar.errors import ConfigError, option
from pix2pix_sar.models.blocks import downsample, encoder_filters, weight_init
from pix2pix_sar.models.front_shift import FrontPhaseShift
from pix2pix_sar.models.layers import (
    Bilinear2x,
    CoordinateNoise,
    SensorLooks,
    SmoothField,
    SpeckleStage,
)
from pix2pix_sar.models.object_noise import IcebergStage, KeyedBlobs
from pix2pix_sar.noise import KEY_SIZE

#: Scales (from the bottleneck down) whose noise has `noise_channels` channels.
COARSE_SCALES = 3
#: Salts of the front-distance displacement and of the smooth noise channels (apart from
#: CoordinateNoise's 0-5 and the speckle's 101).
FRONT_SHIFT_SALT, SMOOTH_NOISE_SALT = 201, 202


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
    if not cfg.iceberg_resolved:
        raise ConfigError(
            "model.iceberg_noise and model.iceberg_share take the ocean's input channel (model.iceberg_gate_channel) "
            "from the dataset's classes at fit, and model.iceberg_share=-1 the icebergs from dataset.json; outside fit "
            "set model.iceberg_gate_channel (and model.iceberg_share > 0), or model.iceberg_noise=0 and "
            "model.iceberg_share=0"
        )
    if not cfg.front_phase_resolved:
        raise ConfigError(
            "model.front_phase_shift takes the front-phase bands' channels and scaling (model.front_phase_bands) "
            "from dataset.json at fit; outside fit set model.front_phase_bands or model.front_phase_shift=0"
        )
    depth = cfg.depth
    filters = encoder_filters(depth, cfg.base_filters)
    side = None if any_size else cfg.patch_size

    inputs = keras.Input((side, side, cfg.in_channels), name="mask")
    key = keras.Input((KEY_SIZE,), dtype="int32", name="noise_key")
    mask = inputs
    if cfg.front_phase_shift > 0:
        low, high = FRONT_SHIFT_WAVELENGTHS
        field = SmoothField(1, FRONT_SHIFT_SALT, low, high, dtype="float32", name="front_shift_field")([inputs, key])
        shift = FrontPhaseShift(cfg.front_phase_bands, cfg.front_phase_shift, dtype="float32", name="front_shift")
        mask = shift([inputs, field])
    # Off, speckle is the only randomness at the finest two scales (as in the data): noise
    # there can add to it and lower the ENL below the data's looks.
    fine = 1 if cfg.fine_noise else 0
    parts = [mask]
    if fine:
        parts.append(CoordinateNoise(name="noise")([mask, key]))
    if cfg.smooth_noise_channels:
        low, high = SMOOTH_NOISE_WAVELENGTHS
        smooth = SmoothField(cfg.smooth_noise_channels, SMOOTH_NOISE_SALT, low, high, name="smooth_noise")
        parts.append(smooth([mask, key]))
    if cfg.iceberg_noise > 0:
        blobs = KeyedBlobs(probability=cfg.iceberg_noise, gate_channel=cfg.iceberg_gate_channel, name="iceberg_noise")
        parts.append(blobs([inputs, key]))
    x = keras.layers.Concatenate(name="mask_noise")(parts) if len(parts) > 1 else mask
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
    if cfg.iceberg_share > 0:  # before the speckle: icebergs are speckled as the rest
        stage = IcebergStage(
            cfg.iceberg_share, cfg.iceberg_contrast_db, cfg.iceberg_radius, cfg.speckle_db_unit,
            cfg.iceberg_gate_channel, dtype="float32", name="icebergs",
        )  # fmt: skip
        image = backscatter = stage([backscatter, inputs, key])
    if cfg.speckle_looks > 0:
        speckle_inputs = [backscatter, key]
        if cfg.speckle_looks_by_sensor:  # each sensor's own looks, from its plane
            speckle_inputs.append(SensorLooks(cfg.speckle_looks_by_sensor, dtype="float32", name="looks")(inputs))
        image = SpeckleStage(cfg.speckle_looks, cfg.speckle_db_unit, dtype="float32", name="image")(speckle_inputs)
    return keras.Model([inputs, key], image, name="generator")
