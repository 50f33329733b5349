"""The CLI's error paths in one table (issue 20): generate's usage errors, every kind of
exception `user_errors` converts, and a bad --config file. Each ends with a non-zero
status (2 for usage, 1 for errors, 143 for a stop by SIGTERM), exactly one line naming
the cause on stderr (beside Click's usage banner), no traceback and nothing written.

None of these needs TensorFlow, so they run in-process; the last test checks in a fresh
interpreter that the usage and config errors come before TensorFlow is imported."""

from __future__ import annotations

import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import LazyGroup, cli
from pix2pix_sar.cli.options import CtrlCBetweenSteps, caused_by_ctrl_c, user_errors
from pix2pix_sar.errors import InvalidValue, TrainingInterrupted

# --- tiny commands for the branches no cheap real command reaches --------------------


@click.command(name="stopped")
@click.option("--out")
@user_errors
def _stopped(out):
    raise TrainingInterrupted("training stopped by SIGTERM after step 3 of epoch 1; state saved", signal.SIGTERM)


@click.command(name="ctrl-c")
@click.option("--out")
@user_errors
def _ctrl_c(out):
    raise KeyboardInterrupt


@click.command(name="unnamed")
@click.option("--out")
@user_errors
def _unnamed(out):
    raise InvalidValue("window", "window 7: must be even")  # no option of that name


@click.command(name="ctrl-c-in-native-code")
@click.option("--out")
@user_errors
def _ctrl_c_in_native_code(out):
    # What CPython raises when a Ctrl-C arrives while a C function runs (numpy's __array__
    # under TensorFlow's tensor conversion): a SystemError caused by the interrupt.
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        raise SystemError("<built-in method __array__> returned a result with an exception set") from exc


TINY = {c.name: c for c in (_stopped, _ctrl_c, _ctrl_c_in_native_code, _unnamed)}


class TinyGroup(LazyGroup):
    """The root group's behaviour (it records argv for the rerun line) over the tiny commands."""

    def list_commands(self, ctx):
        return list(TINY)

    def get_command(self, ctx, name):
        return TINY.get(name)


tiny_cli = TinyGroup(name="pix2pix-sar")

# --- the table ----------------------------------------------------------------------

GEN = ["generate", "{tmp}/mask.tif", "--run", "{tmp}/run"]
FIT = ["fit", "--data", "{tmp}/ds", "--out", "{tmp}/out"]
CONFIGS = {
    "unknown_key.yaml": "training:\n  epoch: 3\n",
    "not_yaml.yaml": "training: {epochs: 3\nmodel: [\n",
    "list.yaml": "- training\n- model\n",
}

