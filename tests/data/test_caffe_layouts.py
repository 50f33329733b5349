"""CaFFe's patched layout (what torchgeo downloads) beside the original one; bad CaFFe folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from osgeo import gdal

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.caffe import caffe_layout, caffe_options, find_caffe_images, prepare_caffe
from pix2pix_sar.data.dataset import load_info, load_manifest, load_split
from pix2pix_sar.data.zones import front_mask

#: name (as in torchgeo's tests/data/caffe), split. The same file name in two splits, as there.
PATCHES = (
    ("Crane_2002-11-09_ERS_20_2_061__93_102_0_0_0", "train"),
    ("JAC_2015-12-23_TSX_6_1_005__57_49_195_384_1024", "train"),
    ("Crane_2007-09-22_ENVISAT_20_1_467__93_102_8_1024_0", "val"),
    ("Crane_2002-11-09_ERS_20_2_061__93_102_0_0_0", "test"),
)


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mem = gdal.GetDriverByName("MEM").Create("", array.shape[1], array.shape[0], 1, gdal.GDT_Byte)
    mem.GetRasterBand(1).WriteArray(array)
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)


@pytest.fixture(scope="module")
def patched_tree(tmp_path_factory) -> Path:
    """torchgeo's layout under ROOT/caffe/: 64x64 patches, zones and fronts named as torchgeo names them."""
    root = tmp_path_factory.mktemp("torchgeo")
    rng = np.random.default_rng(1)
    for name, split in PATCHES:
        zones = np.full((64, 64), 64, np.uint8)
        zones[:, 32:] = 254
        zones[8:40, 24:40] = 127
        sar = rng.integers(1, 256, size=zones.shape).astype(np.uint8)
        stem, patch = name.split("__")
        _write_png(root / "caffe" / "sar_images" / split / f"{name}.png", sar)
        _write_png(root / "caffe" / "zones" / split / f"{stem}_zones__{patch}.png", zones)
        _write_png(root / "caffe" / "fronts" / split / f"{stem}_front__{patch}.png", front_mask(zones) * np.uint8(255))
    return root


def test_patched_layout_keeps_its_three_splits(patched_tree, tmp_path):
    folder, layout = caffe_layout(patched_tree)  # torchgeo's root: the tree is under caffe/
    assert (folder, layout) == (patched_tree / "caffe", "patched")
    images = find_caffe_images(patched_tree)
    assert [(i.glacier, i.split, i.resolution_m) for i in images] == [
        ("Crane", "train", 20.0),
        ("JAC", "train", 6.0),
        ("Crane", "val", 20.0),
        ("Crane", "test", 20.0),
    ]
    out = prepare_caffe(patched_tree, tmp_path / "ds", options=caffe_options(patch_size=32))
    records = load_manifest(out)
    assert [sum(r.split == s for r in records) for s in ("train", "val", "test")] == [8, 4, 4]
    # Each file is a scene of its own; a name in two splits gets the file's path as its source.
    assert len({(r.source, r.col_off, r.row_off) for r in records}) == 16
    assert {r.source.split("/")[-2] for r in records if r.split == "test"} == {"test"}
    assert sorted({r.pixel_size_m for r in records if r.split == "train"}) == [6.0, 20.0]
    info = load_info(out)
    assert info.extra["caffe_layout"] == "patched" and info.scaling.units == "dn"
    test = load_split(out, "test")
    assert len(test) == 4 and set(np.unique(test.zones)) == {64, 127, 254}


def test_cli_patched_layout_and_test_split_under_split_by_patch(patched_tree, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["prepare", "--caffe", str(patched_tree / "caffe"), "--out", str(tmp_path / "a"), "--patch-size", "32"]
    )
    assert result.exit_code == 0, result.output
    assert "(8 train, 4 val, 4 test patches of 32x32)" in result.output
    args = ["--patch-size", "32", "--split-by", "patch", "--val-fraction", "0.25"]
    result = runner.invoke(cli, ["prepare", "--caffe", str(patched_tree), "--out", str(tmp_path / "b"), *args])
    assert result.exit_code == 0, result.output
    assert "(9 train, 3 val, 4 test patches of 32x32)" in result.output  # test kept; round(0.25 * 12) drawn


def _broken(tree: Path, tmp_path: Path, change) -> Path:
    copy = Path(shutil.copytree(tree, tmp_path / "broken"))
    change(copy)
    return copy


def _first(folder: Path) -> Path:
    return sorted(folder.glob("*.png"))[0]


BAD = {
    "neither_layout": (lambda root: shutil.rmtree(root / "caffe" / "zones"), "not a CaFFe folder in either layout"),
    "no_split_folders": (
        lambda root: [shutil.rmtree(p) for p in (root / "caffe" / "sar_images").iterdir()],
        "not a CaFFe folder in either layout",
    ),
    "zones_without_image": (
        lambda root: _first(root / "caffe" / "sar_images" / "val").unlink(),
        "_zones__93_102_8_1024_0.png: its image",
    ),
    "image_without_zones": (
        lambda root: _first(root / "caffe" / "zones" / "test").unlink(),
        "its zones file",
    ),
    "bad_patch_name": (
        lambda root: (root / "caffe" / "sar_images" / "val" / "Crane__1_2.png").write_bytes(b""),
        "name does not follow <Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>__<a>_<b>_<c>_<row>_<col>.png",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_caffe_folders_are_one_line_and_write_nothing(case, patched_tree, tmp_path):
    change, message = BAD[case]
    root = _broken(patched_tree, tmp_path, change)
    out = tmp_path / "ds"
    result = CliRunner().invoke(cli, ["prepare", "--caffe", str(root), "--out", str(out), "--patch-size", "32"])
    assert result.exit_code == 1
    assert message in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert "Traceback" not in result.output and len(errors) == 1, result.output
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]


def test_original_layout_zones_without_image(caffe_tree, tmp_path):
    root = Path(shutil.copytree(caffe_tree, tmp_path / "c"))
    _first(root / "sar_images" / "train").unlink()  # Crane: its zones stay
    result = CliRunner().invoke(cli, ["prepare", "--caffe", str(root), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 1
    assert "Crane_2002-11-09_ERS_20_2_061_zones.png: its image" in result.output and "is missing" in result.output
    assert not (tmp_path / "ds").exists()
