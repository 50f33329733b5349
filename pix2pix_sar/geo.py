"""The one module that talks to GDAL/OGR/OSR.

Everything else gets numpy arrays and a :class:`Grid` (CRS + geotransform + size).
Every write goes to a temporary name in the destination folder and is renamed at
the end, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from osgeo import gdal, gdal_array, ogr, osr

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.errors import InputError, option

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

    @classmethod
    def north_up(cls, crs_wkt: str, origin: tuple[float, float], pixel_size: float, width: int, height: int) -> "Grid":
        """A north-up grid of square `pixel_size` pixels; `origin` (x, y) is its top-left corner."""
        x0, y0 = origin
        return cls(crs_wkt, (x0, pixel_size, 0.0, y0, 0.0, -pixel_size), width, height)

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
        if any(
            abs(a - b) > tolerance * scale * max(self.width, self.height)
            for a, b in zip(self.geotransform, other.geotransform)
        ):
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


def read_array(path: str | Path, band: int = 1) -> np.ndarray:
    """One whole band, without its grid (see :func:`read_raster` for the grid too)."""
    with RasterSource(path) as source:
        return source.read((0, 0, source.width, source.height), band)


def raster_metadata(path: str | Path) -> dict[str, str]:
    """The dataset metadata items of a raster (default domain), name -> text."""
    return dict(_open(path).GetMetadata() or {})


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
    with RasterSource(path) as source:
        grid = source.grid
        window = window or (0, 0, grid.width, grid.height)
        array = source.read(window, band)
        return array, grid.window(*window), source.nodata(band)


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
    unit: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a single-band GeoTIFF with `grid`'s CRS and geotransform, atomically;
    `unit` is the band's unit type (e.g. "m"); `metadata` dataset items (name -> text)."""
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
        if metadata:
            ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        band = ds.GetRasterBand(1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if unit:
            band.SetUnitType(unit)
        band.WriteArray(array)
        ds.FlushCache()
        ds = None  # close before the rename
    return path


# --- Window reads, warping, vectors (data preparation) --------------------------------


@dataclass(frozen=True)
class BandInfo:
    """What `prepare` needs to know about a band before reading pixels."""

    dtype: str  # numpy dtype name
    nodata: float | None
    text: str  # description and metadata, lower case (hints such as "amplitude")
    unit: str = ""  # the band's unit type as written (e.g. "dB"; "" when unset)


class RasterSource:
    """One raster kept open for many window reads (GDAL's block cache does the rest)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ds = _open(self.path)
        self.width, self.height = self._ds.RasterXSize, self._ds.RasterYSize
        self.band_count = self._ds.RasterCount
        self._grid: Grid | None = None

    @property
    def grid(self) -> Grid:
        # Made on first use: exporting the CRS as WKT costs about 1 ms, as much as
        # reading a 256x256 patch, and reading whole patches does not need it.
        if self._grid is None:
            self._grid = _grid(self._ds)
        return self._grid

    def __enter__(self) -> "RasterSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._ds = None

    def band_info(self, band: int = 1) -> BandInfo:
        rb = self._band(band)
        texts = [rb.GetDescription(), *rb.GetMetadata().values(), *self._ds.GetMetadata().values()]
        dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(rb.DataType)).name
        text = " ".join(str(t) for t in texts).lower()
        return BandInfo(dtype, rb.GetNoDataValue(), text, rb.GetUnitType() or "")

    def _band(self, band: int) -> gdal.Band:
        if not 1 <= band <= self.band_count:
            raise InputError(
                f"{self.path}: has {self.band_count} band(s), band {band} was asked for; pick one with {option('band')}"
            )
        return self._ds.GetRasterBand(band)

    def read_decimated(self, band: int = 1, max_side: int = 512) -> np.ndarray:
        """The whole band at reduced resolution (nearest), e.g. to guess its units cheaply."""
        scale = max(1, -(-max(self.grid.width, self.grid.height) // max_side))
        w, h = max(1, self.grid.width // scale), max(1, self.grid.height // scale)
        try:
            return self._band(band).ReadAsArray(0, 0, self.grid.width, self.grid.height, buf_xsize=w, buf_ysize=h)
        except RuntimeError as exc:
            raise InputError(f"{self.path}: read failed ({exc}); the file may be truncated, re-export it") from None

    def nodata(self, band: int = 1) -> float | None:
        return self._band(band).GetNoDataValue()

    def read(self, window: tuple[int, int, int, int], band: int = 1) -> np.ndarray:
        col, row, w, h = window
        if col < 0 or row < 0 or col + w > self.width or row + h > self.height:
            raise InputError(f"{self.path}: window {window} lies outside the {self.width}x{self.height} raster")
        try:
            array = self._band(band).ReadAsArray(col, row, w, h)
        except RuntimeError as exc:
            raise InputError(f"{self.path}: read failed ({exc}); the file may be truncated, re-export it") from None
        if array is None:
            raise InputError(f"{self.path}: read failed; the file may be truncated, re-export it")
        return array


@contextlib.contextmanager
def block_cache_limit(max_bytes: int) -> Iterator[None]:
    """Cap GDAL's block cache (by default 5 % of RAM) while streaming through rasters once."""
    previous = gdal.GetCacheMax()
    gdal.SetCacheMax(min(previous, max_bytes))
    try:
        yield
    finally:
        gdal.SetCacheMax(previous)


def _srs(wkt: str) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    # x = easting/longitude everywhere, whatever the CRS's official axis order.
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def pixel_size_m(grid: Grid) -> float:
    """Metres per pixel side at the grid's centre (geometric mean of the x and y sizes).

    Projected CRS: the geotransform times the CRS's linear unit; geographic CRS: degrees
    turned into metres on the ellipsoid's semi-major axis at the centre's latitude.
    NaN without a CRS (pixel coordinates only)."""
    x0, dx, rx, y0, ry, dy = grid.geotransform
    size_x, size_y = math.hypot(dx, ry), math.hypot(rx, dy)
    if not grid.crs_wkt:
        return math.nan
    srs = _srs(grid.crs_wkt)
    if srs.IsGeographic():
        lat = math.radians(y0 + ry * grid.width / 2 + dy * grid.height / 2)
        metres_per_degree = math.radians(1.0) * srs.GetSemiMajor()
        size_x, size_y = size_x * metres_per_degree * math.cos(lat), size_y * metres_per_degree
    else:
        unit = srs.GetLinearUnits()
        size_x, size_y = size_x * unit, size_y * unit
    return math.sqrt(size_x * size_y)


def grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a north-up grid."""
    x0, dx, _, y0, _, dy = grid.geotransform
    xs, ys = (x0, x0 + dx * grid.width), (y0, y0 + dy * grid.height)
    return min(xs), min(ys), max(xs), max(ys)


def warp_to_grid(path: str | Path, grid: Grid, nodata: float = 0) -> np.ndarray:
    """Band 1 of `path` resampled onto `grid` with nearest neighbour (labels stay labels).

    Pixels of `grid` the source does not cover get `nodata`.
    """
    src = _open(path)
    if src.RasterCount != 1:
        raise InputError(f"{path}: has {src.RasterCount} bands; a mask must have one band")
    return _warp(path, src, grid, "near", nodata, "mask")


def _warp(path, src: gdal.Dataset, grid: Grid, resampling: str, nodata: float, what: str, **options) -> np.ndarray:
    """Band 1 of the open raster `src` (read from `path`) warped onto `grid` in memory;
    pixels it does not cover get `nodata`."""
    if bool(src.GetProjection()) != bool(grid.crs_wkt):
        raise InputError(
            f"{path}: one of the {what} and the scene has no CRS, so they cannot be aligned; give both a CRS"
        )
    try:
        out = gdal.Warp(
            "",
            src,
            format="MEM",
            outputBounds=grid_bounds(grid),
            width=grid.width,
            height=grid.height,
            dstSRS=grid.crs_wkt or None,
            resampleAlg=resampling,
            dstNodata=nodata,
            multithread=False,
            **options,
        )
        return out.GetRasterBand(1).ReadAsArray()
    except RuntimeError as exc:
        raise InputError(f"{path}: could not be warped onto the scene grid ({exc}); check its CRS") from None


#: Resampling of continuous bands (elevation, angles) onto another grid: GDAL's names.
CONTINUOUS_RESAMPLINGS = ("average", "bilinear")


def band_unit(path: str | Path, band: int = 1) -> str:
    """The band's unit type as the file states it (e.g. "m", "metre"; "" when unset)."""
    ds = _open(path)  # the band lives only as long as its dataset
    return ds.GetRasterBand(band).GetUnitType() or ""


def warp_band(path: str | Path, grid: Grid, resampling: str) -> tuple[np.ndarray, np.ndarray]:
    """Band 1 of a continuous raster (any CRS and grid) resampled onto `grid`:
    (float32 values, missing) where `missing` marks pixels the source does not cover
    or holds no data for (their values are 0).

    `resampling` is one of :data:`CONTINUOUS_RESAMPLINGS`; pixels of `grid` only depend
    on their own footprint, so warping a window of a grid gives the same values as
    warping the whole grid and cutting the window.
    """
    if resampling not in CONTINUOUS_RESAMPLINGS:
        raise ValueError(f"resampling {resampling!r} is not one of {CONTINUOUS_RESAMPLINGS}")
    # NaN marks what is missing: never a real value, unlike 0 or -9999.
    values = _warp(path, _open(path), grid, resampling, float("nan"), "band", outputType=gdal.GDT_Float32)
    values = values.astype(np.float32, copy=False)
    missing = ~np.isfinite(values)
    values[missing] = 0.0
    return values, missing


@dataclass(frozen=True)
class VectorFeatures:
    """Geometries (WKB) of a vector file, their CRS and one attribute's values."""

    path: Path
    crs_wkt: str
    geometries: list[bytes]
    values: list
    geometry_types: list[str]


def read_vector(path: str | Path, field: str | None = None) -> VectorFeatures:
    """Every feature of every layer (GeoPackage, Shapefile, GeoJSON, ...)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    try:
        ds = ogr.Open(str(path))
    except RuntimeError as exc:
        raise InputError(
            f"{path}: not a vector file OGR can read ({exc}); give a GeoPackage, Shapefile or GeoJSON"
        ) from None
    if ds is None:
        raise InputError(f"{path}: not a vector file OGR can read; give a GeoPackage, Shapefile or GeoJSON")
    crs_wkt, geometries, values, types = "", [], [], []
    for layer in ds:
        srs = layer.GetSpatialRef()
        layer_wkt = srs.ExportToWkt() if srs else ""
        if field is not None and layer.GetLayerDefn().GetFieldIndex(field) < 0:
            names = [
                layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())
            ]
            raise InputError(
                f"{path}: has no field {field!r}; its fields are {', '.join(names) or 'none'}; "
                f"pass one with {option('label_field')}"
            )
        for feature in layer:
            geom = feature.GetGeometryRef()
            if geom is None or geom.IsEmpty():
                continue
            if crs_wkt and layer_wkt and not same_crs(crs_wkt, layer_wkt):
                raise InputError(f"{path}: layers in different CRSs; export them in one CRS")
            crs_wkt = crs_wkt or layer_wkt
            geometries.append(bytes(geom.ExportToWkb()))
            types.append(ogr.GeometryTypeToName(geom.GetGeometryType()).lower())
            values.append(feature.GetField(field) if field is not None else None)
    return VectorFeatures(path, crs_wkt, geometries, values, types)


def bounds_polygon(bounds: tuple[float, float, float, float], densify: int = 32) -> bytes:
    """A rectangle as WKB, its edges densified so it stays faithful when reprojected."""
    minx, miny, maxx, maxy = bounds
    t = np.linspace(0.0, 1.0, densify, endpoint=False)
    xs = np.concatenate(
        [minx + t * (maxx - minx), np.full_like(t, maxx), maxx - t * (maxx - minx), np.full_like(t, minx)]
    )
    ys = np.concatenate(
        [np.full_like(t, miny), miny + t * (maxy - miny), np.full_like(t, maxy), maxy - t * (maxy - miny)]
    )
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in zip(xs, ys):
        ring.AddPoint_2D(float(x), float(y))
    ring.CloseRings()
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return bytes(poly.ExportToWkb())


def transform_geometries(geometries: list[bytes], src_wkt: str, dst_wkt: str) -> list[bytes]:
    """Reproject WKB geometries (no-op where either CRS is unknown or they are the same)."""
    if not src_wkt or not dst_wkt or same_crs(src_wkt, dst_wkt):
        return list(geometries)
    transform = osr.CoordinateTransformation(_srs(src_wkt), _srs(dst_wkt))
    out = []
    for wkb in geometries:
        geom = ogr.CreateGeometryFromWkb(wkb)
        try:
            geom.Transform(transform)
        except RuntimeError as exc:
            raise InputError(f"geometry cannot be reprojected ({exc}); check the CRS of the vector file") from None
        out.append(bytes(geom.ExportToWkb()))
    return out


def geometries_bounds(geometries: list[bytes]) -> tuple[float, float, float, float]:
    envs = [ogr.CreateGeometryFromWkb(g).GetEnvelope() for g in geometries]  # (minx, maxx, miny, maxy)
    return min(e[0] for e in envs), min(e[2] for e in envs), max(e[1] for e in envs), max(e[3] for e in envs)


def rasterize(geometries: list[bytes], values: list[int], grid: Grid, all_touched: bool = False) -> np.ndarray:
    """Burn each geometry (already in `grid`'s CRS) with its value, in order, onto a uint8 grid of 0s."""
    target = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Byte)
    target.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        target.SetProjection(grid.crs_wkt)
    source = ogr.GetDriverByName("Memory").CreateDataSource("")
    layer = source.CreateLayer("burn", _srs(grid.crs_wkt) if grid.crs_wkt else None)
    layer.CreateField(ogr.FieldDefn("burn", ogr.OFTInteger))
    for wkb, value in zip(geometries, values):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkb(wkb))
        feature.SetField("burn", int(value))
        layer.CreateFeature(feature)
    options = ["ATTRIBUTE=burn"] + (["ALL_TOUCHED=TRUE"] if all_touched else [])
    gdal.RasterizeLayer(target, [1], layer, options=options)
    return target.GetRasterBand(1).ReadAsArray()


