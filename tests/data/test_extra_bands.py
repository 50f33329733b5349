"""Extra conditioning bands in data preparation (issue 12): synth's DEM, the warp onto a
scene's grid, the ocean rule, the scaling in dataset.json, older datasets."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from pix2pix_sar import geo
from pix2pix_sar.data.dataset import FORMAT_VERSION, load_info, load_manifest, load_split
from pix2pix_sar.data.extra_bands import ExtraBandInput, choose_resampling
from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput
from pix2pix_sar.data.synth import DEM_NODATA, DEM_PIXEL_FACTOR, synth_scene
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK
from pix2pix_sar.errors import InputError

#: sha256 of (intensity, zones) bytes of synth_scene(width, height, seed=seed) before the DEM
#: existed (commit af21e08): the DEM must not change the scene.
SCENE_HASHES = {
    (128, 96, 3): (
        "683c1f5246606f15e5009b77a8aecb873976c0a294ae6f27cc50f27cda205646",
        "ea9f523200d7e9f37f2297283df9b3f4bfe2f10375ba458044f884e3e8ce5837",
    ),
    (64, 64, 0): (
        "7f8402f65715ced637d08204b6767d21ebe8107ad7d726867ab4d8b05139401c",
        "32c3e7183019ff1eceb2c5aea15df87107b83a26e786e63172acd933b3eab79d",
    ),
}

OPTIONS = PrepareOptions(patch_size=32, seed=0, val_fraction=0.2, units="intensity", classes="zones")


@pytest.mark.parametrize("size_seed", list(SCENE_HASHES))
def test_synth_scene_is_bit_identical_to_before_the_dem(size_seed):
    width, height, seed = size_seed
    for pixel_size in (40.0, 20.0):  # the pixel size only scales the heights
        scene = synth_scene(width, height, seed=seed, pixel_size=pixel_size)
        got = (hashlib.sha256(scene.intensity.tobytes()).hexdigest(), hashlib.sha256(scene.zones.tobytes()).hexdigest())
        assert got == SCENE_HASHES[size_seed]


def test_synth_dem_is_the_terrain_behind_the_rock_brightness():
    scene = synth_scene(256, 256, seed=7)
    heights, zones = scene.heights, scene.zones
    assert np.isnan(heights[zones == OCEAN]).all()  # no data over the sea, as in REMA
    assert np.isfinite(heights[(zones == ROCK) | (zones == GLACIER)]).all()
    # Slopes facing the sensor (it looks from the left: height rising with the column) are bright.
    rise = np.gradient(heights, axis=1)
    on_rock = (zones == ROCK) & np.isfinite(rise)
    assert np.corrcoef(rise[on_rock], 10 * np.log10(scene.intensity[on_rock]))[0, 1] > 0.25
    # The glacier surface falls toward the calving front (lower rows).
    glacier_rows = [np.mean(heights[r][zones[r] == GLACIER]) for r in range(256) if (zones[r] == GLACIER).sum() > 5]
    assert np.all(np.diff(glacier_rows) < 0)


def test_synth_writes_a_coarser_dem_with_no_data_over_the_ocean(synth_files):
    scene_grid, _, _ = geo.raster_info(synth_files.scene)
    dem, dem_grid, nodata = geo.read_raster(synth_files.dem)
    assert nodata == DEM_NODATA and geo.band_unit(synth_files.dem) == "m"
    assert dem_grid.geotransform[1] == DEM_PIXEL_FACTOR * scene_grid.geotransform[1]
    assert geo.same_crs(dem_grid.crs_wkt, scene_grid.crs_wkt)
    assert (dem == DEM_NODATA).any() and (dem[dem != DEM_NODATA] > 0).all()


def test_resampling_averages_finer_bands_and_interpolates_coarser_ones(synth_files):
    scene_grid, _, _ = geo.raster_info(synth_files.scene)
    dem_grid, _, _ = geo.raster_info(synth_files.dem)
    assert choose_resampling(dem_grid, scene_grid) == "bilinear"
    assert choose_resampling(scene_grid, dem_grid) == "average"
    # A window of the grid warps to the same values as the whole grid (prepare and generate warp strips).
    for resampling in ("bilinear", "average"):
        whole, whole_missing = geo.warp_band(synth_files.dem, scene_grid, resampling)
        strip, strip_missing = geo.warp_band(
            synth_files.dem, scene_grid.window(0, 37, scene_grid.width, 32), resampling
        )
        np.testing.assert_allclose(strip, whole[37:69], rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(strip_missing, whole_missing[37:69])


def test_prepare_records_the_band_and_fills_the_ocean(dem_dataset, synth_files):
    info = json.loads((dem_dataset / "dataset.json").read_text())
    assert info["format_version"] == FORMAT_VERSION == 4
    [band] = info["extra_bands"]
    assert (band["name"], band["units"], band["resampling"]) == ("dem", "m", "bilinear")
    # The 1st percentile is sea level: the ocean's missing heights became 0 m.
    assert band["low"] == 0.0 and band["high"] > 100.0
    assert str(synth_files.dem.resolve()) in info["sources"]
    # The DEM has no data over the ocean only, so it keeps exactly the patches the SAR keeps.
    plain = prepare_scenes(
        [SceneInput(synth_files.scene, synth_files.zones)], dem_dataset.parent / "plain", options=OPTIONS
    )
    assert [r.id for r in load_manifest(plain)] == [r.id for r in load_manifest(dem_dataset)]
    split = load_split(dem_dataset, "train")
    assert split.extras.shape == (len(split), 32, 32, 1) and split.extras.dtype == np.float32
    assert -1.0 <= split.extras.min() and split.extras.max() <= 1.0
    ocean = split.zones == OCEAN
    assert ocean.any() and np.median(split.extras[..., 0][ocean]) == -1.0  # 0 m is the low end


def test_missing_band_values_on_land_follow_max_nodata(synth_files, tmp_path):
    dem, grid, nodata = geo.read_raster(synth_files.dem)
    holed = dem.copy()
    holed[10:14, 10:14] = nodata  # a 480 m hole over land (rock, top left)
    geo.write_geotiff(tmp_path / "holed.tif", holed, grid, nodata=nodata)
    scene = [SceneInput(synth_files.scene, synth_files.zones)]
    bands = [ExtraBandInput("dem", tmp_path / "holed.tif")]
    strict = prepare_scenes(scene, tmp_path / "strict", options=OPTIONS, bands=bands)
    full = {r.id for r in load_manifest(prepare_scenes(scene, tmp_path / "plain", options=OPTIONS))}
    kept = {r.id for r in load_manifest(strict)}
    assert kept < full  # the patches over the hole are dropped, like patches with SAR no-data
    lenient = PrepareOptions(**{**OPTIONS.__dict__, "max_nodata": 0.5})
    relaxed = prepare_scenes(scene, tmp_path / "lenient", options=lenient, bands=bands)
    assert len(load_manifest(relaxed)) > len(kept)


def test_band_folders_pair_by_scene_name_and_bad_names_are_refused(two_scenes, tmp_path):
    folder = tmp_path / "dems"
    folder.mkdir()
    for files in two_scenes:
        shutil.copy(files.dem, folder / f"{files.scene.parent.name}_dem.tif")
    scenes = []
    for files in two_scenes:  # the scenes are all scene.tif: give them their folder's name
        named = tmp_path / f"{files.scene.parent.name}.tif"
        shutil.copy(files.scene, named)
        scenes.append(SceneInput(named, files.zones))
    band = ExtraBandInput.parse(f"dem={folder}")
    out = prepare_scenes(scenes, tmp_path / "ds", options=OPTIONS, bands=[band])
    assert load_info(out).band_names == ["dem"]
    with pytest.raises(InputError, match="band dem: no other_dem.tif"):
        band.raster_for(tmp_path / "other.tif")
    for text, message in (("dem", "NAME=RASTER"), ("Sar=x.tif", "lower-case"), ("mask=x.tif", "other than")):
        with pytest.raises(InputError, match=message):
            ExtraBandInput.parse(text)
    with pytest.raises(InputError, match="band dem is given twice"):
        prepare_scenes(scenes, tmp_path / "twice", options=OPTIONS, bands=[band, band])


def test_a_format_3_dataset_loads_without_extra_bands(tiny_dataset, tmp_path):
    old = shutil.copytree(tiny_dataset, tmp_path / "old")
    info = json.loads((old / "dataset.json").read_text())
    info.pop("extra_bands")
    (old / "dataset.json").write_text(json.dumps({**info, "format_version": 3}))
    assert load_info(old).extra_bands == ()
    split = load_split(old, "val")
    assert split.extras is None and len(split) > 0


def test_a_band_that_misses_the_scene_is_named_and_evaluation_data_must_have_the_runs_bands(
    dem_dataset, synth_files, tmp_path
):
    from pix2pix_sar.run_folder import RunFolder

    dem, grid, nodata = geo.read_raster(synth_files.dem)
    far = geo.Grid(grid.crs_wkt, (grid.geotransform[0] + 1e6, *grid.geotransform[1:]), grid.width, grid.height)
    geo.write_geotiff(tmp_path / "far.tif", dem, far, nodata=nodata)
    with pytest.raises(InputError, match="band dem: .*far.tif has no data on .*scene.tif .*check its CRS"):
        prepare_scenes(
            [SceneInput(synth_files.scene, synth_files.zones)],
            tmp_path / "none",
            options=OPTIONS,
            bands=[ExtraBandInput("dem", tmp_path / "far.tif")],
        )
    # A run trained with the DEM evaluates only on data with the same band and scaling.
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(dem_dataset / "dataset.json", run / "dataset.json")
    (run / "config.yaml").write_text("")
    plain = shutil.copytree(dem_dataset, tmp_path / "plain")
    info = json.loads((plain / "dataset.json").read_text())
    (plain / "dataset.json").write_text(json.dumps({**info, "extra_bands": []}))
    assert RunFolder(run).dataset_dir(dem_dataset) == dem_dataset
    with pytest.raises(InputError, match="scaled otherwise than the run's dataset \\(bands none vs dem;"):
        RunFolder(run).dataset_dir(plain)
