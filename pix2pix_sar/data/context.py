"""Context bands: where in the fjord a pixel is, computed from the whole zone mask.

A patch of 64 pixels cannot tell whether it lies at the calving front or 300 pixels up
the glacier, yet that is what decides the scene's larger structures: crevasse bands
gather near the front, mélange and icebergs in front of it, flow stripes run between
the rock walls. ``prepare --context`` adds these bands to every patch, and a run trained
with them computes them again from each whole mask before tiling (``generate``,
``evaluate --scene``, :func:`pix2pix_sar.load`), so a tile sees the same values as the
whole scene and tiled == whole still holds.

Each band is a distance in pixels, clipped at :data:`CONTEXT_REACH`: the bands are
extra conditioning bands from then on (scaled to [-1, 1] by the dataset's percentiles,
:mod:`pix2pix_sar.data.extra_bands`), named by :data:`CONTEXT_BANDS`, names that user
bands may not take. :func:`context_planes` is the one function that computes them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

from pix2pix_sar import geo
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK, front_mask

#: Distances beyond this (pixels) are all "far": the scale of the structures the bands place.
CONTEXT_REACH = 256.0
#: The unit written into context rasters (and so into dataset.json's band entries).
CONTEXT_UNITS = "pixels"


def _distance_to(targets: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) of every pixel to the nearest True of `targets`,
    clipped at the reach; the reach everywhere when there is none."""
    if not targets.any():
        return np.full(targets.shape, CONTEXT_REACH, np.float32)
    return np.minimum(ndimage.distance_transform_edt(~targets), CONTEXT_REACH).astype(np.float32)


def _front_distance(zones: np.ndarray) -> np.ndarray:
    # The front from both sides: glacier pixels touching ocean and ocean pixels touching glacier.
    front = front_mask(zones) | ((zones == OCEAN) & ndimage.binary_dilation(zones == GLACIER))
    return _distance_to(front)


def _rock_distance(zones: np.ndarray) -> np.ndarray:
    return _distance_to(zones == ROCK)


#: Context band name -> how it is computed from zone codes, in the order they follow user bands.
CONTEXT_BANDS = {"front_distance": _front_distance, "rock_distance": _rock_distance}


def is_context_band(name: str) -> bool:
    return name in CONTEXT_BANDS


def context_planes(zones: np.ndarray, names=tuple(CONTEXT_BANDS)) -> dict[str, np.ndarray]:
    """The context bands `names` of a whole zone mask: name -> (H, W) float32 pixels."""
    zones = np.asarray(zones)
    return {name: CONTEXT_BANDS[name](zones) for name in names}


class ContextRasters:
    """Context bands written as GeoTIFFs on a mask's grid, in a temporary folder that
    lives as long as this object is open: so that `prepare` and `generate` read them as
    they read any extra band (row by row, checked the same way)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="pix2pix-sar-context-")
        self._count = 0

    def __enter__(self) -> "ContextRasters":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._folder.cleanup()

    def write(self, zones: np.ndarray, grid: geo.Grid, names=tuple(CONTEXT_BANDS)) -> dict[str, Path]:
        """Compute `names` from the whole `zones` and write each on `grid`: name -> raster."""
        self._count += 1
        paths = {}
        for name, plane in context_planes(zones, names).items():
            path = Path(self._folder.name) / f"{self._count}_{name}.tif"
            paths[name] = geo.write_geotiff(path, plane, grid, unit=CONTEXT_UNITS)
        return paths
