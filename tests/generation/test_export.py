"""`export`: a SavedModel that plain TensorFlow loads, a model card, and `generate --run MODEL`
giving the run's pixels; incomplete exports refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import NODATA, OCEAN
from pix2pix_sar.generation import export as export_module
from pix2pix_sar.run_folder import RunFolder


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def evaluated_run(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny run, evaluated (so the model card has metrics)."""
    from pix2pix_sar.evaluation.sweep import evaluate_run

    run = Path(shutil.copytree(tiny_run, tmp_path_factory.mktemp("export") / "run"))
    evaluate_run(run, batch_size=8)
    return run


@pytest.fixture(scope="module")
def model(evaluated_run) -> Path:
    """The export of epoch 1 of the evaluated run."""
    out = evaluated_run.parent / "model"
    result = run_cli("export", evaluated_run, "--out", out, "--epoch", 1)
    assert result.exit_code == 0, result.output
    assert f"exported: {out}" in result.output
    return out


#: Runs in a subprocess where `import pix2pix_sar` (and keras) fail: plain TensorFlow only.
PLAIN_TF = textwrap.dedent(
    """
    import sys
    sys.modules["pix2pix_sar"] = None
    sys.modules["keras"] = None
    import numpy as np
    import tensorflow as tf

    try:
        import pix2pix_sar  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("pix2pix_sar is importable")
    model = tf.saved_model.load(sys.argv[1])
    data = np.load(sys.argv[2])
    signature = model.signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["masks", "offsets", "seed"]
    served = signature(masks=tf.constant(data["masks"]), seed=tf.constant(3), offsets=tf.constant(data["offsets"]))
    keyed = model.generate_keyed(tf.constant(data["masks"]), tf.constant(data["keys"]))
    np.savez(sys.argv[3], served=served["images"].numpy(), keyed=keyed["images"].numpy())
    """
)


@pytest.mark.slow
def test_export_loads_in_plain_tensorflow_and_generates_the_runs_pixels(evaluated_run, model, tmp_path, write_mask):
    from pix2pix_sar.generation.run_generator import RunGenerator
    from pix2pix_sar.noise import tile_keys

    facts = json.loads((model / "export.json").read_text())
    run = RunFolder(evaluated_run)
    assert facts["epoch"] == 1 and facts["variant"] == "orig" and facts["patch_size"] == 32
    assert facts["input"]["classes"] == "binary" and facts["input"]["encoding"]["254"] == [-1.0]
    assert facts["output"]["scaling"] == run.dataset_info().scaling.to_dict()
    assert facts["receptive_field"].startswith("the whole tile") and facts["training"]["epochs_trained"] == 2
    row = next(r for r in run.eval_per_epoch_csv.read_text().splitlines()[1:] if r.startswith("1,"))
    assert facts["metrics"]["split"] == "val" and f"{facts['metrics']['values']['dice_mean']:.6g}" in row
    card = (model / "model_card.md").read_text()
    assert (
        "epoch 1" in card and "## Limits" in card and "| dice_mean |" in card and "intensity = 10 ** (v / 10)" in card
    )

    # Plain TensorFlow, pix2pix-sar and Keras unimportable, from a folder outside the repository.
    rng = np.random.default_rng(0)
    masks = rng.choice([-1.0, 0.0, 1.0], size=(3, 32, 32, 1)).astype(np.float32)
    offsets = np.array([[0, 0], [24, 48], [-8, 96]], np.int32)
    keys = tile_keys(3, offsets[:, 0], offsets[:, 1])
    np.savez(tmp_path / "in.npz", masks=masks, offsets=offsets, keys=keys)
    (tmp_path / "plain.py").write_text(PLAIN_TF)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "plain.py", str(model / "saved_model"), "in.npz", "out.npz"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    expected = RunGenerator.from_run(evaluated_run, epoch=1, seed=3).generate_batch(masks, offsets)
    np.testing.assert_allclose(out["served"], expected, atol=1e-5)
    np.testing.assert_allclose(out["keyed"], expected, atol=1e-5)

    # generate --run MODEL == generate --run RUN --epoch 1, same seed, in model units.
    zones = synth_scene(90, 70, seed=2).zones.copy()
    zones[zones == NODATA] = OCEAN
    zones[:10, :12] = NODATA
    mask = write_mask(tmp_path / "m.tif", zones)
    images = []
    for source, epoch in ((model, []), (evaluated_run, ["--epoch", 1])):
        out_tif = tmp_path / f"{Path(source).name}.tif"
        result = run_cli("-q", "generate", mask, "--run", source, *epoch, "--out", out_tif, "--units", "model")
        assert result.exit_code == 0, result.output
        images.append(geo.read_raster(out_tif)[0])
    np.testing.assert_array_equal(np.isnan(images[0]), zones == NODATA)
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)


def _break(model: Path, tmp_path: Path, change) -> Path:
    copy = Path(shutil.copytree(model, tmp_path / "broken"))
    change(copy)
    return copy


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-10])


BROKEN = {
    "no_variables": (
        lambda m: (m / "saved_model" / "variables" / "variables.data-00000-of-00001").unlink(),
        "incomplete export (saved_model/variables/variables.data-00000-of-00001 is missing)",
    ),
    "truncated_graph": (
        lambda m: _truncate(m / "saved_model" / "saved_model.pb"),
        "incomplete export (saved_model/saved_model.pb has",
    ),
    "no_facts": (lambda m: (m / "export.json").unlink(), "incomplete export (export.json is missing)"),
    "bad_facts": (lambda m: (m / "export.json").write_text("{"), "export.json: not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_incomplete_exports_are_refused_in_one_line(case, model, tmp_path, write_mask):
    change, message = BROKEN[case]
    broken = _break(model, tmp_path, change)
    mask = write_mask(tmp_path / "m.tif", np.full((32, 32), OCEAN, np.uint8))
    out = tmp_path / "out.tif"
    result = run_cli("-q", "generate", mask, "--run", broken, "--out", out)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "export it again with 'pix2pix-sar export RUN --out" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_export_errors_and_nothing_half_written(evaluated_run, model, tmp_path, monkeypatch, write_mask):
    mask = write_mask(tmp_path / "m.tif", np.full((32, 32), OCEAN, np.uint8))
    result = run_cli("-q", "generate", mask, "--run", model, "--epoch", 2, "--out", tmp_path / "x.tif")
    assert result.exit_code == 1 and "holds the snapshot of epoch 1 only" in result.output
    result = run_cli("export", evaluated_run, "--out", model)
    assert result.exit_code == 1 and "already exists; pass --overwrite" in result.output
    result = run_cli("export", evaluated_run, "--out", tmp_path / "m", "--epoch", 7)
    assert result.exit_code == 1 and "no snapshot at epoch 7" in result.output
    result = run_cli("export", evaluated_run, "--out", evaluated_run.parent, "--overwrite")
    assert result.exit_code == 1 and "which an export may not replace" in result.output
    assert RunFolder(evaluated_run).exists()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_write_saved_model", fail)
    with pytest.raises(OSError):
        export_module.export_run(evaluated_run, tmp_path / "half")
    assert [p.name for p in tmp_path.iterdir()] == ["m.tif"]  # no folder, no temporary left
