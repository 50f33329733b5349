"""The numpy reference implementations (oracles) of the paper's image metrics, for tests.

The product computes the metrics in the graph (:mod:`pix2pix_sar.evaluation.metrics`,
``*_tf``); these plain numpy / scikit-image versions say what the numbers must be, and the
tests hold the in-graph ones to them. Same conventions (see that module's docstring):
images in [0, 1]; an optional validity mask `valid` (nonzero = valid) whose invalid pixels
never count; NaN for a patch with nothing to score. Each takes one image (H, W) or
(H, W, C) and returns a float, or a batch (N, H, W, C) and returns an (N,) array; a mask is
(H, W[, 1]) or (N, H, W[, 1]).

* Non-binary Dice (paper Eq. 6): ``2 * sum(X * Y) / (sum(X) + sum(Y))``.
* SSIM: :func:`skimage.metrics.structural_similarity` (Gaussian window 11, sigma 1.5,
  K1 0.01, K2 0.03, data range 1, population covariances), its map averaged over the
  pixels whose whole 11x11 window is valid and inside the image.
* MAE: mean absolute difference.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from pix2pix_sar.evaluation.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")


def _valid_like(valid, shape: tuple[int, ...]) -> np.ndarray:
    """The boolean mask `valid` (nonzero = valid) broadcast to an image or batch `shape`.

    A mask without the channel axis gets one: (H, W) for (H, W, C) images,
    (N, H, W) for (N, H, W, C) batches."""
    v = np.asarray(valid) != 0
    if len(shape) in (3, 4) and v.ndim == len(shape) - 1:
        v = v[..., None]
    elif len(shape) == 2 and v.ndim == 3 and v.shape[-1] == 1:
        v = v[..., 0]
    try:
        return np.broadcast_to(v, shape)
    except ValueError:
        raise ValueError(f"validity mask of shape {np.shape(valid)} does not fit images of shape {shape}") from None


def _dice_from_sums(product, total):
    # Two all-zero images are identical: Dice 1 rather than 0/0.
    return np.where(total > 0, 2.0 * product / np.where(total > 0, total, 1.0), 1.0)


def non_binary_dice(a: np.ndarray, b: np.ndarray, valid=None):
    """Non-binary Dice of one image pair, or per pair of a batch (N, H, W, C);
    over the pixels of `valid` only when given (NaN where none is valid)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    _check_shapes(a, b)
    axes = (1, 2, 3) if a.ndim == 4 else None
    if valid is None:
        result = _dice_from_sums((a * b).sum(axes), a.sum(axes) + b.sum(axes))
    else:
        v = _valid_like(valid, a.shape)
        a, b = np.where(v, a, 0.0), np.where(v, b, 0.0)
        result = _dice_from_sums((a * b).sum(axes), a.sum(axes) + b.sum(axes))
        result = np.where(v.sum(axes) > 0, result, np.nan)
    return result if a.ndim == 4 else float(result)


def mean_abs_error(a: np.ndarray, b: np.ndarray, valid=None):
    """Mean absolute difference of one image pair, or per pair of a batch (N, H, W, C);
    over the pixels of `valid` only when given (NaN where none is valid)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    _check_shapes(a, b)
    axes = (1, 2, 3) if a.ndim == 4 else None
    v = np.ones(a.shape, bool) if valid is None else _valid_like(valid, a.shape)
    total = np.abs(np.where(v, a, 0.0) - np.where(v, b, 0.0)).sum(axes)
    count = v.sum(axes)
    result = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return result if a.ndim == 4 else float(result)


def ssim_window_mask(valid: np.ndarray) -> np.ndarray:
    """The pixels of one image's mask (H, W[, C]) whose whole SSIM window (11x11) is
    valid and inside the image: `valid` eroded by :data:`SSIM_RADIUS`, outside = invalid."""
    from scipy.ndimage import binary_erosion

    v = np.asarray(valid) != 0
    structure = np.ones((SSIM_WINDOW, SSIM_WINDOW) + (1,) * (v.ndim - 2), bool)
    return binary_erosion(v, structure=structure, border_value=0)


def _ssim_one(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> float:
    kwargs = dict(
        data_range=1.0,
        gaussian_weights=True,
        sigma=SSIM_SIGMA,
        use_sample_covariance=False,
        K1=SSIM_K1,
        K2=SSIM_K2,
        channel_axis=-1 if a.ndim == 3 else None,
    )
    if valid is None:
        return float(structural_similarity(a, b, **kwargs))
    # Values under no-data never reach a counted window; zero them so that NaN or inf
    # there cannot either.
    a, b = np.where(valid, a, 0.0), np.where(valid, b, 0.0)
    _, ssim_map = structural_similarity(a, b, full=True, **kwargs)
    inside = ssim_window_mask(valid)
    return float(ssim_map[inside].mean()) if inside.any() else float("nan")


def ssim(a: np.ndarray, b: np.ndarray, valid=None):
    """SSIM of one image pair in [0, 1], or per pair of a batch (N, H, W, C).

    With `valid`, the SSIM map is averaged over the pixels whose whole window is valid
    and inside the image (see the module docstring); NaN where there is none."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    _check_shapes(a, b)
    v = None if valid is None else _valid_like(valid, a.shape)
    if a.ndim == 4:
        masks = [None] * len(a) if v is None else list(v)
        return np.array([_ssim_one(x, y, m) for x, y, m in zip(a, b, masks)])
    if a.ndim == 3 and a.shape[-1] == 1:
        a, b = a[..., 0], b[..., 0]
        v = None if v is None else v[..., 0]
    return _ssim_one(a, b, v)
