"""The Python API: a thin face beside the CLI, calling what ``generate`` calls.

    import pix2pix_sar
    g = pix2pix_sar.load("runs/orig")            # a run folder, or a folder `export` wrote
    image = g.generate(zones, seed=0)            # (H, W) float32 in the run's units, NaN at no data

`zones` holds CaFFe zone codes (0 no data, 64 rock, 127 glacier, 254 ocean); values
are checked as the CLI checks a mask file. Details: docs/generation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.zones import check_zones, valid_zones
from pix2pix_sar.errors import InputError, InvalidMask
from pix2pix_sar.generation.generate import check_samples, generate_image, output_encoding
from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings


class SarGenerator:
    """A trained generator that turns in-memory zone masks into SAR images."""

    def __init__(self, generator: RunGenerator):
        self._gen = generator

    @property
    def path(self) -> Path:
        return self._gen.path

    @property
    def epoch(self) -> int:
        return self._gen.epoch

    @property
    def variant(self) -> str:
        return self._gen.config.variant

    @property
    def bands(self) -> tuple[str, ...]:
        """Names of the extra bands `extra` must give, in the run's order (e.g. ("dem",))."""
        return tuple(b.name for b in self._gen.user_bands)

    @property
    def sensors(self) -> tuple[str, ...]:
        """The sensors `sensor` may name (a run conditioned on the sensor); () for any other run."""
        return self._gen.sensors

    @property
    def scaling(self) -> SarScaling:
        """Units and clip range of the training data, which the images come in."""
        return self._gen.scaling

    def generate(
        self,
        zones: np.ndarray,
        *,
        seed: int = 0,
        samples: int = 1,
        extra: Mapping[str, np.ndarray] | None = None,
        sensor: str | None = None,
    ) -> np.ndarray:
        """The image of `zones` (H, W) as float32 in the run's units (dB, intensity, ...;
        DN for DN runs), NaN at no data: shape (H, W), or (samples, H, W) with seeds
        seed ... seed + samples - 1 (the CLI's ``--seed`` and ``--samples``).

        `extra`: name -> (H, W) array on the mask's grid in the band's own units (e.g.
        metres), for each of :attr:`bands`; NaN is no data, refused where the mask has data.
        `sensor`: the sensor to render, one of :attr:`sensors` (required for a run conditioned
        on the sensor, refused otherwise: the CLI's ``--sensor``).
        Bad zone values raise :class:`pix2pix_sar.errors.InvalidMask`, a ValueError."""
        zones = np.asarray(zones)
        if zones.ndim != 2 or 0 in zones.shape:
            raise InvalidMask(f"zones: shape {zones.shape}; give a 2-D (H, W) array of zone codes")
        zones = check_zones(zones, "zones")
        check_samples(samples)
        self._gen.use_sensor(sensor)
        extras = self._extras(zones, dict(extra or {}))
        encoding = output_encoding(self.scaling, None, "COG")
        valid = valid_zones(zones)
        images = []
        for k in range(samples):
            self._gen.seed = seed + k  # the noise keys of sample k, as `generate --samples`
            image = generate_image(self._gen, zones, TileSettings(seed=seed + k), extras)
            images.append(np.where(valid, encoding.convert(image).astype(np.float32), np.float32(np.nan)))
        return images[0] if samples == 1 else np.stack(images)

    def _extras(self, zones: np.ndarray, given: dict[str, np.ndarray]) -> np.ndarray | None:
        """The given bands in the model range, stacked (H, W, K) in the run's order."""
        unknown = sorted(set(given) - set(self.bands))
        if unknown:
            raise InputError(f"extra: band {unknown[0]} is unknown to {self.path}, which takes {self._takes()}")
        planes = []
        valid = valid_zones(zones)
        for scaling in self._gen.user_bands:
            if scaling.name not in given:
                raise InputError(f"extra: band {scaling.name} missing; {self.path} was trained with it")
            values = np.asarray(given[scaling.name], np.float32)
            if values.shape != zones.shape:
                raise InputError(f"extra: band {scaling.name} has shape {values.shape}; give {zones.shape} as zones")
            gaps = np.isnan(values) & valid
            if gaps.any():
                raise InputError(
                    f"extra: band {scaling.name} has no data at {int(gaps.sum())} pixels where the mask has data; "
                    "fill them"
                )
            planes.append(np.where(valid, scaling.to_model(values), np.float32(-1.0)))
        return np.stack(planes, axis=-1) if planes else None

    def _takes(self) -> str:
        return ", ".join(self.bands) or "no extra bands"

    def __repr__(self) -> str:
        return f"SarGenerator({str(self.path)!r}, epoch={self.epoch}, variant={self.variant!r})"


def load(path: str | Path, *, epoch: int | None = None, xla: str = "auto") -> SarGenerator:
    """The generator of `path`: a run folder (its snapshot at `epoch`, default the last)
    or an export folder; `xla` as ``generate --xla`` (runs only)."""
    return SarGenerator(RunGenerator.load(path, epoch, xla=xla))
