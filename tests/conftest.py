"""Shared fixtures: tiny seeded georeferenced scenes and datasets, tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: A tiny architecture that trains in well under a second per epoch on CPU.
TINY = ("model.base_filters=8",)

#: Where the cheap shared fixtures live (scenes and datasets, about a second each); the
#: others, and `tiny_config`, train or evaluate runs.
CHEAP_FIXTURE_HOMES = ("", "tests", "tests/data")


def _trains(item: pytest.Item) -> bool:
    """Whether a test trains or uses a trained run (a shared fixture from outside the cheap homes)."""
    for name in item.fixturenames:
        definitions = item._fixtureinfo.name2fixturedefs.get(name)
        if name == "tiny_config" or (
            definitions and definitions[-1].scope != "function" and definitions[-1].baseid not in CHEAP_FIXTURE_HOMES
        ):
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (make test: `-n 2 --dist loadscope`, one module to one worker, so a
    module's shared fixtures are built once): modules with slow tests start first, then those
    that train, so that no long module is left for the end while the other worker idles."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    weight: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        heavy = 2 if item.get_closest_marker("slow") else int(_trains(item))
        weight[module] = max(weight.get(module, 0), heavy)
    items.sort(key=lambda item: -weight[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> tuple[Path, Path]:
    """A 256x256 synthetic scene (EPSG:3031, 40 m pixels) and its zone mask."""
    from pix2pix_sar.data.synth import write_synth_scene

    return write_synth_scene(tmp_path_factory.mktemp("scene"), 256, 256, seed=1)


@pytest.fixture(scope="session")
def tiny_dataset(scene, tmp_path_factory) -> Path:
    """32-pixel patches of `scene`, split 90/10."""
    from tests.helpers import prepare_dataset

    sar, zones = scene
    return prepare_dataset(sar, zones, tmp_path_factory.mktemp("ds") / "dataset", patch_size=32, seed=0)


@pytest.fixture(scope="session")
def zones_dataset(scene, tmp_path_factory) -> Path:
    """32-pixel patches of `scene` with rock / glacier / ocean classes (calving fronts), split 80/20."""
    from tests.helpers import prepare_dataset

    sar, zones = scene
    out = tmp_path_factory.mktemp("zones") / "dataset"
    return prepare_dataset(sar, zones, out, patch_size=32, seed=0, val_fraction=0.2, classes="zones")


@pytest.fixture(scope="session")
def dem_dataset(scene, tmp_path_factory) -> Path:
    """32-pixel zones patches of `scene` with its DEM (120 m, no data over the ocean) as an extra band."""
    from pix2pix_sar.data.extra_bands import ExtraBandInput
    from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
    from pix2pix_sar.data.scenes import SceneInput

    sar, zones = scene
    options = PrepareOptions(patch_size=32, seed=0, val_fraction=0.2, units="intensity", classes="zones")
    out = tmp_path_factory.mktemp("dem") / "dataset"
    bands = [ExtraBandInput("dem", sar.parent / "dem.tif")]
    return prepare_scenes([SceneInput(sar, zones)], out, options=options, bands=bands)


@pytest.fixture()
def tiny_config():
    """A factory: resolve `variant` with the tiny architecture and extra assignments."""
    from pix2pix_sar.config import resolve_config

    def make(variant: str = "orig", *assignments: str, epochs: int = 2):
        return resolve_config(
            variant, assignments=[*TINY, f"training.epochs={epochs}", "training.checkpoint_every=1", *assignments]
        )

    return make
