"""Dice (paper Eq. 6) and SSIM: numpy and in-graph versions agree with each other and
with scikit-image's reference SSIM."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pix2pix_sar.evaluation import metrics
from tests.evaluation import oracle_metrics as oracle


def reference_ssim(a, b):
    return structural_similarity(a, b, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def random_pairs(rng, n, h, w):
    a = rng.uniform(0, 1, (n, h, w, 1))
    return a, np.clip(a + rng.normal(0, 0.25, a.shape), 0, 1)


def structured_pairs(rng, n, h, w):
    """Scene-like images: smooth zones with a rough boundary, bright edges, speckle."""
    rows, cols = np.mgrid[0:h, 0:w]
    out_a, out_b = [], []
    for _ in range(n):
        front = h * rng.uniform(0.3, 0.7) + 3 * np.sin(cols / rng.uniform(2, 6))
        base = np.where(rows < front, 0.7, 0.2) + 0.1 * np.sin(rows / 3.0) * (rows < front)
        a = np.clip(base * rng.gamma(4, 0.25, (h, w)), 0, 1)
        b = np.clip(np.roll(base, rng.integers(-2, 3), axis=0) * rng.gamma(2, 0.5, (h, w)), 0, 1)
        out_a.append(a)
        out_b.append(b)
    return np.stack(out_a)[..., None], np.stack(out_b)[..., None]


@pytest.mark.parametrize("make", [random_pairs, structured_pairs])
@pytest.mark.parametrize("shape", [(32, 32), (64, 48)])
def test_ssim_numpy_and_tf_equal_scikit_image(make, shape):
    a, b = make(np.random.default_rng(3), 4, *shape)
    expected = np.array([reference_ssim(x[..., 0], y[..., 0]) for x, y in zip(a, b)])
    assert expected.std() > 0 and np.all(expected < 0.99)  # non-trivial cases
    np.testing.assert_allclose(oracle.ssim(a, b), expected, atol=1e-4)
    assert oracle.ssim(a[1, ..., 0], b[1, ..., 0]) == pytest.approx(expected[1], abs=1e-4)
    assert oracle.ssim(a[2], b[2]) == pytest.approx(expected[2], abs=1e-4)
    got_tf = metrics.ssim_tf(a.astype(np.float32), b.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_tf, expected, atol=1e-4)


def test_ssim_of_identical_images_is_one_and_of_unrelated_ones_low():
    a, _ = random_pairs(np.random.default_rng(0), 2, 32, 32)
    np.testing.assert_allclose(metrics.ssim_tf(a.astype(np.float32), a.astype(np.float32)).numpy(), 1.0, atol=1e-5)
    b = np.random.default_rng(9).uniform(0, 1, a.shape)
    assert np.all(oracle.ssim(a, b) < 0.1)


def test_non_binary_dice_follows_equation_6():
    x = np.array([[1.0, 0.5], [0.0, 0.25]])
    y = np.array([[0.5, 0.5], [1.0, 0.0]])
    # 2 * (0.5 + 0.25) / (1.75 + 2.0)
    assert oracle.non_binary_dice(x, y) == pytest.approx(1.5 / 3.75)
    assert oracle.non_binary_dice(x, x) == pytest.approx(2 * (x**2).sum() / (2 * x.sum()))
    binary = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert oracle.non_binary_dice(binary, binary) == 1.0
    assert oracle.non_binary_dice(binary, 1 - binary) == 0.0
    assert oracle.non_binary_dice(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_dice_batched_numpy_and_tf_agree_with_per_image():
    a, b = structured_pairs(np.random.default_rng(5), 3, 32, 32)
    per_image = [oracle.non_binary_dice(x, y) for x, y in zip(a, b)]
    np.testing.assert_allclose(oracle.non_binary_dice(a, b), per_image, rtol=1e-12)
    got_tf = metrics.non_binary_dice_tf(a.astype(np.float32), b.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_tf, per_image, rtol=1e-5)
    zeros = np.zeros((1, 8, 8, 1), np.float32)
    assert metrics.non_binary_dice_tf(zeros, zeros).numpy()[0] == 1.0


def test_to_unit_maps_model_range():
    np.testing.assert_allclose(metrics.to_unit(np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])


# --- No-data never counts ---------------------------------------------------------


def half_nodata(rng, n=3, h=32, w=40, valid_cols=20):
    """Structured pairs whose columns from `valid_cols` on are no-data, filled with garbage."""
    a, b = structured_pairs(rng, n, h, w)
    valid = np.zeros((n, h, w, 1), np.float32)
    valid[:, :, :valid_cols] = 1.0
    dirty_a, dirty_b = a.copy(), b.copy()
    dirty_a[valid == 0] = np.nan
    dirty_b[valid == 0] = rng.uniform(5, 9, int((valid == 0).sum()))
    return a, b, dirty_a, dirty_b, valid


def brute_force_masked_ssim(a, b, valid):
    """skimage's full SSIM map averaged over the pixels whose whole 11x11 window is valid
    and inside the image, found by looking at every window."""
    clean_a, clean_b = np.where(valid, a, 0), np.where(valid, b, 0)
    _, ssim_map = structural_similarity(
        clean_a, clean_b, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True
    )
    h, w = a.shape
    values = [
        ssim_map[i, j] for i in range(5, h - 5) for j in range(5, w - 5) if valid[i - 5 : i + 6, j - 5 : j + 6].all()
    ]
    return np.mean(values) if values else np.nan


def test_dice_and_mae_of_a_half_nodata_patch_are_those_of_its_valid_half():
    a, b, dirty_a, dirty_b, valid = half_nodata(np.random.default_rng(10))
    half_a, half_b = a[:, :, :20], b[:, :, :20]
    dice = oracle.non_binary_dice(half_a, half_b)
    mae = np.abs(half_a - half_b).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(oracle.non_binary_dice(dirty_a, dirty_b, valid), dice, rtol=1e-12)
    np.testing.assert_allclose(oracle.mean_abs_error(dirty_a, dirty_b, valid), mae, rtol=1e-12)
    assert oracle.non_binary_dice(dirty_a[0], dirty_b[0], valid[0]) == pytest.approx(dice[0], rel=1e-12)
    assert oracle.mean_abs_error(dirty_a[1, ..., 0], dirty_b[1, ..., 0], valid[1, ..., 0] > 0) == pytest.approx(
        mae[1], rel=1e-12
    )
    tf_a, tf_b = dirty_a.astype(np.float32), dirty_b.astype(np.float32)
    np.testing.assert_allclose(metrics.non_binary_dice_tf(tf_a, tf_b, valid).numpy(), dice, rtol=1e-5)
    np.testing.assert_allclose(metrics.mean_abs_error_tf(tf_a, tf_b, valid).numpy(), mae, rtol=1e-5)
    # Without a mask every pixel counts, as before.
    np.testing.assert_allclose(oracle.mean_abs_error(a, b), np.abs(a - b).mean(axis=(1, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(metrics.mean_abs_error_tf(a, b).numpy(), np.abs(a - b).mean(axis=(1, 2, 3)))


def test_ssim_of_a_half_nodata_patch_is_that_of_its_valid_half():
    # The eroded valid area of the left 20 columns is the cropped area of the 20-column image.
    a, b, dirty_a, dirty_b, valid = half_nodata(np.random.default_rng(11))
    expected = np.array([reference_ssim(x[:, :20, 0], y[:, :20, 0]) for x, y in zip(a, b)])
    assert expected.std() > 0 and np.all(expected < 0.99)
    np.testing.assert_allclose(oracle.ssim(dirty_a, dirty_b, valid), expected, atol=1e-10)
    assert oracle.ssim(dirty_a[2], dirty_b[2], valid[2]) == pytest.approx(expected[2], abs=1e-10)
    got_tf = metrics.ssim_tf(dirty_a.astype(np.float32), dirty_b.astype(np.float32), valid).numpy()
    np.testing.assert_allclose(got_tf, expected, atol=1e-4)


def test_masked_ssim_averages_the_map_over_the_eroded_valid_area():
    rng = np.random.default_rng(12)
    a, b = structured_pairs(rng, 2, 40, 36)
    valid = np.ones((2, 40, 36, 1), bool)
    valid[0, 14:20, 10:25] = False  # a hole in the middle
    valid[1, :, 30:] = False  # a strip on one side
    valid[1, 35:, :] = False
    expected = [brute_force_masked_ssim(x[..., 0], y[..., 0], m[..., 0]) for x, y, m in zip(a, b, valid)]
    np.testing.assert_allclose(oracle.ssim(a, b, valid), expected, atol=1e-12)
    got_tf = metrics.ssim_tf(a.astype(np.float32), b.astype(np.float32), valid.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_tf, expected, atol=1e-4)
    # The eroded mask: a 5-pixel border and a 5-pixel rim around no-data are left out.
    inside = oracle.ssim_window_mask(valid[0, ..., 0])
    assert inside.sum() == (40 - 10) * (36 - 10) - (6 + 10) * (15 + 10)


@pytest.mark.parametrize("make", [random_pairs, structured_pairs])
def test_an_all_valid_mask_gives_the_unmasked_numbers(make):
    a, b = make(np.random.default_rng(13), 3, 32, 48)
    ones = np.ones(a.shape[:3], bool)  # no channel axis: broadcast over it
    np.testing.assert_allclose(oracle.ssim(a, b, ones), oracle.ssim(a, b), atol=1e-12)
    np.testing.assert_allclose(oracle.non_binary_dice(a, b, ones), oracle.non_binary_dice(a, b), rtol=1e-12)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    ones32 = ones[..., None].astype(np.float32)
    np.testing.assert_allclose(metrics.ssim_tf(a32, b32, ones32).numpy(), metrics.ssim_tf(a32, b32).numpy(), atol=1e-6)
    # The in-graph map is tf.image.ssim's.
    tf_reference = tf_image_ssim(a32, b32)
    np.testing.assert_allclose(metrics.ssim_tf(a32, b32).numpy(), tf_reference, atol=1e-6)
    for fn in (metrics.non_binary_dice_tf, metrics.mean_abs_error_tf):
        np.testing.assert_allclose(fn(a32, b32, ones32).numpy(), fn(a32, b32).numpy(), rtol=1e-6)


def tf_image_ssim(a, b):
    import tensorflow as tf

    return tf.image.ssim(a, b, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()


def test_patches_without_anything_to_score_give_nan():
    a, b = random_pairs(np.random.default_rng(14), 3, 24, 24)
    valid = np.ones(a.shape, np.float32)
    valid[0] = 0.0  # no valid pixel: every metric is NaN
    valid[1, :, 10:] = 0.0  # 10 valid columns: no whole 11x11 window, but pixels to compare
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    for values in (oracle.ssim(a, b, valid), metrics.ssim_tf(a32, b32, valid).numpy()):
        assert np.isnan(values[0]) and np.isnan(values[1]) and np.isfinite(values[2])
    for values in (
        oracle.non_binary_dice(a, b, valid),
        oracle.mean_abs_error(a, b, valid),
        metrics.non_binary_dice_tf(a32, b32, valid).numpy(),
        metrics.mean_abs_error_tf(a32, b32, valid).numpy(),
    ):
        assert np.isnan(values[0]) and np.all(np.isfinite(values[1:]))
    assert np.isnan(oracle.non_binary_dice(a[0], b[0], valid[0]))
    # All-zero valid pixels still agree perfectly (Dice 1), as without a mask.
    zeros = np.zeros((1, 8, 8, 1), np.float32)
    assert metrics.non_binary_dice_tf(zeros, zeros, np.ones_like(zeros)).numpy()[0] == 1.0


def test_a_mask_that_does_not_fit_is_refused():
    a, b = random_pairs(np.random.default_rng(15), 2, 16, 16)
    with pytest.raises(ValueError, match="does not fit"):
        oracle.non_binary_dice(a, b, np.ones((2, 8, 8, 1)))
