"""A quick look at a run: mask, target and generated image for a few patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar.data.dataset import load_split
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.evaluation.figures import plot_image_grid
from pix2pix_sar.run_folder import RunFolder


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
    from pix2pix_sar.models.inference import generate_images
    from pix2pix_sar.models.noise import seed_dropout
    from pix2pix_sar.models.snapshots import load_generator

    run = RunFolder(run_dir)
    epoch, snapshot = run.find_snapshot(epoch)
    generator = load_generator(snapshot)
    data_dir = run.dataset_dir(data_dir)
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
