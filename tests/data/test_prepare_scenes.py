"""prepare on real-scene inputs: vectors, AOI in another CRS, warped masks, many scenes, units."""

from __future__ import annotations

import numpy as np
from osgeo import ogr

from pix2pix_sar import geo
from pix2pix_sar.data.dataset import load_info, load_manifest, load_split, mask_path, sar_path, split_ids
from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.scenes import AreaOfInterest, SceneInput, VectorLabels, guess_units, pair_scenes
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK, encode_zones


def _patch_footprint(grid: geo.Grid, rec) -> ogr.Geometry:
    """The box through the patch's outermost pixel centres, in the scene CRS."""
    x0, dx, _, y0, _, dy = grid.geotransform
    minx, maxx = x0 + (rec.col_off + 0.5) * dx, x0 + (rec.col_off + rec.width - 0.5) * dx
    maxy, miny = y0 + (rec.row_off + 0.5) * dy, y0 + (rec.row_off + rec.height - 0.5) * dy
    return ogr.CreateGeometryFromWkb(geo.bounds_polygon((minx, miny, maxx, maxy)))


def test_vector_labels_and_4326_aoi_give_aligned_patches_inside_the_aoi(synth_files, tmp_path):
    out = prepare_scenes(
        [SceneInput(synth_files.scene)],
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, seed=4),
        labels=VectorLabels(synth_files.zones_vector, "class"),
        aoi=AreaOfInterest.from_file(synth_files.aoi),
    )
    records = load_manifest(out)
    scene_grid = geo.raster_info(synth_files.scene)[0]
    aoi = AreaOfInterest.from_file(synth_files.aoi)
    assert geo.Grid(aoi.crs_wkt, (0, 1, 0, 0, 0, 1), 1, 1).epsg == 4326
    aoi_geom = ogr.CreateGeometryFromWkb(geo.transform_geometries(aoi.geometries, aoi.crs_wkt, scene_grid.crs_wkt)[0])
    zones = geo.read_raster(synth_files.zones)[0]
    intensity = geo.read_raster(synth_files.scene)[0]
    info = load_info(out)
    assert len(records) > 20
    for rec in records:
        assert aoi_geom.Contains(_patch_footprint(scene_grid, rec)), rec
        window = (slice(rec.row_off, rec.row_off + 32), slice(rec.col_off, rec.col_off + 32))
        for path in (sar_path(out, rec.split, rec.id), mask_path(out, rec.split, rec.id)):
            grid = geo.raster_info(path)[0]
            assert grid.epsg == 3031 and grid.same_as(scene_grid.window(rec.col_off, rec.row_off, 32, 32))
        # Rasterised polygons reproduce the zone raster exactly; SAR values invert to the source.
        assert np.array_equal(geo.read_raster(mask_path(out, rec.split, rec.id))[0], zones[window])
        scaled = geo.read_raster(sar_path(out, rec.split, rec.id))[0]
        db = 10 * np.log10(intensity[window])
        inside = (db > info.scaling.db_min) & (db < info.scaling.db_max)
        np.testing.assert_allclose(info.scaling.from_model(scaled)[inside], intensity[window][inside], rtol=1e-3)
    is_val = [r.split == "val" for r in records]
    assert is_val == split_ids(len(records), 0.1, 4).tolist() and sum(is_val) == round(0.1 * len(records))
    assert info.extra["aoi"] == str(synth_files.aoi) and info.extra["label_field"] == "class"


def test_bounds_in_another_crs_and_label_codes(synth_files, tmp_path):
    grid = geo.raster_info(synth_files.scene)[0]
    minx, miny, maxx, maxy = geo.grid_bounds(grid)
    # The western half of the scene, given in EPSG:3031 by its corners, labels by zone code.
    out = prepare_scenes(
        [SceneInput(synth_files.scene)],
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32),
        labels=VectorLabels(synth_files.zones_vector, "zone"),
        aoi=AreaOfInterest.from_bounds((minx, miny, (minx + maxx) / 2, maxy), "EPSG:3031"),
    )
    records = load_manifest(out)
    assert records and all(r.col_off + 32 <= 128 for r in records)