def _atomic_vector(path: Path, driver_name: str, build) -> Path:
    with atomic_path(path) as tmp:
        tmp.unlink()  # OGR creates the file itself
        ds = ogr.GetDriverByName(driver_name).CreateDataSource(str(tmp))
        build(ds)
        ds.FlushCache()
        ds = None
    return path


def write_vector(
    path: str | Path,
    geometries: list[bytes],
    crs_wkt: str,
    fields: dict[str, list],
    layer_name: str = "features",
    driver: str = "GPKG",
) -> Path:
    """Write polygons (WKB) with string/integer attributes, atomically (GPKG or GeoJSON)."""

    def build(ds):
        # No R-tree spatial index: these files are small, and TensorFlow's own SQLite
        # (without the rtree module) can stand in for the system's when it is loaded first.
        options = ["SPATIAL_INDEX=NO"] if driver == "GPKG" else []
        layer = ds.CreateLayer(layer_name, _srs(crs_wkt) if crs_wkt else None, ogr.wkbUnknown, options=options)
        for name, column in fields.items():
            kind = ogr.OFTInteger if all(isinstance(v, (int, np.integer)) for v in column) else ogr.OFTString
            layer.CreateField(ogr.FieldDefn(name, kind))
        for i, wkb in enumerate(geometries):
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetGeometry(ogr.CreateGeometryFromWkb(wkb))
            for name, column in fields.items():
                value = column[i]
                feature.SetField(name, int(value) if isinstance(value, (int, np.integer)) else str(value))
            layer.CreateFeature(feature)

    return _atomic_vector(Path(path), driver, build)