CASES = [
    # generate's usage errors (exit 2)
    pytest.param(cli, GEN, 2, "give exactly one of --out and --as-dataset", id="generate-neither-out"),
    pytest.param(
        cli,
        [*GEN, "--out", "{tmp}/out.tif", "--as-dataset", "{tmp}/out"],
        2,
        "give exactly one of --out and --as-dataset",
        id="generate-both-outs",
    ),
    pytest.param(
        cli, [*GEN, "--out", "{tmp}/out.tif", "--layout", "caffe"], 2, "--layout applies to --as-dataset", id="layout"
    ),
    pytest.param(
        cli,
        [*GEN, "--as-dataset", "{tmp}/out", "--layout", "caffe", "--extra", "dem={tmp}/dem.tif"],
        2,
        "--extra applies to --out and to --as-dataset with --layout ours",
        id="extra-with-caffe",
    ),
    pytest.param(
        cli,
        [*GEN, "--as-dataset", "{tmp}/out", "--units", "db"],
        2,
        "--units applies to --out",
        id="units-with-as-dataset",
    ),
    # user_errors: ConfigError -> a bad value of --config/--set/--variant (exit 2)
    pytest.param(
        cli,
        [*FIT, "--config", "{tmp}/unknown_key.yaml"],
        2,
        "Invalid value for '--config'/'--set'/'--variant': {tmp}/unknown_key.yaml: unknown key training.epoch; "
        "valid keys: model.patch_size",
        id="config-unknown-key",
    ),
    pytest.param(
        cli, [*FIT, "--config", "{tmp}/not_yaml.yaml"], 2, "{tmp}/not_yaml.yaml is not valid YAML", id="config-not-yaml"
    ),
    pytest.param(
        cli,
        [*FIT, "--config", "{tmp}/list.yaml"],
        2,
        "{tmp}/list.yaml: expected a mapping of sections",
        id="config-not-a-mapping",
    ),
    pytest.param(
        cli,
        [*FIT, "--config", "{tmp}/missing.yaml"],
        2,
        "cannot read config file {tmp}/missing.yaml: No such file or directory",
        id="config-missing-file",
    ),
    pytest.param(
        cli, [*FIT, "--set", "training.epochs=many"], 2, "training.epochs must be int, got 'many'", id="set-wrong-type"
    ),
    # user_errors: InvalidValue of a field the command has an option for -> that option's bad value (exit 2)
    pytest.param(
        cli,
        ["masks", "{tmp}/out", "--count", "0"],
        2,
        "Invalid value for '--count': count 0: must be at least 1",
        id="invalid-value-named",
    ),
    pytest.param(
        cli,
        ["masks", "{tmp}/out", "--front", "1.5"],
        2,
        "Invalid value for '--front': front 1.5: must be between 0 and 1",
        id="invalid-value-renamed-option",
    ),
    # ... of a field with no such option -> a plain error (exit 1)
    pytest.param(tiny_cli, ["unnamed", "--out", "{tmp}/out"], 1, "Error: window 7: must be even", id="invalid-unnamed"),
    # user_errors: any other Pix2PixSarError -> one line (exit 1)
    pytest.param(
        cli,
        ["masks", "{tmp}/out", "--from", "{tmp}/missing_mask.tif"],
        1,
        "Error: {tmp}/missing_mask.tif: no such file",
        id="input-error",
    ),
    pytest.param(
        cli,
        ["prepare", "--sar", "{tmp}/s.tif", "--mask", "{tmp}/m.tif", "--out", "{tmp}/out", "--max-nodata", "1.5"],
        1,
        "Error: --max-nodata must be in [0, 1), got 1.5",
        id="input-error-before-reading",
    ),
    # user_errors: TrainingInterrupted -> the signal's status and the command that resumes (exit 143)
    pytest.param(
        tiny_cli,
        ["stopped", "--out", "{tmp}/out"],
        143,
        "training stopped by SIGTERM after step 3 of epoch 1; state saved; to resume, rerun: "
        "pix2pix-sar stopped --out {tmp}/out",
        id="training-interrupted",
    ),
    # user_errors: KeyboardInterrupt outside training's own handler -> one line (exit 130, as SIGINT)
    pytest.param(
        tiny_cli,
        ["ctrl-c", "--out", "{tmp}/out"],
        130,
        "interrupted (Ctrl-C)",
        id="keyboard-interrupt",
    ),
    pytest.param(
        tiny_cli,
        ["ctrl-c-in-native-code", "--out", "{tmp}/out"],
        130,
        "interrupted (Ctrl-C)",
        id="keyboard-interrupt-in-native-code",
    ),
]


def _message_lines(stderr: str, exit_code: int) -> list[str]:
    """stderr without Click's usage banner (which a usage error, exit 2, prints first)."""
    lines = stderr.splitlines()
    if exit_code == 2:
        assert lines[0].startswith("Usage: ") and lines[1].startswith("Try '") and lines[2] == "", stderr
        lines = lines[3:]
    return lines


@pytest.mark.parametrize("group, args, status, message", CASES)
def test_error_path(group, args, status, message, tmp_path):
    for name, text in CONFIGS.items():
        (tmp_path / name).write_text(text)
    before = sorted(tmp_path.rglob("*"))
    argv = [a.format(tmp=tmp_path) for a in args]
    # catch_exceptions=False: anything but a clean exit (a traceback) fails the test here.
    result = CliRunner().invoke(group, argv, prog_name="pix2pix-sar", catch_exceptions=False)
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = _message_lines(result.stderr, status)
    assert len(lines) == 1, result.stderr
    assert message.format(tmp=tmp_path) in lines[0]
    assert sorted(tmp_path.rglob("*")) == before, "an error left something behind"


@pytest.mark.slow
def test_real_command_errors_come_before_tensorflow(tmp_path):
    """In a fresh interpreter: every real command of the table fails without loading TensorFlow."""
    for name, text in CONFIGS.items():
        (tmp_path / name).write_text(text)
    real = [case.values for case in CASES if case.values[0] is cli]
    runs = [([a.format(tmp=tmp_path) for a in args], status) for _, args, status, _ in real]
    code = (
        "import sys; from click.testing import CliRunner; from pix2pix_sar.cli.main import cli\n"
        f"for argv, status in {runs!r}:\n"
        "    assert CliRunner().invoke(cli, argv).exit_code == status, argv\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported before a usage or input error'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_other_errors_are_not_taken_for_ctrl_c():
    assert not caused_by_ctrl_c(SystemError("a real bug"))
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("while handling it")  # noqa: B904 (the implicit context is the point)
    except ValueError as exc:
        assert caused_by_ctrl_c(exc)


def test_a_first_ctrl_c_waits_for_the_next_step_and_a_second_stops_at_once():
    with CtrlCBetweenSteps() as ctrl_c:
        ctrl_c.check()  # nothing pressed: goes on
        signal.raise_signal(signal.SIGINT)  # the first: only noted
        assert ctrl_c.pressed
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.check()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second: at once
    assert signal.getsignal(signal.SIGINT) != ctrl_c._handle  # the previous handler is back
