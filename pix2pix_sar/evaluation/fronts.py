"""Calving fronts from zone masks, and the front mean distance error (MDE).

As the CaFFe benchmark (Gourmelon et al. 2022) defines them: the front is the set
of glacier pixels with an ocean pixel among their 4 neighbours; the MDE pools, over
all images of a split that have a front in both prediction and truth, the distance
from every front pixel of one to the nearest front pixel of the other, in both
directions, into one mean in metres. Images with a front in only one of the two are
counted apart. Patch-level numbers are not comparable with the CaFFe leaderboard
(whole images, its post-processing).

:func:`front_mask` lives in :mod:`pix2pix_sar.data.zones` (generation draws fronts
too, and may not import evaluation); it is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pix2pix_sar.data.zones import front_mask

__all__ = ["FrontDistance", "front_mask", "mean_distance_error"]


@dataclass(frozen=True)
class FrontDistance:
    """The MDE of a split and how many images it rests on."""

    mde_m: float  # NaN when no image has a front in both
    images_with_both: int
    only_predicted: int  # a front in the prediction only
    only_true: int  # a front in the truth only
    distances: int  # front-pixel distances pooled into the mean


def _distances_to(front: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Distance (pixels) from each pixel of `front` to the nearest pixel of `other`."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~other)[front]


def mean_distance_error(
    pred_zones: Sequence[np.ndarray], true_zones: Sequence[np.ndarray], pixel_size: float | Sequence[float]
) -> FrontDistance:
    """MDE in metres over pairs of zone masks; `pixel_size` in metres, one for all or one per image."""
    if len(pred_zones) != len(true_zones):
        raise ValueError(f"{len(pred_zones)} predictions for {len(true_zones)} true masks")
    sizes = np.broadcast_to(np.asarray(pixel_size, np.float64), (len(true_zones),))
    pooled, both, only_pred, only_true = [], 0, 0, 0
    for pred, true, size in zip(pred_zones, true_zones, sizes, strict=True):
        pred_front, true_front = front_mask(pred), front_mask(true)
        has_pred, has_true = bool(pred_front.any()), bool(true_front.any())
        if has_pred and has_true:
            both += 1
            pooled.append(_distances_to(pred_front, true_front) * size)
            pooled.append(_distances_to(true_front, pred_front) * size)
        elif has_pred:
            only_pred += 1
        elif has_true:
            only_true += 1
    distances = np.concatenate(pooled) if pooled else np.zeros(0)
    mde = float(distances.mean()) if distances.size else float("nan")
    return FrontDistance(mde, both, only_pred, only_true, int(distances.size))
