"""The number of looks of a SAR dataset, and the speckle settings a model takes from it.

`prepare` estimates the equivalent number of looks (ENL = mean² / variance of linear
intensity over a homogeneous area) and writes it to dataset.json as ``looks``; the
`sampler` variant's speckle stage draws Gamma speckle with that many looks.

Estimate: 8x8 blocks inside one class, split into the two halves of a checkerboard.
Per class, the 10 % of blocks whose first half varies least (coefficient of variation)
are taken as homogeneous, and the ENL is 1 / mean(CV²) of their *second* halves.
Choosing and measuring on the same pixels would keep the blocks whose speckle happened
to be calm (measured on synth scenes: +30 to +40 %); speckle is independent from pixel
to pixel, so the second half is a fair sample, while texture (which spans both halves)
is still chosen away. The dataset's looks is the largest class estimate (the class with
the least texture at 8 px, often the ocean); measured within 10 % of the true looks
(1 to 8) on synth scenes.

A dataset whose scenes name their sensor also records the looks of each sensor's scenes
(``looks_by_sensor``, estimated the same way): a run conditioned on two or more sensors
draws each sensor's speckle with its own looks (S1 4.4, TSX 2.5, PALSAR 2), which the one
pooled estimate cannot give.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass, field

import numpy as np

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.errors import ConfigError, option

log = logging.getLogger(__name__)

#: Block side (pixels), share of a class's blocks taken as homogeneous, and the fewest
#: homogeneous blocks a class needs to count.
BLOCK = 8
HOMOGENEOUS_SHARE = 0.10
MIN_BLOCKS = 20

_CHECKER = ((np.arange(BLOCK)[:, None] + np.arange(BLOCK)[None, :]) % 2 == 0).ravel()


@dataclass
class LooksEstimator:
    """Collects block statistics window by window (:meth:`add`), then :meth:`looks`."""

    cv_first: list[np.ndarray] = field(default_factory=list)
    cv2_second: list[np.ndarray] = field(default_factory=list)
    zone: list[np.ndarray] = field(default_factory=list)

    def add(self, db: np.ndarray, zones: np.ndarray, invalid: np.ndarray) -> None:
        """One window: dB of intensity (amplitude in dB is the same), zone codes, and
        pixels to leave out; blocks with any such pixel or more than one zone are skipped."""
        h, w = (db.shape[0] // BLOCK) * BLOCK, (db.shape[1] // BLOCK) * BLOCK

        def blocks(a: np.ndarray) -> np.ndarray:
            return a[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK * BLOCK)

        z, bad = blocks(zones), blocks(invalid | ~np.isfinite(db))
        keep = ~bad.any(1) & (z == z[:, :1]).all(1)
        if not keep.any():
            return
        intensity = 10.0 ** (blocks(np.where(np.isfinite(db), db, 0.0))[keep] / 10.0)
        first, second = intensity[:, _CHECKER], intensity[:, ~_CHECKER]
        self.cv_first.append(first.std(1, ddof=1) / first.mean(1))
        self.cv2_second.append(second.var(1, ddof=1) / second.mean(1) ** 2)
        self.zone.append(z[keep, 0])

    def merge(self, other: "LooksEstimator") -> "LooksEstimator":
        return LooksEstimator(
            self.cv_first + other.cv_first, self.cv2_second + other.cv2_second, self.zone + other.zone
        )

    def looks(self) -> float | None:
        """The dataset's looks (rounded to 0.01), or None with too few homogeneous blocks."""
        if not self.zone:
            return None
        cv, cv2, zone = (np.concatenate(a) for a in (self.cv_first, self.cv2_second, self.zone))
        estimates = []
        for code in np.unique(zone):
            ours = zone == code
            if ours.sum() * HOMOGENEOUS_SHARE < MIN_BLOCKS:
                continue
            calm = cv[ours] <= np.quantile(cv[ours], HOMOGENEOUS_SHARE)
            estimates.append(1.0 / float(np.mean(cv2[ours][calm])))
        return round(max(estimates), 2) if estimates else None


def looks_by_sensor(estimators: list[tuple[str, LooksEstimator]]) -> dict[str, float]:
    """``{sensor: looks}`` of (sensor, estimator) pairs (one per scene), each sensor's scenes
    pooled; sensors with too few homogeneous blocks are left out. Keys in `estimators`' order."""
    grouped: dict[str, list[LooksEstimator]] = {}
    for code, estimator in estimators:
        grouped.setdefault(code, []).append(estimator)
    estimates = {code: functools.reduce(LooksEstimator.merge, group).looks() for code, group in grouped.items()}
    return {code: looks for code, looks in estimates.items() if looks is not None}


def resolve_speckle(model: ModelConfig, info: DatasetInfo, source: str, sensors: tuple[str, ...] = ()) -> ModelConfig:
    """`model` with its speckle stage's looks (where -1: dataset.json's) and dB per model
    unit ((db_max - db_min) / 2) taken from the dataset; unchanged without a speckle stage.
    `sensors`: those the run is conditioned on; with two or more and looks from the dataset,
    also the looks of each (dataset.json's ``looks_by_sensor``) in that order."""
    if model.speckle_looks == 0:
        return model
    looks = model.speckle_looks
    if looks < 0:
        if not info.extra.get("looks"):
            raise ConfigError(
                f"{source}: records no number of looks for model.speckle_looks=-1; "
                "re-run 'pix2pix-sar prepare' or set model.speckle_looks=L"
            )
        looks = float(info.extra["looks"])
    if info.scaling.units == "dn":
        raise ConfigError(
            f"{source}: scales DN, whose dB span is unknown, so speckle cannot be put in model units; "
            f"prepare with {option('units')} or set model.speckle_looks=0"
        )
    db_unit = (info.scaling.db_max - info.scaling.db_min) / 2.0
    by_sensor = _sensor_looks(model, info, source, tuple(sensors), looks)
    return dataclasses.replace(model, speckle_looks=looks, speckle_db_unit=db_unit, speckle_looks_by_sensor=by_sensor)


def _sensor_looks(
    model: ModelConfig, info: DatasetInfo, source: str, sensors: tuple[str, ...], pooled: float
) -> tuple[float, ...]:
    """The looks per conditioning sensor: as given (one per sensor), else dataset.json's where
    the looks come from the dataset (a sensor it has no estimate of: the pooled looks), else ()."""
    given = model.speckle_looks_by_sensor
    if given:
        if not sensors:
            raise ConfigError(
                f"model.speckle_looks_by_sensor gives looks per sensor, but a run on {source} is not conditioned "
                "on the sensor; leave it empty"
            )
        if len(given) != len(sensors):
            raise ConfigError(
                f"model.speckle_looks_by_sensor has {len(given)} looks, but a run on {source} is conditioned on "
                f"{len(sensors)} sensors ({', '.join(sensors)}); give one per sensor, in that order, or leave it empty"
            )
        return given
    if not sensors or model.speckle_looks > 0:
        return ()
    recorded = info.extra.get("looks_by_sensor") or {}
    missing = [code for code in sensors if not recorded.get(code)]
    if len(missing) == len(sensors):
        log.warning("%s: records no looks per sensor; every sensor's speckle has the pooled %g looks", source, pooled)
        return ()
    if missing:
        log.warning(
            "%s: records no looks of %s; their speckle has the pooled %g looks", source, ", ".join(missing), pooled
        )
    return tuple(float(recorded.get(code) or pooled) for code in sensors)
