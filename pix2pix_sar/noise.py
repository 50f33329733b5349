"""Noise keys: what every random draw of the generator is a pure function of.

A key is four int32 per example, ``(k0, k1, row, col)`` (how the layers turn keys
into noise: :mod:`pix2pix_sar.models.layers`):

* training: ``(seed, hash(epoch, step, global example index), 0, 0)`` (made in-graph
  by :func:`pix2pix_sar.models.layers.training_keys`);
* evaluation and preview: ``(seed, patch index, 0, 0)`` (:func:`patch_keys`);
* tiled generation: ``(seed, 0, row, col)`` with (row, col) the tile's top-left
  pixel in the scene (:func:`tile_keys`).

This module is numpy only, so generation can make keys without importing TensorFlow.
"""

from __future__ import annotations

import numpy as np

#: Int32 values per example in the noise key.
KEY_SIZE = 4


def patch_keys(seed: int, indices: np.ndarray) -> np.ndarray:
    """(N, 4) int32 noise keys of evaluated/previewed patches: (seed, patch index, 0, 0)."""
    indices = np.asarray(indices, np.int64)
    keys = np.zeros((len(indices), KEY_SIZE), np.int64)
    keys[:, 0], keys[:, 1] = seed, indices
    return _as_int32(keys)


def tile_keys(seed: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(N, 4) int32 noise keys of tiles at scene pixels (row, col): (seed, 0, row, col)."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    keys = np.zeros((len(rows), KEY_SIZE), np.int64)
    keys[:, 0], keys[:, 2], keys[:, 3] = seed, rows, cols
    return _as_int32(keys)


def _as_int32(keys: np.ndarray) -> np.ndarray:
    """int64 key words -> their low 32 bits as int32 (negative offsets wrap)."""
    return (keys & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
