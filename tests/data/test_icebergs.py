"""prepare's iceberg estimate (data/icebergs.py) and the iceberg stage it feeds (models/object_noise.py)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pix2pix_sar.data.icebergs import IcebergEstimator, resolve_icebergs
from pix2pix_sar.data.zones import OCEAN, ROCK


def _ocean_with_bergs(rng, side=256, radius=3, contrast=12.0, count=40):
    """An ocean window in dB (4-look speckle around -20 dB), `count` disks `contrast` dB
    brighter, a rock strip on the left (bright, must not count), and the disks' pixel count."""
    db = -20.0 + 10 * np.log10(rng.gamma(4.0, 1 / 4.0, (side, side)))
    zones = np.full((side, side), OCEAN, np.uint8)
    zones[:, :32] = ROCK
    db[:, :32] += 15.0
    rows, cols = np.indices((side, side))
    bergs = np.zeros((side, side), bool)
    for r, c in rng.uniform(40, side - 8, (count, 2)):
        bergs |= np.hypot(rows - r, cols - c) <= radius
    db[bergs] += contrast
    return db, zones, int(bergs.sum())


def test_the_estimate_finds_the_bergs_cover_contrast_and_size():
    rng = np.random.default_rng(0)
    estimator = IcebergEstimator()
    berg_pixels = ocean_pixels = 0
    for _ in range(2):
        db, zones, n = _ocean_with_bergs(rng)
        part = IcebergEstimator()
        part.add(db, zones, np.zeros(db.shape, bool))
        estimator = estimator.merge(part)  # windows are measured one by one, then merged
        berg_pixels, ocean_pixels = berg_pixels + n, ocean_pixels + int((zones == OCEAN).sum())
    found = estimator.estimate()
    truth = berg_pixels / ocean_pixels
    # The 3x3 mean blurs each disk's edge a little; speckle makes no bergs of its own.
    assert truth * 0.7 < found["share"] < truth * 1.3, (found, truth)
    assert 8.0 < found["contrast_db"] < 14.0, found
    assert 2.0 < found["radius_px"] < 5.0, found

    calm = IcebergEstimator()
    db, zones, _ = _ocean_with_bergs(rng, count=0)
    calm.add(db, zones, np.zeros(db.shape, bool))
    assert calm.estimate() is None  # speckle alone: no iceberg
    few = IcebergEstimator()
    few.add(db[:64, :64], zones[:64, :64], np.zeros((64, 64), bool))
    assert few.estimate() is None  # too little ocean to say


def test_a_big_bright_area_is_not_an_iceberg():
    rng = np.random.default_rng(1)
    db, zones, _ = _ocean_with_bergs(rng, count=0)
    db[100:160, 100:180] += 12.0  # mélange: 4,800 px
    estimator = IcebergEstimator()
    estimator.add(db, zones, np.zeros(db.shape, bool))
    assert estimator.estimate() is None


def test_prepare_writes_the_estimate_and_fit_takes_it(tmp_path):
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.data.synth import write_synth_scene
    from pix2pix_sar.errors import ConfigError
    from tests.helpers import prepare_dataset

    sar, zones = write_synth_scene(tmp_path / "s", 512, 512, seed=0)
    data = prepare_dataset(sar, zones, tmp_path / "ds", patch_size=64, classes="zones")
    found = json.loads((data / "dataset.json").read_text())["icebergs"]
    assert 0.001 < found["share"] < 0.05 and found["contrast_db"] > 6 and 1 < found["radius_px"] < 8, found

    info = load_info(data)
    model = resolve_config("sampler", assignments=["model.iceberg_share=-1"]).model
    resolved = resolve_icebergs(model, info, "ds/dataset.json")
    assert (resolved.iceberg_share, resolved.iceberg_contrast_db, resolved.iceberg_radius) == (
        found["share"],
        found["contrast_db"],
        found["radius_px"],
    )
    stripped = dataclasses.replace(info, extra={k: v for k, v in info.extra.items() if k != "icebergs"})
    with pytest.raises(ConfigError, match="records no icebergs for model.iceberg_share=-1"):
        resolve_icebergs(model, stripped, "ds/dataset.json")
