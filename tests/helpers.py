"""Helpers the tests share (not part of the library): a one-scene dataset, and the
plain numpy reference of the input pipeline's batches."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from pix2pix_sar.data.dataset import SplitArrays
from pix2pix_sar.data.extra_bands import encode_inputs
from pix2pix_sar.data.prepare import PrepareOptions, ProgressFn, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput
from pix2pix_sar.data.zones import ClassScheme


def prepare_dataset(
    sar: str | Path,
    mask: str | Path,
    out: str | Path,
    *,
    patch_size: int = 256,
    seed: int = 0,
    val_fraction: float = 0.1,
    units: str = "intensity",
    classes: str = "binary",
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """One scene and its zone raster: non-overlapping patches without no-data, split at random 90/10."""
    options = PrepareOptions(patch_size=patch_size, seed=seed, val_fraction=val_fraction, units=units, classes=classes)
    scenes = [SceneInput(Path(sar), Path(mask))]
    return prepare_scenes(scenes, out, options=options, overwrite=overwrite, progress=progress)


def reference_batches(
    split: SplitArrays,
    scheme: ClassScheme,
    rows: np.ndarray,
    batch_size: int,
    flips: np.ndarray | None = None,
):
    """Yield (mask, image) float32 batches of `rows` in plain numpy (what MemoryFeeder must give):
    the mask channels, then the split's extra bands if it has any."""
    for start in range(0, len(rows), batch_size):
        idx = rows[start : start + batch_size]
        masks = encode_inputs(scheme, split.zones[idx], None if split.extras is None else split.extras[idx])
        images = split.images[idx].copy()
        if flips is not None:
            for j, (left_right, up_down) in enumerate(flips[start : start + batch_size]):
                if left_right:
                    masks[j], images[j] = masks[j, :, ::-1], images[j, :, ::-1]
                if up_down:
                    masks[j], images[j] = masks[j, ::-1], images[j, ::-1]
        yield masks, images


def mark_synthetic(dataset: str | Path, out: str | Path) -> Path:
    """A copy of `dataset` whose dataset.json says it is synthetic (as 'generate --as-dataset' writes)."""
    out = Path(shutil.copytree(dataset, out))
    info = json.loads((out / "dataset.json").read_text())
    (out / "dataset.json").write_text(json.dumps({**info, "synthetic": True}))
    return out


def count_state_saves(monkeypatch) -> list[int]:
    """The state numbers handed to every StateSaver from now on (fit and seg fit)."""
    from pix2pix_sar.training.state_saver import StateSaver

    numbers, save = [], StateSaver.save
    monkeypatch.setattr(StateSaver, "save", lambda self, number: numbers.append(number) or save(self, number))
    return numbers


def run_in_terminal(argv, *, interrupt_on: str | None = None, timeout: float = 120.0) -> tuple[int, str, float]:
    """Run `argv` with stdin, stdout and stderr on a new pseudo-terminal; send SIGINT once
    the output holds `interrupt_on`. Returns (exit status, everything it printed, seconds
    from SIGINT to exit)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the CLI's own default
    env["COLUMNS"] = "150"
    leader, follower = pty.openpty()
    # A shell without job control starts background jobs with SIGINT ignored, and an ignored
    # signal stays ignored across exec (Python then installs no KeyboardInterrupt handler):
    # give the child the default, as a terminal user's command has.
    proc = subprocess.Popen(
        argv, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    os.close(follower)
    output, sent, deadline = b"", None, time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal's last writer has gone
                    chunk = b""
                if not chunk:
                    break
                output += chunk
            if interrupt_on and sent is None and interrupt_on in output.decode(errors="replace"):
                proc.send_signal(signal.SIGINT)
                sent = time.monotonic()
            assert time.monotonic() < deadline, output.decode(errors="replace")[-2000:]
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return status, output.decode(errors="replace"), (time.monotonic() - sent) if sent else 0.0
