"""What a user sees in a terminal: progress bars, quiet that is quiet, Ctrl-C.

The terminal tests run the console command in a real pseudo-terminal (python's pty)."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from pix2pix_sar.cli.progress import Progress, ProgressHandler
from tests.helpers import run_in_terminal

COMMAND = [sys.executable, "-m", "pix2pix_sar"]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- the progress helper ----------------------------------------------------------------


def test_without_a_terminal_a_line_every_5_percent_or_10_s_and_one_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    with Progress("generating", 100, "tile", stream=out, clock=clock) as bar:
        for done in range(1, 101):
            clock.now += 0.25  # 5 % takes 1.25 s: a line at each 5 % (at most one a second)
            bar.update(done)
    lines = out.getvalue().splitlines()
    assert len(lines) == 20, lines
    assert lines[0].startswith("generating: 5/100 tiles   5%, ") and lines[0].endswith(" s left")
    assert lines[-1] == "generating: 100/100 tiles 100%, done in 25 s"

    clock, out = FakeClock(), io.StringIO()
    with Progress("slow", 1000, stream=out, clock=clock) as bar:
        for done in range(1, 21):
            clock.now += 3.0  # 0.1 % per 3 s: the 10 s rule
            bar.update(done)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5, lines  # at 12, 24, 36, 48 and 60 s from the start
    assert lines[-1] == "slow: 20/1000   2%, 49:00 left"  # 980 left at 3 s each


def test_time_left_comes_from_the_rate_after_the_first_update():
    clock = FakeClock()
    bar = Progress("x", 10, stream=io.StringIO(), clock=clock)
    clock.now += 60  # start-up (loading, compiling) before the first unit is done
    bar.update(1)
    assert bar.seconds_left() is None
    clock.now += 2
    bar.update(2)
    assert bar.seconds_left() == pytest.approx(16.0)  # 8 left at 2 s each, start-up not counted


def test_on_a_terminal_log_lines_are_written_above_the_bar():
    clock, term = FakeClock(), FakeTerminal()
    handler = ProgressHandler(term)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with Progress("preparing", 4, stream=term, clock=clock) as bar:
            bar.update(1)
            logging.getLogger("progress_test").warning("a log line")
            clock.now += 1
            bar.update(4)
    finally:
        root.removeHandler(handler)
    text = term.getvalue()
    # The bar is wiped, the record written on its own line, the bar drawn again below it.
    assert "\r\x1b[KWARNING a log line\n\rpreparing [" in text, repr(text)
    assert text.endswith("4/4 100%  done in 1 s\x1b[K\n"), repr(text)
    assert "\r" + "preparing [" + "#" * 24 + "]" in text


# --- in a real terminal ----------------------------------------------------------------


def test_q_prints_nothing_in_a_terminal(tmp_path):
    status, text, _ = run_in_terminal([*COMMAND, "-q", "synth", str(tmp_path / "s"), "--width", "96", "--height", "96"])
    assert status == 0 and text == "", repr(text)
    assert (tmp_path / "s/scene.tif").exists()