def test_split_by_scene_keeps_scenes_apart(two_scenes, tmp_path):
    # One vector file and one EPSG:4326 AOI for both scenes.
    parts = [geo.read_vector(f.zones_vector, "class") for f in two_scenes]
    labels = geo.write_vector(
        tmp_path / "labels.gpkg",
        parts[0].geometries + parts[1].geometries,
        parts[0].crs_wkt,
        {"class": parts[0].values + parts[1].values},
    )
    grids = [geo.raster_info(f.scene)[0] for f in two_scenes]
    (minx, miny, _, maxy), (_, _, maxx, _) = geo.grid_bounds(grids[0]), geo.grid_bounds(grids[1])
    wgs84 = geo.crs_from_user("EPSG:4326")
    aoi_3031 = (minx + 200, miny + 200, maxx - 200, maxy - 200)
    aoi_4326 = geo.transform_geometries([geo.bounds_polygon(aoi_3031)], grids[0].crs_wkt, wgs84)
    scenes = pair_scenes([f.scene for f in two_scenes])
    out = prepare_scenes(
        scenes,
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, split_by="scene", seed=1),
        labels=VectorLabels(labels, "class"),
        aoi=AreaOfInterest(aoi_4326, wgs84, "aoi"),
    )
    records = load_manifest(out)
    aoi_geom = ogr.CreateGeometryFromWkb(geo.bounds_polygon(aoi_3031))
    for rec in records:
        scene_grid = grids[[str(f.scene.resolve()) for f in two_scenes].index(rec.source)]
        assert aoi_geom.Contains(_patch_footprint(scene_grid, rec))
        assert geo.raster_info(mask_path(out, rec.split, rec.id))[0].same_as(
            scene_grid.window(rec.col_off, rec.row_off, 32, 32)
        )
    # Both files are called scene.tif: the manifest names them by path.
    assert {r.source for r in records} == {str(f.scene.resolve()) for f in two_scenes}
    by_scene = {}
    for rec in records:
        by_scene.setdefault(rec.source, set()).add(rec.split)
    assert sorted(map(len, by_scene.values())) == [1, 1]  # each scene wholly in one split
    assert {s for v in by_scene.values() for s in v} == {"train", "val"}
    assert load_info(out).extra["split_by"] == "scene"


def test_mask_folder_pairing_and_warped_coarser_mask(two_scenes, tmp_path):
    # Folder rule: NAME.tif pairs with NAME_zones.tif.
    folder = tmp_path / "scenes"
    folder.mkdir()
    sar = geo.read_raster(two_scenes[0].scene)
    zones, grid, _ = geo.read_raster(two_scenes[0].zones)
    geo.write_geotiff(folder / "a.tif", sar[0], sar[1], nodata=0)
    # The mask at half resolution (80 m): warped back with nearest neighbour.
    x0, dx, _, y0, _, dy = grid.geotransform
    coarse = geo.Grid(grid.crs_wkt, (x0, 2 * dx, 0, y0, 0, 2 * dy), 64, 64)
    geo.write_geotiff(folder / "a_zones.tif", zones[::2, ::2], coarse, nodata=0)
    scenes = pair_scenes([folder], [folder])
    assert scenes == [SceneInput(folder / "a.tif", folder / "a_zones.tif")]
    out = prepare_scenes(scenes, tmp_path / "ds", options=PrepareOptions(patch_size=32, max_nodata=0.99))
    expected = zones[::2, ::2].repeat(2, 0).repeat(2, 1)
    for rec in load_manifest(out):
        got = geo.read_raster(mask_path(out, rec.split, rec.id))[0]
        want = expected[rec.row_off : rec.row_off + 32, rec.col_off : rec.col_off + 32]
        sar_valid = sar[0][rec.row_off : rec.row_off + 32, rec.col_off : rec.col_off + 32] > 0
        assert np.array_equal(got[sar_valid], want[sar_valid])


def test_max_nodata_keeps_partial_patches_marked(synth_files, tmp_path):
    out = prepare_scenes(
        [SceneInput(synth_files.scene, synth_files.zones)],
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, max_nodata=0.9, stride=32, classes="zones"),
    )
    split = load_split(out, "train")
    partial = (split.zones == NODATA).any(axis=(1, 2))
    assert partial.any()
    # No-data pixels: mask 0 and SAR at the bottom of the range.
    assert np.all(split.images[..., 0][split.zones == NODATA] == -1.0)
    assert load_info(out).classes == "zones"


