"""generate in a terminal and out of one: progress with time left, -q, Ctrl-C (exit 130).

The terminal tests run the console command in a real pseudo-terminal (tests/helpers.py: run_in_terminal)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from tests.helpers import run_in_terminal

COMMAND = [sys.executable, "-m", "pix2pix_sar"]


@pytest.fixture()
def make_mask(write_mask):
    """A zone mask of `side` pixels: rock, glacier, ocean."""

    def make(path: Path, side: int) -> Path:
        import numpy as np

        zones = np.full((side, side), 254, np.uint8)
        zones[:, : side // 2] = 127
        zones[: side // 8] = 64
        return write_mask(path, zones)

    return make


def test_generate_without_a_terminal_prints_progress_lines_and_q_prints_nothing(tiny_run, tmp_path, make_mask):
    mask = make_mask(tmp_path / "m.tif", 96)
    argv = ["generate", str(mask), "--run", str(tiny_run), "--out", str(tmp_path / "g.tif")]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"^m\.tif: (\d+)/\1 tiles 100%, done in \d+ s$", result.stderr, re.M), result.stderr
    assert result.stdout == f"generated: {tmp_path / 'g.tif'}\n"
    result = CliRunner().invoke(cli, ["-q", *argv, "--overwrite"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == "", result.output


@pytest.mark.slow
def test_q_generate_prints_nothing_in_a_terminal_not_even_tensorflow(tiny_run, tmp_path, make_mask):
    mask = make_mask(tmp_path / "m.tif", 64)
    out = tmp_path / "g.tif"
    status, text, _ = run_in_terminal(
        [*COMMAND, "-q", "generate", str(mask), "--run", str(tiny_run), "--out", str(out)]
    )
    assert status == 0 and text == "", repr(text)
    assert out.exists()


@pytest.mark.slow
def test_generate_shows_a_bar_and_ctrl_c_exits_130_saying_what_is_left(tiny_run, tmp_path, make_mask):
    mask = make_mask(tmp_path / "big.tif", 3072)  # ~16000 tiles of 32 px: long enough to interrupt
    out = tmp_path / "g.tif"
    argv = [*COMMAND, "generate", str(mask), "--run", str(tiny_run), "--out", str(out)]
    status, text, seconds = run_in_terminal(argv, interrupt_on=" s left")
    assert "\rbig.tif [#" in text or "\rbig.tif [-" in text, repr(text[-600:])  # the bar, redrawn in place
    assert "tiles" in text and " s left" in text
    assert status == 130, repr(text[-600:])
    assert f"interrupted (Ctrl-C); {out} was not written (it appears only when complete); a rerun starts over" in text
    assert "Traceback" not in text and "oneDNN" not in text and "absl" not in text
    assert not out.exists() and seconds < 10
