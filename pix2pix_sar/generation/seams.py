"""How visible are tile seams? A metric on the generated image itself.

The mean absolute intensity step between neighbouring pixels across the rows and
columns where tiles start or end, against the same statistic across the middle
rows and columns of the tiles. The middles are taken (not every other row) because
a U-Net's output has a faint pattern locked to its stride-2 grid: the middle of a
tile sits at the same phase of that pattern as its edges, so only a real seam
changes the ratio. Seamless: a ratio near 1; hard tile edges (a different
brightness per tile, border effects of the convolutions) change it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2pix_sar.generation.tiling import TilePlan


@dataclass(frozen=True)
class SeamStats:
    boundary_step: float  # mean |I[i] - I[i-1]| across tile edges
    interior_step: float  # the same across the middles of tiles
    boundary_pairs: int  # pixel pairs measured at edges
    interior_pairs: int

    @property
    def ratio(self) -> float:
        return self.boundary_step / self.interior_step


def _mean_step(image: np.ndarray, valid: np.ndarray, rows: list[int], cols: list[int]) -> tuple[float, int]:
    """Mean |I[i] - I[i-1]| over the listed rows (vertical steps) and columns
    (horizontal steps), counting pairs whose two pixels are both valid."""
    r, c = np.asarray(rows, int), np.asarray(cols, int)
    vertical = np.abs(image[r] - image[r - 1]), valid[r] & valid[r - 1]
    horizontal = np.abs(image[:, c] - image[:, c - 1]), valid[:, c] & valid[:, c - 1]
    total = float(vertical[0][vertical[1]].sum() + horizontal[0][horizontal[1]].sum())
    count = int(vertical[1].sum() + horizontal[1].sum())
    return (total / count if count else float("nan")), count


def seam_stats(image: np.ndarray, plan: TilePlan, valid: np.ndarray | None = None) -> SeamStats:
    """Seam statistic of `image` (H, W) generated with `plan`; `valid` (H, W) marks
    the pixels to use (e.g. not no-data)."""
    image = np.asarray(image, np.float64)
    valid = np.ones(image.shape, bool) if valid is None else np.asarray(valid, bool)
    edge_rows, edge_cols = plan.boundaries()
    mid_rows, mid_cols = plan.centres()
    boundary, n_boundary = _mean_step(image, valid, edge_rows, edge_cols)
    interior, n_interior = _mean_step(image, valid, mid_rows, mid_cols)
    if n_boundary == 0 or n_interior == 0:
        raise ValueError("no tile edge or no tile middle to measure: the image is a single tile")
    return SeamStats(boundary, interior, n_boundary, n_interior)
