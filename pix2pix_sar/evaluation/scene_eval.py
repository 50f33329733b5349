"""Whole-scene measures of a run's last snapshot (``evaluate RUN --scene ZONES SAR``).

The run generates the zones of a real scene K times (seeds seed ... seed + K - 1, the
same generation path as ``generate``: :class:`RunGenerator`, any variant), and each
sample is compared with the real scene:

* structure ratios per class (:mod:`pix2pix_sar.evaluation.structure`), the mean over
  the K samples against the real scene, with the goal keys named;
* W1 per class and ENL ratios (:class:`SarStatistics` over the whole scene);
* the grid statistic of sample 0 and of the real scene;
* the spread across the K samples (:func:`sample_variety`), raw: dividing by the oracle
  needs a simulator's redraws (``synth --content-seed``), which the experiment script does;
* with a segmenter, the Fréchet distance of its encoder features between real and
  generated crops (:mod:`pix2pix_sar.evaluation.frechet`), with a bootstrap interval.

Written to RUN/eval/scene_<ZONES stem>.json, atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar import geo, jsonio
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.zones import valid_zones
from pix2pix_sar.errors import InputError, option
from pix2pix_sar.evaluation.frechet import MIN_CROPS, SegmenterFeatures, crop_origins, frechet_with_interval
from pix2pix_sar.evaluation.sar_stats import SAR_CLASSES, SarStatistics
from pix2pix_sar.evaluation.structure import (
    goal_keys,
    mean_structure,
    sample_variety,
    structure_measures,
    structure_ratios,
)
from pix2pix_sar.generation.generate import generate_image, read_zones
from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
from pix2pix_sar.generation.seams import grid_statistic
from pix2pix_sar.run_folder import SegRunFolder


def scene_json_path(run_dir: str | Path, zones_path: str | Path) -> Path:
    return Path(run_dir) / "eval" / f"scene_{Path(zones_path).stem}.json"


def evaluate_scene(
    run_dir: str | Path,
    zones_path: str | Path,
    sar_path: str | Path,
    *,
    samples: int = 4,
    seed: int = 0,
    segmenter: str | Path | None = None,
    crops: int = MIN_CROPS,
    batch_size: int = 16,
    sensor: str | None = None,
) -> dict:
    """The measures of the module docstring for the run's last snapshot; writes and returns them.
    A run conditioned on the sensor renders `sensor`, else the one the SAR scene names."""
    if samples < 1:
        raise InputError(f"{option('samples')} {samples}: must be at least 1")
    zones = read_zones(Path(zones_path))
    real = geo.read_array(sar_path)
    if real.shape != zones.shape:
        raise InputError(
            f"{sar_path}: {real.shape[1]}x{real.shape[0]} pixels, but {zones_path} has "
            f"{zones.shape[1]}x{zones.shape[0]}; give the SAR scene of these zones"
        )
    gen = RunGenerator.load(run_dir, None, seed)
    if gen.bands:
        raise InputError(
            f"{run_dir}: takes extra bands ({', '.join(b.name for b in gen.bands)}); {option('scene')} measures runs "
            "conditioned on the mask alone (the oracle does not apply to DEM-conditioned runs)"
        )
    gen.use_scene_sensor(sar_path, sensor)
    valid = valid_zones(zones)
    real_model = np.where(valid, gen.scaling.to_model(real), np.float32(-1.0))
    real_model = np.nan_to_num(real_model, nan=-1.0)
    real_db = np.where(valid, gen.scaling.model_to_db(real_model), np.nan)

    stats = SarStatistics(gen.scaling)
    images, images_db = [], []
    for k in range(samples):
        gen.seed = seed + k  # the noise keys of sample k, as generate --samples
        image = generate_image(gen, zones, TileSettings(batch_size=batch_size, seed=seed + k))
        images.append(image)
        images_db.append(np.where(valid, gen.scaling.model_to_db(image), np.nan))
        stats.add(zones[None], real_model[None], image[None])
    gen.seed = seed

    real_structure = structure_measures(real_db, zones)
    gen_structure = mean_structure([structure_measures(db, zones) for db in images_db])
    result: dict = {
        "run": str(Path(run_dir).resolve()),
        "epoch": gen.epoch,
        "variant": gen.config.variant,
        "zones": str(Path(zones_path).resolve()),
        "sar": str(Path(sar_path).resolve()),
        "samples": samples,
        "seeds": [seed + k for k in range(samples)],
        **({"sensor": gen.sensor} if gen.sensors else {}),
        "structure_ratio": structure_ratios(gen_structure, real_structure),
        "structure_goal_keys": goal_keys(),
        "structure_real": real_structure,
        "structure_generated": gen_structure,
        "sar_stats": {k: v for k, v in stats.summary().items() if not k.startswith("spectra")},
        "grid": _grid(images_db[0], real_db, zones),
    }
    result["w1_db"] = {c: result["sar_stats"][f"w1_db_{c}"] for c in SAR_CLASSES}
    result["enl_ratio"] = {c: result["sar_stats"][f"enl_ratio_{c}"] for c in SAR_CLASSES}
    if samples >= 2:
        result["variety"] = sample_variety(np.stack(images_db), zones)
    if segmenter is not None:
        result["feature_distance"] = _feature_distance(segmenter, real_db, images_db, zones, crops, seed)
    out = scene_json_path(run_dir, zones_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".json") as tmp:
        tmp.write_text(jsonio.dumps(result, indent=2) + "\n")
    return result


def _grid(gen_db: np.ndarray, real_db: np.ndarray, zones: np.ndarray) -> dict:
    out = {}
    for name, db in (("generated", gen_db), ("real", real_db)):
        try:
            g = grid_statistic(db, zones)
            out[name], out[f"{name}_stride"] = g.value, g.stride
        except ValueError:  # a scene too small or flat for any stride
            out[name], out[f"{name}_stride"] = None, None
    return out


def _feature_distance(
    seg_run: str | Path, real_db: np.ndarray, images_db: list[np.ndarray], zones: np.ndarray, crops: int, seed: int
) -> dict:
    """Fréchet distance between `crops` real crops and as many generated ones (the same
    places, spread over the samples), on the segmenter's pooled encoder features."""
    features = SegmenterFeatures(seg_run)
    scaling = SegRunFolder(seg_run).dataset_info().scaling

    def seg_range(db):  # dB -> the segmenter's [-1, 1] (its own training scaling)
        clipped = np.clip(np.nan_to_num(db, nan=scaling.db_min), scaling.db_min, scaling.db_max)
        return (2.0 * (clipped - scaling.db_min) / (scaling.db_max - scaling.db_min) - 1.0).astype(np.float32)

    origins = crop_origins(zones, features.patch_size, crops, seed)
    real = features(seg_range(real_db), origins)
    parts = np.array_split(np.arange(len(origins)), len(images_db))
    generated = np.concatenate([features(seg_range(db), origins[p]) for db, p in zip(images_db, parts)])
    return frechet_with_interval(real, generated, seed=seed)
