"""How visible are tile seams and tile artefacts? Two metrics on the generated image itself.

Seam ratio (`seam_stats`): the mean absolute intensity step between neighbouring
pixels across the rows and columns where tiles start or end, against the same
statistic across the middle rows and columns of the tiles. The middles are taken
(not every other row) because a U-Net's output has a faint pattern locked to its
stride-2 grid: the middle of a tile sits at the same phase of that pattern as its
edges, so only a real seam changes the ratio. Seamless: a ratio near 1; hard tile
edges (a different brightness per tile, border effects of the convolutions) change it.

Grid statistic (`grid_statistic`): does the scene repeat a pattern with some period
(a tiled generator that draws the same artefact in every tile)? It needs no tile
plan, so it also finds patterns at periods nobody expected.

1. Residual: the image (dB) minus the mean of its zone class, over the valid
   pixels only: no data (zone 0), non-finite values and every pixel within `edge`
   pixels of a pixel of another class (Chebyshev distance, i.e. a (2 edge + 1)
   square window; no data counts as a class here) are left out.
2. Fold by a stride s: cell(i, j) = mean of the valid residuals at
   (k s + i, l s + j) over the whole s x s cells of the image (the ragged right
   and bottom strips are cut off); n(i, j) is the number of valid pixels averaged
   at position (i, j).
3. Keep the non-separable part of the cell: subtract the additive fit
   a(i) + b(j) (a pattern of rows plus a pattern of columns, e.g. stripes, does not
   count). The fit is least squares weighted by n(i, j); with all pixels valid it
   is exactly "subtract the row means and the column means, add back the overall
   mean".
4. F(s) = sum over positions of part(i, j)^2 / (var / n(i, j)), divided by the
   degrees of freedom the part has left, dof = positions - (rows + columns - 1)
   (= (s - 1)^2 with no empty position). var is the residual variance; var / n is
   what a position's mean would scatter by if the residuals were independent. So
   F is the chi-square of the folded pattern per degree of freedom: 1 on average
   for white noise, whatever s and whatever pixels are left out. With all pixels
   valid this is mean(part^2 / (var / n)) / ((s - 1) / s)^2, the spec's form
   divided by its white-noise expectation.

Real scenes give F about 1-2; generators that repeat a pattern per tile 40-120.
The statistic is the maximum over the strides (default every integer 16..256
that leaves at least 2 x 2 whole cells) and the stride where it occurs. It is
invariant under a linear map of the image, so the model range serves as well as dB
when the run's scaling is linear in dB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from pix2pix_sar.data.zones import valid_zones
from pix2pix_sar.generation.tiling import CropPlan, TilePlan


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


def seam_stats(image: np.ndarray, plan: TilePlan | CropPlan, valid: np.ndarray | None = None) -> SeamStats:
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


# --- Grid statistic -----------------------------------------------------------------

#: Default strides: every period from 16 to 256 pixels.
GRID_STRIDES = range(16, 257)


@dataclass(frozen=True)
class GridStatistic:
    value: float  # max over the strides of F(s)
    stride: int  # the stride where it occurs
    per_stride: dict[int, float]  # F(s) for every stride measured (>= 2 x 2 whole cells; NaN: no dof)


def grid_residual(image_db: np.ndarray, zones: np.ndarray, edge: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(residual, valid): the image minus its zone class's mean (0 where not valid),
    and the pixels used (not no data, finite, not within `edge` px, Chebyshev, of
    another class or of no data)."""
    from scipy import ndimage

    image = np.asarray(image_db, np.float64)
    zones = np.asarray(zones)
    if image.ndim != 2 or image.shape != zones.shape:
        raise ValueError(f"image {image.shape} and zones {zones.shape} must be the same 2-D shape")
    valid = valid_zones(zones) & np.isfinite(image)
    if edge > 0:
        window = 2 * edge + 1  # one class over the whole (2 edge + 1)^2 window: max == min
        highest = ndimage.maximum_filter(zones, window, mode="nearest")
        valid &= highest == ndimage.minimum_filter(zones, window, mode="nearest")
    codes, index = np.unique(zones[valid], return_inverse=True)
    values = image[valid]
    means = np.bincount(index, values, minlength=len(codes)) / np.maximum(np.bincount(index, minlength=len(codes)), 1)
    residual = np.zeros(image.shape)
    residual[valid] = values - means[index]
    return residual, valid


