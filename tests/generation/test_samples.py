"""`generate --samples K`: K images per mask (seeds seed ... seed+K-1), NAME_s<k>."""

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import load_manifest
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def noisy_scene_run(tiny_dataset, tmp_path_factory):
    """A `scene` run (coordinate noise: one seed one image) trained 1 epoch on `tiny_dataset`."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    run_dir = tmp_path_factory.mktemp("samples_run") / "run"
    fit(resolve_config("scene", assignments=["model.base_filters=8", "training.epochs=1"]), tiny_dataset, run_dir)
    return run_dir


def _mask(tmp_path, write_mask, name, seed):
    zones = synth_scene(128, 96, seed=seed).zones.copy()
    zones[zones == NODATA] = OCEAN
    return write_mask(tmp_path / name, zones)


def test_samples_are_named_seeded_and_differ(noisy_scene_run, tmp_path, write_mask):
    mask = _mask(tmp_path, write_mask, "m.tif", 0)
    common = ("-q", "generate", mask, "--run", noisy_scene_run, "--units", "model")
    assert run_cli(*common, "--out", tmp_path / "one.tif", "--seed", 6, "--samples", 1).exit_code == 0
    assert run_cli(*common, "--out", tmp_path / "k.tif", "--seed", 5, "--samples", 3).exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("k*.tif")) == ["k_s0.tif", "k_s1.tif", "k_s2.tif"]
    s0, s1 = (geo.read_raster(tmp_path / f"k_s{k}.tif")[0] for k in (0, 1))
    assert np.abs(s0 - s1).mean() > 0.01  # another seed, another image
    # --samples 1 writes as before (no suffix); sample k is the image of seed + k.
    np.testing.assert_array_equal(geo.read_raster(tmp_path / "one.tif")[0], s1)


def test_samples_of_one_mask_share_a_split(noisy_scene_run, tmp_path, write_mask):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(4):
        _mask(folder, write_mask, f"m{i}.tif", i)
    out = tmp_path / "ds"
    args = ("-q", "generate", folder, "--run", noisy_scene_run, "--as-dataset", out, "--samples", 2)
    assert run_cli(*args, "--val-fraction", 0.5).exit_code == 0
    records = load_manifest(out)
    by_mask = {}
    for r in records:
        by_mask.setdefault(r.source, set()).add(r.split)
    assert all(len(splits) == 1 for splits in by_mask.values()) and len(by_mask) == 4
    assert sorted(s for splits in by_mask.values() for s in splits) == ["train", "train", "val", "val"]
    ids = {r.id for r in records}
    assert any("_s0_" in i for i in ids) and len([i for i in ids if "_s1_" in i]) == len(records) // 2
