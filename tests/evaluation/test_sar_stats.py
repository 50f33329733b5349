"""SAR statistics tell speckled images from smooth ones."""

import numpy as np
import pytest

from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK
from pix2pix_sar.evaluation.sar_stats import SarStatistics, stat_names, window_enl

#: A wide range, so that nothing below is clipped.
SCALING = SarScaling("intensity", -40.0, 20.0)


def scenes(rng, n=4, size=48):
    """Zones in three horizontal bands (on the 8-pixel ENL window grid) and their mean dB."""
    zones = np.empty((n, size, size), np.uint8)
    zones[:, : size // 3], zones[:, size // 3 : 2 * size // 3], zones[:, 2 * size // 3 :] = ROCK, GLACIER, OCEAN
    mean_db = np.select([zones == ROCK, zones == GLACIER], [-6.0, -10.0], -20.0)
    return zones, mean_db


def to_model(intensity):
    return SCALING.to_model(intensity)[..., None]


def test_window_enl_of_four_look_speckle_is_about_four():
    rng = np.random.default_rng(0)
    intensity = rng.gamma(4.0, 0.25, (20, 32, 32))
    zones = np.full((20, 32, 32), OCEAN, np.uint8)
    zones[:, :4, :4] = ROCK  # the window there is not wholly ocean
    enl = window_enl(intensity, zones, OCEAN)
    assert enl.size == 20 * 16 - 20
    assert 3.0 < np.median(enl) < 5.0


def test_identical_images_give_zero_distances_and_unit_ratios():
    rng = np.random.default_rng(1)
    zones, mean_db = scenes(rng)
    real = to_model(10 ** (mean_db / 10) * rng.gamma(4.0, 0.25, mean_db.shape))
    stats = SarStatistics(SCALING)
    stats.add(zones, real, real)
    out = stats.summary()
    assert list(out) == stat_names()
    for c in ("ocean", "glacier", "rock"):
        assert out[f"w1_db_{c}"] == pytest.approx(0.0, abs=1e-9)
        assert out[f"enl_ratio_{c}"] == pytest.approx(1.0)
    assert out["spectral_distance_db"] == pytest.approx(0.0, abs=1e-9)


def test_smooth_generated_images_are_told_from_speckled_ones():
    rng = np.random.default_rng(2)
    zones, mean_db = scenes(rng)
    speckle = rng.gamma(4.0, 0.25, mean_db.shape)
    real = to_model(10 ** (mean_db / 10) * speckle)
    smooth = to_model(10 ** ((mean_db + 0.05 * rng.standard_normal(mean_db.shape)) / 10))
    noisy = to_model(10 ** (mean_db / 10) * rng.exponential(1.0, mean_db.shape))  # 1 look
    results = {}
    for name, generated in (("smooth", smooth), ("noisy", noisy)):
        stats = SarStatistics(SCALING)
        for i in range(0, 4, 2):  # accumulated over batches
            stats.add(zones[i : i + 2], real[i : i + 2], generated[i : i + 2])
        results[name] = stats.summary()
    for c in ("ocean", "glacier", "rock"):
        assert 3.0 < results["smooth"][f"enl_real_{c}"] < 5.0
        assert results["smooth"][f"enl_ratio_{c}"] > 10.0  # far too smooth
        assert results["noisy"][f"enl_ratio_{c}"] < 0.5  # too noisy
        assert results["smooth"][f"w1_db_{c}"] > 1.0
    assert results["smooth"]["spectral_distance_db"] > 10.0
    assert results["noisy"]["spectral_distance_db"] < results["smooth"]["spectral_distance_db"]


def test_a_class_absent_from_the_patches_gives_nan():
    zones = np.full((1, 16, 16), OCEAN, np.uint8)
    image = np.zeros((1, 16, 16, 1), np.float32)
    stats = SarStatistics(SCALING)
    stats.add(zones, image, image)
    out = stats.summary()
    assert np.isnan(out["w1_db_rock"]) and np.isnan(out["enl_ratio_glacier"])
    assert out["w1_db_ocean"] == 0.0


def test_dn_units_have_no_enl_but_still_a_histogram_distance():
    zones = np.full((2, 16, 16), OCEAN, np.uint8)
    real = np.random.default_rng(4).uniform(-1, 1, (2, 16, 16, 1))
    stats = SarStatistics(SarScaling("dn", 0.0, 255.0))
    stats.add(zones, real, np.zeros_like(real))
    out = stats.summary()
    assert np.isnan(out["enl_ratio_ocean"]) and np.isnan(out["enl_real_ocean"])
    assert out["w1_db_ocean"] == pytest.approx(255.0 / 4, rel=0.1)  # mean |U(-1, 1)| * 255 / 2


def test_nodata_never_counts_and_spectra_use_only_whole_patches():
    rng = np.random.default_rng(5)
    zones, mean_db = scenes(rng)
    real = to_model(10 ** (mean_db / 10) * rng.gamma(4.0, 0.25, mean_db.shape))
    gen = to_model(10 ** (mean_db / 10) * rng.gamma(2.0, 0.5, mean_db.shape))
    holed = zones.copy()
    holed[2:, :, 24:] = 0  # the last two patches: right half no-data
    nodata = (holed == 0)[..., None]

    def summary(real_fill, gen_fill):
        stats = SarStatistics(SCALING)
        stats.add(holed, np.where(nodata, real_fill, real), np.where(nodata, gen_fill, gen))
        return stats.summary()

    # Whatever lies under no-data (the real no-data value, extremes, noise) changes nothing.
    out = summary(-1.0, -1.0)
    for fills in ((1.0, -1.0), (rng.uniform(-1, 1, real.shape), rng.uniform(-1, 1, real.shape))):
        other = summary(*fills)
        for name in stat_names():
            assert other[name] == pytest.approx(out[name], rel=1e-12, nan_ok=True), name
    # Only the two whole patches enter the spectra.
    whole = SarStatistics(SCALING)
    whole.add(zones[:2], real[:2], gen[:2])
    assert out["spectra_patches"] == whole.summary()["spectra_patches"] == 2
    assert out["spectral_distance_db"] == pytest.approx(whole.summary()["spectral_distance_db"], rel=1e-12)
    # The holed patches' valid halves do count in the per-class statistics.
    assert out["w1_db_ocean"] != pytest.approx(whole.summary()["w1_db_ocean"], rel=1e-6)


def test_spectra_without_a_whole_patch_are_nan():
    zones = np.full((2, 16, 16), OCEAN, np.uint8)
    zones[:, 0, 0] = 0
    image = np.random.default_rng(6).uniform(-1, 1, (2, 16, 16, 1))
    stats = SarStatistics(SCALING)
    stats.add(zones, image, image)
    out = stats.summary()
    assert out["spectra_patches"] == 0 and np.isnan(out["spectral_distance_db"])
    assert out["w1_db_ocean"] == 0.0