def polygonize(array: np.ndarray, grid: Grid) -> tuple[list[bytes], list[int]]:
    """Connected regions of equal non-zero value as polygons (WKB, grid CRS) and their values."""
    src = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Byte)
    src.SetGeoTransform(grid.geotransform)
    band = src.GetRasterBand(1)
    band.WriteArray(np.asarray(array, np.uint8))
    store = ogr.GetDriverByName("Memory").CreateDataSource("")  # must outlive its layer
    layer = store.CreateLayer("polygons", None, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    gdal.Polygonize(band, band, layer, 0)  # band as its own mask: 0 stays empty
    geometries, values = [], []
    for feature in layer:
        geometries.append(bytes(feature.GetGeometryRef().ExportToWkb()))
        values.append(int(feature.GetField("value")))
    return geometries, values


# --- Streaming writes and cloud-optimised GeoTIFFs (generation) ------------------------

#: Output formats by file suffix: the GDAL driver that makes the final file.
OUTPUT_DRIVERS = {".tif": "COG", ".tiff": "COG", ".png": "PNG"}

_FINAL_OPTIONS = {
    "COG": lambda dtype: ["COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"] + (["PREDICTOR=YES"] if dtype.kind == "f" else []),
    "PNG": lambda dtype: [],
}


class RasterRowWriter:
    """Write a single-band raster row block by row block, then finish it atomically.

    Rows go to a tiled GeoTIFF under a temporary name beside `path` (so memory stays
    bounded for scene-sized rasters); `commit` converts it with GDAL's COG driver (a
    cloud-optimised GeoTIFF with overviews) or PNG driver, chosen by `path`'s suffix,
    and renames the result to `path`. Without `commit` (an exception, a kill) the
    temporary files are removed and `path` is left as it was. `description` and `unit`
    (the band's) and `metadata` (dataset items) describe the raster; a PNG, which cannot
    hold them, gets them (and the grid) in GDAL's ``PATH.aux.xml`` sidecar.
    """

    def __init__(
        self,
        path: str | Path,
        grid: Grid,
        dtype: np.dtype,
        nodata: float | None = None,
        *,
        description: str = "",
        unit: str = "",
        metadata: dict[str, str] | None = None,
    ):
        self.path = Path(path)
        self.driver = OUTPUT_DRIVERS.get(self.path.suffix.lower())
        if self.driver is None:
            raise InputError(f"{self.path}: unknown output format; name it .tif (GeoTIFF) or .png")
        self.dtype = np.dtype(dtype)
        if self.driver == "PNG" and self.dtype not in (np.dtype("uint8"), np.dtype("uint16")):
            raise InputError(f"{self.path}: PNG holds 8/16-bit integers only; write a .tif for {self.dtype} values")
        self.grid = grid
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".stream.tif", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        options = ["TILED=YES", "COMPRESS=LZW", "BIGTIFF=IF_SAFER"]
        self._ds = gdal.GetDriverByName("GTiff").Create(
            str(self._tmp), grid.width, grid.height, 1, _GDAL_TYPES[self.dtype], options=options
        )
        self._ds.SetGeoTransform(grid.geotransform)
        if grid.crs_wkt:
            self._ds.SetProjection(grid.crs_wkt)
        band = self._ds.GetRasterBand(1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if metadata:
            self._ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        if description:
            band.SetDescription(description)
        if unit:
            band.SetUnitType(unit)
        self._sidecar = bool(metadata or description or unit)

    def __enter__(self) -> "RasterRowWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._ds = None
        for p in (self._tmp, self._tmp.with_name(self._tmp.name + ".aux.xml")):
            if p.exists():
                p.unlink()

    def write_rows(self, row_off: int, rows: np.ndarray) -> None:
        """Write `rows` (n, width) starting at row `row_off`."""
        if rows.shape[1] != self.grid.width or row_off + rows.shape[0] > self.grid.height:
            raise ValueError(f"rows {rows.shape} at {row_off} do not fit {self.grid.width}x{self.grid.height}")
        self._ds.GetRasterBand(1).WriteArray(np.asarray(rows, self.dtype), 0, row_off)

    def commit(self) -> Path:
        self._ds.FlushCache()
        self._ds = None
        options = _FINAL_OPTIONS[self.driver](self.dtype)
        # PNG holds neither CRS nor descriptions: GDAL puts them in a .aux.xml sidecar,
        # written only for a described raster and renamed with it (else none at all).
        sidecar = self.driver == "PNG" and self._sidecar
        pam = gdal.GetThreadLocalConfigOption("GDAL_PAM_ENABLED", None)
        gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", "YES" if sidecar else "NO" if self.driver == "PNG" else pam)
        try:
            with atomic_path(self.path) as final_tmp:
                src = gdal.Open(str(self._tmp))
                gdal.GetDriverByName(self.driver).CreateCopy(str(final_tmp), src, strict=0, options=options)
                src = None
                if sidecar:
                    os.replace(f"{final_tmp}.aux.xml", f"{self.path}.aux.xml")
                elif self.driver == "PNG":  # a replaced PNG's sidecar described the old image
                    Path(f"{self.path}.aux.xml").unlink(missing_ok=True)
        finally:
            gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", pam)
        return self.path


def is_cog(path: str | Path) -> bool:
    """True if GDAL reports `path` as a cloud-optimised GeoTIFF layout."""
    ds = _open(path)
    return ds.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
