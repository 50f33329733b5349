"""The facts of a run's snapshot that an export carries (export.json) and its model card
shows: variant, patch size, class scheme and input encoding, scaling to physical units,
receptive field and tiling rule, noise keys, training data, training (from history.csv),
metrics at the epoch (from evaluate's eval/per_epoch.csv and eval.json), and limits.
Everything is read through :class:`~pix2pix_sar.run_folder.RunFolder`."""

from __future__ import annotations

import datetime
import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from pix2pix_sar import __version__
from pix2pix_sar.config import FRONT_SHIFT_WAVELENGTHS, SMOOTH_NOISE_WAVELENGTHS, Config, ModelConfig
from pix2pix_sar.data.dataset import SPLITS, DatasetInfo, load_manifest
from pix2pix_sar.data.scaling import DB_FACTORS, SarScaling
from pix2pix_sar.data.sensors import conditioning_sensors
from pix2pix_sar.data.zones import ZONE_CODES, class_scheme
from pix2pix_sar.errors import InputError
from pix2pix_sar.run_folder import RunFolder


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (a snapshot: which weights, exactly; generated images record it)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def model_facts(
    run: RunFolder, cfg: Config, info: DatasetInfo, epoch: int, tensorflow_version: str = ""
) -> dict[str, Any]:
    """What export.json holds but its format and the file sizes: everything the model card
    says, as data."""
    model = cfg.model
    scheme = class_scheme(info.classes, str(run.dataset_json))
    margin = -(-model.reach // (model.stride // 2)) * (model.stride // 2)
    encoding = {
        str(code): scheme.encode(np.full((1, 1), code, np.uint8))[0, 0].tolist() for code in ZONE_CODES
    }  # zone code -> channel values
    dataset_path = run.run_info().get("dataset")
    sensors = conditioning_sensors(info.sensors, cfg.data.sensor_conditioning)
    return {
        "pix2pix_sar_version": __version__,
        "tensorflow_version": tensorflow_version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run": str(run.path.resolve()),
        "epoch": epoch,
        "snapshot_sha256": file_sha256(run.find_snapshot(epoch)[1]),  # as generated images record it
        "variant": cfg.variant,
        "patch_size": model.patch_size,
        "stride": model.stride,
        "whole_scene": model.whole_scene,
        "reach_px": model.reach,
        "receptive_field": f"<= {2 * model.reach + 1} px" if model.whole_scene else "the whole tile (1x1 bottleneck)",
        "tiling": _tiling_rule(cfg, margin),
        "tile_margin_px": margin if model.whole_scene else None,
        "input": {
            "classes": scheme.name,
            "channels": scheme.channels,
            "description": scheme.description,
            "encoding": encoding,
            "zone_codes": "0 no data, 64 rock, 127 glacier, 254 ocean and ice melange (CaFFe)",
            "dtype": "float32",
            # Further input channels after the mask's, in this order: each band's values in
            # its units, clipped to [low, high] and mapped to [-1, 1].
            "extra_bands": [b.to_dict() for b in info.extra_bands],
            # A run on two or more sensors: then one constant plane per sensor, in this
            # order, 1 for the sensor rendered and 0 for the others ('generate --sensor').
            **({"sensors": list(sensors)} if sensors else {}),
            "total_channels": scheme.channels + len(info.extra_bands) + len(sensors),
        },
        "output": {
            "channels": model.out_channels,
            "units": "model: [-1, 1]",
            "scaling": info.scaling.to_dict(),
            "to_physical": physical_rule(info.scaling),
            "nodata": "where the mask is 0 (no data) the output means nothing; mask it out",
        },
        "noise": (
            "every random draw is a pure function of a noise key of 4 int32 per example; 'generate' builds "
            "(seed, 0, row, col) from the seed and the tile's top-left pixel in the scene, as pix2pix-sar "
            "generate does, so the same seed and offsets give the same pixels (any batch)"
            + (
                "; the scene variant draws a noise image from the seed and scene coordinates, so overlapping "
                "tiles agree exactly"
                if model.whole_scene
                else "; dropout stays on at generation (pix2pix)"
            )
            + (
                f"; a speckle stage multiplies the generated backscatter by Gamma speckle of "
                f"{_speckle_looks(model, sensors)} (the training data's), drawn per scene pixel from the seed"
                if model.speckle_looks > 0
                else ""
            )
            + _smooth_noise(model)
        ),
        "signatures": {
            "serving_default": "same as generate",
            "generate": "masks (N,H,W,C) float32, seed () int32, offsets (N,2) int32 [row, col] -> images",
            "generate_keyed": "masks (N,H,W,C) float32, keys (N,4) int32 -> images",
        },
        "config": cfg.to_dict(),
        "dataset": info.to_dict(),
        "dataset_path": dataset_path,
        "dataset_patches": _patch_counts(dataset_path),
        "training": _training_facts(run, cfg, epoch),
        "metrics": _metrics_at(run, epoch),
        "limits": _limits(cfg, info),
    }


def _smooth_noise(model: ModelConfig) -> str:
    """The sampler's smooth keyed fields, in words ("" when off)."""
    text = ""
    if model.front_phase_shift > 0:
        periods = ", ".join(f"{band[2]:g}" for band in model.front_phase_bands)
        text += (
            f"; the front-phase bands (periods {periods} px) are moved by a smooth random displacement of the "
            f"front distance ({model.front_phase_shift:g} px std, {_waves(FRONT_SHIFT_WAVELENGTHS)}), drawn from "
            "the seed and scene coordinates, so the glacier's bands parallel to the front differ from seed to seed"
        )
    if model.smooth_noise_channels > 0:
        text += (
            f"; {model.smooth_noise_channels} smooth random field(s) ({_waves(SMOOTH_NOISE_WAVELENGTHS)}) from the "
            "seed and scene coordinates join the input"
        )
    if model.iceberg_noise > 0:
        text += (
            f"; sparse soft disks in the ocean (a {model.iceberg_noise:g} chance per 16-px cell, 1.5-6 px radius) "
            "from the seed and scene coordinates join the input as candidate icebergs"
        )
    if model.iceberg_share > 0:
        text += (
            f"; an iceberg stage before the speckle draws soft disks into the ocean ({model.iceberg_radius:g} px "
            f"mean radius, covering {100 * model.iceberg_share:.2g} % of it on average, "
            f"{model.iceberg_contrast_db:g} dB brighter), placed by the seed and scene coordinates"
        )
    return text


def _waves(wavelengths: tuple[float, float]) -> str:
    return f"{wavelengths[0]:g}-{wavelengths[1]:g} px waves"


def _speckle_looks(model: ModelConfig, sensors: tuple[str, ...]) -> str:
    """``4.4 looks``, or with looks per sensor ``2.5 looks for TSX, 4.4 looks for S1``."""
    if model.speckle_looks_by_sensor and len(model.speckle_looks_by_sensor) == len(sensors):
        return ", ".join(f"{looks:g} looks for {code}" for code, looks in zip(sensors, model.speckle_looks_by_sensor))
    return f"{model.speckle_looks:g} looks"


def physical_rule(scaling: SarScaling) -> str:
    """How model units become the training data's units, in words and formulas."""
    db = (
        f"v = {scaling.db_min:g} + (clip(x, -1, 1) + 1) / 2 * ({scaling.db_max:g} - ({scaling.db_min:g}))"
        f" in {'DN' if scaling.units == 'dn' else 'dB'}"
    )
    factor = DB_FACTORS[scaling.units]
    if factor is not None:
        then = f"; {scaling.units} = 10 ** (v / {factor:g})"
    elif scaling.units == "dn":
        then = f"; rounded and clipped to {scaling.dtype}" if np.dtype(scaling.dtype).kind in "iu" else ""
    else:
        then = ""
    return db + then + f" (the training data's clip range, {scaling.units})"


def _tiling_rule(cfg: Config, margin: int) -> str:
    model = cfg.model
    if model.whole_scene:
        return (
            f"any tile whose height and width are multiples of {model.stride}; cut a {margin}-pixel margin "
            f"from every side of every tile and keep the centre (the margin is at least the generator's reach, "
            f"{model.reach} px), with tiles on a grid of step tile - {2 * margin} starting at -{margin} and the "
            "mask mirrored beyond its edges; give each tile its top-left pixel (row, col) in the scene as offsets. "
            "Nothing is blended and any tile size gives the same pixels."
        )
    return (
        f"tiles of exactly {model.patch_size} x {model.patch_size} pixels (its 1x1 bottleneck and per-tile "
        "normalisation make other sizes another model); cover larger masks with overlapping tiles (pix2pix-sar "
        f"uses an overlap of a quarter tile, {model.patch_size // 4} px, spread evenly) blended with a "
        "raised-cosine window over the overlap; mirror masks smaller than a tile out to it and cut the result "
        "back; give each tile its top-left pixel (row, col) in the scene as offsets. Tiles are normalised one "
        "by one, so a faint tile grid can remain."
    )


def _patch_counts(dataset_path: str | None) -> dict[str, int] | None:
    if not dataset_path:
        return None
    try:
        records = load_manifest(dataset_path)
    except InputError:
        return None  # moved or deleted since training
    return {split: n for split in SPLITS if (n := sum(r.split == split for r in records)) or split != "test"}


def _number(value: float) -> float | int | None:
    """A table's number as export.json holds it: None where it is not finite (JSON has no NaN)."""
    return value if math.isfinite(value) else None


def _training_facts(run: RunFolder, cfg: Config, epoch: int) -> dict[str, Any]:
    history = [r for r in run.history() if math.isfinite(r["epoch"])]
    upto = [r for r in history if r["epoch"] <= epoch]
    seconds = sum((r["seconds"] for r in upto if math.isfinite(r.get("seconds", math.nan))), 0.0)
    last = next((r for r in history if r["epoch"] == epoch), None)
    return {
        "epochs_trained": max((r["epoch"] for r in history), default=None),
        "epoch_exported": epoch,
        "seconds_to_epoch": round(seconds, 1) if upto and "seconds" in upto[0] else None,
        "batch_size": cfg.training.batch_size,
        "learning_rate": cfg.optimizer.learning_rate,
        "adam_betas": [cfg.optimizer.beta_1, cfg.optimizer.beta_2],
        "loss": {"gan_weight": cfg.loss.gan_weight, "l1_weight": cfg.loss.l1_weight},
        "flips": cfg.data.flip,
        "seed": cfg.training.seed,
        "losses_at_epoch": {k: _number(v) for k, v in last.items() if k != "epoch"} if last else None,
    }


def _metrics_at(run: RunFolder, epoch: int) -> dict[str, Any] | None:
    row = next((r for r in run.eval_per_epoch() if r["epoch"] == epoch), None)
    if row is None:
        return None
    record = run.eval_record()
    return {
        "split": record.get("split", "val"),
        "dataset": record.get("dataset"),
        "patches": len(record.get("patch_ids") or []),
        "seed": record.get("seed"),
        "metric_version": record.get("metric_version"),
        "segmenter": record.get("segmenter"),
        "values": {k: _number(v) for k, v in row.items() if k != "epoch"},
    }


def _limits(cfg: Config, info: DatasetInfo) -> list[str]:
    sensors = conditioning_sensors(info.sensors, cfg.data.sensor_conditioning)
    limits = [
        f"It learned the look of its training data only ({'synthetic' if info.synthetic else 'real'} "
        f"{info.scaling.units} images, {info.patch_size}-pixel patches"
        + (f", glaciers {', '.join(info.extra['glaciers'])}" if info.extra.get("glaciers") else "")
        + (f", sensors {', '.join(info.sensors)}" if info.sensors else "")
        + "); other sensors, resolutions, incidence angles or seasons are outside what it has seen.",
        "Images are plausible texture for a zone mask, not a physical SAR simulation: no geometry, "
        "no calibrated backscatter, values only within the training clip range.",
        f"Input is the {info.classes} class scheme; masks must be encoded exactly as 'input.encoding' says"
        + (
            f", followed by the extra bands {', '.join(info.band_names)} scaled as 'input.extra_bands' says."
            if info.extra_bands
            else "."
        )
        + (
            f" A run conditioned on the sensor: then one-hot planes of {', '.join(sensors)}"
            " as 'input.sensors' says (generate --sensor NAME)."
            if sensors
            else ""
        ),
        "Where the mask has no data (0) the output is meaningless and must be masked out.",
    ]
    if not cfg.model.whole_scene:
        limits.append(
            f"A paper variant: tiles of {cfg.model.patch_size} px only, normalised one by one; large scenes are "
            "blended tiles and may show a faint tile grid (train the 'scene' variant for whole scenes)."
        )
    return limits
