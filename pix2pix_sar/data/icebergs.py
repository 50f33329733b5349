"""Icebergs in the ocean: what `prepare` measures of them, and what a model's iceberg stage takes.

A generator trained briefly fills the ocean with a texture and draws no icebergs: a sparse
bright compact object is hard to learn (issue 22; two learned designs made dark holes or a
bright haze). The `sampler`'s iceberg stage (``model.iceberg_share``) draws them instead, as
the speckle stage draws speckle: keyed soft disks in the ocean, raised by a contrast in dB,
their cover, contrast and size measured on the dataset by `prepare` and written to
dataset.json as ``icebergs``.

Estimate, window by window (the kept patch windows): ocean pixels whose 3x3 mean in dB
(over ocean pixels only) lies more than :data:`ABOVE_DB` above the window's ocean median
are bright; connected groups of them (8-connected) of :data:`MIN_AREA` to :data:`MAX_AREA`
pixels are icebergs (larger bright areas are mélange or sea ice, which the network draws
from its context; single pixels are speckle). ``share``: iceberg pixels over ocean pixels;
``contrast_db``: the median over iceberg pixels of their 3x3 mean above the window's ocean
median (counted in 0.05-dB bins, so memory stays fixed); ``radius_px``: the radius of a
disk of the mean iceberg area. An iceberg cut by a window's edge counts with its part inside.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.data.zones import OCEAN
from pix2pix_sar.errors import ConfigError, option

#: Bright: the 3x3 mean this many dB above the window's ocean median (4-look speckle
#: moves a 3x3 mean by ~1 dB, so speckle alone almost never reaches it).
ABOVE_DB = 6.0
#: Icebergs: connected bright groups of this many pixels (single pixels are speckle; larger
#: groups are mélange or sea ice).
MIN_AREA = 3
MAX_AREA = 400
#: The fewest ocean pixels an estimate needs.
MIN_OCEAN_PIXELS = 20_000


#: Contrasts are counted in bins this wide (dB), from ABOVE_DB to ABOVE_DB + CONTRAST_BINS x
#: the bin: memory stays fixed however many scenes `prepare` reads.
CONTRAST_BIN_DB = 0.05
CONTRAST_BINS = 1200


@dataclass
class IcebergEstimator:
    """Collects iceberg counts window by window (:meth:`add`), then :meth:`estimate`."""

    ocean_pixels: int = 0
    iceberg_pixels: int = 0
    icebergs: int = 0
    contrasts: np.ndarray = field(default_factory=lambda: np.zeros(CONTRAST_BINS, np.int64))  # pixels per bin

    def add(self, db: np.ndarray, zones: np.ndarray, invalid: np.ndarray) -> None:
        """One window: dB, zone codes and the pixels to leave out."""
        from scipy import ndimage

        ocean = (zones == OCEAN) & ~invalid & np.isfinite(db)
        n = int(ocean.sum())
        if n < 9:
            return
        self.ocean_pixels += n
        weight = ndimage.uniform_filter(ocean.astype(np.float64), 3, mode="constant")
        total = ndimage.uniform_filter(np.where(ocean, db, 0.0), 3, mode="constant")
        smooth = np.where(ocean, total / np.maximum(weight, 1e-12), np.nan)
        above = smooth - np.median(smooth[ocean])
        bright = ocean & (above > ABOVE_DB)
        if not bright.any():
            return
        labels, count = ndimage.label(bright, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        kept = (sizes >= MIN_AREA) & (sizes <= MAX_AREA)
        kept[0] = False
        if kept.any():
            self.icebergs += int(kept.sum())
            self.iceberg_pixels += int(sizes[kept].sum())
            bins = np.clip(((above[kept[labels]] - ABOVE_DB) / CONTRAST_BIN_DB).astype(np.int64), 0, CONTRAST_BINS - 1)
            self.contrasts += np.bincount(bins, minlength=CONTRAST_BINS)

    def merge(self, other: "IcebergEstimator") -> "IcebergEstimator":
        return IcebergEstimator(
            self.ocean_pixels + other.ocean_pixels,
            self.iceberg_pixels + other.iceberg_pixels,
            self.icebergs + other.icebergs,
            self.contrasts + other.contrasts,
        )

    def estimate(self) -> dict | None:
        """``{"share", "contrast_db", "radius_px"}`` (rounded), or None with fewer than
        MIN_OCEAN_PIXELS ocean pixels or no iceberg. The contrast is the median bin's centre."""
        if self.ocean_pixels < MIN_OCEAN_PIXELS or not self.icebergs:
            return None
        median_bin = int(np.searchsorted(np.cumsum(self.contrasts), self.iceberg_pixels / 2))
        return {
            "share": round(self.iceberg_pixels / self.ocean_pixels, 5),
            "contrast_db": round(ABOVE_DB + (median_bin + 0.5) * CONTRAST_BIN_DB, 2),
            "radius_px": round(float(np.sqrt(self.iceberg_pixels / self.icebergs / np.pi)), 2),
        }


def resolve_icebergs(model: ModelConfig, info: DatasetInfo, source: str) -> ModelConfig:
    """`model` with its iceberg stage's cover, contrast and size taken from dataset.json's
    ``icebergs`` where ``model.iceberg_share`` is -1; unchanged without the stage."""
    if model.iceberg_share >= 0:
        return model
    found = info.extra.get("icebergs")
    if not found:
        raise ConfigError(
            f"{source}: records no icebergs for model.iceberg_share=-1 (prepare finds none in its ocean, or the "
            f"dataset predates the estimate); re-run 'pix2pix-sar prepare', or give {option('assignments')} "
            "model.iceberg_share=S with model.iceberg_contrast_db and model.iceberg_radius, or model.iceberg_share=0"
        )
    return dataclasses.replace(
        model,
        iceberg_share=float(found["share"]),
        iceberg_contrast_db=float(found["contrast_db"]),
        iceberg_radius=float(found["radius_px"]),
    )
