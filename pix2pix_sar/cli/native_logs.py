"""TensorFlow's native (C++) log lines, kept off the user's terminal unless asked for (-vv).

Two mechanisms, because TensorFlow 2.21 logs through absl in two ways:

* ``TF_CPP_MIN_LOG_LEVEL`` (set by the root command before any command imports
  TensorFlow) filters what TensorFlow logs once loaded: 3 with ``-q``, 2 by default (errors
  stay visible), 0 with ``-vv``. A value the user exported wins.
* The oneDNN notice ("oneDNN custom operations are on ...", once per copy of absl in
  TensorFlow's libraries: twice, each after "All log messages before absl::InitializeLog()
  is called ...") is written while TensorFlow loads, before absl is initialised, and
  ignores that variable. So the first ``import tensorflow`` runs with file descriptor 2
  pointed at a temporary file, which is replayed to stderr at ``-vv`` or when the import
  fails.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"


def set_native_log_level(verbose: int, quiet: bool) -> None:
    """Before TensorFlow loads: how much of its C++ logging reaches stderr."""
    os.environ.setdefault(LEVEL_VARIABLE, "3" if quiet else ("0" if verbose >= 2 else "2"))


@contextlib.contextmanager
def _stderr_fd_captured(replay: bool):
    """File descriptor 2 goes to a temporary file inside; the file is written back to
    stderr afterwards when `replay`, or when the block raised."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if replay or failed:
                captured.seek(0)
                os.write(2, captured.read())


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, replay: bool):
        self.loader, self.replay = loader, replay

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _stderr_fd_captured(self.replay):
            self.loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds the top-level ``tensorflow`` package as usual and loads it with stderr
    captured; once used, it takes itself off ``sys.meta_path``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, replay=os.environ.get(LEVEL_VARIABLE, "0") == "0")
        return spec


def quiet_tensorflow_import() -> None:
    """The next ``import tensorflow`` (wherever it happens) keeps its load-time lines off
    stderr; nothing happens if TensorFlow is already loaded. Imports nothing itself, so
    checks made before TensorFlow loads stay instant."""
    os.environ.setdefault(LEVEL_VARIABLE, "2")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
