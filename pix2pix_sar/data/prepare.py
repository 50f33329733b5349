"""Cut a SAR scene and its zone mask into a patch dataset (paper Sec. III-A)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.dataset import (
    DatasetInfo,
    DatasetWriter,
    PatchRecord,
    iter_windows,
    split_ids,
)
from pix2pix_sar.data.scaling import DB_FACTORS, fit_scaling, to_db
from pix2pix_sar.data.zones import NODATA, check_zones
from pix2pix_sar.errors import InputError

log = logging.getLogger(__name__)

#: Pixels per patch sampled for the dataset-wide percentiles.
_SAMPLES_PER_PATCH = 4096


def prepare_dataset(
    sar: str | Path,
    mask: str | Path,
    out: str | Path,
    *,
    patch_size: int = 256,
    seed: int = 0,
    val_fraction: float = 0.1,
    units: str = "intensity",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Non-overlapping `patch_size` patches without no-data, split at random 90/10.

    The scene and mask must share one grid. SAR values are converted to dB, clipped
    at the 1st/99th percentiles of all kept patches and scaled to [-1, 1].
    """
    sar, mask = Path(sar), Path(mask)
    if units not in DB_FACTORS:
        raise InputError(f"unknown units {units!r}; use one of {', '.join(DB_FACTORS)}")
    if patch_size < 16 or patch_size & (patch_size - 1):
        raise InputError(f"patch size must be a power of two >= 16, got {patch_size}")
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"validation fraction must be in [0, 1), got {val_fraction}")
    sar_grid, _, sar_nodata = geo.raster_info(sar)
    mask_grid, _, _ = geo.raster_info(mask)
    if not sar_grid.same_as(mask_grid):
        raise InputError(
            f"{mask}: grid differs from {sar} ({mask_grid.width}x{mask_grid.height} vs "
            f"{sar_grid.width}x{sar_grid.height}, or another geotransform/CRS); give a mask on the scene's grid"
        )

    # Pass 1: find patches without no-data and sample their dB values.
    rng = np.random.default_rng(seed)
    kept: list[tuple[int, int]] = []
    samples = []
    windows = list(iter_windows(sar_grid.width, sar_grid.height, patch_size, patch_size))
    if not windows:
        raise InputError(f"{sar}: {sar_grid.width}x{sar_grid.height} is smaller than one {patch_size} patch; use a smaller --patch-size")
    for n, (col, row) in enumerate(windows):
        window = (col, row, patch_size, patch_size)
        zones = check_zones(geo.read_raster(mask, window)[0], str(mask))
        values = geo.read_raster(sar, window)[0]
        db = to_db(values, units)
        invalid = (zones == NODATA) | ~np.isfinite(db)
        if sar_nodata is not None:
            invalid |= values == sar_nodata
        if invalid.any():
            continue
        kept.append((col, row))
        flat = db.ravel()
        samples.append(flat[rng.choice(flat.size, min(_SAMPLES_PER_PATCH, flat.size), replace=False)])
        if progress:
            progress(n + 1, 2 * len(windows))
    if not kept:
        raise InputError(f"{sar}: every {patch_size}x{patch_size} patch contains no-data; check the mask or use a smaller --patch-size")
    scaling = fit_scaling(np.concatenate(samples), units)
    log.info("kept %d of %d patches; dB range %.2f .. %.2f", len(kept), len(windows), scaling.db_min, scaling.db_max)

    # Pass 2: write the patches.
    is_val = split_ids(len(kept), val_fraction, seed)
    with DatasetWriter(out, overwrite=overwrite) as writer:
        for n, ((col, row), val) in enumerate(zip(kept, is_val)):
            window = (col, row, patch_size, patch_size)
            values, grid, _ = geo.read_raster(sar, window)
            zones = geo.read_raster(mask, window)[0]
            record = PatchRecord(
                f"{sar.stem}_r{row:05d}_c{col:05d}", "val" if val else "train", sar.name,
                col, row, patch_size, patch_size,
            )
            writer.add(record, scaling.to_model(values), zones, grid)
            if progress:
                progress(len(windows) + (n + 1) * len(windows) // len(kept), 2 * len(windows))
        info = DatasetInfo(
            patch_size=patch_size,
            classes="binary",
            scaling=scaling,
            seed=seed,
            val_fraction=val_fraction,
            sources=[str(sar.resolve()), str(mask.resolve())],
        )
        return writer.commit(info)
