"""Context bands: where in the fjord a pixel is, computed from the whole zone mask.

A patch of 64 pixels cannot tell whether it lies at the calving front or 300 pixels up
the glacier, yet that is what decides the scene's larger structures: crevasse bands
gather near the front, mélange and icebergs in front of it, flow stripes run between
the rock walls. ``prepare --context`` adds these bands to every patch, and a run trained
with them computes them again from each whole mask before tiling (``generate``,
``evaluate --scene``, :func:`pix2pix_sar.load`), so a tile sees the same values as the
whole scene and tiled == whole still holds.

Two bands are distances in pixels, clipped at :data:`CONTEXT_REACH`; the others are the
phase of the distance to the front on the glacier (0 elsewhere), sin and cos of 2 pi d / P
for the periods :data:`FRONT_PHASE_PERIODS` (positional encodings, as in NeRF or transformer
positions): bands parallel to the front at any spacing and phase are then a sum of input
planes, not a periodic function a few convolutions would have to learn from a distance. All are extra
conditioning bands from then on (scaled to [-1, 1] by the dataset's percentiles,
:mod:`pix2pix_sar.data.extra_bands`), named by :data:`CONTEXT_BANDS`, names that user
bands may not take. :func:`context_planes` is the one function that computes them.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage

from pix2pix_sar import geo
from pix2pix_sar.config import ModelConfig
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK, front_mask
from pix2pix_sar.errors import ConfigError, option

#: Distances beyond this (pixels) are all "far": the scale of the structures the bands place.
CONTEXT_REACH = 256.0
#: Periods (pixels) of the front-phase bands: octaves over the spacings of crevasse bands,
#: flow-stripe wiggles and mélange rims at 6-20 m pixels.
FRONT_PHASE_PERIODS = (8, 16, 32, 64)


def _distance_to(targets: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) of every pixel to the nearest True of `targets`,
    clipped at the reach; the reach everywhere when there is none."""
    if not targets.any():
        return np.full(targets.shape, CONTEXT_REACH, np.float32)
    return np.minimum(ndimage.distance_transform_edt(~targets), CONTEXT_REACH).astype(np.float32)


class _Distances:
    """The distance planes of one whole mask, each computed once however many bands use it."""

    def __init__(self, zones: np.ndarray) -> None:
        self.zones = zones

    @functools.cached_property
    def front(self) -> np.ndarray:
        # The front from both sides: glacier pixels touching ocean and ocean pixels touching glacier.
        zones = self.zones
        return _distance_to(front_mask(zones) | ((zones == OCEAN) & ndimage.binary_dilation(zones == GLACIER)))

    @functools.cached_property
    def rock(self) -> np.ndarray:
        return _distance_to(self.zones == ROCK)


def _front_phase(distances: _Distances, period: int, wave) -> np.ndarray:
    # On the glacier only: its crevasse bands and ogives follow the flow to the front, while
    # rock terrain and open water do not (with the phase everywhere, a run drew bands on rock).
    phase = wave(2.0 * np.pi / period * distances.front)
    return np.where(distances.zones == GLACIER, phase, 0.0).astype(np.float32)


#: Context band name -> (how it is computed from a mask's distances, its unit), in the order
#: the bands follow user bands.
CONTEXT_BANDS = {
    "front_distance": (lambda d: d.front, "pixels"),
    "rock_distance": (lambda d: d.rock, "pixels"),
    **{
        f"front_{wave.__name__}_{period}": (functools.partial(_front_phase, period=period, wave=wave), "1")
        for period in FRONT_PHASE_PERIODS
        for wave in (np.sin, np.cos)
    },
}


def is_context_band(name: str) -> bool:
    return name in CONTEXT_BANDS


def context_planes(zones: np.ndarray, names=tuple(CONTEXT_BANDS)) -> dict[str, np.ndarray]:
    """The context bands `names` of a whole zone mask: name -> (H, W) float32 pixels."""
    distances = _Distances(np.asarray(zones))
    return {name: CONTEXT_BANDS[name][0](distances) for name in names}


class ContextRasters:
    """Context bands written as GeoTIFFs on a mask's grid, in a temporary folder that
    lives as long as this object is open: so that `prepare` and `generate` read them as
    they read any extra band (row by row, checked the same way)."""

    def __init__(self, names=tuple(CONTEXT_BANDS)) -> None:
        self.names = tuple(names)  # the bands `write` computes unless told others
        self._folder = tempfile.TemporaryDirectory(prefix="pix2pix-sar-context-")
        self._count = 0

    def __enter__(self) -> "ContextRasters":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._folder.cleanup()

    def write(self, zones: np.ndarray, grid: geo.Grid, names=None) -> dict[str, Path]:
        """Compute `names` (default: this object's) from the whole `zones` and write each on
        `grid`: name -> raster."""
        self._count += 1
        paths = {}
        for name, plane in context_planes(zones, self.names if names is None else names).items():
            path = Path(self._folder.name) / f"{self._count}_{name}.tif"
            paths[name] = geo.write_geotiff(path, plane, grid, unit=CONTEXT_BANDS[name][1])
        return paths


def resolve_front_phase(model: ModelConfig, bands: Sequence, first_channel: int, source: str) -> ModelConfig:
    """`model` with :attr:`~pix2pix_sar.config.ModelConfig.front_phase_bands` taken from the
    dataset's extra bands `bands` (BandScalings, in input order after `first_channel` mask
    channels) where ``model.front_phase_shift`` > 0: each period with both its sin and cos
    band; unchanged when the shift is off."""
    if model.front_phase_shift == 0:
        return model
    index = {band.name: i for i, band in enumerate(bands)}
    resolved = []
    for period in FRONT_PHASE_PERIODS:
        sin, cos = index.get(f"front_sin_{period}"), index.get(f"front_cos_{period}")
        if sin is not None and cos is not None:
            s, c = bands[sin], bands[cos]
            resolved.append(
                (float(first_channel + sin), float(first_channel + cos), float(period), s.low, s.high, c.low, c.high)
            )
    if not resolved:
        raise ConfigError(
            f"{source}: has no front-phase bands (front_sin_P and front_cos_P) for model.front_phase_shift; "
            f"prepare the dataset with {option('context')} or set model.front_phase_shift=0"
        )
    return dataclasses.replace(model, front_phase_bands=tuple(resolved))


def resolve_iceberg_gate(model: ModelConfig, class_names: Sequence[str], source: str) -> ModelConfig:
    """`model` with :attr:`~pix2pix_sar.config.ModelConfig.iceberg_gate_channel` set to the
    ocean's one-hot channel where ``model.iceberg_noise`` > 0 or the iceberg stage is on
    (``model.iceberg_share`` not 0); unchanged when both are off."""
    if model.iceberg_noise == 0 and model.iceberg_share == 0:
        return model
    if "ocean" not in class_names or len(class_names) < 3:
        name = "model.iceberg_noise" if model.iceberg_noise else "model.iceberg_share"
        raise ConfigError(
            f"{source}: {name} puts icebergs in the ocean's one-hot channel, but the classes are "
            f"{', '.join(class_names)}; prepare the dataset with {option('classes')} zones or set {name}=0"
        )
    return dataclasses.replace(model, iceberg_gate_channel=list(class_names).index("ocean"))
