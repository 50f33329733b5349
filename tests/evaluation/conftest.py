"""Two tiny trained runs (2 epochs, a snapshot each epoch) shared by the evaluation tests
(once a session: tests change only copies, `fresh_runs`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_runs(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    """``orig`` without dropout (deterministic generation) and ``l1_50_gan50`` as trained."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    base = tmp_path_factory.mktemp("runs")
    common = ["model.base_filters=8", "training.epochs=2", "training.checkpoint_every=1"]
    runs = {}
    for name, variant, extra in (("orig", "orig", ["model.dropout=0.0"]), ("l1_50_gan50", "l1_50_gan50", [])):
        fit(resolve_config(variant, assignments=[*common, *extra]), tiny_dataset, base / name)
        runs[name] = base / name
    return runs


@pytest.fixture()
def fresh_runs(trained_runs, tmp_path) -> dict[str, Path]:
    """Copies of the trained runs that a test may evaluate and change."""
    return {name: Path(shutil.copytree(path, tmp_path / name)) for name, path in trained_runs.items()}
