"""Matplotlib figures shared by evaluate, report and preview (Agg backend, atomic writes)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK

#: Zone code -> (name, colour) for mask panels (CaFFe codes, see data.zones).
ZONE_COLOURS = {
    NODATA: ("no data", "#d81b60"),  # not a grey: no-data never reads as dark backscatter
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
    classes: tuple[str, ...] = ()  # `column` has a {cls} slot: one line per zone class
    ideal: float | None = None  # drawn as a grey line: where generated equals real


#: Per-epoch metrics drawn as curves (paper Fig. 3: Dice on top, SSIM below).
CURVES = (Curve("dice_mean", "mean non-binary Dice", "dice_std"), Curve("ssim_mean", "mean SSIM", "ssim_std"))
#: The SAR statistics per zone class (evaluation.sar_stats), drawn below where the rows hold them.
_SAR_CLASSES = ("ocean", "glacier", "rock")
SAR_CURVES = (
    Curve("w1_db_{cls}", "W1 real vs generated (dB)", classes=_SAR_CLASSES, ideal=0.0),
    Curve("enl_ratio_{cls}", "ENL generated / real", classes=_SAR_CLASSES, ideal=1.0),
)
#: Line style per zone class in the SAR panels (colour: the run).
_CLASS_STYLES = {"ocean": "-", "glacier": "--", "rock": ":"}
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


def curve_panels(series: Mapping[str, Sequence[Mapping[str, float]]]) -> tuple[Curve, ...]:
    """The panels :func:`plot_curves` draws for `series`, top to bottom: Dice and SSIM, then
    the SAR statistics and the segmentation score where the rows hold them."""

    def has(column: str) -> bool:
        return any(math.isfinite(r.get(column, math.nan)) for rows in series.values() for r in rows)

    sar = [c for c in SAR_CURVES if any(has(c.column.format(cls=k)) for k in c.classes)]
    return CURVES + tuple(sar) + (SEG_CURVES if has("seg_miou") else ())


def plot_curves(
    series: Mapping[str, Sequence[Mapping[str, float]]],
    out: str | Path,
    title: str = "",
    mark_epoch: int | None = None,
) -> Path:
    """Mean (line) and +-1 std (band) of Dice and SSIM per epoch, one line per label; below
    them (:func:`curve_panels`) the SAR statistics per zone class and the segmentation score
    (with its real-image ceiling dashed) where the rows have them.

    `series` maps a label to per_epoch.csv rows (``epoch``, ``<metric>_mean``, ``<metric>_std``).
    """
    plt = _pyplot()
    curves = curve_panels(series)
    fig, axes = plt.subplots(len(curves), 1, figsize=(7.0, 2.75 * len(curves)), sharex=True, squeeze=False)
    for ax, curve in zip(axes[:, 0], curves):
        if curve.classes:
            _class_lines(ax, curve, series)
            continue
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
    for ax, curve in zip(axes[:, 0], curves):
        if curve.classes:
            if mark_epoch is not None:
                ax.axvline(mark_epoch, color="0.5", linestyle=":", linewidth=1)
            ax.set_ylabel(curve.name)
            ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("epoch")
    axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def _class_lines(ax, curve: Curve, series: Mapping[str, Sequence[Mapping[str, float]]]) -> None:
    """One line per run (colour) and zone class (style), the ideal value in grey."""
    if curve.ideal is not None:
        ax.axhline(curve.ideal, color="0.6", linewidth=1)
    colours = [f"C{k}" for k in range(len(series))]
    for colour, (label, rows) in zip(colours, series.items()):
        epochs = np.array([r["epoch"] for r in rows], float)
        for cls in curve.classes:
            values = np.array([r.get(curve.column.format(cls=cls), math.nan) for r in rows], float)
            if np.isfinite(values).any():
                name = cls if len(series) == 1 else f"{label}: {cls}"
                ax.plot(epochs, values, _CLASS_STYLES[cls], marker="o", markersize=3, color=colour, label=name)
    ax.legend(fontsize=7, loc="best", ncol=min(3, len(curve.classes)))


def _zone_colours():
    from matplotlib.colors import BoundaryNorm, ListedColormap

    codes = sorted(ZONE_COLOURS)
    zone_cmap = ListedColormap([ZONE_COLOURS[c][1] for c in codes])
    zone_norm = BoundaryNorm([-0.5, *((a + b) / 2 for a, b in zip(codes, codes[1:])), 255.5], zone_cmap.N)
    return codes, zone_cmap, zone_norm


@dataclass(frozen=True)
class _SarShading:
    """How SAR panels are shaded: in the data's dB (DN for ``dn`` data) over its clip range,
    or the model's [-1, 1] without a scaling; no-data in the no-data colour."""

    scaling: SarScaling | None

    def values(self, model: np.ndarray, zones: np.ndarray) -> np.ndarray:
        shown = np.asarray(model, np.float64).reshape(zones.shape)
        if self.scaling is not None:
            shown = self.scaling.model_to_db(shown)
        return np.where(zones == NODATA, np.nan, shown)

    def imshow(self, ax, model: np.ndarray, zones: np.ndarray):
        from matplotlib import colormaps

        cmap = colormaps["gray"].with_extremes(bad=ZONE_COLOURS[NODATA][1])
        low, high = (-1.0, 1.0) if self.scaling is None else (self.scaling.db_min, self.scaling.db_max)
        return ax.imshow(self.values(model, zones), cmap=cmap, vmin=low, vmax=high, interpolation="nearest")

    @property
    def label(self) -> str:
        if self.scaling is None:
            return "model units [-1, 1]"
        unit = "DN" if self.scaling.units == "dn" else "dB"
        what = "value" if self.scaling.units == "dn" else "backscatter"
        low, high = self.scaling.db_min, self.scaling.db_max
        return f"{what} ({unit}), clipped to the training range {low:.1f} .. {high:.1f} {unit}"


