"""Whole-scene structure, variety and Fréchet measures (issue 22), and synth's content seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.evaluation.frechet import frechet_distance, frechet_of_features, frechet_with_interval
from pix2pix_sar.evaluation.structure import (
    STRUCTURE_MEASURES,
    goal_keys,
    sample_variety,
    structure_measures,
    structure_ratios,
    variety_ratios,
)

#: sha256 of synth_scene(256, 256, seed=0) arrays as drawn before --content-seed existed.
SCENE_256_SEED0 = {
    "intensity": "a0004cbac656df5062de966d56599981a069b4bec8a0e9d1ed737f9543b47097",
    "zones": "ba49939c6716da42d3381eb402a2eb242dc86556d669f5b7d1ff81e7875e1096",
}


def _db(intensity: np.ndarray, zones: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(zones > 0, 10.0 * np.log10(np.maximum(intensity, 1e-30)), np.nan)


def _texture_fill(scene, seed: int) -> np.ndarray:
    """Each class filled with its mean intensity times Gamma speckle: a texture, no structure."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(scene.intensity)
    for code in (64, 127, 254):
        where = scene.zones == code
        out[where] = scene.intensity[where].mean() * rng.gamma(scene.looks, 1.0 / scene.looks, where.sum())
    return out


def test_synth_without_content_seed_is_todays_scene_and_records_its_seeds(tmp_path):
    scene = synth_scene(256, 256, seed=0)
    assert hashlib.sha256(scene.intensity.tobytes()).hexdigest() == SCENE_256_SEED0["intensity"]
    assert hashlib.sha256(scene.zones.tobytes()).hexdigest() == SCENE_256_SEED0["zones"]
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "a"), "--width", "256", "--height", "256"])
    assert result.exit_code == 0, result.output
    written = geo.read_array(tmp_path / "a" / "scene.tif")
    assert hashlib.sha256(written.tobytes()).hexdigest() == SCENE_256_SEED0["intensity"]
    meta = geo.raster_metadata(tmp_path / "a" / "scene.tif")
    assert meta["SYNTH_SEED"] == "0" and meta["SYNTH_CONTENT_SEED"] == "none" and meta["SYNTH_LOOKS"] == "4.0"


def test_content_seed_keeps_the_zones_and_redraws_the_content(tmp_path):
    args = ["synth", str(tmp_path / "b"), "--width", "256", "--height", "256", "--seed", "3", "--content-seed", "2"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    base = synth_scene(256, 256, seed=3)
    redrawn = geo.read_array(tmp_path / "b" / "scene.tif")
    np.testing.assert_array_equal(geo.read_array(tmp_path / "b" / "zones.tif"), base.zones)
    valid = base.zones > 0
    assert np.mean(redrawn[valid] != base.intensity[valid]) > 0.99
    np.testing.assert_array_equal(redrawn, synth_scene(256, 256, seed=3, content_seed=2).intensity)
    assert geo.raster_metadata(tmp_path / "b" / "scene.tif")["SYNTH_CONTENT_SEED"] == "2"


def test_a_second_real_draw_scores_like_the_real_scene_and_a_texture_fill_does_not():
    real = synth_scene(384, 384, seed=0)
    draw = synth_scene(384, 384, seed=0, content_seed=1)
    measured = structure_measures(_db(real.intensity, real.zones), real.zones)
    second = structure_ratios(structure_measures(_db(draw.intensity, real.zones), real.zones), measured)
    fill = structure_ratios(structure_measures(_db(_texture_fill(real, 0), real.zones), real.zones), measured)
    # At 384 px the glacier has too few 48-px blocks: that number is None, not a guess.
    assert measured["block_std_48_glacier"]["value"] is None and second["block_std_48_glacier"] is None
    for key in goal_keys():
        if key in ("block_std_48_glacier", "bright_share_ocean"):
            continue
        assert 0.7 <= second[key] <= 1.4, (key, second[key])
        limit = 0.2 if key.startswith("block_std") else 0.4
        assert fill[key] < limit, (key, fill[key])
    # Icebergs and mélange: the real ocean has bright objects, a texture fill none.
    assert measured["bright_share_ocean"]["value"] > 0.005 and fill["bright_share_ocean"] == 0.0
    assert second["bright_share_ocean"] > 0.5
    assert len({m.key for m in STRUCTURE_MEASURES}) == len(STRUCTURE_MEASURES)


def test_variety_of_oracle_draws_exceeds_speckle_only_samples():
    zones = synth_scene(256, 256, seed=1).zones
    oracle = np.stack([_db(synth_scene(256, 256, seed=1, content_seed=k).intensity, zones) for k in (1, 2, 3)])
    rng = np.random.default_rng(0)
    base = synth_scene(256, 256, seed=1).intensity
    speckled = np.stack([_db(base * rng.gamma(4.0, 0.25, base.shape), zones) for _ in range(3)])
    features = rng.normal(size=(3, 5))
    oracle_variety = sample_variety(oracle, zones, features)
    ratios = variety_ratios(sample_variety(speckled, zones, features * 0.5), oracle_variety)
    for name in ("rock", "glacier", "ocean"):
        assert oracle_variety[f"block_spread_{name}"] > 1.0
        assert ratios[f"block_spread_{name}"] < 0.4, (name, ratios)
    assert ratios["feature_spread"] == pytest.approx(0.5)
    assert variety_ratios(sample_variety(oracle, zones), oracle_variety)["block_spread_rock"] == pytest.approx(1.0)


def test_frechet_distance_of_two_known_gaussians():
    # N((0,0), diag(1,4)) and N((3,4), diag(4,1)): |dmu|^2 = 25, tr = 5 + 5 - 2 (2 + 2) = 2.
    assert frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.array([3.0, 4.0]), np.diag([4.0, 1.0])) == (
        pytest.approx(27.0)
    )
    # The same pair rotated: the distance does not depend on the basis.
    c, s = np.cos(0.7), np.sin(0.7)
    rot = np.array([[c, -s], [s, c]])
    rotated = frechet_distance(
        np.zeros(2), rot @ np.diag([1.0, 4.0]) @ rot.T, rot @ [3.0, 4.0], rot @ np.diag([4.0, 1.0]) @ rot.T
    )
    assert rotated == pytest.approx(27.0)
    # From samples: close to the true value, inside its bootstrap interval; 0 for a set against itself.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 2)) * [1.0, 2.0]
    b = rng.normal(size=(4000, 2)) * [2.0, 1.0] + [3.0, 4.0]
    result = frechet_with_interval(a, b, boots=50)
    assert result["fd"] == pytest.approx(27.0, rel=0.05) and result["fd_low"] < 27.0 < result["fd_high"]
    assert frechet_of_features(a, a) == pytest.approx(0.0, abs=1e-6)
