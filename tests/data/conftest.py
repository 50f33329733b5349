"""Fixtures for data preparation: synthetic scenes with all their label files, a CaFFe tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from pix2pix_sar.data.synth import SynthFiles, write_synth_scene


@pytest.fixture(scope="session")
def synth_files(scene) -> SynthFiles:
    """The session's 256x256 EPSG:3031 scene: raster, zones raster, zones GeoPackage, AOI (EPSG:4326)."""
    return SynthFiles.in_folder(scene[0].parent)


@pytest.fixture(scope="session")
def two_scenes(tmp_path_factory) -> list[SynthFiles]:
    """Two 128x128 scenes side by side (different seeds), one folder each."""
    root = tmp_path_factory.mktemp("two")
    files = []
    for i, seed in enumerate((2, 3)):
        write_synth_scene(root / f"s{i}", 128, 128, seed=seed, origin=(-2_430_000.0 + i * 128 * 40.0, 1_320_000.0))
        files.append(SynthFiles.in_folder(root / f"s{i}"))
    return files


#: name, CaFFe split, width, height
CAFFE_IMAGES = (
    ("Mapple_2011-06-02_TSX_7_1_110", "train", 96, 64),
    ("Crane_2002-11-09_ERS_20_2_061", "train", 64, 64),
    ("JAC_2015-03-17_S1_20_3_074", "test", 64, 96),
)


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mem = gdal.GetDriverByName("MEM").Create("", array.shape[1], array.shape[0], 1, gdal.GDT_Byte)
    mem.GetRasterBand(1).WriteArray(array)
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)


@pytest.fixture(scope="session")
def caffe_tree(tmp_path_factory) -> Path:
    """A tiny CaFFe tree with the real naming scheme: 8-bit SAR PNGs and zone PNGs.

    Each image: left half rock (64), right half ocean (254), a glacier (127) square in
    the middle, and a no-data (0) band over its last 24 columns.
    """
    root = tmp_path_factory.mktemp("caffe")
    rng = np.random.default_rng(0)
    for name, split, width, height in CAFFE_IMAGES:
        zones = np.full((height, width), 64, np.uint8)
        zones[:, width // 2 :] = 254
        zones[16:32, 16:32] = 127
        zones[:, width - 24 :] = 0
        sar = rng.integers(1, 256, size=(height, width)).astype(np.uint8)
        sar[zones == 0] = 0
        _write_png(root / "sar_images" / split / f"{name}.png", sar)
        _write_png(root / "zones" / split / f"{name}_zones.png", zones)
    return root
