"""`masks`: artificial scenes with the requested front; moved fronts; synthetic datasets for `fit`."""

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK, ZONE_CODES
from pix2pix_sar.generation.masks import MaskShape, draw_mask, move_front
from pix2pix_sar.run_folder import RunFolder


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def front_rows(zones):
    """Per column of the fjord's middle third: the first ocean row below the glacier."""
    rows = []
    glacier_cols = np.nonzero((zones == GLACIER).any(0))[0]
    middle = glacier_cols[len(glacier_cols) // 3 : 2 * len(glacier_cols) // 3]
    for c in middle:
        g = np.nonzero(zones[:, c] == GLACIER)[0]
        if g.size and g.max() + 1 < zones.shape[0] and zones[g.max() + 1, c] == OCEAN:
            rows.append(g.max() + 1)
    return np.array(rows)


@pytest.mark.parametrize("front", [0.3, 0.6])
def test_drawn_front_lies_where_asked_and_roughness_roughens_it(front):
    smooth = draw_mask(MaskShape(256, 200, front_position=front, front_roughness=0.0), seed=4)
    rough = draw_mask(MaskShape(256, 200, front_position=front, front_roughness=0.05), seed=4)
    assert set(np.unique(smooth)) == {ROCK, GLACIER, OCEAN}
    assert abs(np.median(front_rows(smooth)) - front * 200) <= 2
    assert np.std(front_rows(rough)) > 3 * max(np.std(front_rows(smooth)), 0.5)


def test_masks_are_deterministic_by_seed_and_oriented():
    shape = MaskShape(96, 64)
    np.testing.assert_array_equal(draw_mask(shape, 1), draw_mask(shape, 1))
    assert (draw_mask(shape, 1) != draw_mask(shape, 2)).any()
    right = draw_mask(MaskShape(96, 64, orientation="right"), 1)
    assert right.shape == (64, 96)
    assert (right[:, 0] != OCEAN).all() and (right[:, -1] == OCEAN).all()  # head on the left, sea on the right


def test_icebergs_stay_ocean_as_in_caffe_and_leave_no_glacier_in_the_ocean(tmp_path):
    from scipy import ndimage

    shape = ["--count", 3, "--width", 160, "--height", 120, "--seed", 5]
    plain = run_cli("masks", tmp_path / "plain", *shape)
    bergs = run_cli("masks", tmp_path / "bergs", *shape, "--icebergs", 12)
    assert plain.exit_code == 0 and bergs.exit_code == 0, bergs.output
    assert "no effect" in bergs.output  # the deprecation says what the option does now
    for name in ("mask_0000.tif", "mask_0001.tif", "mask_0002.tif"):
        zones = geo.read_raster(tmp_path / "bergs" / name)[0]
        pieces, count = ndimage.label(zones == GLACIER)
        for k in range(1, count + 1):  # no glacier blob afloat: every piece touches rock or the tongue
            piece = pieces == k
            around = ndimage.binary_dilation(piece) & ~piece
            assert not (zones[around] == OCEAN).all(), f"{name}: glacier piece {k} lies in the ocean"
        np.testing.assert_array_equal(zones, geo.read_raster(tmp_path / "plain" / name)[0])


@pytest.mark.parametrize("advance", [6, -6])
def test_move_front_shifts_it_by_the_distance(advance):
    zones = draw_mask(MaskShape(200, 200, front_position=0.5, front_roughness=0.0), seed=2)
    moved = move_front(zones, advance)
    assert abs(np.median(front_rows(moved)) - np.median(front_rows(zones)) - advance) <= 1
    np.testing.assert_array_equal(moved == ROCK, zones == ROCK)
    np.testing.assert_array_equal(move_front(zones, 0), zones)
    rough = move_front(zones, 0, roughness=4, seed=1)
    assert np.std(front_rows(rough)) > np.std(front_rows(zones)) + 1


def test_masks_cli_then_generate_as_dataset_then_fit(tiny_run, tmp_path):
    result = run_cli("masks", tmp_path / "masks", "--count", 2, "--size", 64, "--seed", 7)
    assert result.exit_code == 0, result.output
    paths = sorted((tmp_path / "masks").iterdir())
    assert [p.name for p in paths] == ["mask_0000.tif", "mask_0001.tif"]
    zones, grid, _ = geo.read_raster(paths[0])
    assert zones.shape == (64, 64) and set(np.unique(zones)) <= set(ZONE_CODES) and grid.epsg == 3031
    again = run_cli("masks", tmp_path / "masks", "--count", 2, "--size", 64, "--seed", 7)
    assert again.exit_code == 1 and "already exists" in again.output

    # A real mask's front moved by metres (40 m pixels): 240 m = 6 pixels.
    result = run_cli("masks", tmp_path / "moved", "--from", paths[0], "--advance", "240m", "--roughness", "1px")
    assert result.exit_code == 0, result.output
    moved = geo.read_raster(tmp_path / "moved" / "mask_0000_0000.tif")[0]
    assert (moved == GLACIER).sum() > (zones == GLACIER).sum()
    result = run_cli("masks", tmp_path / "bad", "--from", paths[0], "--advance", "6 furlongs")
    assert result.exit_code == 1 and "200m" in result.output and not (tmp_path / "bad").exists()

    ds = tmp_path / "synthetic"
    result = run_cli("-q", "generate", tmp_path / "masks", "--run", tiny_run, "--as-dataset", ds, "--epoch", 1)
    assert result.exit_code == 0, result.output
    info = load_info(ds)
    by = info.extra["generated_by"]
    snapshot = RunFolder(tiny_run).find_snapshot(1)[1]
    assert info.synthetic and by["run"] == str(tiny_run.resolve())
    assert (by["epoch"], by["variant"], by["seed"]) == (1, "orig", 0)
    assert by["snapshot_sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest() and by["tool"] == "pix2pix-sar"
    assert info.patch_size == 32 and info.scaling == RunFolder(tiny_run).dataset_info().scaling
    train, val = load_split(ds, "train"), load_split(ds, "val")
    assert len(train) + len(val) == 8 and len(val) == 1
    assert np.abs(train.images).max() <= 1 and train.images.std() > 0

    result = run_cli(
        "-q", "fit", "--data", ds, "--out", tmp_path / "run2", "--epochs", 1, "--set", "model.base_filters=8"
    )
    assert result.exit_code == 0, result.output
    assert list(RunFolder(tmp_path / "run2").snapshots()) == [1]
