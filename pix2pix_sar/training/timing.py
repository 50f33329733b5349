"""Where `fit`'s time goes: the running sums of an epoch (loss parts and seconds, kept in
the training state) and the account of one `fit` call besides its epochs."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from pix2pix_sar import jsonio
from pix2pix_sar.training.step import LOSS_NAMES

#: Where an epoch's seconds went (history.csv columns after ``seconds``).
TIME_PARTS = ("step_seconds", "input_seconds", "save_seconds", "log_seconds")


@dataclass
class EpochAccount:
    """The running sums of an epoch: loss parts and seconds. Kept in the state as one
    float64 vector, so an epoch resumed mid-way reports the same means."""

    losses: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_NAMES, 0.0))
    times: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("seconds", *TIME_PARTS), 0.0))

    SIZE = len(LOSS_NAMES) + 1 + len(TIME_PARTS)

    def vector(self) -> np.ndarray:
        return np.array([*self.losses.values(), *self.times.values()], np.float64)

    @classmethod
    def from_vector(cls, values: np.ndarray) -> "EpochAccount":
        account = cls()
        names = [*account.losses, *account.times]
        for name, value in zip(names, values.tolist()):
            (account.losses if name in account.losses else account.times)[name] = value
        return account


@dataclass
class Timing:
    """Where the time of a `fit` call went besides the epochs' rows in history.csv
    (``experiments/benchmark.py`` reads it from the ``timing`` log line)."""

    startup: dict[str, float] = field(default_factory=dict)  # seconds per phase before the first step
    first_step: float = 0.0  # the first step, input and tracing included (also in epoch 1's step_seconds)
    state_saves: int = 0
    state_save_seconds: float = 0.0  # on the training thread (copies handed to the writer, waits)
    snapshots: int = 0
    snapshot_seconds: float = 0.0  # on the training thread
    epoch_ends: float = 0.0  # after the epochs' history rows, state saves not included
    final_wait: float = 0.0  # for the last writes, after the last epoch
    teardown: float = 0.0  # dropping the input iterator
    total: float = 0.0  # the whole `fit` call

    def __post_init__(self) -> None:
        self._start = self._last = time.perf_counter()

    def finish(self) -> "Timing":
        self.total = time.perf_counter() - self._start
        return self

    def mark(self, phase: str) -> None:
        """The start-up phase `phase` ends now."""
        now = time.perf_counter()
        self.startup[phase] = self.startup.get(phase, 0.0) + now - self._last
        self._last = now

    def startup_line(self) -> str:
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in self.startup.items())
        return f"start-up {sum(self.startup.values()):.2f} s ({parts}); first step {self.first_step:.2f} s"

    def to_json(self) -> str:
        return jsonio.dumps(dataclasses.asdict(self))
