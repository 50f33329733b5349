"""Image-agreement metrics of the paper (Sec. III-C), computed in the TensorFlow graph.

All metrics compare images scaled to [0, 1] (:func:`to_unit` maps the model's
[-1, 1] there; docs/evaluation.md fixes this range because the paper does not say).

* Non-binary Dice (paper Eq. 6): ``2 * sum(X * Y) / (sum(X) + sum(Y))``.
* SSIM (Wang et al. 2004): Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03,
  data range 1, population (not sample) covariances: the same SSIM map as
  :func:`tf.image.ssim`, tested to agree with it and with
  :func:`skimage.metrics.structural_similarity` (the numpy reference versions of all
  three metrics are the tests' oracles, ``tests/evaluation/oracle_metrics.py``). Border
  pixels never count: skimage filters with reflected borders and then crops the
  5-pixel border ((11 - 1) / 2) before averaging, TF filters with a VALID
  convolution, which never produces those border pixels (images must be at
  least 11x11).
* MAE: mean absolute difference.

**No-data never counts.** Every metric takes an optional validity mask `valid`
(nonzero = valid; in evaluation :func:`pix2pix_sar.data.zones.valid_zones` of the
zone codes, never the input channels), and invalid pixels are ignored,
whatever values the images hold there:

* Dice and MAE sum over valid pixels only.
* SSIM averages the SSIM map over the pixels whose whole 11x11 window is valid
  *and inside the image*: the valid mask eroded by the window radius (5), with
  everything outside the image counted as invalid. With an all-valid mask this is
  exactly the cropped area of skimage / the VALID area of TF, so the numbers are
  the unmasked ones.
* A patch without any pixel to score (no valid pixel; for SSIM no wholly valid
  window) gives NaN, never a number: callers average with NaNs skipped.

The ``*_tf`` functions take batches (N, H, W, C) and masks (N, H, W, 1) and return
(N,) tensors.
"""

from __future__ import annotations

import numpy as np

#: SSIM parameters (Wang et al. 2004; docs/evaluation.md).
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: Pixels on each side of a window's centre: masks are eroded by this much for SSIM.
SSIM_RADIUS = (SSIM_WINDOW - 1) // 2


def to_unit(scaled):
    """Model range [-1, 1] -> [0, 1] (numpy arrays or tensors)."""
    return (scaled + 1.0) / 2.0


def _valid_tf(valid, like):
    """A float 0/1 mask (nonzero = valid) broadcast to the shape of `like`."""
    import tensorflow as tf

    valid = tf.convert_to_tensor(valid)
    valid = tf.cast(tf.not_equal(valid, tf.zeros([], valid.dtype)), like.dtype)
    return tf.broadcast_to(valid, tf.shape(like))


def _nan_where_empty(value, count):
    import tensorflow as tf

    return tf.where(count > 0, value, tf.constant(float("nan"), value.dtype))


def non_binary_dice_tf(a, b, valid=None):
    """In-graph non-binary Dice per pair of a batch (N, H, W, C) -> (N,); over the
    pixels of `valid` (N, H, W, 1) only when given (NaN where none is valid)."""
    import tensorflow as tf

    axes = (1, 2, 3)
    if valid is not None:
        v = _valid_tf(valid, a)
        a, b = tf.where(v > 0, a, tf.zeros_like(a)), tf.where(v > 0, b, tf.zeros_like(b))
    product = tf.reduce_sum(a * b, axis=axes)
    total = tf.reduce_sum(a, axis=axes) + tf.reduce_sum(b, axis=axes)
    dice = tf.where(total > 0, 2.0 * product / tf.where(total > 0, total, 1.0), 1.0)
    return dice if valid is None else _nan_where_empty(dice, tf.reduce_sum(v, axis=axes))


