"""Dice (paper Eq. 6) and SSIM: numpy and in-graph versions agree with each other and
with scikit-image's reference SSIM."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pix2pix_sar.evaluation import metrics


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
    np.testing.assert_allclose(metrics.ssim(a, b), expected, atol=1e-4)
    assert metrics.ssim(a[1, ..., 0], b[1, ..., 0]) == pytest.approx(expected[1], abs=1e-4)
    assert metrics.ssim(a[2], b[2]) == pytest.approx(expected[2], abs=1e-4)
    got_tf = metrics.ssim_tf(a.astype(np.float32), b.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_tf, expected, atol=1e-4)


def test_ssim_of_identical_images_is_one_and_of_unrelated_ones_low():
    a, _ = random_pairs(np.random.default_rng(0), 2, 32, 32)
    np.testing.assert_allclose(metrics.ssim_tf(a.astype(np.float32), a.astype(np.float32)).numpy(), 1.0, atol=1e-5)
    b = np.random.default_rng(9).uniform(0, 1, a.shape)
    assert np.all(metrics.ssim(a, b) < 0.1)


def test_non_binary_dice_follows_equation_6():
    x = np.array([[1.0, 0.5], [0.0, 0.25]])
    y = np.array([[0.5, 0.5], [1.0, 0.0]])
    # 2 * (0.5 + 0.25) / (1.75 + 2.0)
    assert metrics.non_binary_dice(x, y) == pytest.approx(1.5 / 3.75)
    assert metrics.non_binary_dice(x, x) == pytest.approx(2 * (x**2).sum() / (2 * x.sum()))
    binary = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert metrics.non_binary_dice(binary, binary) == 1.0
    assert metrics.non_binary_dice(binary, 1 - binary) == 0.0
    assert metrics.non_binary_dice(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_dice_batched_numpy_and_tf_agree_with_per_image():
    a, b = structured_pairs(np.random.default_rng(5), 3, 32, 32)
    per_image = [metrics.non_binary_dice(x, y) for x, y in zip(a, b)]
    np.testing.assert_allclose(metrics.non_binary_dice(a, b), per_image, rtol=1e-12)
    got_tf = metrics.non_binary_dice_tf(a.astype(np.float32), b.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_tf, per_image, rtol=1e-5)
    zeros = np.zeros((1, 8, 8, 1), np.float32)
    assert metrics.non_binary_dice_tf(zeros, zeros).numpy()[0] == 1.0


def test_to_unit_maps_model_range():
    np.testing.assert_allclose(metrics.to_unit(np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])
