"""Scores by sensor and by resolution, as CaFFe's evaluation reports them (issue 25).

Only for data whose patches name their sensor (manifest.csv's ``sensor`` column); other
data gets no breakdown, so its outputs stay as they were."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: The groupings, in the order they are written.
GROUPINGS = ("sensor", "resolution")
#: `evaluate`'s breakdown, beside per_image.csv in RUN/eval/.
BY_GROUP_CSV = "by_group.csv"


def grouped_fields(metrics: Sequence[str]) -> tuple[str, ...]:
    return ("epoch", "by", "group", "images", *(f"{m}_mean" for m in metrics))


def resolution_label(pixel_size_m: float) -> str:
    return f"{pixel_size_m:g} m" if math.isfinite(pixel_size_m) else "unknown"


def patch_groups(sensors: Sequence[str], pixel_sizes: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """{"sensor": {code: patch indices}, "resolution": {"20 m": indices}} when any patch
    names its sensor; {} otherwise. Groups in order of first appearance."""
    if not any(sensors):
        return {}
    labels = {
        "sensor": [s or "unknown" for s in sensors],
        "resolution": [resolution_label(float(p)) for p in np.asarray(pixel_sizes, np.float64)],
    }
    groups: dict[str, dict[str, np.ndarray]] = {}
    for by in GROUPINGS:
        names = list(dict.fromkeys(labels[by]))
        groups[by] = {name: np.flatnonzero(np.array(labels[by]) == name) for name in names}
    return groups


def grouped_means(
    rows: Sequence[dict], metrics: Sequence[str], sensor_of: dict[str, str], size_of: dict[str, float]
) -> list[dict]:
    """Per epoch, grouping and group: the images and the mean of each of `metrics` over
    the per-image `rows` (epoch, patch_id, metric...; NaN scores left out); [] when no
    patch names its sensor."""
    if not any(sensor_of.values()):
        return []
    out = []
    for epoch in sorted({int(r["epoch"]) for r in rows}):
        mine = [r for r in rows if int(r["epoch"]) == epoch]
        ids = [r["patch_id"] for r in mine]
        groups = patch_groups([sensor_of.get(i, "") for i in ids], np.array([size_of.get(i, math.nan) for i in ids]))
        for by, members in groups.items():
            for name, idx in members.items():
                row = {"epoch": epoch, "by": by, "group": name, "images": len(idx)}
                for m in metrics:
                    values = np.array([float(mine[i][m]) for i in idx], np.float64)
                    row[f"{m}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
                out.append(row)
    return out
