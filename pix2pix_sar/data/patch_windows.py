"""``prepare``'s two passes over an opened scene: scan (keep the windows with little
no-data, sample their values for the dataset-wide scaling) and write (scale the kept
windows and hand them to the DatasetWriter)."""

from __future__ import annotations

import logging
import math

import numpy as np

from pix2pix_sar.data.dataset import DatasetWriter, PatchRecord
from pix2pix_sar.data.extra_bands import BandScaling, band_units, fit_band_scaling
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.scene_reader import OpenedScene
from pix2pix_sar.data.zones import NODATA
from pix2pix_sar.errors import InputError, option

log = logging.getLogger(__name__)

#: Pixels per patch sampled for the dataset-wide percentiles.
SAMPLES_PER_PATCH = 4096


def window_count(scene: OpenedScene, size: int, step: int) -> int:
    """How many `size` windows `step` apart fit in the scene's region."""
    col0, row0, col1, row1 = scene.region
    rows = max(0, (row1 - row0 - size) // step + 1)
    cols = max(0, (col1 - col0 - size) // step + 1)
    return rows * cols


def fit_band_scalings(
    band_names: list[str], scenes: list[OpenedScene], samples: list[np.ndarray]
) -> tuple[BandScaling, ...]:
    """Each band's scaling from its values sampled over all kept patches; its units from
    the first scene's raster, its resampling as used (several: joined by '+')."""
    scalings = []
    for k, name in enumerate(band_names):
        values = np.concatenate([s[:, k] for s in samples if s.size])
        units = band_units(scenes[0].bands[k][0])
        scalings.append(fit_band_scaling(name, units, values, resampling_used(scenes, k)))
    return tuple(scalings)


def resampling_used(scenes: list[OpenedScene], k: int) -> str:
    """How band `k` was resampled onto the scenes with patches (several: joined by '+')."""
    return "+".join(sorted({s.bands[k][1] for s in scenes if s.windows}))


def scan_windows(
    index: int, scene: OpenedScene, size: int, step: int, max_nodata: float, seed: int, tick
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: keep windows inside the AOI with few no-data pixels; sample their values.

    Returns the sampled dB values and the extra bands' values at the same pixels (n, K)."""
    rng = np.random.default_rng([seed, index])
    samples: list[np.ndarray] = []
    band_samples: list[np.ndarray] = []
    any_valid = False
    col0 = scene.region[0]
    n_bands = len(scene.bands)
    if window_count(scene, size, step) == 0:
        log.info("%s: no %d-pixel window fits (inside the AOI); skipped", scene.input.sar.name, size)
        return np.empty(0), np.empty((0, n_bands))
    for strip in scene.strips(size, step):
        row, sar, zones, aoi = strip.row, strip.sar, strip.zones, strip.aoi
        db, invalid = scene.invalid(sar, zones, strip.extras_missing)
        scene_nodata = ~np.isfinite(db) if scene.nodata is None else (~np.isfinite(db) | (sar == scene.nodata))
        n = 0
        for c in range(0, sar.shape[1] - size + 1, step):
            n += 1
            if aoi is not None and not aoi[:, c : c + size].all():
                continue
            any_valid = any_valid or not scene_nodata[:, c : c + size].all()
            bad = invalid[:, c : c + size]
            if bad.all() or bad.mean() > max_nodata:
                continue
            scene.windows.append((col0 + c, row))
            if scene.units != "dn":  # DN: no known link to intensity
                scene.speckle.add(db[:, c : c + size], zones[:, c : c + size], bad)
                scene.icebergs.add(db[:, c : c + size], zones[:, c : c + size], bad)
            valid = db[:, c : c + size][~bad]
            picked = rng.choice(valid.size, min(SAMPLES_PER_PATCH, valid.size), replace=False)
            samples.append(valid[picked])
            if strip.extras is not None:
                band_samples.append(strip.extras[:, c : c + size][~bad][picked])
        tick(scene, "scanning", n)
    if not any_valid:
        nodata = f"value {scene.nodata:g}" if scene.nodata is not None else "NaN or non-positive values"
        raise InputError(
            f"{scene.input.sar}: holds only no-data ({nodata}) where patches could be cut; "
            f"check the file, {option('band')} and {option('units')}"
        )
    log.info("%s: kept %d patches", scene.input.sar.name, len(scene.windows))
    return (
        np.concatenate(samples) if samples else np.empty(0),
        np.concatenate(band_samples) if band_samples else np.empty((0, n_bands)),
    )


def write_windows(
    scene: OpenedScene,
    splits: list[str],
    scaling: SarScaling,
    band_scalings: tuple[BandScaling, ...],
    size: int,
    step: int,
    writer: DatasetWriter,
    tick,
) -> None:
    """Pass 2: read the kept windows strip by strip, scale, write."""
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (col, row), split in zip(scene.windows, splits, strict=True):
        by_row.setdefault(row, []).append((col, split))
    col0 = scene.region[0]
    per_strip = (scene.region[2] - col0 - size) // step + 1
    for strip in scene.strips(size, step):
        row, sar, zones = strip.row, strip.sar, strip.zones
        for col, split in by_row.get(row, []):
            c = col - col0
            values, patch_zones = sar[:, c : c + size], zones[:, c : c + size]
            missing = None if strip.extras_missing is None else strip.extras_missing[:, c : c + size]
            _, invalid = scene.invalid(values, patch_zones, missing)
            scaled = scaling.to_model(values)
            scaled[invalid] = -1.0
            patch_zones = np.where(invalid, NODATA, patch_zones).astype(np.uint8)
            # No-data pixels of a band hold -1, as the SAR's do (their zone is no data).
            extras = {
                band.name: np.where(invalid, np.float32(-1.0), band.to_model(strip.extras[:, c : c + size, k]))
                for k, band in enumerate(band_scalings)
            }
            record = PatchRecord(
                f"{scene.patch_id_prefix}_r{row:05d}_c{col:05d}",
                split,
                scene.source_name,
                col,
                row,
                size,
                size,
                math.nan if scene.input.pixel_size_m is None else scene.input.pixel_size_m,
                scene.input.sensor or "",
            )
            writer.add(record, scaled, patch_zones, scene.grid.window(col, row, size, size), extras)
        tick(scene, "writing", per_strip)
