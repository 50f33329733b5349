"""`generate --as-dataset OUT --layout caffe`: CaFFe's original layout, read back by `prepare --caffe`."""

from __future__ import annotations

import datetime

import numpy as np
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.caffe import CAFFE_NAME, find_caffe_images
from pix2pix_sar.data.dataset import load_info, load_manifest
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN, front_mask


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def zone_mask(width, height, seed):
    zones = synth_scene(width, height, seed=seed).zones.copy()
    zones[zones == NODATA] = OCEAN
    zones[: height // 4, : width // 4] = NODATA
    return zones


def test_caffe_layout_writes_images_zones_fronts_and_reads_back(tiny_run, tmp_path, write_mask):
    from pix2pix_sar.generation.caffe_layout import caffe_dn, generate_caffe_set
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    zones = {f"mask_{i}": zone_mask(96, 64 + 32 * i, seed=i) for i in range(3)}
    for name, z in zones.items():
        write_mask(tmp_path / "masks" / f"{name}.tif", z)
    out = tmp_path / "synth"
    args = ["generate", tmp_path / "masks", "--run", tiny_run, "--as-dataset", out, "--layout", "caffe"]
    result = run_cli("-q", *args, "--val-fraction", 0.34, "--seed", 5)
    assert result.exit_code == 0, result.output
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    images = find_caffe_images(out)  # every name follows the original layout, every image has its zones
    assert sorted(i.split for i in images) == ["test", "train", "train"]
    gen = RunGenerator.from_run(tiny_run, seed=5)
    for image in images:
        assert CAFFE_NAME.match(image.sar.stem) and image.date == today and image.satellite == "PIX2PIXSAR"
        assert image.resolution_m == 40.0
        z = zones[image.glacier.replace("-", "_")]
        np.testing.assert_array_equal(geo.read_raster(image.zones)[0], z)
        front = out / "fronts" / image.split / f"{image.sar.stem}_front.png"
        np.testing.assert_array_equal(geo.read_raster(front)[0], np.where(front_mask(z), 255, 0))
        sar = geo.read_raster(image.sar)[0]
        assert sar.dtype == np.uint8 and ((sar == 0) == (z == NODATA)).all()
        expected = caffe_dn(generate_image(gen, z, TileSettings(seed=5)), gen.scaling)
        np.testing.assert_array_equal(sar[z != NODATA], expected[z != NODATA])
    readme = (out / "README").read_text()
    assert f"run:      {tiny_run.resolve()}" in readme and "epoch:    2" in readme and "seed:     5" in readme

    # Any CaFFe reader, and prepare --caffe: the original layout (validation drawn from train).
    result = run_cli("prepare", "--caffe", out, "--out", tmp_path / "ds", "--patch-size", "32")
    assert result.exit_code == 0, result.output
    records = load_manifest(tmp_path / "ds")
    assert {r.split for r in records} == {"train", "val", "test"}
    assert {r.pixel_size_m for r in records} == {40.0}
    assert load_info(tmp_path / "ds").extra["caffe_layout"] == "original"

    # A mask without a pixel size cannot be named; nothing is written.
    png = tmp_path / "sketch" / "sketch.png"
    with geo.RasterRowWriter(png, geo.Grid("", (0, 1, 0, 0, 0, 1), 32, 32), np.uint8) as writer:
        writer.write_rows(0, np.full((32, 32), OCEAN, np.uint8))
        writer.commit()
    result = run_cli("generate", png, "--run", tiny_run, "--as-dataset", tmp_path / "s2", "--layout", "caffe")
    assert result.exit_code == 1 and "sketch.png: has no pixel size" in result.output
    assert not (tmp_path / "s2").exists()
    assert run_cli("generate", png, "--run", tiny_run, "--out", tmp_path / "x.png", "--layout", "caffe").exit_code == 2
    # A CaFFe zones file (no CRS) keeps its resolution; the date can be fixed.
    caffe_mask = tmp_path / "caffe_masks" / "Mapple_2011-06-02_TSX_7_1_110_zones.png"
    caffe_mask.parent.mkdir()
    png.rename(caffe_mask)
    made = generate_caffe_set(tiny_run, caffe_mask.parent, tmp_path / "s3", date=datetime.date(2020, 1, 2))
    (named,) = (made / "sar_images" / "train").iterdir()
    assert named.name == "Mapple-2011-06-02-TSX-7-1-110-zones_2020-01-02_PIX2PIXSAR_7_1_0.png"