def _gaussian_window() -> np.ndarray:
    """The normalised 11x11 Gaussian of :func:`tf.image.ssim` (and of skimage's filter)."""
    coords = np.arange(SSIM_WINDOW, dtype=np.float64) - SSIM_RADIUS
    g = np.exp(-(coords**2) / (2.0 * SSIM_SIGMA**2))
    window = np.outer(g, g)
    return (window / window.sum()).astype(np.float32)


def ssim_map_tf(a, b):
    """In-graph SSIM map of a batch (N, H, W, C) in [0, 1] -> (N, H - 10, W - 10, C):
    the map of :func:`tf.image.ssim` (VALID filtering), pixel (i, j) centred on image
    pixel (i + 5, j + 5)."""
    import tensorflow as tf

    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    kernel = tf.tile(tf.constant(_gaussian_window())[:, :, None, None], [1, 1, tf.shape(a)[-1], 1])

    def blur(x):
        return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")

    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    mean_a, mean_b = blur(a), blur(b)
    num0 = 2.0 * mean_a * mean_b
    den0 = tf.square(mean_a) + tf.square(mean_b)
    luminance = (num0 + c1) / (den0 + c1)
    structure = (2.0 * blur(a * b) - num0 + c2) / (blur(tf.square(a) + tf.square(b)) - den0 + c2)
    return luminance * structure


def ssim_tf(a, b, valid=None):
    """In-graph SSIM per pair of a batch (N, H, W, C) in [0, 1] -> (N,).

    With `valid` (N, H, W, 1), the map of :func:`ssim_map_tf` is averaged over the
    pixels whose whole window is valid (the mask eroded by 5, i.e. an 11x11 minimum
    over the VALID area); NaN where there is none."""
    import tensorflow as tf

    axes = (1, 2, 3)
    if valid is None:
        return tf.reduce_mean(ssim_map_tf(a, b), axis=axes)
    v = _valid_tf(valid, a[..., :1])
    a = tf.where(tf.broadcast_to(v > 0, tf.shape(a)), a, tf.zeros_like(a))
    b = tf.where(tf.broadcast_to(v > 0, tf.shape(b)), b, tf.zeros_like(b))
    ssim_map = ssim_map_tf(a, b)
    inside = -tf.nn.max_pool2d(-tf.cast(v, tf.float32), SSIM_WINDOW, strides=1, padding="VALID")
    inside = tf.broadcast_to(inside, tf.shape(ssim_map))
    total = tf.reduce_sum(tf.where(inside > 0, ssim_map, tf.zeros_like(ssim_map)), axis=axes)
    count = tf.reduce_sum(inside, axis=axes)
    return _nan_where_empty(total / tf.maximum(count, 1.0), count)


def mean_abs_error_tf(a, b, valid=None):
    """In-graph mean absolute difference per pair (N, H, W, C) -> (N,); over the
    pixels of `valid` (N, H, W, 1) only when given (NaN where none is valid)."""
    import tensorflow as tf

    axes = (1, 2, 3)
    if valid is None:
        return tf.reduce_mean(tf.abs(a - b), axis=axes)
    v = _valid_tf(valid, a)
    total = tf.reduce_sum(tf.where(v > 0, tf.abs(a - b), tf.zeros_like(a)), axis=axes)
    count = tf.reduce_sum(v, axis=axes)
    return _nan_where_empty(total / tf.maximum(count, 1.0), count)


# --- Segmentation (the reference segmenter's score) ---------------------------------


def confusion_matrix(pred: np.ndarray, true: np.ndarray, valid: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) int64 counts over valid pixels: rows true class, columns predicted.
    Accumulate over a split by summing (one confusion matrix per split, not a mean of images)."""
    pred, true = np.asarray(pred)[valid], np.asarray(true)[valid]
    return np.bincount(true.astype(np.int64) * classes + pred, minlength=classes * classes).reshape(classes, classes)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """Intersection over union of each class from a confusion matrix (NaN for a class
    absent from both truth and prediction); mIoU is their nanmean."""
    confusion = np.asarray(confusion, np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / union, np.nan)