def _no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_image_grid(
    zones: np.ndarray,
    columns: Sequence[tuple[str, np.ndarray]],
    out: str | Path,
    row_labels: Sequence[str] = (),
    scene: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    scaling: SarScaling | None = None,
) -> Path:
    """One row per patch: its zone mask, then each (title, images (N, H, W[, 1]) in [-1, 1]) column.

    SAR panels are shown in dB over `scaling`'s clip range (the model's [-1, 1] without it)
    with one colour bar; no-data (zone 0) has its own colour, in the legend. `scene` (zones,
    real, generated; 2-D, [-1, 1]) adds a whole scene as a row above the patches, which
    then sit two to a line beneath it (no white gaps beside a tall scene)."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    codes, zone_cmap, zone_norm = _zone_colours()
    shading = _SarShading(scaling)
    rows, cols = len(zones), 1 + len(columns)
    per_line = 2 if scene is not None and rows > 1 else 1
    lines = -(-rows // per_line)
    panel = 2.0
    if scene is not None:
        aspect = scene[0].shape[0] / scene[0].shape[1]
        scene_h = panel * cols * per_line / 3 * aspect
    else:
        scene_h = 0.0
    fig = plt.figure(figsize=(panel * cols * per_line + 0.4, scene_h + panel * lines + 1.3), layout="constrained")
    sar_axes, last = [], None
    if scene is not None:
        top, bottom = fig.subfigures(2, 1, height_ratios=[scene_h, panel * lines])
        for ax, title, image in zip(top.subplots(1, 3), ("scene zones", "real scene", "generated scene"), scene):
            if title == "scene zones":
                ax.imshow(image, cmap=zone_cmap, norm=zone_norm, interpolation="nearest")
            else:
                last = shading.imshow(ax, image, scene[0])
                sar_axes.append(ax)
            ax.set_title(title, fontsize=9)
            _no_ticks(ax)
    else:
        bottom = fig
    axes = np.atleast_2d(bottom.subplots(lines, cols * per_line, squeeze=False))
    for r in range(rows):
        line, offset = divmod(r, per_line)
        row_axes = axes[line, offset * cols : (offset + 1) * cols]
        row_axes[0].imshow(zones[r], cmap=zone_cmap, norm=zone_norm, interpolation="nearest")
        for ax, (_, images) in zip(row_axes[1:], columns):
            last = shading.imshow(ax, images[r], zones[r])
            sar_axes.append(ax)
        if r < len(row_labels):
            row_axes[0].set_ylabel(row_labels[r], fontsize=7)
        if line == 0:
            for ax, title in zip(row_axes, ["mask", *(t for t, _ in columns)]):
                ax.set_title(title, fontsize=9)
    for ax in axes.ravel()[rows * cols :] if per_line > 1 else ():
        ax.set_axis_off()
    for ax in axes.ravel():
        _no_ticks(ax)
    if last is not None:
        bar = fig.colorbar(last, ax=list(axes.ravel()), location="bottom", shrink=0.6, aspect=40, pad=0.02)
        bar.set_label(shading.label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    every = [zones, *(scene[:1] if scene is not None else ())]
    present = [c for c in codes if c != NODATA or any((z == NODATA).any() for z in every)]
    handles = [Patch(color=ZONE_COLOURS[c][1], label=ZONE_COLOURS[c][0]) for c in present]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return _save(fig, out, dpi=130 if scene is not None else 100)
