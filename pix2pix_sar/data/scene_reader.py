"""A scene opened for ``prepare``: its SAR band read strip by strip, with its labels, area of
interest and extra bands on the scene's grid (:mod:`pix2pix_sar.data.prepare` drives it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.context import ContextRasters
from pix2pix_sar.data.extra_bands import ExtraBandInput, band_on_grid, choose_resampling
from pix2pix_sar.data.icebergs import IcebergEstimator
from pix2pix_sar.data.looks import LooksEstimator
from pix2pix_sar.data.scaling import to_db
from pix2pix_sar.data.scenes import (
    AreaOfInterest,
    SceneInput,
    VectorLabels,
    aoi_on_grid,
    check_codes,
    check_linear_units,
    format_bounds,
    guess_units_why,
    labels_on_grid,
)
from pix2pix_sar.data.zones import NODATA
from pix2pix_sar.errors import InputError, option

log = logging.getLogger(__name__)


@dataclass
class OpenedScene:
    """One scene opened for strip reads, with its labels (a reader or an array) and AOI."""

    input: SceneInput
    source: geo.RasterSource
    band: int
    units: str
    nodata: float | None
    dtype: str
    zones_full: np.ndarray | None = None  # labels warped/rasterised onto the grid
    mask_source: geo.RasterSource | None = None  # labels already on the grid
    aoi: np.ndarray | None = None
    region: tuple[int, int, int, int] = (0, 0, 0, 0)  # col0, row0, col1, row1 to tile
    windows: list[tuple[int, int]] = field(default_factory=list)  # kept (col, row)
    patch_id_prefix: str = ""
    source_name: str = ""  # manifest.csv's source: the file name, or its path where names repeat
    bands: list[tuple[Path, str]] = field(default_factory=list)  # (raster, resampling) per extra band
    speckle: LooksEstimator = field(default_factory=LooksEstimator)  # block statistics of the kept windows
    icebergs: IcebergEstimator = field(default_factory=IcebergEstimator)  # bright objects of the kept windows

    @property
    def grid(self) -> geo.Grid:
        return self.source.grid

    def close(self) -> None:
        self.source.close()
        if self.mask_source:
            self.mask_source.close()

    def strips(self, size: int, step: int) -> Iterator["Strip"]:
        """Strips of `size` rows over the region's columns."""
        col0, row0, col1, row1 = self.region
        for row in range(row0, row1 - size + 1, step):
            window = (col0, row, col1 - col0, size)
            sar = self.source.read(window, self.band)
            if self.zones_full is not None:
                zones = self.zones_full[row : row + size, col0:col1]
            else:
                zones = check_codes(self.mask_source.read(window), str(self.input.mask))
            aoi = None if self.aoi is None else self.aoi[row : row + size, col0:col1]
            strip_grid = self.grid.window(*window)
            bands = [band_on_grid(path, strip_grid, resampling, zones) for path, resampling in self.bands]
            extras = np.stack([v for v, _ in bands], axis=-1) if bands else None
            extras_missing = np.any([m for _, m in bands], axis=0) if bands else None
            yield Strip(row, sar, zones, aoi, extras, extras_missing)

    def invalid(
        self, sar: np.ndarray, zones: np.ndarray, extras_missing: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dB values, invalid pixels): no-data in the scene, the labels or an extra band."""
        db = to_db(sar, self.units)
        invalid = ~np.isfinite(db) | (zones == NODATA)
        if self.nodata is not None:
            invalid |= sar == self.nodata
        if extras_missing is not None:
            invalid |= extras_missing
        return db, invalid


@dataclass
class Strip:
    """`size` rows of a scene's region: SAR, zones, AOI, and the extra bands on its grid."""

    row: int
    sar: np.ndarray
    zones: np.ndarray
    aoi: np.ndarray | None
    extras: np.ndarray | None  # (size, width, K) in the bands' units; None without extra bands
    extras_missing: np.ndarray | None  # (size, width): some band has no data (not over the ocean)