#: Backfitting sweeps before the exact solve takes over.
_BACKFIT_SWEEPS = 100


def _fold_f(folded: np.ndarray, var: float) -> float:
    """F of one folded cell: folded = (sum of residuals, valid count), each (s, s)."""
    total, n = folded
    rows_n, cols_n = n.sum(1), n.sum(0)
    active_rows, active_cols = rows_n > 0, cols_n > 0
    dof = int((n > 0).sum()) - (int(active_rows.sum()) + int(active_cols.sum()) - 1)
    if dof <= 0:
        return float("nan")
    # Weighted least-squares fit of a(i) + b(j) to the cell means, weights n(i, j), by
    # alternating the two normal equations (backfitting); with the near-uniform counts
    # of real masks it converges in a handful of sweeps, else an exact solve.
    inv_rows = np.where(active_rows, 1.0 / np.where(active_rows, rows_n, 1.0), 0.0)
    inv_cols = np.where(active_cols, 1.0 / np.where(active_cols, cols_n, 1.0), 0.0)
    row_sums, col_sums = total.sum(1), total.sum(0)
    tolerance = 1e-9 * np.sqrt(var)
    b = np.zeros(len(cols_n))
    for _ in range(_BACKFIT_SWEEPS):
        a = (row_sums - n @ b) * inv_rows
        b, previous = (col_sums - n.T @ a) * inv_cols, b
        if np.abs(b - previous).max() <= tolerance:
            break
    else:
        b = _exact_col_effects(n, row_sums, col_sums, inv_rows, active_cols)
    a = (row_sums - n @ b) * inv_rows
    # sum n (mean - a - b)^2 = sum (total - n (a + b))^2 / n over the non-empty positions
    misfit = total - n * (a[:, None] + b[None, :])
    chi2 = float((misfit**2 / np.where(n > 0, n, 1.0)).sum()) / var
    return chi2 / dof


def _exact_col_effects(n, row_sums, col_sums, inv_rows, active_cols) -> np.ndarray:
    """Column effects b of the weighted additive fit: a eliminated, gauge sum(b) = 0."""
    cols_n = n.sum(0)
    m = np.diag(cols_n) - (n.T * inv_rows) @ n
    m += np.outer(active_cols, active_cols) * cols_n[active_cols].mean()
    m[~active_cols, ~active_cols] = 1.0
    rhs = np.where(active_cols, col_sums - n.T @ (row_sums * inv_rows), 0.0)
    return np.linalg.lstsq(m, rhs, rcond=None)[0]  # lstsq: unlinked groups of rows and columns


def grid_statistic(
    image_db: np.ndarray,
    zones: np.ndarray,
    strides: Iterable[int] = GRID_STRIDES,
    edge: int = 3,
) -> GridStatistic:
    """Grid statistic of `image_db` (H, W; dB or any linear map of it) with zone
    codes `zones` (H, W): max over `strides` of F(s) (see the module docstring).
    Strides that leave fewer than 2 x 2 whole cells are skipped."""
    residual, valid = grid_residual(image_db, zones, edge)
    n_valid = int(valid.sum())
    n_classes = len(np.unique(np.asarray(zones)[valid]))
    if n_valid <= n_classes:
        raise ValueError("too few valid pixels for the grid statistic")
    var = float((residual**2).sum()) / (n_valid - n_classes)
    if not var > 0:
        raise ValueError("the residual is constant: no variance to compare a pattern with")
    height, width = residual.shape
    stack = np.stack([residual, valid.astype(np.float64)])
    per_stride: dict[int, float] = {}
    for s in sorted({int(s) for s in strides}):
        if s < 2 or height // s < 2 or width // s < 2:
            continue
        rows, cols = height // s, width // s
        # (2, rows, s, W) summed over the cells down -> (2, s, W); then across.
        folded = stack[:, : rows * s].reshape(2, rows, s, width).sum(1)
        folded = folded[:, :, : cols * s].reshape(2, s, cols, s).sum(2)
        per_stride[s] = _fold_f(folded, var)
    finite = {s: f for s, f in per_stride.items() if np.isfinite(f)}
    if not finite:
        raise ValueError(f"no stride leaves 2 x 2 whole cells in a {height} x {width} image")
    best = max(finite, key=finite.get)
    return GridStatistic(finite[best], best, per_stride)
