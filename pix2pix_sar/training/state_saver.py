"""Training state written off the critical path, and read back from the newest copy that reads.

Shared by ``fit`` and ``seg fit``. The API::

    writer = BackgroundWriter()                  # one thread; jobs run in the order given
    objects = {"model": model, "optimizer": optimizer, "step": step_var}   # as for tf.train.Checkpoint
    saver = StateSaver(objects, state_dir, max_to_keep=2, writer=writer, write=is_chief)
    restored = restore_state(objects, state_dir)         # newest readable state, or None for a fresh run
    schedule = SaveSchedule(cfg.training.state_interval)  # every N epochs or every N seconds
    try:
        for epoch ...:
            for step ...:
                train_step(...)                              # between steps:
                if not last_step_of_epoch and schedule.due_after_step():
                    saver.save(number); schedule.saved()     # returns at once; the write goes on behind
            if schedule.due_after_epoch(epoch + 1, final=last_epoch):   # always at the end
                saver.save(number); schedule.saved()
    finally:
        writer.close()                                       # waits for the writes in flight

Why it is safe to train on while the state is written: `StateSaver.save` runs between two
steps and takes ``read_value()`` of every variable — TensorFlow's copy-on-write snapshot: the
next update copies a buffer instead of changing it in place — so the values handed to the
writer thread are those of one moment. The thread assigns them to host copies held by a
mirror of the checkpoint's object graph (same names, so the files restore into the live
objects) and saves the mirror with a `tf.train.CheckpointManager`.

Why a kill during a write cannot leave a state that resume trusts but cannot read:
TensorFlow writes the data under ``ckpt-N_temp/``, moves it into place and writes the index
last; the manager records ``ckpt-N`` in ``state/checkpoint`` (an atomic rename) only after
that, so an interrupted write is never the newest recorded state. Files that later turn
out unreadable (a disk that lost the last write, a truncated copy) are caught by
`restore_state`, which falls back to the previous recorded state with a warning, and
refuses with a `RunStateError` when none reads.

Why not TensorFlow's own ``CheckpointOptions(experimental_enable_async_checkpoint=True)``:
with Keras 3 variables its second save fails in TF 2.21 (Keras' ``_copy_trackable_to_cpu``
creates a tf.Variable inside a tf.function).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

import keras
import tensorflow as tf

from pix2pix_sar.config import Interval
from pix2pix_sar.errors import RunStateError

log = logging.getLogger(__name__)


class BackgroundWriter:
    """One thread that runs jobs (file writes) in the order they are submitted.

    A job's error is raised in the caller's thread by the next `submit`, `wait` or
    `close`, so a failed write stops training instead of passing silently."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pix2pix-sar-writer")
        self._pending: list[concurrent.futures.Future] = []

    def submit(self, job: Callable[[], object]) -> concurrent.futures.Future:
        self._raise_failures()
        future = self._pool.submit(job)
        self._pending.append(future)
        return future

    def wait(self) -> float:
        """Block until every submitted job is done; the seconds it took."""
        start = time.perf_counter()
        concurrent.futures.wait(self._pending)
        self._raise_failures()
        return time.perf_counter() - start

    def close(self) -> float:
        """Wait for the jobs in flight, then stop the thread; the seconds it waited."""
        start = time.perf_counter()
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
        return time.perf_counter() - start

    def _raise_failures(self) -> None:
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in done:
            future.result()  # raises the job's exception


