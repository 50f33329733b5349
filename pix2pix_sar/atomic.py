"""Outputs appear whole or not at all: write under a temporary name beside the
target, rename at the end. A crash or kill never leaves a half-written file or
folder under the final name, and an existing output stays until the new one is
complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from pix2pix_sar.errors import InputError, option


def already_exists(path: str | Path, option_field: str = "out") -> InputError:
    """The one error for an output that exists and may not be replaced; `option_field`
    is the setting that named it (see :func:`pix2pix_sar.errors.option`)."""
    return InputError(
        f"{path}: already exists; pass {option('overwrite')} to replace it or choose another {option(option_field)}"
    )


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def publish_dir(path: str | Path) -> None:
    """Give a folder made by tempfile.mkdtemp (0700) the permissions of a plain mkdir,
    before it is renamed into place."""
    os.chmod(path, 0o777 & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    The file gets the permissions a plain open() would give (mkstemp makes 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class AtomicDir:
    """A folder filled under a hidden temporary name beside `out`, moved into place
    by `commit` (replacing an existing `out`); without `commit` it is removed.

    Use as a context manager; `path` is the folder to write into."""

    def __init__(self, out: str | Path, overwrite: bool = False, option_field: str = "out"):
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise already_exists(self.out, option_field)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))

    def __enter__(self) -> "AtomicDir":
        return self

    def __exit__(self, *exc) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)

    def commit(self) -> Path:
        publish_dir(self.path)
        if self.out.exists():
            # Move the old output aside first so that `out` is never missing for long.
            old = self.out.with_name(f".{self.out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            self.out.rename(old)
            self.path.rename(self.out)
            shutil.rmtree(old)
        else:
            self.path.rename(self.out)
        return self.out


def atomic_dir(out: str | Path, overwrite: bool = False, option_field: str = "out") -> AtomicDir:
    """See :class:`AtomicDir`."""
    return AtomicDir(out, overwrite, option_field)
