"""The one module that talks to GDAL/OGR/OSR.

Everything else gets numpy arrays and a :class:`Grid` (CRS + geotransform + size).
Every write goes to a temporary name in the destination folder and is renamed at
the end, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from osgeo import gdal, ogr, osr

from pix2pix_sar.errors import InputError

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()


@dataclass(frozen=True)
class Grid:
    """Where a raster lies: CRS (WKT, may be empty), geotransform and size."""

    crs_wkt: str
    geotransform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    def window(self, col_off: int, row_off: int, width: int, height: int) -> "Grid":
        """The grid of a pixel window, aligned to this grid's pixels."""
        x0, dx, rx, y0, ry, dy = self.geotransform
        return Grid(
            self.crs_wkt,
            (x0 + col_off * dx + row_off * rx, dx, rx, y0 + col_off * ry + row_off * dy, ry, dy),
            width,
            height,
        )

    def same_as(self, other: "Grid", tolerance: float = 1e-6) -> bool:
        """Same size, same geotransform (relative tolerance) and the same CRS."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        scale = max(abs(self.geotransform[1]), abs(self.geotransform[5]), 1e-12)
        if any(abs(a - b) > tolerance * scale * max(self.width, self.height)
               for a, b in zip(self.geotransform, other.geotransform)):
            return False
        return same_crs(self.crs_wkt, other.crs_wkt)

    @property
    def epsg(self) -> int | None:
        if not self.crs_wkt:
            return None
        srs = osr.SpatialReference()
        srs.ImportFromWkt(self.crs_wkt)
        code = srs.GetAuthorityCode(None)
        return int(code) if code else None


def crs_from_user(text: str) -> str:
    """'EPSG:3031', a PROJ string or WKT -> WKT, or an InputError."""
    srs = osr.SpatialReference()
    try:
        srs.SetFromUserInput(text)
    except RuntimeError:
        raise InputError(f"unknown CRS {text!r}; give e.g. EPSG:3031") from None
    return srs.ExportToWkt()


def same_crs(a: str, b: str) -> bool:
    if not a or not b:
        return a == b
    sa, sb = osr.SpatialReference(), osr.SpatialReference()
    sa.ImportFromWkt(a)
    sb.ImportFromWkt(b)
    return bool(sa.IsSame(sb))


def _open(path: str | Path) -> gdal.Dataset:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    try:
        return gdal.Open(str(path), gdal.GA_ReadOnly)
    except RuntimeError as exc:
        raise InputError(f"{path}: not a raster GDAL can read ({exc}); give a GeoTIFF or PNG") from None


def raster_info(path: str | Path) -> tuple[Grid, int, float | None]:
    """(grid, band count, no-data value of band 1) without reading pixels."""
    ds = _open(path)
    return _grid(ds), ds.RasterCount, ds.GetRasterBand(1).GetNoDataValue()


def _grid(ds: gdal.Dataset) -> Grid:
    return Grid(ds.GetProjection() or "", tuple(ds.GetGeoTransform()), ds.RasterXSize, ds.RasterYSize)


def read_raster(
    path: str | Path,
    window: tuple[int, int, int, int] | None = None,
    band: int = 1,
) -> tuple[np.ndarray, Grid, float | None]:
    """Read one band (optionally a window ``(col, row, width, height)``).

    Returns the array, the grid of what was read, and the band's no-data value.
    """
    ds = _open(path)
    if band > ds.RasterCount:
        raise InputError(f"{path}: has {ds.RasterCount} band(s), band {band} was asked for")
    grid = _grid(ds)
    rb = ds.GetRasterBand(band)
    if window is None:
        window = (0, 0, grid.width, grid.height)
    col, row, w, h = window
    if col < 0 or row < 0 or col + w > grid.width or row + h > grid.height:
        raise InputError(f"{path}: window {window} lies outside the {grid.width}x{grid.height} raster")
    try:
        array = rb.ReadAsArray(col, row, w, h)
    except RuntimeError as exc:
        raise InputError(f"{path}: read failed ({exc}); the file may be truncated") from None
    return array, grid.window(col, row, w, h), rb.GetNoDataValue()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


_GDAL_TYPES = {
    np.dtype("uint8"): gdal.GDT_Byte,
    np.dtype("uint16"): gdal.GDT_UInt16,
    np.dtype("int16"): gdal.GDT_Int16,
    np.dtype("int32"): gdal.GDT_Int32,
    np.dtype("float32"): gdal.GDT_Float32,
    np.dtype("float64"): gdal.GDT_Float64,
}


def write_geotiff(
    path: str | Path,
    array: np.ndarray,
    grid: Grid,
    nodata: float | None = None,
    compress: str = "DEFLATE",
) -> Path:
    """Write a single-band GeoTIFF with `grid`'s CRS and geotransform, atomically."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {array.shape}")
    if (array.shape[1], array.shape[0]) != (grid.width, grid.height):
        raise ValueError(f"array shape {array.shape} does not match grid {grid.width}x{grid.height}")
    dtype = _GDAL_TYPES[array.dtype]
    options = [f"COMPRESS={compress}", "TILED=YES"] if min(array.shape) >= 16 else [f"COMPRESS={compress}"]
    if array.dtype.kind == "f":
        options.append("PREDICTOR=3")
    path = Path(path)
    with atomic_path(path, suffix=".tif") as tmp:
        driver = gdal.GetDriverByName("GTiff")
        ds = driver.Create(str(tmp), grid.width, grid.height, 1, dtype, options=options)
        ds.SetGeoTransform(grid.geotransform)
        if grid.crs_wkt:
            ds.SetProjection(grid.crs_wkt)
        band = ds.GetRasterBand(1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        band.WriteArray(array)
        ds.FlushCache()
        ds = None  # close before the rename
    return path