class SaveSchedule:
    """When the next state is due: the one rule of ``fit`` and ``seg fit``.

    * A duration (`interval.seconds`): due once that long has passed since the last save
      (or since the schedule was made), asked after every step *and* at every epoch end,
      so a run of one step per epoch saves as often as one of many.
    * A number of epochs (`interval.epochs`): due at the ends of the epochs whose count is
      a multiple of it, never within an epoch.
    * The final state (`final`, at the end of the run) is always due.

    The caller asks `due_after_step` between two steps of an epoch, `due_after_epoch` at
    an epoch's end, and calls `saved` after each save. `clock` is injectable for tests."""

    def __init__(self, interval: Interval, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._clock = clock
        self._last = clock()

    def _time_is_up(self) -> bool:
        return self.interval.seconds is not None and self._clock() - self._last >= self.interval.seconds

    def due_after_step(self) -> bool:
        """Within an epoch: only a duration can be due."""
        return self._time_is_up()

    def due_after_epoch(self, done: int, final: bool = False) -> bool:
        """At the end of epoch number `done` (1-based: epochs done so far)."""
        if final or self._time_is_up():
            return True
        return self.interval.epochs is not None and done % self.interval.epochs == 0

    def saved(self) -> None:
        self._last = self._clock()


class _Node(tf.__internal__.tracking.Trackable):
    """A node of the mirror: the same named children as the object it stands for."""

    def __init__(self) -> None:
        self.children: dict[str, object] = {}

    def _trackable_children(self, save_type="checkpoint", cache=None, **kwargs):
        return dict(self.children)


def _is_variable(obj) -> bool:
    return isinstance(obj, (tf.Variable, keras.Variable))


def _writes_tensors(obj) -> bool:
    """True for a trackable that saves values of its own (not only through children)."""
    base = tf.__internal__.tracking.Trackable
    kind = type(obj)
    return (
        kind._serialize_to_tensors is not base._serialize_to_tensors
        or kind._gather_saveables_for_checkpoint is not base._gather_saveables_for_checkpoint
    )


class _Mirror:
    """The object graph of `objects` with every variable replaced by a slot for a host copy
    (a variable reached by several paths gets one copy, as in the live graph)."""

    def __init__(self, objects: Mapping[str, object]):
        self.variables: list = []  # the live variables, one per copy
        self._index: dict[int, int] = {}  # id of a live variable -> its copy
        self._slots: list[tuple[_Node | None, str, int]] = []  # (parent, edge name, copy)
        self._memo: dict[int, _Node] = {}
        self.roots: dict[str, object] = {}
        for name, obj in objects.items():
            if _is_variable(obj):
                self._add_variable(obj, None, name)
            else:
                self.roots[name] = self._node(obj)

    def _add_variable(self, obj, parent: _Node | None, name: str) -> None:
        if id(obj) not in self._index:
            self._index[id(obj)] = len(self.variables)
            self.variables.append(obj.value if isinstance(obj, keras.Variable) else obj)
        self._slots.append((parent, name, self._index[id(obj)]))

    def _node(self, obj) -> _Node:
        if id(obj) in self._memo:
            return self._memo[id(obj)]
        if _writes_tensors(obj):
            raise TypeError(f"cannot save {type(obj).__name__} in the background: only variables hold values")
        node = self._memo[id(obj)] = _Node()
        for name, child in tf.train.TrackableView.children(obj).items():
            if _is_variable(child):
                self._add_variable(child, node, name)
            else:
                node.children[name] = self._node(child)
        return node

    def fill(self, copies: list[tf.Variable]) -> dict[str, object]:
        """Put the host copies into their slots; the roots for a tf.train.Checkpoint."""
        roots = dict(self.roots)
        for parent, name, index in self._slots:
            if parent is None:
                roots[name] = copies[index]
            else:
                parent.children[name] = copies[index]
        return roots


class StateSaver:
    """Saves the variables of `objects` (the kwargs of a tf.train.Checkpoint) into
    `directory` through a tf.train.CheckpointManager, on the writer's thread.

    Only a writing instance (`write`, the chief) touches files; the others do nothing,
    so the same loop runs on every worker."""

    def __init__(
        self,
        objects: Mapping[str, object],
        directory: str | Path,
        max_to_keep: int,
        writer: BackgroundWriter,
        write: bool = True,
    ):
        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.writer = writer
        self.write = write
        self.latest: str | None = None  # the last state handed to the writer
        self._mirror = _Mirror(objects) if write else None
        self._copies: list[tf.Variable] | None = None
        self._manager: tf.train.CheckpointManager | None = None
        self._last_job: concurrent.futures.Future | None = None

    def save(self, number: int) -> float:
        """Hand the current values to the writer as state number `number` (call between
        steps); the seconds spent on the caller's thread. At most one state is held in
        memory besides the live one: a save waits for the previous one to be written."""
        if not self.write:
            return 0.0
        start = time.perf_counter()
        if self._last_job is not None:
            concurrent.futures.wait([self._last_job])
        values = [v.read_value() for v in self._mirror.variables]
        self._last_job = self.writer.submit(lambda: self._write(values, number))
        self.latest = str(self.directory / f"ckpt-{number}")
        return time.perf_counter() - start

    def _write(self, values: list[tf.Tensor], number: int) -> None:
        if self._copies is None:
            with tf.device("/cpu:0"):
                self._copies = [tf.Variable(v, trainable=False) for v in values]
            checkpoint = tf.train.Checkpoint(**self._mirror.fill(self._copies))
            self._manager = tf.train.CheckpointManager(checkpoint, str(self.directory), max_to_keep=self.max_to_keep)
        else:
            for copy, value in zip(self._copies, values):
                copy.assign(value)
        start = time.perf_counter()
        path = self._manager.save(checkpoint_number=number)
        log.debug("state %s written in %.2f s", path, time.perf_counter() - start)


def recorded_states(directory: str | Path) -> list[str]:
    """The states recorded in ``directory/checkpoint``, newest first."""
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None:
        return []
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    newest = state.model_checkpoint_path
    return [newest, *(p for p in reversed(paths) if p != newest)]


def _root_names(path: str) -> set[str]:
    """The names a checkpoint's root object has (its tf.train.Checkpoint kwargs)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return {child.local_name for child in graph.nodes[0].children}


def restore_state(objects: Mapping[str, object], directory: str | Path, optional: Iterable[str] = ()) -> str | None:
    """Restore `objects` from the newest state in `directory` that reads; its path, or
    None when there is none. Entries of `objects` named in `optional` may be missing
    from a state (written by an older version); they keep their values.

    An unreadable state (missing or truncated files) is skipped with a warning; when
    states are recorded but none reads, a RunStateError says what to do."""
    candidates = recorded_states(directory)
    failures = []
    for path in candidates:
        try:
            present = _root_names(path)
            missing = set(objects) - present - set(optional)
            if missing:
                raise RunStateError(f"{path} lacks {', '.join(sorted(missing))}; it is not a state of this program")
            checkpoint = tf.train.Checkpoint(**{k: v for k, v in objects.items() if k in present})
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as exc:  # noqa: BLE001 (truncated files raise IndexError, bad ones OpErrors, ...)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("state %s cannot be read (%s); trying the one before", path, reason)
            failures.append(f"{Path(path).name}: {reason}")
    if candidates:
        raise RunStateError(
            f"{directory}: no recorded state can be read ({'; '.join(failures)}); restore the folder from a "
            f"backup, or move it aside to train from the start"
        )
    return None
