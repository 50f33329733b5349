"""Every bad input: one-line message naming the file and the fix, and nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_info, load_manifest
from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
from pix2pix_sar.data.scenes import AreaOfInterest, SceneInput, VectorLabels
from pix2pix_sar.errors import InputError, InvalidValue


def _nothing_left(folder: Path, out: Path) -> bool:
    return not out.exists() and not [p for p in folder.iterdir() if p.name.startswith(f".{out.name}")]


def _grid(synth_files) -> geo.Grid:
    return geo.raster_info(synth_files.scene)[0]


def _scene_with(synth_files, tmp_path: Path, name: str, array: np.ndarray, nodata=0) -> Path:
    return geo.write_geotiff(tmp_path / name, array, _grid(synth_files), nodata=nodata)


def _multiband(synth_files, tmp_path):
    from osgeo import gdal

    path = tmp_path / "two_bands.tif"
    gdal.Translate(str(path), gdal.BuildVRT("", [str(synth_files.scene)] * 2, separate=True))
    return dict(scenes=[SceneInput(path, synth_files.zones)])


def _garbage(synth_files, tmp_path):
    path = tmp_path / "garbage.tif"
    path.write_bytes(b"II*\x00 this is not a tiff")
    return dict(scenes=[SceneInput(path, synth_files.zones)])


def _truncated(synth_files, tmp_path):
    data = synth_files.scene.read_bytes()
    path = tmp_path / "truncated.tif"
    path.write_bytes(data[: len(data) // 2])
    return dict(scenes=[SceneInput(path, synth_files.zones)])


def _bad_codes(synth_files, tmp_path):
    zones = geo.read_raster(synth_files.zones)[0].copy()
    zones[100:110, 100:110] = 7
    path = geo.write_geotiff(tmp_path / "bad_codes.tif", zones, _grid(synth_files))
    return dict(scenes=[SceneInput(synth_files.scene, path)])


def _bad_label_values(synth_files, tmp_path):
    features = geo.read_vector(synth_files.zones_vector, "class")
    path = geo.write_vector(
        tmp_path / "bad_labels.gpkg",
        features.geometries,
        features.crs_wkt,
        {"class": ["rock", "lake", *features.values[2:]]},
    )
    return dict(scenes=[SceneInput(synth_files.scene)], labels=VectorLabels(path, "class"))


def _labels_elsewhere(synth_files, tmp_path):
    features = geo.read_vector(synth_files.zones_vector, "zone")
    far = [_shift(g, 500_000.0) for g in features.geometries]
    path = geo.write_vector(tmp_path / "far_labels.gpkg", far, features.crs_wkt, {"zone": features.values})
    return dict(scenes=[SceneInput(synth_files.scene)], labels=VectorLabels(path, "zone"))


def _shift(wkb: bytes, dx: float) -> bytes:
    from osgeo import ogr

    geom = ogr.CreateGeometryFromWkb(wkb)
    for i in range(geom.GetGeometryCount()):
        ring = geom.GetGeometryRef(i)
        for j in range(ring.GetPointCount()):
            ring.SetPoint_2D(j, ring.GetX(j) + dx, ring.GetY(j))
    return bytes(geom.ExportToWkb())


def _aoi_elsewhere(synth_files, tmp_path):
    return dict(
        scenes=[SceneInput(synth_files.scene, synth_files.zones)],
        aoi=AreaOfInterest.from_bounds((10.0, 45.0, 11.0, 46.0), "EPSG:4326"),
    )  # the Alps


def _aoi_points(synth_files, tmp_path):
    from osgeo import ogr

    point = ogr.CreateGeometryFromWkt("POINT (-61.8 -65.1)")
    path = geo.write_vector(
        tmp_path / "points.geojson",
        [bytes(point.ExportToWkb())],
        geo.crs_from_user("EPSG:4326"),
        {"name": ["p"]},
        driver="GeoJSON",
    )
    return dict(scenes=[SceneInput(synth_files.scene, synth_files.zones)], aoi=AreaOfInterest.from_file(path))


def _patch_not_power_of_two(synth_files, tmp_path):
    return dict(scenes=[SceneInput(synth_files.scene, synth_files.zones)], options=PrepareOptions(patch_size=48))


def _patch_larger_than_aoi(synth_files, tmp_path):
    x0, _, _, y0, _, _ = _grid(synth_files).geotransform
    return dict(
        scenes=[SceneInput(synth_files.scene, synth_files.zones)],
        options=PrepareOptions(patch_size=64),
        aoi=AreaOfInterest.from_bounds((x0, y0 - 40 * 40, x0 + 40 * 40, y0), "EPSG:3031"),
    )


def _all_nodata(synth_files, tmp_path):
    grid = _grid(synth_files)
    path = _scene_with(synth_files, tmp_path, "empty.tif", np.zeros((grid.height, grid.width), np.float32))
    return dict(scenes=[SceneInput(path, synth_files.zones)], options=PrepareOptions(patch_size=32))


BAD_INPUTS = {
    "unreadable": (_garbage, r"garbage.tif: not a raster GDAL can read"),
    "truncated": (_truncated, r"truncated.tif: read failed .*truncated, re-export it"),
    "multi-band": (_multiband, r"two_bands.tif: has 2 bands; pick the SAR band with band N"),
    "mask codes": (_bad_codes, r"bad_codes.tif: mask values 7 are not zone codes"),
    "label values": (_bad_label_values, r"bad_labels.gpkg: field 'class' holds lake, which are not zones"),
    "labels elsewhere": (_labels_elsewhere, r"far_labels.gpkg: labels do not overlap .*scene.tif"),
    "aoi elsewhere": (
        _aoi_elsewhere,
        r"bounds 10.0 45.0 11.0 46.0: .* does not overlap any scene; in EPSG:3031 it lies [\d,]+ m",
    ),
    "aoi without polygons": (_aoi_points, r"points.geojson: has no polygons"),
    "patch size": (_patch_not_power_of_two, r"patch_size must be a power of two"),
    "patch larger than aoi": (
        _patch_larger_than_aoi,
        r"patch_size 64 is larger than the area of interest .*\(40x40 pixels\)",
    ),
    "all no-data": (_all_nodata, r"empty.tif: holds only no-data \(value 0\)"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_leaves_nothing(case, synth_files, tmp_path):
    make, message = BAD_INPUTS[case]
    out = tmp_path / "out"
    with pytest.raises(InputError, match=message) as info:
        kwargs = make(synth_files, tmp_path)
        prepare_scenes(kwargs.pop("scenes"), out, **kwargs)
    assert "\n" not in str(info.value)
    assert _nothing_left(tmp_path, out)


def test_existing_output_needs_overwrite(synth_files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="out: already exists; pass overwrite"):
        prepare_scenes([SceneInput(synth_files.scene, synth_files.zones)], out, options=PrepareOptions(patch_size=32))
    assert (out / "keep.txt").read_text() == "mine"


def test_cli_reports_bad_input_in_one_line(synth_files, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "prepare",
            "--sar",
            str(synth_files.scene),
            "--mask",
            str(synth_files.zones),
            "--bounds",
            "10 45 11 46",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "does not overlap any scene" in lines[0] and "Traceback" not in result.output
    assert _nothing_left(tmp_path, tmp_path / "out")


def _prepare_cli(sar: list[Path], masks: list[Path], out: Path, *extra: str):
    args = ["prepare", *[a for s in sar for a in ("--sar", str(s))], *[a for m in masks for a in ("--mask", str(m))]]
    return CliRunner().invoke(cli, [*args, "--out", str(out), "--patch-size", "32", *extra])


@pytest.mark.parametrize("split", [[], ["--split-by", "patch"]])
def test_cli_overlapping_stride_with_split_by_patch_is_refused(split, synth_files, tmp_path):
    # Patches 16 pixels apart share pixels: a random split by patch would leak them into validation.
    out = tmp_path / "out"
    result = _prepare_cli([synth_files.scene], [synth_files.zones], out, "--stride", "16", *split)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("Error: Invalid value for '--stride': stride 16 is below the patch size 32")
    assert "--split-by scene" in lines[0] and "--split-by source" in lines[0]
    assert _nothing_left(tmp_path, out)


def test_overlapping_stride_with_split_by_patch_names_the_stride():
    with pytest.raises(InvalidValue, match="use split_by scene") as info:
        PrepareOptions(patch_size=32, stride=16).check()
    assert info.value.field == "stride" and "\n" not in str(info.value)
    # Nothing to leak into: no validation share, or no overlap.
    PrepareOptions(patch_size=32, stride=16, val_fraction=0.0).check()
    PrepareOptions(patch_size=32, stride=32).check()
    PrepareOptions(patch_size=32, stride=48).check()


def test_cli_overlapping_stride_with_split_by_scene_works(two_scenes, tmp_path):
    out = tmp_path / "ds"
    result = _prepare_cli(
        [f.scene for f in two_scenes],
        [f.zones for f in two_scenes],
        out,
        "--stride",
        "16",
        "--split-by",
        "scene",
        "--max-nodata",
        "0.9",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    info = load_info(out)
    assert info.extra["stride"] == 16 and info.extra["split_by"] == "scene"
    records = load_manifest(out)
    assert len(records) > 2 * (128 // 32) ** 2  # more than the non-overlapping windows
    assert any(r.row_off % 32 == 16 or r.col_off % 32 == 16 for r in records)
    splits = {}
    for rec in records:
        splits.setdefault(rec.source, set()).add(rec.split)
    assert sorted(map(len, splits.values())) == [1, 1]  # each scene wholly in one split
    assert {s for v in splits.values() for s in v} == {"train", "val"}
