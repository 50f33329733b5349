"""Stopping on SIGTERM or SIGINT without losing a step: finish the step in progress,
wait for the writes in flight, save the state, and leave with the signal's exit status.

Shared by ``fit`` and ``seg fit``. The API::

    with StopSignals() as stop:                       # handlers while training, the old ones after
        for ...:
            train_step(...)
            global_step += 1
            stop.after_step(global_step)              # test hook: PIX2PIX_SAR_SIGNAL_AT_STEP
            if stop.should_stop(global_step, strategy):
                saver.save(global_step); writer.wait()    # the state of exactly this step
                stop.barrier(strategy)                # multi-worker: the others leave after the chief saved
                raise stop.interrupted("stopped after step ...; the state is in RUN/state")

`interrupted` makes a :class:`~pix2pix_sar.errors.TrainingInterrupted` whose
``exit_status`` is 128 + the signal (143 for SIGTERM, 130 for SIGINT); the CLI prints its
message and how to resume (the same command) and exits with that status. A second signal
while stopping raises KeyboardInterrupt at once (the last complete state stays valid).

Several hosts (``multi-worker``): every worker must stop after the same step, or the
others would wait forever in the next step's all-reduce. So the workers add up their
"signal received" flags in one small all-reduce every `AGREE_EVERY` steps and all stop
when any was signalled; the chief saves, and a last all-reduce (`barrier`) keeps the
others alive until it has. A signal is answered within `AGREE_EVERY` steps there.

Tests send the signal at a chosen step: ``PIX2PIX_SAR_SIGNAL_AT_STEP=N`` (SIGTERM) or
``N:INT`` (SIGINT) makes the process signal itself right after global step N.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from pix2pix_sar.errors import TrainingInterrupted

log = logging.getLogger(__name__)

#: Sends a signal to the process itself after the given global step (tests).
SIGNAL_AT_STEP_ENV = "PIX2PIX_SAR_SIGNAL_AT_STEP"

#: Signals that stop training cleanly.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: Steps between the workers' agreements on stopping (multi-worker only).
AGREE_EVERY = 10


def _signal_hook() -> tuple[int, int] | None:
    """(step, signal) from PIX2PIX_SAR_SIGNAL_AT_STEP, or None."""
    value = os.environ.get(SIGNAL_AT_STEP_ENV, "").strip()
    if not value:
        return None
    step, _, name = value.partition(":")
    return int(step), signal.Signals[f"SIG{(name or 'TERM').upper().removeprefix('SIG')}"]


class StopSignals:
    """While active (a context manager), SIGTERM and SIGINT only set `signum`; the
    training loop polls it between steps. Outside the main thread (where Python cannot
    handle signals) it installs nothing and never requests a stop."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS):
        self.signals = signals
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._hook: tuple[int, int] | None = None

    def __enter__(self) -> "StopSignals":
        self._hook = _signal_hook()
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped without saving")
        self.signum = signum
        log.warning("%s received: finishing the step in progress, then saving the state", signal.Signals(signum).name)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def after_step(self, step: int) -> None:
        """The test hook: signal this process after global step `step` if asked to."""
        if self._hook is None or self._hook[0] != step:
            return
        os.kill(os.getpid(), self._hook[1])
        deadline = time.monotonic() + 5.0
        while self.signum is None and self._previous and time.monotonic() < deadline:
            time.sleep(0.001)  # the handler runs in the main thread at the next check

    def should_stop(self, step: int, strategy=None) -> bool:
        """After global step `step`: stop now? With several workers, only every
        AGREE_EVERY steps, and then for all of them if any was signalled."""
        if strategy is None or _workers(strategy) == 1:
            return self.requested
        if step % AGREE_EVERY:
            return False
        return _any_worker(strategy, self.requested)

    def barrier(self, strategy=None) -> None:
        """Multi-worker: wait until every worker got here (the chief after saving)."""
        if strategy is not None and _workers(strategy) > 1:
            _any_worker(strategy, False)

    def interrupted(self, message: str) -> TrainingInterrupted:
        signum = self.signum or signal.SIGTERM
        return TrainingInterrupted(f"{signal.Signals(signum).name}: {message}", int(signum))


def _workers(strategy) -> int:
    from pix2pix_sar.training.distribute import num_workers

    return num_workers(strategy)


def _any_worker(strategy, flag: bool) -> bool:
    """True on every worker if `flag` is True on any (one small all-reduce)."""
    import tensorflow as tf

    values = strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(int(flag), tf.int32))
    return bool(strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None).numpy() > 0)
