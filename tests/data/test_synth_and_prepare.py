import numpy as np
import pytest
from osgeo import gdal

from pix2pix_sar import geo
from pix2pix_sar.data.dataset import load_info, load_manifest, load_split, mask_path, sar_path
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK, encode_binary
from pix2pix_sar.errors import InputError
from tests.helpers import prepare_dataset


def test_synthetic_scene_has_every_zone_and_gamma_speckle():
    scene = synth_scene(512, 512, seed=3, looks=5.0)
    assert set(np.unique(scene.zones)) == {NODATA, ROCK, GLACIER, OCEAN}
    assert np.all(scene.intensity[scene.zones == NODATA] == 0)
    assert np.all(scene.intensity[scene.zones != NODATA] > 0)
    # Equivalent number of looks over a homogeneous stretch of open sea ~ looks.
    window = scene.intensity[470:500, 40:120]
    assert np.all(scene.zones[470:500, 40:120] == OCEAN)
    enl = window.mean() ** 2 / window.var()
    assert 3.5 < enl < 6.5
    # Ocean is darker than glacier, glacier darker than rock on average.
    mean_db = {z: 10 * np.log10(scene.intensity[scene.zones == z].mean()) for z in (OCEAN, GLACIER, ROCK)}
    assert mean_db[OCEAN] < mean_db[GLACIER] < mean_db[ROCK]


def test_synthetic_scene_is_deterministic_by_seed():
    a, b, c = synth_scene(64, 64, seed=1), synth_scene(64, 64, seed=1), synth_scene(64, 64, seed=2)
    assert np.array_equal(a.intensity, b.intensity) and not np.array_equal(a.intensity, c.intensity)


def test_scene_files_are_georeferenced(scene):
    sar, zones = scene
    ds = gdal.Open(str(sar))
    assert geo.Grid(ds.GetProjection(), ds.GetGeoTransform(), 1, 1).epsg == 3031
    assert ds.GetGeoTransform()[1] == 40.0 and ds.GetGeoTransform()[5] == -40.0
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    assert geo.raster_info(sar)[0].same_as(geo.raster_info(zones)[0])


def test_prepare_writes_the_documented_layout(scene, tiny_dataset):
    sar, _ = scene
    info = load_info(tiny_dataset)
    assert info.patch_size == 32 and info.classes == "binary" and info.scaling.units == "intensity"
    records = load_manifest(tiny_dataset)
    assert len({r.id for r in records}) == len(records) > 20
    n_val = sum(r.split == "val" for r in records)
    assert n_val == round(0.1 * len(records))
    scene_grid = geo.raster_info(sar)[0]
    for rec in records:
        for path in (sar_path(tiny_dataset, rec.split, rec.id), mask_path(tiny_dataset, rec.split, rec.id)):
            grid, _, _ = geo.raster_info(path)
            # Same CRS, geotransform aligned to the scene's pixel grid at the recorded window.
            assert grid.same_as(scene_grid.window(rec.col_off, rec.row_off, 32, 32))
        zones = geo.read_raster(mask_path(tiny_dataset, rec.split, rec.id))[0]
        assert NODATA not in zones  # patches with no-data are skipped
    train = load_split(tiny_dataset, "train")
    assert train.images.dtype == np.float32 and train.images.min() >= -1 and train.images.max() <= 1
    # Scaled values invert back to the scene's intensities (within the clip range).
    rec = next(r for r in records if r.split == "train")
    original = geo.read_raster(sar, (rec.col_off, rec.row_off, 32, 32))[0]
    scaled = geo.read_raster(sar_path(tiny_dataset, "train", rec.id))[0]
    db = 10 * np.log10(original)
    inside = (db > info.scaling.db_min) & (db < info.scaling.db_max)
    np.testing.assert_allclose(info.scaling.from_model(scaled)[inside], original[inside], rtol=1e-3)


def test_prepare_split_is_seeded(scene, tmp_path):
    sar, zones = scene
    a = prepare_dataset(sar, zones, tmp_path / "a", patch_size=32, seed=5)
    b = prepare_dataset(sar, zones, tmp_path / "b", patch_size=32, seed=5)
    c = prepare_dataset(sar, zones, tmp_path / "c", patch_size=32, seed=6)

    def split(d):
        return [(r.id, r.split) for r in load_manifest(d)]

    assert split(a) == split(b) != split(c)


def test_binary_encoding_is_land_versus_ocean():
    zones = np.array([[NODATA, ROCK], [GLACIER, OCEAN]], np.uint8)
    assert encode_binary(zones)[..., 0].tolist() == [[0.0, 1.0], [1.0, -1.0]]


def test_prepare_refuses_bad_input_and_leaves_nothing(scene, tmp_path):
    sar, zones = scene
    with pytest.raises(InputError, match="no such file"):
        prepare_dataset(tmp_path / "missing.tif", zones, tmp_path / "out")
    bad_mask = tmp_path / "bad_mask.tif"
    grid = geo.raster_info(zones)[0]
    geo.write_geotiff(bad_mask, np.full((grid.height, grid.width), 7, np.uint8), grid)
    with pytest.raises(InputError, match="bad_mask.tif: mask values 7 are not zone codes"):
        prepare_dataset(sar, bad_mask, tmp_path / "out", patch_size=32)
    # A mask on another grid is warped onto the scene's; one that does not overlap is refused.
    far = tmp_path / "far.tif"
    x0, dx, _, y0, _, dy = grid.geotransform
    geo.write_geotiff(
        far, np.full((64, 64), 254, np.uint8), geo.Grid(grid.crs_wkt, (x0 + 1e6, dx, 0, y0, 0, dy), 64, 64)
    )
    with pytest.raises(InputError, match="far.tif: does not overlap"):
        prepare_dataset(sar, far, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    prepare_dataset(sar, zones, tmp_path / "out", patch_size=32)
    with pytest.raises(InputError, match="already exists; pass overwrite"):
        prepare_dataset(sar, zones, tmp_path / "out", patch_size=32)
    prepare_dataset(sar, zones, tmp_path / "out", patch_size=64, overwrite=True)
    assert load_info(tmp_path / "out").patch_size == 64


def test_outputs_are_readable_by_others(tiny_dataset):
    import os
    import stat

    rec = load_manifest(tiny_dataset)[0]
    umask = os.umask(0)
    os.umask(umask)
    for path in (tiny_dataset, tiny_dataset / "dataset.json", sar_path(tiny_dataset, rec.split, rec.id)):
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert mode == expected, f"{path}: {oct(mode)}"
