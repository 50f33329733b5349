"""Context bands (distance to the calving front and to rock): computed from the whole
mask by one function, in `prepare --context`, `generate` and in-memory generation alike."""

import json
from pathlib import Path

import numpy as np
import pytest

from pix2pix_sar import geo
from pix2pix_sar.data.context import CONTEXT_BANDS, CONTEXT_REACH, FRONT_PHASE_PERIODS, context_planes
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.data.extra_bands import ExtraBandInput
from pix2pix_sar.data.prepare import PrepareOptions, ScalingSource, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK
from pix2pix_sar.errors import InputError


def test_distances_from_the_front_and_from_rock():
    zones = np.full((40, 30), GLACIER, np.uint8)
    zones[20:] = OCEAN  # a straight front between rows 19 and 20
    zones[:, :3] = ROCK
    planes = context_planes(zones)
    front, rock = planes["front_distance"], planes["rock_distance"]
    assert front[19, 15] == 0 and front[20, 15] == 0  # both sides of the front
    assert front[9, 15] == 10 and front[35, 15] == 15
    assert rock[5, 2] == 0 and rock[5, 12] == 10
    # No front at all: everything is "far".
    assert (context_planes(np.full((8, 8), OCEAN, np.uint8))["front_distance"] == CONTEXT_REACH).all()


def test_front_phase_bands_are_sin_and_cos_of_the_front_distance():
    zones = np.full((40, 30), GLACIER, np.uint8)
    zones[20:] = OCEAN
    zones[:, :3] = ROCK
    planes = context_planes(zones)
    assert {f"front_{w}_{p}" for p in FRONT_PHASE_PERIODS for w in ("sin", "cos")} <= set(planes)
    # 10 px up the glacier from the front (distance 10): a quarter-turn plus at period 16.
    assert planes["front_sin_16"][9, 15] == pytest.approx(np.sin(2 * np.pi * 10 / 16), abs=1e-6)
    assert planes["front_cos_8"][9, 15] == pytest.approx(np.cos(2 * np.pi * 10 / 8), abs=1e-6)
    # Bands parallel to the front: constant along a row, periodic across rows.
    assert np.ptp(planes["front_sin_8"][5, 5:25]) < 1e-6
    np.testing.assert_allclose(planes["front_cos_8"][2:10, 15], planes["front_cos_8"][10:18, 15], atol=1e-6)
    # On the glacier only: rock and ocean have no bands that follow the front.
    assert (planes["front_cos_8"][:, :3] == 0).all() and (planes["front_cos_8"][20:] == 0).all()


@pytest.fixture(scope="module")
def context_dataset(scene, tmp_path_factory) -> Path:
    sar, zones = scene
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones", context=True)
    return prepare_scenes([SceneInput(sar, zones)], tmp_path_factory.mktemp("ctx") / "ds", options=options)


def test_prepare_writes_the_whole_masks_context_into_every_patch(context_dataset, scene):
    info = load_info(context_dataset)
    assert info.band_names == list(CONTEXT_BANDS)
    assert [b.units for b in info.extra_bands] == [unit for _, unit in CONTEXT_BANDS.values()]
    assert not any("context" in s for s in info.sources)  # temporary rasters are not sources
    zones = geo.read_array(scene[1])
    whole = context_planes(zones)
    split = load_split(context_dataset, "train")
    checked = 0
    for i, patch_id in enumerate(split.ids):
        row, col = (int(p[1:]) for p in patch_id.split("_")[-2:])
        window = (slice(row, row + 32), slice(col, col + 32))
        for k, band in enumerate(info.extra_bands):
            expected = np.where(zones[window] != NODATA, band.to_model(whole[band.name][window]), -1.0)
            np.testing.assert_allclose(split.extras[i, ..., k], expected, atol=1e-5)
        checked += 1
    assert checked > 5
    # The distance to the front varies across patches: patches far from it are not all alike.
    assert np.ptp(split.extras[..., 0]) > 1.0


def test_context_needs_zones_and_its_names_are_reserved(scene, tmp_path):
    sar, zones = scene
    with pytest.raises(InputError, match="context bands need rock, glacier and ocean"):
        PrepareOptions(patch_size=32, classes="binary", context=True).check()
    with pytest.raises(InputError, match="front_distance is a context band"):
        ExtraBandInput.parse("front_distance=x.tif")


def test_scaling_from_a_dataset_with_fewer_context_bands_keeps_its_set(context_dataset, scene, tmp_path):
    # A dataset made before the front-phase bands were added lists only the two distances.
    old = tmp_path / "old"
    old.mkdir()
    facts = json.loads((context_dataset / "dataset.json").read_text())
    facts["extra_bands"] = [b for b in facts["extra_bands"] if b["name"] in ("front_distance", "rock_distance")]
    (old / "dataset.json").write_text(json.dumps(facts))
    sar, zones = scene
    options = PrepareOptions(patch_size=32, val_fraction=0.2, units="intensity", classes="zones", context=True)
    again = prepare_scenes(
        [SceneInput(sar, zones)], tmp_path / "again", options=options, scaling_from=ScalingSource.load(old)
    )
    assert load_info(again).band_names == ["front_distance", "rock_distance"]
