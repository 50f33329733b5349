"""The SAR sensors a dataset may name: CaFFe's seven codes and what `synth --sensor` renders of each.

One vocabulary (:data:`SENSORS`, CaFFe's ``<Satellite>`` codes in its file names) for every
place a sensor enters: CaFFe names (:mod:`pix2pix_sar.data.caffe`), ``prepare --sensor``, and
a scene's GeoTIFF metadata item :data:`SENSOR_METADATA_ITEM` (which ``synth --sensor`` writes).

Each sensor's characteristics (docs/data.md has the table and the sources): band and
wavelength, the pixel size its CaFFe images have, the equivalent number of looks of its
standard multi-looked product and a typical noise floor (NESZ) follow the missions'
documentation and CaFFe, rounded and approximate; the calibration offset and the band
textures (:data:`BAND_TEXTURES`) are
illustrative, chosen so that sensors and bands differ the way they are known to
(longer wavelengths: darker, smoother sea; shorter: brighter, rougher), not measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.errors import InputError, option

#: The GeoTIFF metadata item (default domain) naming a scene's sensor; `prepare` reads it.
SENSOR_METADATA_ITEM = "SENSOR"


def stated_sensor(sar) -> tuple[str, str]:
    """(what the GeoTIFF `sar` says its sensor is, stripped; "" when it says nothing, where
    it says so, for messages): its metadata item :data:`SENSOR_METADATA_ITEM`. The one
    reader of that item (``prepare`` and a run's generator for a real scene)."""
    stated = geo.raster_metadata(sar).get(SENSOR_METADATA_ITEM, "").strip()
    return stated, f"{sar} (metadata item {SENSOR_METADATA_ITEM})"


@dataclass(frozen=True)
class Sensor:
    code: str  # CaFFe's code, as in its file names
    mission: str
    band: str  # "C", "L" or "X"
    wavelength_cm: float
    pixel_size_m: float  # the pixel size of its images in CaFFe
    looks: float  # equivalent number of looks of the standard multi-looked product
    nesz_db: float  # noise-equivalent sigma0: the noise floor
    calibration_db: float  # whole-image brightness offset (illustrative)


@dataclass(frozen=True)
class BandTexture:
    """How a radar band changes the synthetic scene (illustrative multipliers and offsets)."""

    ocean_db: float  # added to the sea's brightness (Bragg scattering weakens with wavelength)
    ocean_texture: float  # wind texture amplitude
    glacier_texture: float  # surface texture amplitude (shorter waves: more surface roughness)
    crevasse_contrast: float  # crevasse band brightness (longer waves: deeper, clearer)


#: CaFFe's sensor codes in a fixed order (the order dataset.json lists them in).
SENSORS: dict[str, Sensor] = {
    s.code: s
    for s in (
        Sensor("ERS", "ERS-1/2 SAR", "C", 5.66, 20.0, 3.0, -24.0, 0.0),
        Sensor("ENVISAT", "Envisat ASAR", "C", 5.63, 20.0, 3.0, -22.0, 0.5),
        Sensor("RSAT", "RADARSAT-1", "C", 5.66, 20.0, 4.0, -21.0, -0.5),
        Sensor("PALSAR", "ALOS PALSAR", "L", 23.6, 17.0, 2.0, -28.0, 0.0),
        Sensor("TSX", "TerraSAR-X", "X", 3.11, 7.0, 2.5, -19.0, 1.0),
        Sensor("TDX", "TanDEM-X", "X", 3.11, 7.0, 2.5, -19.0, 1.0),
        Sensor("S1", "Sentinel-1", "C", 5.55, 20.0, 4.4, -25.0, 0.0),
    )
}

#: Band -> texture; C is the reference (what `synth` draws without a sensor).
BAND_TEXTURES: dict[str, BandTexture] = {
    "C": BandTexture(0.0, 1.0, 1.0, 1.0),
    "L": BandTexture(-5.0, 0.6, 0.7, 1.3),
    "X": BandTexture(1.5, 1.3, 1.3, 0.8),
}


def sensor_named(name: str, source: str) -> Sensor:
    """The sensor called `name` (any case), or a one-line error naming `source` (where the
    name came from) and listing the known names."""
    found = SENSORS.get(str(name).strip().upper())
    if found is None:
        raise InputError(f"{source}: unknown sensor {name!r}; use one of {', '.join(SENSORS)}")
    return found


def sensor_order(codes) -> list[str]:
    """The distinct codes among `codes` (empty ones left out), in :data:`SENSORS`' order."""
    present = set(codes)
    return [code for code in SENSORS if code in present]


#: A dataset conditions its runs on the sensor only when it holds at least this many.
CONDITIONING_MIN = 2


def conditioning_sensors(sensors, conditioned: bool = True) -> tuple[str, ...]:
    """The sensors a run on a dataset listing `sensors` is conditioned on: all of them
    when there are two or more, none otherwise (a run then behaves as before sensors).
    `conditioned`: the run's data.sensor_conditioning; False (a sensor-blind run): none."""
    sensors = tuple(sensors)
    return sensors if conditioned and len(sensors) >= CONDITIONING_MIN else ()


def check_sensor(name: str | None, vocabulary, source: str) -> str:
    """`name` as one of the run's `vocabulary` (any case): required when the run has
    sensors, refused when it has none; one-line errors naming `source`."""
    vocabulary = tuple(vocabulary)
    if not vocabulary:
        if name:
            raise InputError(f"{source} is not conditioned on the sensor; leave out {option('sensor')}")
        return ""
    if not name:
        raise InputError(
            f"{source} is conditioned on the sensor; give {option('sensor')}, one of {', '.join(vocabulary)}"
        )
    code = str(name).strip().upper()
    if code not in vocabulary:
        raise InputError(f"{source}: unknown sensor {name!r}; this run knows {', '.join(vocabulary)}")
    return code


def sensor_planes(codes, vocabulary, shape: tuple[int, int], source: str) -> np.ndarray:
    """(N, H, W, S) float32 one-hot planes: 1 in the plane of patch i's sensor `codes[i]`,
    0 elsewhere; constant over each patch, so tiles agree with the whole scene. A code
    outside the run's `vocabulary` is refused, naming `source`."""
    vocabulary = list(vocabulary)
    codes = list(codes)
    unknown = sorted({c for c in codes if c not in vocabulary})
    if unknown:
        raise InputError(
            f"{source}: sensor {unknown[0] or 'unknown'} is not one the run was trained on "
            f"({', '.join(vocabulary)}); use data of those sensors"
        )
    index = np.array([vocabulary.index(c) for c in codes], np.int64)
    onehot = np.eye(len(vocabulary), dtype=np.float32)[index]  # (N, S)
    height, width = shape
    return np.broadcast_to(onehot[:, None, None, :], (len(codes), height, width, len(vocabulary))).copy()
