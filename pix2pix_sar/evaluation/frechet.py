"""Fréchet distance between real and generated patch sets on the reference segmenter's
encoder features (issue 22), as FID does on Inception's and Baier et al. on a U-Net's.

Features (:func:`segmenter_features`): the segmenter's bottleneck (the deepest encoder
block), global-average-pooled, for crops of the segmenter's patch size; nothing is
downloaded. The distance between two Gaussians fitted to the feature sets is

    d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

reported with a bootstrap interval (sets resampled with replacement). Needs at least
:data:`MIN_CROPS` crops per set for covariances of a few hundred dimensions.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pix2pix_sar.errors import InputError
from pix2pix_sar.run_folder import SegRunFolder

#: Fewest crops per set for a Fréchet distance we report.
MIN_CROPS = 1000
#: The segmenter layer whose output is pooled (build_segmenter's bottleneck).
FEATURE_LAYER = "bottleneck_conv2"


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    from scipy import linalg

    diff = np.asarray(mu_a, np.float64) - np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.atleast_2d(cov_a).astype(np.float64), np.atleast_2d(cov_b).astype(np.float64)
    with warnings.catch_warnings():  # dead (constant) features make the product singular
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # singular product: regularise, as FID implementations do
        eps = 1e-6 * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))


def frechet_of_features(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`frechet_distance` of Gaussians fitted to two feature sets (N, D)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def frechet_with_interval(
    a: np.ndarray, b: np.ndarray, boots: int = 100, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """{"fd", "fd_low", "fd_high", "crops"}: the distance and a bootstrap percentile interval."""
    if min(len(a), len(b)) < 2:
        raise InputError(f"Fréchet distance: {min(len(a), len(b))} crops; need at least 2 per set")
    rng = np.random.default_rng(seed)
    draws = [
        frechet_of_features(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))])
        for _ in range(boots)
    ]
    tail = (1.0 - level) / 2.0 * 100.0
    return {
        "fd": frechet_of_features(a, b),
        "fd_low": float(np.percentile(draws, tail)),
        "fd_high": float(np.percentile(draws, 100.0 - tail)),
        "crops": int(min(len(a), len(b))),
    }


def crop_origins(zones: np.ndarray, size: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` (row, col) origins of `size`-px crops without no-data, drawn at random
    (with repeats only when the scene has fewer distinct places)."""
    from scipy import ndimage

    h, w = zones.shape
    if h < size or w < size:
        raise InputError(f"scene {w}x{h} is smaller than the segmenter's {size}-px crops; give a larger scene")
    nodata = (zones == 0).astype(np.float64)
    # A crop is free of no-data where the sum of no-data over its window is 0.
    window_sum = ndimage.uniform_filter(nodata, size, mode="constant", origin=-(size // 2)) * size * size
    ok = np.argwhere(window_sum[: h - size + 1, : w - size + 1] < 0.5)
    if not len(ok):
        raise InputError(f"no {size}-px crop of the scene is free of no-data; give a scene with more data")
    rng = np.random.default_rng(seed)
    return ok[rng.choice(len(ok), count, replace=len(ok) < count)]


class SegmenterFeatures:
    """The reference segmenter (a ``seg fit`` run) as a feature extractor."""

    def __init__(self, seg_run: str | Path):
        import keras

        folder = SegRunFolder(seg_run).require()
        model = keras.models.load_model(folder.model_path, compile=False)
        self.patch_size = int(model.input_shape[1])
        pooled = keras.layers.GlobalAveragePooling2D()(model.get_layer(FEATURE_LAYER).output)
        self._model = keras.Model(model.input, pooled)

    def __call__(self, images: np.ndarray, origins: np.ndarray, batch: int = 64) -> np.ndarray:
        """Features (N, D) of crops of `images` (H, W, model range [-1, 1]) at `origins`."""
        s = self.patch_size
        out = []
        for i in range(0, len(origins), batch):
            crops = np.stack([images[r : r + s, c : c + s] for r, c in origins[i : i + batch]])[..., None]
            out.append(np.asarray(self._model(crops.astype(np.float32), training=False)))
        return np.concatenate(out).astype(np.float64)
