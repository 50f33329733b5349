"""A quick look at a run: mask, target and generated image for a few patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.data.extra_bands import encode_picked
from pix2pix_sar.data.zones import class_scheme, valid_zones
from pix2pix_sar.errors import InputError
from pix2pix_sar.evaluation.figures import plot_image_grid
from pix2pix_sar.generation.generate import generate_image, read_zones
from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
from pix2pix_sar.noise import patch_keys
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
    scene: tuple[str | Path, str | Path] | None = None,
    sensor: str | None = None,
) -> Path:
    """PNG grid: one row per validation patch (chosen by `seed`): mask | target | generated;
    with `scene` (zones file, SAR file on the same grid) also that whole scene: zones |
    real | generated (tiled as `generate` tiles it; a run conditioned on the sensor renders
    `sensor`, else the one the SAR file names)."""
    from pix2pix_sar.models.inference import generate_images
    from pix2pix_sar.models.snapshots import load_generator

    run = RunFolder(run_dir)
    epoch, snapshot = run.find_snapshot(epoch)
    generator = load_generator(snapshot)
    data_dir = run.dataset_dir(data_dir)
    info, config = run.dataset_info(), run.load_config()
    split = load_split(data_dir, "val")
    if len(split) == 0:
        split = load_split(data_dir, "train")
    pick = pick_patches(len(split), count, seed)
    scheme = class_scheme(info.classes, str(run.dataset_json))
    data_bands = load_info(data_dir).band_names
    masks = encode_picked(scheme, split, pick, data_bands, info, config.data.sensor_conditioning, str(data_dir))
    outputs = generate_images(generator, masks, patch_keys(seed, pick), cfg=config.model)
    outputs = np.where(valid_zones(split.zones[pick])[..., None], outputs, -1.0)  # no data as in the target
    columns = [("target", split.images[pick]), (f"generated (epoch {epoch})", outputs)]
    panel = _whole_scene(run, epoch, seed, *scene, sensor) if scene is not None else None
    labels = [split.ids[i] for i in pick]
    return plot_image_grid(split.zones[pick], columns, out, row_labels=labels, scene=panel, scaling=info.scaling)


def _whole_scene(run: RunFolder, epoch: int, seed: int, zones_path, sar_path, sensor: str | None):
    """(zones, real, generated) of a whole scene, the images in the model range."""
    zones = read_zones(Path(zones_path))
    sar = geo.read_raster(sar_path)[0]
    if sar.shape != zones.shape:
        raise InputError(
            f"{sar_path}: is {sar.shape[1]}x{sar.shape[0]}, its zones {zones.shape[1]}x{zones.shape[0]}; "
            "give the scene's own zones"
        )
    scaling = run.dataset_info().scaling
    valid = valid_zones(zones)
    real = np.where(valid, scaling.to_model(sar), -1.0)
    generator = RunGenerator.from_run(run, epoch, seed)
    generator.use_scene_sensor(sar_path, sensor)
    generated = np.where(valid, generate_image(generator, zones, TileSettings(seed=seed)), -1.0)
    return zones, real, generated
