"""Extra conditioning bands: rasters beside the mask (elevation, incidence angle, ...).

``prepare --extra dem=copdem.tif`` (repeatable) gives each band a name and a raster in
any CRS and grid, or a folder of one raster per scene (scene NAME.tif pairs with
NAME_<band>.tif or NAME.tif there, as masks pair). Each band is warped onto the
scene's grid (:func:`pix2pix_sar.geo.warp_band`): resampled by ``average`` where the
band's pixels are finer than the scene's, ``bilinear`` where they are coarser. Missing
values over the ocean are 0 (DEMs such as REMA or ArcticDEM have no data over the sea)
and do not count as no data; elsewhere a missing value is no data, like the SAR's.

Each band is scaled to [-1, 1] from its 1st and 99th percentiles over all kept
patches (values outside are clipped); :class:`BandScaling` records that in
dataset.json, in the order the bands were given. The generator's input is the mask
channels followed by the bands in that order, then (a run conditioned on the sensor)
one constant one-hot plane per sensor (:func:`encode_inputs`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.context import CONTEXT_BANDS
from pix2pix_sar.data.sensors import conditioning_sensors, sensor_planes
from pix2pix_sar.data.zones import OCEAN, ClassScheme
from pix2pix_sar.errors import InputError, option

#: Band names: lower-case words (they name patch files and dataset.json entries).
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: Names the patch files already use.
RESERVED_NAMES = ("sar", "mask")
#: Percentiles of the kept patches' values that map to -1 and 1.
PERCENTILES = (1.0, 99.0)
#: The value a band takes where the zone is ocean and the band has no data (metres of elevation).
OCEAN_FILL = 0.0
#: Raster suffixes of a folder of per-scene bands.
_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class ExtraBandInput:
    """A named band: one raster for all scenes, or a folder of one raster per scene."""

    name: str
    path: Path

    @classmethod
    def parse(cls, text: str, option_field: str = "extras") -> "ExtraBandInput":
        """``NAME=RASTER`` (a file or a folder) -> an input; a one-line error otherwise."""
        name, sep, path = text.partition("=")
        name = name.strip()
        if not sep or not path:
            flag = option(option_field)
            raise InputError(f"{flag} {text!r}: give NAME=RASTER, e.g. {flag} dem=copdem.tif")
        check_band_name(name, option_field)
        return cls(name, Path(path))

    def raster_for(self, scene: Path) -> Path:
        """The raster of this band for `scene`: the file itself, or the scene's file in the folder."""
        if not self.path.exists():
            raise InputError(f"band {self.name}: {self.path}: no such file or folder; check the path")
        if not self.path.is_dir():
            return self.path
        for stem in (f"{scene.stem}_{self.name}", scene.stem):
            for suffix in _SUFFIXES:
                candidate = self.path / f"{stem}{suffix}"
                if candidate.exists() and candidate.resolve() != scene.resolve():
                    return candidate
        raise InputError(
            f"band {self.name}: no {scene.stem}_{self.name}.tif (or {scene.stem}.tif) in {self.path} for {scene}; "
            "add it or give one raster for all scenes"
        )


def check_band_name(name: str, option_field: str = "extras") -> str:
    if name in CONTEXT_BANDS:
        raise InputError(
            f"{option(option_field)} {name}=...: {name} is a context band, computed from the mask; "
            f"add {option('context')} instead, or give the band another name"
        )
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise InputError(
            f"{option(option_field)} {name}=...: band names are lower-case words (letters, digits, _) other than "
            f"{' and '.join(RESERVED_NAMES)}, e.g. dem"
        )
    return name


def check_unique(names: Sequence[str], option_field: str = "extras") -> None:
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise InputError(f"{option(option_field)}: band {repeated[0]} is given twice; give each band once")


def choose_resampling(band_grid: geo.Grid, target: geo.Grid) -> str:
    """``average`` where the band's pixels are finer than the target's (every source pixel
    counts), ``bilinear`` where they are the same or coarser (a smooth surface, no blocks)."""
    band_size, target_size = geo.pixel_size_m(band_grid), geo.pixel_size_m(target)
    if not (math.isfinite(band_size) and math.isfinite(target_size)):
        band_size = math.sqrt(abs(band_grid.geotransform[1] * band_grid.geotransform[5]))
        target_size = math.sqrt(abs(target.geotransform[1] * target.geotransform[5]))
    return "average" if band_size < target_size * (1 - 1e-6) else "bilinear"


