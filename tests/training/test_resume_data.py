"""A run continues only on data scaled like the data it started on (fit and seg fit): a
resume rewrites RUN/dataset.json, which the snapshots already saved write images by."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.data.extra_bands import BandScaling
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.run_folder import dataset_differences


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rescaled(dataset: Path, out: Path, **scaling) -> Path:
    """A copy of `dataset` whose dataset.json scaling has the given fields changed (as a
    dataset prepared from other scenes or with other --units would have)."""
    out = Path(shutil.copytree(dataset, out))
    info = json.loads((out / "dataset.json").read_text())
    info["scaling"].update(scaling)
    (out / "dataset.json").write_text(json.dumps(info))
    return out


def test_differences_name_units_clip_range_bands_and_output_type_only():
    def info(patch_size, classes, scaling, band_range=(0.0, 1000.0), **rest):
        band = BandScaling("dem", rest.pop("band_units", "m"), *band_range, rest.pop("resampling", "average"))
        return DatasetInfo(patch_size, classes, scaling, 0, 0.1, extra_bands=(band,), **rest)

    run = info(64, "zones", SarScaling("intensity", -25.0, 5.0, "float32", None), sources=["a.tif"])
    # Found otherwise but not compared: class scheme, seed, sources, other facts, band units and resampling.
    same = info(
        64,
        "binary",
        SarScaling("intensity", -25.0, 5.0, "float32", None),
        sources=["b.tif"],
        extra={"max_nodata": 0.5},
        band_units="",
        resampling="bilinear",
    )
    assert dataset_differences(run, same, writing=True) == []
    other = info(32, "zones", SarScaling("db", -20.0, 5.0, "uint16", 0.0), band_range=(0.0, 2000.0))
    assert dataset_differences(run, other) == [
        "patch size 32 vs 64",
        "units db vs intensity",
        "clip range -20..5 vs -25..5",
        "band dem range 0..2000 vs 0..1000",
    ]
    assert dataset_differences(run, other, writing=True)[3:5] == ["output type uint16 vs float32", "no-data 0 vs none"]
    no_band = DatasetInfo(64, "zones", run.scaling, 0, 0.1)
    assert dataset_differences(run, no_band) == ["bands none vs dem"]


@pytest.fixture(scope="module")
def one_epoch_run(tiny_dataset, tmp_path_factory) -> Path:
    """A tiny run trained for one epoch (a refused resume leaves it as it is, so tests share it)."""
    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.training.loop import fit

    run = tmp_path_factory.mktemp("resume") / "run"
    cfg = resolve_config("orig", assignments=["model.base_filters=8", "model.unet_depth=2", "training.epochs=1"])
    fit(cfg, tiny_dataset, run)
    return run


@pytest.mark.parametrize(
    "change, named",
    [
        ({"units": "db", "db_min": -25.0, "db_max": 5.0}, "units db vs intensity"),
        ({"db_min": -40.0}, "clip range -40.."),
        ({"dtype": "uint16"}, "output type uint16 vs float32"),
    ],
)
def test_fit_refuses_to_resume_on_data_scaled_otherwise_and_changes_nothing(
    change, named, one_epoch_run, tiny_dataset, tmp_path
):
    run = one_epoch_run
    before = hashes(run)
    other = rescaled(tiny_dataset, tmp_path / "other", **change)
    shallow = ["--set", "model.base_filters=8", "--set", "model.unet_depth=2"]  # the run's config: only the data differ
    result = run_cli("fit", "--data", other, "--out", run, "--epochs", 2, *shallow)
    assert result.exit_code == 1
    assert named in result.output and "start a new run with another --out" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert hashes(run) == before


def test_seg_fit_refuses_to_resume_on_its_dataset_rescaled_and_changes_nothing(tiny_dataset, tmp_path):
    data = Path(shutil.copytree(tiny_dataset, tmp_path / "data"))
    out = tmp_path / "seg"
    tiny = ["--base-filters", "4", "--depth", "2", "--batch-size", "16"]
    assert run_cli("-q", "seg", "fit", "--data", data, "--out", out, *tiny, "--steps", 2).exit_code == 0
    before = hashes(out)
    rescaled(tiny_dataset, tmp_path / "again", db_max=9.5)  # prepared again at the same path ...
    shutil.copyfile(tmp_path / "again" / "dataset.json", data / "dataset.json")
    result = run_cli("-q", "seg", "fit", "--data", data, "--out", out, *tiny, "--steps", 4)
    assert result.exit_code == 1 and "clip range" in result.output and "..9.5 vs" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert hashes(out) == before
