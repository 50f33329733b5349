"""SAR value scaling: input units -> dB -> clipped -> [-1, 1], and back.

The parameters are stored in dataset.json so that generated images can be
written in the units the user brought.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from pix2pix_sar.errors import InputError

#: Units a scene can be in, and the factor k of dB = k * log10(value). "db" and "dn"
#: (already-scaled 8/16-bit numbers whose physics we do not know) pass through as they are:
#: for "dn", db_min/db_max are a clip range in DN.
DB_FACTORS = {"intensity": 10.0, "amplitude": 20.0, "db": None, "dn": None}
#: The GDAL band unit type that names each of those units in a written raster, and that
#: `prepare` reads back before guessing (see :func:`units_of_unit_type`).
UNIT_TYPES = {"intensity": "intensity", "amplitude": "amplitude", "db": "dB", "dn": "DN"}


def units_of_unit_type(unit_type: str | None) -> str | None:
    """The units a band's GDAL unit type names ("dB", "decibel", "intensity", "amplitude",
    "DN"; any case), or None for anything else (e.g. "m", or unset)."""
    text = (unit_type or "").strip().lower()
    return "db" if text == "decibel" else text if text in DB_FACTORS else None


def to_db(values: np.ndarray, units: str) -> np.ndarray:
    """Convert linear intensity/amplitude to dB (dB passes through). Non-positive -> NaN."""
    factor = DB_FACTORS[units]
    values = np.asarray(values, dtype=np.float64)
    if factor is None:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, factor * np.log10(np.where(values > 0, values, 1.0)), np.nan)


def from_db(db: np.ndarray, units: str) -> np.ndarray:
    factor = DB_FACTORS[units]
    db = np.asarray(db, dtype=np.float64)
    return db if factor is None else 10.0 ** (db / factor)


@dataclass(frozen=True)
class SarScaling:
    """Maps values in `units` to [-1, 1] via dB clipped to [db_min, db_max]."""

    units: str
    db_min: float
    db_max: float
    #: The input's data type and no-data value, so outputs can be written like the input.
    dtype: str = "float32"
    nodata: float | None = None

    def __post_init__(self) -> None:
        if self.units not in DB_FACTORS:
            raise InputError(f"unknown units {self.units!r}; use one of {', '.join(DB_FACTORS)}")
        if not self.db_max > self.db_min:
            raise InputError(f"scaling range is empty: db_min {self.db_min} >= db_max {self.db_max}")

    def to_model(self, values: np.ndarray) -> np.ndarray:
        db = np.clip(to_db(values, self.units), self.db_min, self.db_max)
        return (2.0 * (db - self.db_min) / (self.db_max - self.db_min) - 1.0).astype(np.float32)

    def model_to_db(self, scaled: np.ndarray) -> np.ndarray:
        """Model range [-1, 1] -> dB (float64; clipped to [db_min, db_max] like the training targets)."""
        x = np.clip(np.asarray(scaled, dtype=np.float64), -1.0, 1.0)
        return (x + 1.0) / 2.0 * (self.db_max - self.db_min) + self.db_min

    def from_model(self, scaled: np.ndarray) -> np.ndarray:
        """Model range -> the input's units (integer inputs: rounded and clipped to their type)."""
        values = from_db(self.model_to_db(scaled), self.units)
        dtype = np.dtype(self.dtype)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            return np.clip(np.rint(values), info.min, info.max).astype(dtype)
        return values.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SarScaling":
        nodata = data.get("nodata")
        return cls(
            str(data["units"]),
            float(data["db_min"]),
            float(data["db_max"]),
            str(data.get("dtype", "float32")),
            None if nodata is None else float(nodata),
        )


def fit_scaling(
    db_samples: np.ndarray,
    units: str,
    percentiles: tuple[float, float] = (1.0, 99.0),
    dtype: str = "float32",
    nodata: float | None = None,
) -> SarScaling:
    """Clip range from percentiles of valid dB samples (no-data already removed)."""
    db_samples = db_samples[np.isfinite(db_samples)]
    if db_samples.size == 0:
        raise InputError("no valid SAR pixels to compute the scaling from")
    lo, hi = np.percentile(db_samples, percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return SarScaling(units, round(float(lo), 6), round(float(hi), 6), dtype, nodata)