def open_scene(
    scene: SceneInput,
    labels: VectorLabels | None,
    aoi: AreaOfInterest | None,
    sar_band: int | None,
    units: str,
    bands: list[ExtraBandInput] = (),
    context: ContextRasters | None = None,
) -> tuple[OpenedScene, float]:
    """Open a scene, resolve `units` ("auto": guessed), put labels and AOI on its grid.
    `sar_band` None: the scene must have one band. Returns it and the AOI gap.
    `context`: computes the context bands from the whole labels, after `bands`."""
    source = geo.RasterSource(scene.sar)
    if source.band_count > 1 and sar_band is None:
        raise InputError(f"{scene.sar}: has {source.band_count} bands; pick the SAR band with {option('band')} N")
    band = sar_band or 1
    info = source.band_info(band)
    preview = source.read_decimated(band).astype(np.float64)
    why = f"{option('units')} {units}"
    if units == "auto":
        units, evidence = guess_units_why(info, preview)
        why = f"its unit type says {info.unit!r}" if evidence is None else f"guessed from {evidence}"
        if evidence is not None:
            log.warning(
                "%s: units guessed as %s: %s; set %s if they are not", scene.sar, units, evidence, option("units")
            )
    check_linear_units(units, info, preview, scene.sar, why)
    opened = OpenedScene(scene, source, band, units, info.nodata, info.dtype)
    grid = source.grid
    opened.zones_full, opened.mask_source = labels_on_grid(scene, grid, labels)
    for band_input in bands:
        raster = band_input.raster_for(scene.sar)
        band_grid, band_count, _ = geo.raster_info(raster)
        if band_count != 1:
            raise InputError(f"band {band_input.name}: {raster} has {band_count} bands; give a one-band raster")
        _check_band_overlaps(band_input.name, raster, scene.sar, grid)
        opened.bands.append((raster, choose_resampling(band_grid, grid)))
    if context is not None:
        zones = opened.zones_full
        if zones is None:
            zones = opened.mask_source.read((0, 0, grid.width, grid.height))
        # On the scene's own grid: the warp that reads them back changes no value.
        opened.bands += [(raster, "bilinear") for raster in context.write(zones, grid).values()]

    gap = 0.0
    opened.region = (0, 0, grid.width, grid.height)
    if aoi is not None:
        opened.aoi, gap = aoi_on_grid(aoi, grid, scene.sar)
        if opened.aoi is None:
            opened.region = (0, 0, 0, 0)  # the AOI misses this scene: no patches from it
        else:
            rows = np.flatnonzero(opened.aoi.any(axis=1))
            cols = np.flatnonzero(opened.aoi.any(axis=0))
            # Tile from the AOI's corner so the most patches fit inside it.
            opened.region = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return opened, gap


def _check_band_overlaps(name: str, raster: Path, scene: Path, grid: geo.Grid, max_side: int = 256) -> None:
    """A band without any data on the scene is refused (its gaps over the ocean would
    otherwise pass as sea level): checked on a coarse copy of the scene's grid."""
    factor = max(1, -(-max(grid.width, grid.height) // max_side))
    x0, dx, rx, y0, ry, dy = grid.geotransform
    coarse = geo.Grid(
        grid.crs_wkt,
        (x0, dx * factor, rx * factor, y0, ry * factor, dy * factor),
        -(-grid.width // factor),
        -(-grid.height // factor),
    )
    _, missing = geo.warp_band(raster, coarse, "average")
    if missing.all():
        raise InputError(
            f"band {name}: {raster} has no data on {scene} (band bounds "
            f"{format_bounds(geo.grid_bounds(geo.raster_info(raster)[0]))} "
            f"vs scene bounds {format_bounds(geo.grid_bounds(grid))}); "
            "check its CRS and extent"
        )
