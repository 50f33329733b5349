"""The GDAL wrapper (pix2pix_sar/geo.py) on tiny rasters and vectors written here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from pix2pix_sar import geo
from pix2pix_sar.errors import InputError

UTM = geo.crs_from_user("EPSG:32624")  # UTM 24N: central meridian 39 W (Greenland)
WGS84 = geo.crs_from_user("EPSG:4326")

#: A 10x10 grid of 1 km pixels centred on the central meridian, around 63 N.
TARGET = geo.Grid(UTM, (495000.0, 1000.0, 0.0, 7000000.0, 0.0, -1000.0), 10, 10)


def _envelope(wkb: bytes) -> tuple[float, float, float, float]:
    return ogr.CreateGeometryFromWkb(wkb).GetEnvelope()  # (minx, maxx, miny, maxy)


def _to_lonlat(x: float, y: float) -> tuple[float, float]:
    transform = osr.CoordinateTransformation(geo._srs(UTM), geo._srs(WGS84))
    lon, lat, _ = transform.TransformPoint(x, y)
    return lon, lat


# --- Grid --------------------------------------------------------------------------------


def test_grid_window_shifts_the_origin_by_whole_pixels():
    grid = geo.Grid(UTM, (1000.0, 30.0, 0.0, 5000.0, 0.0, -30.0), 100, 80)
    sub = grid.window(2, 3, 4, 5)
    assert sub.geotransform == (1060.0, 30.0, 0.0, 4910.0, 0.0, -30.0)
    assert (sub.width, sub.height) == (4, 5)
    assert sub.crs_wkt == UTM


def test_grid_window_uses_the_rotation_terms():
    # x = x0 + col*dx + row*rx ; y = y0 + col*ry + row*dy (GDAL's geotransform)
    grid = geo.Grid("", (100.0, 2.0, 0.5, 200.0, 0.25, -2.0), 10, 10)
    assert grid.window(3, 4, 1, 1).geotransform == (108.0, 2.0, 0.5, 192.75, 0.25, -2.0)
    assert grid.window(0, 0, 10, 10) == grid


def test_grid_epsg_and_same_as():
    assert TARGET.epsg == 32624
    assert geo.Grid("", TARGET.geotransform, 10, 10).epsg is None
    assert TARGET.same_as(geo.Grid(geo.crs_from_user("EPSG:32624"), TARGET.geotransform, 10, 10))
    assert not TARGET.same_as(geo.Grid(WGS84, TARGET.geotransform, 10, 10))
    assert not TARGET.same_as(TARGET.window(1, 0, 10, 10))
    assert not TARGET.same_as(TARGET.window(0, 0, 9, 10))


def test_crs_from_user_rejects_nonsense():
    with pytest.raises(InputError, match="unknown CRS 'EPSG:nope'"):
        geo.crs_from_user("EPSG:nope")


# --- Reading ---------------------------------------------------------------------------


@pytest.fixture()
def small_tif(tmp_path) -> tuple[Path, np.ndarray, geo.Grid]:
    """An 8x6 int16 GeoTIFF in EPSG:32624 with 10 m pixels and no-data -9999."""
    grid = geo.Grid(UTM, (500000.0, 10.0, 0.0, 7000000.0, 0.0, -10.0), 8, 6)
    array = np.arange(48, dtype=np.int16).reshape(6, 8)
    path = geo.write_geotiff(tmp_path / "small.tif", array, grid, nodata=-9999)
    return path, array, grid


def test_write_geotiff_then_read_raster_round_trips(small_tif):
    path, array, grid = small_tif
    assert os.listdir(path.parent) == ["small.tif"]  # no temporary left beside it
    out, out_grid, nodata = geo.read_raster(path)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, array)
    assert out_grid.same_as(grid) and out_grid.epsg == 32624
    assert out_grid.geotransform == grid.geotransform
    assert nodata == -9999
    assert geo.raster_info(path) == (out_grid, 1, -9999)


def test_read_raster_window_returns_its_values_and_grid(small_tif):
    path, array, grid = small_tif
    out, out_grid, _ = geo.read_raster(path, window=(2, 1, 3, 4))
    np.testing.assert_array_equal(out, array[1:5, 2:5])
    assert out_grid.geotransform == (500020.0, 10.0, 0.0, 6999990.0, 0.0, -10.0)
    assert (out_grid.width, out_grid.height) == (3, 4)
    assert out_grid == grid.window(2, 1, 3, 4)


def test_raster_source_reads_many_windows(small_tif):
    path, array, grid = small_tif
    with geo.RasterSource(path) as source:
        assert source.grid.same_as(grid) and source.band_count == 1
        np.testing.assert_array_equal(source.read((0, 0, 8, 1)), array[:1])
        np.testing.assert_array_equal(source.read((7, 5, 1, 1)), array[5:, 7:])
        assert source.band_info().dtype == "int16" and source.nodata() == -9999
        with pytest.raises(InputError, match="band 2 was asked for"):
            source.read((0, 0, 1, 1), band=2)


@pytest.mark.parametrize("window", [(6, 0, 4, 2), (0, 5, 1, 2), (-1, 0, 2, 2), (0, -1, 2, 2)])
def test_window_outside_the_raster_is_an_input_error_naming_the_file(small_tif, window):
    path, _, _ = small_tif
    with pytest.raises(InputError, match=r"small\.tif: window .* lies outside the 8x6 raster"):
        geo.read_raster(path, window=window)


def test_missing_file_is_an_input_error(tmp_path):
    missing = tmp_path / "nope.tif"
    with pytest.raises(InputError, match=r"nope\.tif: no such file"):
        geo.read_raster(missing)
    with pytest.raises(InputError, match=r"nope\.tif: no such file"):
        geo.RasterSource(missing)


def test_non_raster_file_is_an_input_error(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("these are not pixels\n")
    with pytest.raises(InputError, match=r"notes\.tif: not a raster GDAL can read"):
        geo.read_raster(text)


# --- Warping and rasterizing ---------------------------------------------------------------


def test_warp_to_grid_reprojects_labels_with_nearest_and_fills_uncovered_pixels(tmp_path):
    # Labels in EPSG:4326: 1 west of 39 W, 2 east of it; the source stops at the latitude
    # of the target's middle row boundary, so the target's top half is not covered.
    lat_top = _to_lonlat(500000.0, 6995000.0)[1]
    lat_bottom = _to_lonlat(500000.0, 6985000.0)[1]  # one target height below: fully covers the bottom half
    step = 0.001
    width, height = 400, int(np.ceil((lat_top - lat_bottom) / step))
    lons = -39.2 + step * (np.arange(width) + 0.5)
    labels = np.where(lons < -39.0, 1, 2).astype(np.uint8)
    source = geo.write_geotiff(
        tmp_path / "labels_4326.tif",
        np.tile(labels, (height, 1)),
        geo.Grid(WGS84, (-39.2, step, 0.0, lat_top, 0.0, -step), width, height),
    )

    out = geo.warp_to_grid(source, TARGET, nodata=255)

    assert out.shape == (10, 10) and out.dtype == np.uint8
    assert set(np.unique(out)) == {1, 2, 255}  # labels stay labels: nothing in between
    assert (out[:5] == 255).all()  # north of the source: no data
    np.testing.assert_array_equal(out[5:, :5], 1)  # west of the central meridian
    np.testing.assert_array_equal(out[5:, 5:], 2)


def test_warp_to_grid_samples_the_nearest_source_pixel(tmp_path):
    # A coarse checkerboard (pixels about the size of the target's): any interpolation
    # would produce values between 10 and 200.
    step_lon, step_lat, lon0, lat0 = 0.013, 0.007, -39.2, 63.2
    rows, cols = np.indices((40, 40))
    checker = np.where((rows + cols) % 2 == 0, 10, 200).astype(np.uint8)
    source = geo.write_geotiff(
        tmp_path / "checker_4326.tif", checker, geo.Grid(WGS84, (lon0, step_lon, 0.0, lat0, 0.0, -step_lat), 40, 40)
    )

    out = geo.warp_to_grid(source, TARGET, nodata=255)

    assert set(np.unique(out)) == {10, 200}  # fully covered, and labels stay labels
    x0, dx, _, y0, _, dy = TARGET.geotransform
    expected = np.empty((10, 10), np.uint8)
    for r in range(10):
        for c in range(10):
            lon, lat = _to_lonlat(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)
            expected[r, c] = checker[int((lat0 - lat) / step_lat), int((lon - lon0) / step_lon)]
    assert (out == expected).mean() >= 0.95  # GDAL's approximate transformer may flip a pixel on an edge


def test_warp_to_grid_refuses_a_source_without_crs_onto_a_georeferenced_grid(tmp_path):
    path = geo.write_geotiff(tmp_path / "nocrs.tif", np.ones((4, 4), np.uint8), geo.Grid("", TARGET.geotransform, 4, 4))
    with pytest.raises(InputError, match=r"nocrs\.tif: one of the mask and the scene has no CRS"):
        geo.warp_to_grid(path, TARGET)


def test_rasterize_burns_a_polygon_onto_the_grid():
    x0, y0 = TARGET.geotransform[0], TARGET.geotransform[3]
    # Columns 2..4 and rows 3..6 (pixel edges), burned with 7.
    polygon = geo.bounds_polygon((x0 + 2000, y0 - 7000, x0 + 5000, y0 - 3000))
    out = geo.rasterize([polygon], [7], TARGET)
    expected = np.zeros((10, 10), np.uint8)
    expected[3:7, 2:5] = 7
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_rasterize_burns_in_order_later_geometries_on_top():
    x0, y0 = TARGET.geotransform[0], TARGET.geotransform[3]
    big = geo.bounds_polygon((x0, y0 - 10000, x0 + 10000, y0))
    small = geo.bounds_polygon((x0 + 4000, y0 - 6000, x0 + 6000, y0 - 4000))
    out = geo.rasterize([big, small], [1, 3], TARGET)
    expected = np.ones((10, 10), np.uint8)
    expected[4:6, 4:6] = 3
    np.testing.assert_array_equal(out, expected)


def test_transform_geometries_round_trip():
    bounds = (496000.0, 6991000.0, 503000.0, 6998000.0)
    polygon = geo.bounds_polygon(bounds)
    (lonlat,) = geo.transform_geometries([polygon], UTM, WGS84)
    minx, maxx, miny, maxy = _envelope(lonlat)
    # x is longitude, y latitude (traditional GIS order whatever the CRS's axis order)
    assert -39.2 < minx < maxx < -38.8 and 62.9 < miny < maxy < 63.2
    (back,) = geo.transform_geometries([lonlat], WGS84, UTM)
    np.testing.assert_allclose(_envelope(back), (bounds[0], bounds[2], bounds[1], bounds[3]), atol=1e-3)
    np.testing.assert_allclose(geo.geometries_bounds([back]), bounds, atol=1e-3)


def test_transform_geometries_is_a_no_op_for_the_same_or_an_unknown_crs():
    polygon = geo.bounds_polygon((0.0, 0.0, 1.0, 1.0))
    assert geo.transform_geometries([polygon], UTM, geo.crs_from_user("EPSG:32624")) == [polygon]
    assert geo.transform_geometries([polygon], "", UTM) == [polygon]


# --- Vectors --------------------------------------------------------------------------------


def test_write_vector_read_vector_round_trip_gpkg(tmp_path):
    x0, y0 = TARGET.geotransform[0], TARGET.geotransform[3]
    polygons = [
        geo.bounds_polygon((x0, y0 - 2000, x0 + 2000, y0)),
        geo.bounds_polygon((x0 + 5000, y0 - 9000, x0 + 9000, y0 - 5000)),
    ]
    path = geo.write_vector(tmp_path / "zones.gpkg", polygons, UTM, {"zone": [1, 2], "name": ["rock", "glacier"]})
    assert path == tmp_path / "zones.gpkg"
    assert os.listdir(tmp_path) == ["zones.gpkg"]  # no temporary or journal left

    features = geo.read_vector(path, field="zone")
    assert features.values == [1, 2]
    assert geo.same_crs(features.crs_wkt, UTM)
    assert features.geometry_types == ["polygon", "polygon"]
    for written, read in zip(polygons, features.geometries, strict=True):
        np.testing.assert_allclose(_envelope(read), _envelope(written))
    assert geo.read_vector(path, field="name").values == ["rock", "glacier"]
    assert geo.read_vector(path).values == [None, None]


def test_read_vector_missing_field_lists_the_fields(tmp_path):
    path = geo.write_vector(tmp_path / "z.gpkg", [geo.bounds_polygon((0, 0, 1, 1))], UTM, {"zone": [1], "name": ["a"]})
    message = r"z\.gpkg: has no field 'label'; its fields are zone, name; pass one with label_field"
    with pytest.raises(InputError, match=message):
        geo.read_vector(path, field="label")


def test_read_vector_missing_or_unreadable_file(tmp_path):
    with pytest.raises(InputError, match=r"none\.gpkg: no such file"):
        geo.read_vector(tmp_path / "none.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"\x00not a geopackage")
    with pytest.raises(InputError, match=r"junk\.gpkg: not a vector file OGR can read"):
        geo.read_vector(junk)


# --- Streaming writes ----------------------------------------------------------------------


def test_raster_row_writer_commit_makes_a_cog_with_grid_and_nodata(tmp_path):
    grid = geo.Grid(UTM, (500000.0, 10.0, 0.0, 7000000.0, 0.0, -10.0), 40, 24)
    array = (np.arange(40 * 24) % 251).astype(np.uint8).reshape(24, 40)
    target = tmp_path / "out.tif"
    with geo.RasterRowWriter(target, grid, np.uint8, nodata=0) as writer:
        writer.write_rows(0, array[:10])
        writer.write_rows(10, array[10:])
        assert not target.exists()  # nothing under the final name before commit
        assert writer.commit() == target

    assert os.listdir(tmp_path) == ["out.tif"]  # the stream file is gone
    assert geo.is_cog(target)
    out, out_grid, nodata = geo.read_raster(target)
    np.testing.assert_array_equal(out, array)
    assert out_grid.same_as(grid) and out_grid.epsg == 32624
    assert out_grid.geotransform == grid.geotransform
    assert nodata == 0


def test_plain_geotiff_is_not_reported_as_cog(small_tif):
    path, _, _ = small_tif
    assert not geo.is_cog(path)


def test_raster_row_writer_rejects_rows_that_do_not_fit(tmp_path):
    grid = geo.Grid(UTM, TARGET.geotransform, 10, 4)
    with geo.RasterRowWriter(tmp_path / "o.tif", grid, np.uint8) as writer:
        with pytest.raises(ValueError, match="do not fit"):
            writer.write_rows(2, np.zeros((3, 10), np.uint8))
        with pytest.raises(ValueError, match="do not fit"):
            writer.write_rows(0, np.zeros((1, 9), np.uint8))
    assert os.listdir(tmp_path) == []


def test_raster_row_writer_without_commit_leaves_nothing(tmp_path):
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        with geo.RasterRowWriter(target, TARGET, np.float32, nodata=-1) as writer:
            writer.write_rows(0, np.ones((5, 10), np.float32))
            assert len(os.listdir(tmp_path)) == 1  # the stream file exists while writing
            raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_raster_row_writer_without_commit_keeps_an_existing_output(tmp_path):
    target = tmp_path / "out.tif"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="boom"):
        with geo.RasterRowWriter(target, TARGET, np.uint8):
            raise RuntimeError("boom")
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.tif"]


def test_raster_row_writer_png(tmp_path):
    grid = geo.Grid("", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), 6, 4)
    array = np.arange(24, dtype=np.uint8).reshape(4, 6)
    with geo.RasterRowWriter(tmp_path / "out.png", grid, np.uint8) as writer:
        writer.write_rows(0, array)
        writer.commit()
    assert os.listdir(tmp_path) == ["out.png"]  # no .aux.xml sidecar either
    assert gdal.Open(str(tmp_path / "out.png")).GetDriver().ShortName == "PNG"
    np.testing.assert_array_equal(geo.read_raster(tmp_path / "out.png")[0], array)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_png_output_refuses_non_8_16_bit_unsigned_dtypes(tmp_path, dtype):
    with pytest.raises(InputError, match=r"out\.png: PNG holds 8/16-bit integers only"):
        geo.RasterRowWriter(tmp_path / "out.png", TARGET, dtype)
    assert os.listdir(tmp_path) == []


def test_unknown_output_suffix_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"out\.jpg: unknown output format"):
        geo.RasterRowWriter(tmp_path / "out.jpg", TARGET, np.uint8)
    assert os.listdir(tmp_path) == []


def test_write_geotiff_shape_mismatch_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="does not match grid 10x10"):
        geo.write_geotiff(tmp_path / "bad.tif", np.zeros((10, 9), np.uint8), TARGET)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        geo.write_geotiff(tmp_path / "bad.tif", np.zeros((1, 10, 10), np.uint8), TARGET)
    assert os.listdir(tmp_path) == []


def test_write_geotiff_failure_while_writing_leaves_no_temporary_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "scene.tif"
    target.write_bytes(b"previous")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gdal.Band, "WriteArray", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        geo.write_geotiff(target, np.zeros((10, 10), np.uint8), TARGET)
    assert os.listdir(tmp_path) == ["scene.tif"]
    assert target.read_bytes() == b"previous"


def test_pixel_size_in_metres_for_projected_geographic_and_no_crs():
    import math

    utm = geo.Grid.north_up(geo.crs_from_user("EPSG:32633"), (500000.0, 7000000.0), 20.0, 10, 10)
    assert geo.pixel_size_m(utm) == pytest.approx(20.0)
    feet = geo.Grid.north_up(geo.crs_from_user("EPSG:2227"), (6000000.0, 2000000.0), 10.0, 10, 10)  # US survey ft
    assert geo.pixel_size_m(feet) == pytest.approx(10 * 1200 / 3937)
    # 0.001 degree at 60 deg N on WGS84's semi-major axis: x shrinks by cos(60), y does not.
    wgs = geo.Grid.north_up(geo.crs_from_user("EPSG:4326"), (10.0, 60.0 + 0.005), 0.001, 10, 10)
    metres = math.radians(0.001) * 6378137.0
    assert geo.pixel_size_m(wgs) == pytest.approx(math.sqrt(metres * 0.5 * metres), rel=1e-6)
    assert math.isnan(geo.pixel_size_m(geo.Grid("", (0, 1, 0, 0, 0, -1), 4, 4)))
