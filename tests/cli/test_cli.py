"""End-to-end CLI tests on CPU: the commands a user types, their outputs and errors."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from pix2pix_sar import __version__
from pix2pix_sar.cli.main import cli
from pix2pix_sar.run_folder import RunFolder

TINY_FIT = ["--set", "model.base_filters=8"]


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_help_and_version_are_instant_and_import_no_tensorflow():
    code = (
        "import sys; from click.testing import CliRunner; from pix2pix_sar.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "[CliRunner().invoke(cli, [c, '--help']) for c in "
        "('fit', 'prepare', 'synth', 'variants', 'preview', 'evaluate', 'report', 'generate', 'masks', 'seg')]; "
        "assert 'tensorflow' not in sys.modules and 'osgeo' not in sys.modules, 'heavy import on --help'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = run_cli("--version")
    assert result.exit_code == 0 and __version__ in result.output
    proc = subprocess.run([sys.executable, "-m", "pix2pix_sar", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "prepare" in proc.stdout and "fit" in proc.stdout


def test_synth_prepare_fit_preview_end_to_end(tmp_path):
    result = run_cli("synth", tmp_path / "scene", "--width", 192, "--height", 192, "--seed", 2)
    assert result.exit_code == 0, result.output
    result = run_cli(
        "prepare",
        "--sar",
        tmp_path / "scene/scene.tif",
        "--mask",
        tmp_path / "scene/zones.tif",
        "--out",
        tmp_path / "ds",
        "--patch-size",
        32,
    )
    assert result.exit_code == 0, result.output
    assert "train" in result.output and (tmp_path / "ds/manifest.csv").exists()
    result = run_cli(
        "-q",
        "fit",
        "--data",
        tmp_path / "ds",
        "--out",
        tmp_path / "run",
        "--variant",
        "gen5",
        "--epochs",
        2,
        "--checkpoint-every",
        2,
        *TINY_FIT,
    )
    assert result.exit_code == 0, result.output
    run = RunFolder(tmp_path / "run")
    assert list(run.snapshots()) == [2]
    assert run.load_config().model.generator_kernel == 5
    result = run_cli("preview", tmp_path / "run", "--out", tmp_path / "p.png", "--count", 2)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run_cli("preview", tmp_path / "run", "--out", tmp_path / "p.png", "--epoch", 7)
    assert result.exit_code == 1 and "saved epochs: 2" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "--data", "{tmp}/nope", "--out", "{tmp}/run"], "no such dataset folder"),
        (["fit", "--data", "{ds}", "--out", "{tmp}/run", "--variant", "gen7"], "unknown variant 'gen7'"),
        (["fit", "--data", "{ds}", "--out", "{tmp}/run", "--set", "training.epoch=3"], "unknown key training.epoch"),
        (
            ["prepare", "--sar", "{tmp}/none.tif", "--mask", "{tmp}/none.tif", "--out", "{tmp}/o"],
            "none.tif: no such file",
        ),
        (
            ["prepare", "--sar", "{tmp}/junk.tif", "--mask", "{tmp}/junk.tif", "--out", "{tmp}/o"],
            "junk.tif: not a raster",
        ),
        (["preview", "{tmp}", "--out", "{tmp}/p.png"], "not a run folder"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message, tmp_path, tiny_dataset):
    (tmp_path / "junk.tif").write_text("not a tiff")
    argv = [a.format(tmp=tmp_path, ds=tiny_dataset) for a in args]
    # In this process, through the entry point `python -m pix2pix_sar` calls (an exception
    # escaping the CLI's handling fails the test); tests/cli/test_error_paths.py checks a fresh one.
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [item for item in result.stderr.splitlines() if item.startswith("Error") or "Invalid value" in item]
    assert len(error_lines) == 1, result.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_finishes_exactly(tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "pix2pix_sar",
        "-q",
        "fit",
        "--data",
        str(tiny_dataset),
        "--out",
        str(run_dir),
        "--epochs",
        "6",
        "--checkpoint-every",
        "2",
        "--state-every",
        "2",
        *TINY_FIT,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = run_dir / "state" / "checkpoint"  # recorded once the state of epoch 2 is written
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read().decode()}"
    time.sleep(0.2)  # into the next epoch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run = RunFolder(run_dir)
    assert max(run.snapshots(), default=0) < 6
    # The reruns in this process (TensorFlow started once): the state on disk is all they share.
    finished = run_cli(*argv[3:])
    assert finished.exit_code == 0, finished.output
    assert list(run.snapshots()) == [2, 4, 6]
    rows = list(csv.DictReader(run.history_csv.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    import tensorflow as tf

    assert tf.train.load_checkpoint(str(run.state_dir)).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 6
    # More epochs continue the same run.
    more = run_cli(*argv[3:], "--epochs", "7")  # the last --epochs wins
    assert more.exit_code == 0, more.output
    assert max(run.snapshots()) == 7


@pytest.mark.slow
def test_variants_table_shows_exact_parameter_counts():
    result = run_cli("variants")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert "54,419,713" in lines["orig"] and "2,766,337" in lines["orig"]
    assert "85,018,561" in lines["gen5"]
    assert "1,557,633" in lines["dis3"]
    assert set(lines) == {"orig", "gen5", "dis3", "l1_1_gan100", "l1_50_gan50", "scene", "sampler"}
    assert "<= 113 px" in lines["scene"] and "<= 113 px" in lines["sampler"] and "whole tile" in lines["orig"]


@pytest.mark.parametrize(
    "args, xla",
    [
        ([], "auto"),
        (["--xla"], "on"),
        (["--no-xla"], "off"),
        (["--set", "training.xla=on"], "on"),  # YAML 1.1 reads an unquoted on as a boolean
        (["--config", "{tmp}/off.yaml"], "off"),
        (["--set", "training.xla=off", "--xla"], "on"),  # fit's own option wins over --set
    ],
)
def test_fit_xla_reaches_the_config_as_a_word(args, xla, tmp_path, monkeypatch):
    """`fit --xla` once became training.xla=on, which the override reader took for a boolean and refused."""
    import types

    seen = []

    def fake_fit(cfg, data, out, reporter):
        seen.append(cfg)
        return types.SimpleNamespace(start_epoch=1, end_epoch=1)

    # The command imports the loop in its body: a stand-in keeps TensorFlow out of this test.
    monkeypatch.setitem(sys.modules, "pix2pix_sar.training.loop", types.SimpleNamespace(fit=fake_fit))
    (tmp_path / "off.yaml").write_text("training:\n  xla: off\n")
    argv = ["fit", "--data", tmp_path, "--out", tmp_path / "run", *(str(a).format(tmp=tmp_path) for a in args)]
    result = run_cli(*argv)
    assert result.exit_code == 0, result.output
    (cfg,) = seen
    assert cfg.training.xla == xla