def test_zones_scheme_is_one_hot_with_empty_nodata():
    zones = np.array([[NODATA, ROCK], [GLACIER, OCEAN]], np.uint8)
    assert encode_zones(zones).tolist() == [[[0, 0, 0], [1, 0, 0]], [[0, 1, 0], [0, 0, 1]]]


def test_units_amplitude_db_and_dn_scale_the_same_scene(synth_files, tmp_path):
    intensity, grid, _ = geo.read_raster(synth_files.scene)
    zones = synth_files.zones
    valid = intensity > 0
    amplitude = np.sqrt(intensity)
    db = np.where(valid, 10 * np.log10(np.where(valid, intensity, 1)), -9999).astype(np.float32)
    geo.write_geotiff(tmp_path / "amp.tif", amplitude, grid, nodata=0)
    geo.write_geotiff(tmp_path / "db.tif", db, grid, nodata=-9999)
    opts = PrepareOptions(patch_size=64, units="auto")
    ref = load_split(prepare_scenes([SceneInput(synth_files.scene, zones)], tmp_path / "i", options=opts), "train")
    amp = prepare_scenes(
        [SceneInput(tmp_path / "amp.tif", zones)],
        tmp_path / "a",
        options=PrepareOptions(patch_size=64, units="amplitude"),
    )
    dbs = prepare_scenes([SceneInput(tmp_path / "db.tif", zones)], tmp_path / "d", options=opts)
    assert load_info(dbs).scaling.units == "db"  # guessed from negative values
    for other in (amp, dbs):
        np.testing.assert_allclose(load_split(other, "train").images, ref.images, atol=1e-4)
    # 16-bit DN: guessed from the type; generated values map back to uint16 DN.
    dn = np.clip(np.where(valid, 1000 * amplitude, 0), 0, 65535).astype(np.uint16)
    geo.write_geotiff(tmp_path / "dn.tif", dn, grid, nodata=0)
    dn_ds = prepare_scenes([SceneInput(tmp_path / "dn.tif", zones)], tmp_path / "n", options=opts)
    scaling = load_info(dn_ds).scaling
    assert (scaling.units, scaling.dtype, scaling.nodata) == ("dn", "uint16", 0.0)
    rec = load_manifest(dn_ds)[0]
    back = scaling.from_model(geo.read_raster(sar_path(dn_ds, rec.split, rec.id))[0])
    source = dn[rec.row_off : rec.row_off + 64, rec.col_off : rec.col_off + 64]
    inside = (source > scaling.db_min) & (source < scaling.db_max)
    assert back.dtype == np.uint16 and np.abs(back[inside].astype(int) - source[inside]).max() <= 1


def test_scaling_reads_old_dataset_json():
    old = SarScaling.from_dict({"units": "intensity", "db_min": -25.0, "db_max": 5.0})
    assert (old.dtype, old.nodata) == ("float32", None)
    assert SarScaling.from_dict(old.to_dict()) == old


def test_guess_units_uses_metadata_then_values():
    values = np.array([0.01, 0.2, 1.0])
    assert guess_units(geo.BandInfo("float32", None, ""), values) == "intensity"
    assert guess_units(geo.BandInfo("float32", None, "sigma0 amplitude"), values) == "amplitude"
    assert guess_units(geo.BandInfo("float32", None, ""), np.array([-20.0, -10.0, 1.0])) == "db"
    assert guess_units(geo.BandInfo("uint8", None, ""), values) == "dn"


def test_aoi_over_one_of_two_scenes_takes_patches_from_it_only(two_scenes, tmp_path):
    grid = geo.raster_info(two_scenes[0].scene)[0]
    scenes = pair_scenes([f.scene for f in two_scenes], [f.zones for f in two_scenes])
    out = prepare_scenes(
        scenes,
        tmp_path / "ds",
        options=PrepareOptions(patch_size=32, max_nodata=0.5),
        aoi=AreaOfInterest.from_bounds(geo.grid_bounds(grid), "EPSG:3031"),
    )
    assert {r.source for r in load_manifest(out)} == {str(two_scenes[0].scene.resolve())}
