"""The number of looks that `prepare` estimates (for the sampler's speckle stage)."""

import numpy as np
import pytest

from pix2pix_sar.data.dataset import load_info
from pix2pix_sar.data.looks import LooksEstimator
from pix2pix_sar.data.scaling import to_db
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA


def test_prepare_records_the_synth_scenes_looks(tiny_dataset):
    # `scene` (tests/conftest.py) is drawn with synth_scene's default 4 looks.
    assert load_info(tiny_dataset).extra["looks"] == pytest.approx(4.0, rel=0.2)


@pytest.mark.parametrize("looks", [1.0, 2.5, 8.0])
def test_estimate_is_near_the_true_looks_despite_texture(looks):
    scene = synth_scene(384, 384, seed=4, looks=looks)
    estimator = LooksEstimator()
    for r in range(0, 384, 64):  # window by window, as prepare adds them
        window = (slice(r, r + 64), slice(None))
        db = to_db(scene.intensity[window], "intensity")
        estimator.add(db, scene.zones[window], scene.zones[window] == NODATA)
    assert estimator.looks() == pytest.approx(looks, rel=0.2)


def test_too_few_homogeneous_blocks_give_no_estimate():
    estimator = LooksEstimator()
    rng = np.random.default_rng(0)
    estimator.add(to_db(rng.gamma(4, 0.25, (16, 64)), "intensity"), np.full((16, 64), 254), np.zeros((16, 64), bool))
    assert estimator.looks() is None
    assert LooksEstimator().looks() is None
