"""Image-agreement metrics of the paper (Sec. III-C), in numpy and in-graph TensorFlow.

Both metrics compare images scaled to [0, 1] (:func:`to_unit` maps the model's
[-1, 1] there; README "Evaluation" fixes this range because the paper does not say).

* Non-binary Dice (paper Eq. 6): ``2 * sum(X * Y) / (sum(X) + sum(Y))``.
* SSIM (Wang et al. 2004): Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03,
  data range 1, population (not sample) covariances. We use the libraries'
  implementations: :func:`skimage.metrics.structural_similarity` for numpy and
  :func:`tf.image.ssim` in the graph. They agree to ~1e-7 because both average
  the SSIM map over the same region: skimage filters with reflected borders and
  then crops the 5-pixel border ((11 - 1) / 2) before averaging, TF filters with
  a VALID convolution, which never produces those border pixels. Border pixels
  therefore do not count in either (images must be at least 11x11).

The numpy functions take one image (H, W) or (H, W, 1) and return a float, or a
batch (N, H, W, C) and return an (N,) array. The ``*_tf`` functions take
batches (N, H, W, C) and return (N,) tensors.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

#: SSIM parameters (Wang et al. 2004; README "Evaluation").
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def to_unit(scaled):
    """Model range [-1, 1] -> [0, 1] (numpy arrays or tensors)."""
    return (scaled + 1.0) / 2.0


def _dice_from_sums(product, total):
    # Two all-zero images are identical: Dice 1 rather than 0/0.
    return np.where(total > 0, 2.0 * product / np.where(total > 0, total, 1.0), 1.0)


def non_binary_dice(a: np.ndarray, b: np.ndarray):
    """Non-binary Dice of one image pair, or per pair of a batch (N, H, W, C)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 4:
        axes = (1, 2, 3)
        return _dice_from_sums((a * b).sum(axes), a.sum(axes) + b.sum(axes))
    return float(_dice_from_sums((a * b).sum(), a.sum() + b.sum()))


def _ssim_one(a: np.ndarray, b: np.ndarray) -> float:

    return float(
        structural_similarity(
            a,
            b,
            data_range=1.0,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            K1=SSIM_K1,
            K2=SSIM_K2,
            channel_axis=-1 if a.ndim == 3 else None,
        )
    )


def ssim(a: np.ndarray, b: np.ndarray):
    """SSIM of one image pair in [0, 1], or per pair of a batch (N, H, W, C)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 4:
        return np.array([_ssim_one(x, y) for x, y in zip(a, b)])
    if a.ndim == 3 and a.shape[-1] == 1:
        a, b = a[..., 0], b[..., 0]
    return _ssim_one(a, b)


def non_binary_dice_tf(a, b):
    """In-graph non-binary Dice per pair of a batch (N, H, W, C) -> (N,)."""
    import tensorflow as tf

    product = tf.reduce_sum(a * b, axis=(1, 2, 3))
    total = tf.reduce_sum(a, axis=(1, 2, 3)) + tf.reduce_sum(b, axis=(1, 2, 3))
    return tf.where(total > 0, 2.0 * product / tf.where(total > 0, total, 1.0), 1.0)


def ssim_tf(a, b):
    """In-graph SSIM per pair of a batch (N, H, W, C) in [0, 1] -> (N,)."""
    import tensorflow as tf

    return tf.image.ssim(a, b, max_val=1.0, filter_size=SSIM_WINDOW, filter_sigma=SSIM_SIGMA, k1=SSIM_K1, k2=SSIM_K2)


def mean_abs_error_tf(a, b):
    """In-graph mean absolute difference per pair (N, H, W, C) -> (N,)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.abs(a - b), axis=(1, 2, 3))
