"""A quick look at a run: mask, target and generated image for a few patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar.data.dataset import load_split
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.errors import RunStateError
from pix2pix_sar.run_folder import RunFolder


def load_snapshot(run: RunFolder, epoch: int | None = None):
    """The generator saved at `epoch` (default: the last one)."""
    import keras

    snaps = run.require().snapshots()
    if not snaps:
        raise RunStateError(f"{run.path}: has no generator snapshots yet; train longer with 'pix2pix-sar fit'")
    if epoch is None:
        epoch = max(snaps)
    if epoch not in snaps:
        raise RunStateError(f"{run.path}: no snapshot at epoch {epoch}; saved epochs: {', '.join(map(str, snaps))}")
    return epoch, keras.models.load_model(snaps[epoch], compile=False)


def seed_dropout(seed: int) -> None:
    """Make the generator's dropout noise repeatable: inference copies built after
    this call draw the same dropout masks for the same inputs and batch size."""
    import keras

    keras.utils.set_random_seed(seed)


def pick_patches(total: int, count: int, seed: int) -> np.ndarray:
    """Indices of `count` patches out of `total`, chosen by `seed`, in file order."""
    return np.sort(np.random.default_rng(seed).permutation(total)[:count])


def write_preview(
    run_dir: str | Path,
    out: str | Path,
    data_dir: str | Path | None = None,
    count: int = 4,
    epoch: int | None = None,
    seed: int = 0,
) -> Path:
    """PNG grid: one row per validation patch (chosen by `seed`): mask | target | generated."""
    from pix2pix_sar.evaluation.figures import plot_image_grid
    from pix2pix_sar.models.inference import generate_images

    run = RunFolder(run_dir)
    epoch, generator = load_snapshot(run, epoch)
    data_dir = Path(data_dir) if data_dir else run.dataset_path()
    info = run.dataset_info()
    split = load_split(data_dir, "val")
    if len(split) == 0:
        split = load_split(data_dir, "train")
    pick = pick_patches(len(split), count, seed)
    scheme = class_scheme(info.classes, str(run.dataset_json))
    masks = scheme.encode(split.zones[pick])
    seed_dropout(seed)
    outputs = generate_images(generator, masks)
    columns = [("target", split.images[pick]), (f"generated (epoch {epoch})", outputs)]
    return plot_image_grid(split.zones[pick], columns, out, row_labels=[split.ids[i] for i in pick])
