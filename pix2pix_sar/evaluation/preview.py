"""A quick look at a run: mask, target and generated image for a few patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar import geo
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


def write_preview(
    run_dir: str | Path,
    out: str | Path,
    data_dir: str | Path | None = None,
    count: int = 4,
    epoch: int | None = None,
    seed: int = 0,
) -> Path:
    """PNG grid: one row per validation patch (chosen by `seed`): mask | target | generated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pix2pix_sar.models.inference import generate_images

    run = RunFolder(run_dir)
    epoch, generator = load_snapshot(run, epoch)
    data_dir = Path(data_dir) if data_dir else run.dataset_path()
    info = run.dataset_info()
    split = load_split(data_dir, "val")
    if len(split) == 0:
        split = load_split(data_dir, "train")
    pick = np.sort(np.random.default_rng(seed).permutation(len(split))[:count])
    scheme = class_scheme(info.classes, str(run.dataset_json))
    masks = scheme.encode(split.zones[pick])
    outputs = generate_images(generator, masks)

    fig, axes = plt.subplots(len(pick), 3, figsize=(7.5, 2.5 * len(pick)), squeeze=False)
    for row, i in enumerate(pick):
        panels = (split.zones[i], split.images[i, ..., 0], outputs[row, ..., 0])
        for col, (ax, img, title) in enumerate(zip(axes[row], panels, ("mask", "target", f"generated (epoch {epoch})"))):
            ax.imshow(img, cmap="viridis" if col == 0 else "gray", vmin=0 if col == 0 else -1, vmax=254 if col == 0 else 1)
            ax.set_axis_off()
            if row == 0:
                ax.set_title(title, fontsize=9)
        axes[row, 0].text(2, 10, split.ids[i], fontsize=6, color="white")
    fig.tight_layout()
    with geo.atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(out)
