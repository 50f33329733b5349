"""Matplotlib figures shared by evaluate, report and preview (Agg backend, atomic writes)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK

#: Zone code -> (name, colour) for mask panels (CaFFe codes, see data.zones).
ZONE_COLOURS = {
    NODATA: ("no data", "black"),
    ROCK: ("rock", "#8c6d46"),
    GLACIER: ("glacier", "#9ad0f5"),
    OCEAN: ("ocean", "#1f3f8f"),
}


@dataclass(frozen=True)
class Curve:
    """One panel of per-epoch curves: a per_epoch.csv column, its ±std band and a ceiling line."""

    column: str
    name: str
    std: str | None = None
    ceiling: str | None = None  # a column drawn dashed: the same score on real images


#: Per-epoch metrics drawn as curves (paper Fig. 3: Dice on top, SSIM below).
CURVES = (Curve("dice_mean", "mean non-binary Dice", "dice_std"), Curve("ssim_mean", "mean SSIM", "ssim_std"))
#: The segmentation score, drawn below them where the rows hold it (evaluate --segmenter).
SEG_CURVES = (
    Curve("seg_miou", "segmenter mIoU", ceiling="seg_real_miou"),
    Curve("seg_mde_m", "segmenter MDE (m)", ceiling="seg_real_mde_m"),
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path, dpi: int = 110) -> Path:
    plt = _pyplot()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return Path(out)


def plot_curves(
    series: Mapping[str, Sequence[Mapping[str, float]]],
    out: str | Path,
    title: str = "",
    mark_epoch: int | None = None,
) -> Path:
    """Mean (line) and +-1 std (band) of each metric per epoch, one line per label; the
    segmentation score (with its real-image ceiling dashed) where the rows have it.

    `series` maps a label to per_epoch.csv rows (``epoch``, ``<metric>_mean``, ``<metric>_std``).
    """
    plt = _pyplot()
    has_seg = any(math.isfinite(r.get("seg_miou", math.nan)) for rows in series.values() for r in rows)
    curves = CURVES + (SEG_CURVES if has_seg else ())
    fig, axes = plt.subplots(len(curves), 1, figsize=(7.0, 2.75 * len(curves)), sharex=True, squeeze=False)
    for ax, curve in zip(axes[:, 0], curves):
        for label, rows in series.items():
            epochs = np.array([r["epoch"] for r in rows], float)
            mean = np.array([r.get(curve.column, math.nan) for r in rows], float)
            (line,) = ax.plot(epochs, mean, marker="o", markersize=3, label=label)
            if curve.std:
                std = np.array([r[curve.std] for r in rows], float)
                ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0)
            if curve.ceiling:
                ceiling = np.array([r.get(curve.ceiling, math.nan) for r in rows], float)
                ax.plot(
                    epochs,
                    ceiling,
                    linestyle="--",
                    marker="_",
                    markersize=10,
                    color=line.get_color(),
                    linewidth=1,
                    label=f"{label}: real images",
                )
        if mark_epoch is not None:
            ax.axvline(mark_epoch, color="0.5", linestyle=":", linewidth=1)
        ax.set_ylabel(curve.name)
        ax.grid(True, alpha=0.3)
        if curve.ceiling:
            ax.legend(fontsize=7, loc="best")
    axes[0, 0].legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("epoch")
    axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def _zone_colours():
    from matplotlib.colors import BoundaryNorm, ListedColormap

    codes = sorted(ZONE_COLOURS)
    zone_cmap = ListedColormap([ZONE_COLOURS[c][1] for c in codes])
    zone_norm = BoundaryNorm([-0.5, *((a + b) / 2 for a, b in zip(codes, codes[1:])), 255.5], zone_cmap.N)
    return codes, zone_cmap, zone_norm


def plot_image_grid(
    zones: np.ndarray,
    columns: Sequence[tuple[str, np.ndarray]],
    out: str | Path,
    row_labels: Sequence[str] = (),
    scene: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Path:
    """One row per patch: its zone mask, then each (title, images (N, H, W[, 1]) in [-1, 1]) column.

    `scene` (zones, real, generated; 2-D, [-1, 1]) adds a whole scene beside the patches."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    codes, zone_cmap, zone_norm = _zone_colours()
    rows, cols = len(zones), 1 + len(columns)
    extra = 3 if scene is not None else 0
    fig = plt.figure(figsize=(2.3 * cols + 2.6 * extra, max(2.3 * rows, 3.2 if extra else 0) + 0.3))
    grid = fig.add_gridspec(rows, cols + extra, width_ratios=[1] * cols + [rows / 1.2] * extra)
    axes = np.array([[fig.add_subplot(grid[r, c]) for c in range(cols)] for r in range(rows)])
    if scene is not None:
        for k, (title, image) in enumerate(zip(("scene zones", "real scene", "generated scene"), scene)):
            ax = fig.add_subplot(grid[:, cols + k])
            if k == 0:
                ax.imshow(image, cmap=zone_cmap, norm=zone_norm, interpolation="nearest")
            else:
                ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    for r in range(rows):
        axes[r, 0].imshow(zones[r], cmap=zone_cmap, norm=zone_norm, interpolation="nearest")
        for c, (_, images) in enumerate(columns, start=1):
            axes[r, c].imshow(np.reshape(images[r], zones[r].shape), cmap="gray", vmin=-1, vmax=1)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        if r < len(row_labels):
            axes[r, 0].set_ylabel(row_labels[r], fontsize=7)
    for c, title in enumerate(["mask", *(t for t, _ in columns)]):
        axes[0, c].set_title(title, fontsize=9)
    present = [c for c in codes if c != NODATA or (zones == NODATA).any()]
    handles = [Patch(color=ZONE_COLOURS[c][1], label=ZONE_COLOURS[c][0]) for c in present]
    fig.legend(handles=handles, loc="lower left", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05 / rows, 1, 1))
    return _save(fig, out, dpi=130 if scene is not None else 100)
