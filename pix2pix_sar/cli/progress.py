"""Progress of long commands, the one way every command shows it.

On a terminal: one bar redrawn in place (done/total, percent, time left). Otherwise (a
log file, a pipe, CI): a plain line about every 10 s or every 5 %, and one at the end.
Log records go through :class:`ProgressHandler`, which clears the bar, writes the record
and redraws the bar, so log lines never break it. Everything goes to stderr: stdout keeps
what a command was asked for. A disabled bar (``-q``) prints nothing at all.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from typing import Callable, TextIO

#: Without a terminal: a line at least this often (seconds) ...
LINE_EVERY_SECONDS = 10.0
#: ... and at every this share of the total, but not more often than every MIN_LINE_SECONDS.
LINE_EVERY_FRACTION = 0.05
MIN_LINE_SECONDS = 1.0
#: A terminal bar is redrawn at most this often (seconds), except at its end.
REDRAW_SECONDS = 0.1
BAR_WIDTH = 24


def format_seconds(seconds: float) -> str:
    """12 s, 3:05, 1:02:03."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressHandler(logging.StreamHandler):
    """The CLI's log handler: a record is written above a live progress bar, not through it."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream)
        self.bar: Progress | None = None

    def emit(self, record: logging.LogRecord) -> None:
        bar = self.bar
        if bar is not None:
            bar.clear()
        super().emit(record)
        if bar is not None:
            bar.redraw()


def _root_handler() -> ProgressHandler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h, ProgressHandler)), None)


def finish_active_bar(keep: bool = True) -> None:
    """End the live bar, if any, before a command's own lines (its report, an error)."""
    handler = _root_handler()
    if handler is not None and handler.bar is not None:
        handler.bar.finish(keep)


class Progress:
    """A progress display for one long task: ``with Progress("generating", unit="tile") as bar:
    bar.update(done, total)``. ``start`` begins a new part (its own total and time left);
    ``echo`` writes a line above the bar. Time left comes from the rate since the first
    update of the part, so start-up work (loading, compiling) does not distort it."""

    def __init__(
        self,
        label: str = "",
        total: int = 0,
        unit: str = "",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.unit = unit
        self.status = ""
        self._handler: ProgressHandler | None = None
        self._drawn = False  # a bar is on the terminal's current line
        self._last_draw = -1e9
        self.start(label, total)

    def start(self, label: str, total: int) -> None:
        """A new part: label, total, and the time left measured afresh (a finished part's
        bar stays on its own line)."""
        if self.tty and self._drawn and self.total > 0 and self.done >= self.total:
            self._write("\n")
            self._drawn = False
        self.label, self.total, self.done = label, total, 0
        self.started_at = self.clock()
        self._base: tuple[int, float] | None = None  # (done, time) at the part's first update
        self._last_line, self._last_line_done = self.started_at, 0

    def __enter__(self) -> Progress:
        if self.enabled:
            self._handler = _root_handler()
            if self._handler is not None:
                self._handler.bar = self
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(keep=exc_type is None)

    def finish(self, keep: bool = True) -> None:
        """End the display: the bar's last state stays on its line (`keep`), or is wiped
        (an error or Ctrl-C, whose message takes the line). Later updates print nothing."""
        if self._handler is not None:
            self._handler.bar = None
            self._handler = None
        if self.tty and self._drawn:
            if keep:
                self._draw(force=True)
                self._write("\n")
            else:
                self._write("\r\x1b[K")
        self._drawn = False
        self.enabled = self.tty = False

    # --- what commands call ---

    def update(self, done: int, total: int | None = None, label: str | None = None, status: str | None = None):
        """`done` of `total` (absolute counts); `label` and `status` change the text only."""
        if total is not None:
            self.total = total
        if label is not None:
            self.label = label
        if status is not None:
            self.status = status
        self.done = done
        now = self.clock()
        if self._base is None:
            self._base = (done, now)
        if not self.enabled:
            return
        if self.tty:
            self._draw(force=done >= self.total)
        elif self._line_due(now):
            self._write(self._text(now) + "\n")
            self._last_line, self._last_line_done = now, self.done

    def echo(self, text: str) -> None:
        """A line above the bar (nothing when disabled)."""
        if self.enabled:
            self.clear()
            self._write(text + "\n")
            self.redraw()

    # --- the bar on a terminal ---

    def clear(self) -> None:
        if self.tty and self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def redraw(self) -> None:
        if self.tty and self._base is not None:
            self._draw(force=True)

    # --- internals ---

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def seconds_left(self, now: float | None = None) -> float | None:
        """The time left at the rate since the part's first update (None before a rate exists)."""
        now = self.clock() if now is None else now
        if self._base is None or self.total <= 0:
            return None
        base_done, base_time = self._base
        if self.done >= self.total:
            return 0.0
        if self.done <= base_done or now <= base_time:
            return None
        return (self.total - self.done) * (now - base_time) / (self.done - base_done)

    def _when(self, now: float) -> str:
        if self.total > 0 and self.done >= self.total:
            return f"done in {format_seconds(now - self.started_at)}"
        left = self.seconds_left(now)
        return f"{format_seconds(left)} left" if left is not None else "time left: measuring"

    def _counts(self) -> str:
        unit = f" {self.unit}s" if self.unit else ""
        if self.total <= 0:
            return f"{self.done}{unit}"
        return f"{self.done}/{self.total}{unit} {self.fraction:4.0%}"

    def _text(self, now: float) -> str:
        status = f", {self.status}" if self.status else ""
        return f"{self.label}: {self._counts()}, {self._when(now)}{status}"

    def _line_due(self, now: float) -> bool:
        if self.total > 0 and self.done >= self.total:
            return self._last_line_done < self.total  # the end, once
        since = now - self._last_line
        if since >= LINE_EVERY_SECONDS:
            return True
        step = LINE_EVERY_FRACTION * self.total if self.total > 0 else float("inf")
        return since >= MIN_LINE_SECONDS and self.done - self._last_line_done >= step - 1e-9

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_draw < REDRAW_SECONDS:
            return
        filled = round(BAR_WIDTH * self.fraction)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        status = f"  {self.status}" if self.status else ""
        line = f"{self.label} [{bar}] {self._counts()}  {self._when(now)}{status}"
        width = shutil.get_terminal_size((100, 24)).columns
        self._write("\r" + line[: max(10, width - 1)] + "\x1b[K")
        self._drawn, self._last_draw = True, now

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def install_log_handler(level: int) -> None:
    """The root logger writes through a :class:`ProgressHandler` at `level` (as
    ``logging.basicConfig``: only where no other handler is installed, e.g. pytest's;
    a previous command's handler in the same process is replaced). Python warnings
    become log records, so ``-q`` hides them too."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ProgressHandler)]:
        root.removeHandler(handler)
    if root.handlers:
        return
    logging.captureWarnings(True)
    handler = ProgressHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
