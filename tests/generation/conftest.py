"""A tiny trained run (32-pixel tiles, base 8 filters) and georeferenced masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A run trained for 2 epochs on the 32-pixel `tiny_dataset` (snapshots at 1 and 2)."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    cfg = resolve_config(
        "orig", assignments=["model.base_filters=8", "training.epochs=2", "training.checkpoint_every=1"]
    )
    run_dir = tmp_path_factory.mktemp("gen_run") / "run"
    fit(cfg, tiny_dataset, run_dir)
    return run_dir


def _write_mask(path: Path, zones: np.ndarray, crs: str = "EPSG:3031", pixel: float = 40.0) -> Path:
    from pix2pix_sar import geo

    grid = geo.Grid(
        geo.crs_from_user(crs), (-2_430_000.0, pixel, 0.0, 1_320_000.0, 0.0, -pixel), zones.shape[1], zones.shape[0]
    )
    return geo.write_geotiff(path, zones.astype(np.uint8), grid, nodata=0)


@pytest.fixture()
def write_mask():
    """Write zone codes as a GeoTIFF mask (EPSG:3031, 40 m pixels): write_mask(path, zones)."""
    return _write_mask