@dataclass(frozen=True)
class BandScaling:
    """How one band maps to the model's [-1, 1]: [low, high] (its 1st/99th percentiles
    over the kept patches, in `units`) -> [-1, 1], clipped; and how it was resampled."""

    name: str
    units: str
    low: float
    high: float
    resampling: str

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise InputError(f"band {self.name}: scaling range is empty: low {self.low} >= high {self.high}")

    def to_model(self, values: np.ndarray) -> np.ndarray:
        clipped = np.clip(np.asarray(values, np.float64), self.low, self.high)
        return (2.0 * (clipped - self.low) / (self.high - self.low) - 1.0).astype(np.float32)

    def from_model(self, scaled: np.ndarray) -> np.ndarray:
        return self.low + (np.clip(np.asarray(scaled, np.float64), -1.0, 1.0) + 1.0) / 2.0 * (self.high - self.low)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BandScaling":
        return cls(
            str(data["name"]),
            str(data.get("units", "")),
            float(data["low"]),
            float(data["high"]),
            str(data["resampling"]),
        )


def fit_band_scaling(name: str, units: str, samples: np.ndarray, resampling: str) -> BandScaling:
    """The scaling of a band from its sampled values over the kept patches."""
    samples = samples[np.isfinite(samples)]
    if not samples.size:
        raise InputError(f"band {name}: holds no data inside the kept patches; check its coverage and CRS")
    low, high = (float(v) for v in np.percentile(samples, PERCENTILES))
    if not high > low:
        # A constant band (e.g. flat terrain): any range that holds it; it maps to -1.
        high = low + 1.0
    return BandScaling(name, units, low, high, resampling)


def band_on_grid(path: Path, grid: geo.Grid, resampling: str, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A band's values (its units) on `grid` and where it has no data; over the ocean
    missing values become :data:`OCEAN_FILL` and are not missing."""
    values, missing = geo.warp_band(path, grid, resampling)
    sea = missing & (zones == OCEAN)
    values[sea] = OCEAN_FILL
    return values, missing & ~sea


def band_units(path: Path) -> str:
    """The band's units as its file states them ("" when unknown); "m" for metres."""
    unit = geo.band_unit(path).strip()
    return "m" if unit.lower() in ("m", "metre", "metres", "meter", "meters") else unit


def encode_inputs(
    scheme: ClassScheme,
    zones: np.ndarray,
    extras: np.ndarray | None,
    sensors: Sequence[str] = (),
    vocabulary: Sequence[str] = (),
    source: str = "the data",
) -> np.ndarray:
    """The generator's input: the mask channels of `zones` (N, H, W), then the scaled
    bands `extras` (N, H, W, K) in their recorded order (none when None), then, for a run
    conditioned on the sensors `vocabulary` (data/sensors.py), one-hot constant planes of
    each patch's sensor `sensors` (N codes)."""
    masks = scheme.encode(zones)
    parts = [masks]
    if extras is not None and extras.shape[-1]:
        parts.append(np.asarray(extras, np.float32))
    if vocabulary:
        parts.append(sensor_planes(sensors, vocabulary, zones.shape[-2:], source))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def encode_picked(
    scheme: ClassScheme,
    split,
    pick: np.ndarray,
    data_bands: Sequence[str],
    run_info,
    sensor_conditioning: bool,
    source: str,
) -> np.ndarray:
    """The generator input of the patches `pick` of `split` (a
    :class:`~pix2pix_sar.data.dataset.SplitArrays` of a dataset whose bands are
    `data_bands`) for a run trained on `run_info` (its DatasetInfo) with its config's
    data.sensor_conditioning: the run's bands in its order (:func:`select_bands`) and,
    where the run is conditioned on the sensor, each patch's own sensor
    (:func:`encode_inputs`). `source` names the dataset in errors."""
    extras = select_bands(split.extras, data_bands, run_info.band_names, source)
    return encode_inputs(
        scheme,
        split.zones[pick],
        None if extras is None else extras[pick],
        [split.sensors[i] for i in pick],
        conditioning_sensors(run_info.sensors, sensor_conditioning),
        source,
    )


def select_bands(
    extras: np.ndarray | None, available: Sequence[str], wanted: Sequence[str], source: str
) -> np.ndarray | None:
    """The planes of `extras` (..., K) named `wanted`, in that order (None when none is
    wanted); a band the dataset lacks is refused with a message naming it."""
    if not wanted:
        return None
    missing = [name for name in wanted if name not in available]
    if missing or extras is None:
        raise InputError(
            f"{source}: has no extra band {(missing or list(wanted))[0]}, which the run was trained with; "
            f"use a dataset prepared with the same {option('extras')} bands"
        )
    return extras[..., [list(available).index(name) for name in wanted]]
