"""Export a run's generator as a self-contained model folder that plain TensorFlow serves.

    MODEL/saved_model/    a TensorFlow SavedModel: ``tf.saved_model.load`` needs neither
                          pix2pix-sar nor Keras
    MODEL/export.json     the facts: variant, patch size, class scheme and input encoding,
                          scaling to physical units, receptive field and tiling rule, noise
                          keys, training data, training, metrics at the exported epoch, limits,
                          and the size of every SavedModel file (an incomplete copy is refused)
    MODEL/model_card.md   the same facts for people

Signatures (batch and size free; masks encoded as ``export.json``'s ``input`` says; images
in model units, [-1, 1]):

    serving_default, generate(masks (N,H,W,C) float32, seed () int32, offsets (N,2) int32)
        -> {"images": (N,H,W,1) float32}. Example i's noise key is
        (seed, 0, offsets[i,0], offsets[i,1]): what ``pix2pix-sar generate`` uses for a tile
        whose top-left pixel in the scene is (row, col) = offsets[i] (:func:`pix2pix_sar.noise.tile_keys`).
    generate_keyed(masks, keys (N,4) int32) -> {"images"}: any keys (:mod:`pix2pix_sar.noise`).

The generator runs under the project's one rule (:mod:`pix2pix_sar.models.inference`):
per-image normalisation, noise on, keyed. ``generate --run MODEL`` reads an export like a
run folder and gives the same pixels for the same seed (:class:`ExportedModel`). The folder
is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pix2pix_sar import __version__
from pix2pix_sar.atomic import already_exists, atomic_dir
from pix2pix_sar.config import Config, config_from_dict
from pix2pix_sar.data.dataset import SPLITS, DatasetInfo, load_manifest
from pix2pix_sar.data.scaling import DB_FACTORS, SarScaling
from pix2pix_sar.data.zones import ZONE_CODES, class_scheme
from pix2pix_sar.errors import InputError, RunStateError
from pix2pix_sar.run_folder import RunFolder

EXPORT_FORMAT = "pix2pix-sar export"
EXPORT_VERSION = 1
SAVED_MODEL = "saved_model"
FACTS = "export.json"
CARD = "model_card.md"
#: per_epoch.csv columns the model card shows (all of the row is in export.json).
CARD_METRICS = ("dice_mean", "dice_std", "ssim_mean", "ssim_std", "mae_mean", "seg_miou", "seg_mde_m")


def is_export(path: str | Path) -> bool:
    """True for a folder that `export` wrote (or began to write: then loading says what is missing)."""
    path = Path(path)
    return (path / FACTS).exists() or (path / SAVED_MODEL).is_dir()


def _redo(path: Path) -> str:
    return f"export it again with 'pix2pix-sar export RUN --out {path}'"


# --- Writing --------------------------------------------------------------------------------


def export_run(run_dir: str | Path, out: str | Path, *, epoch: int | None = None, overwrite: bool = False) -> Path:
    """Write the export of `run_dir`'s snapshot at `epoch` (default: the last) to `out`."""
    import tensorflow as tf

    from pix2pix_sar.models.inference import inference_generator, is_legacy
    from pix2pix_sar.models.snapshots import load_generator

    out = Path(out)
    run = RunFolder(run_dir).require()
    cfg = run.load_config()
    info = run.dataset_info()
    epoch, snapshot = run.find_snapshot(epoch)
    if out.exists() and not overwrite:
        raise already_exists(out)
    if out.resolve() == run.path.resolve() or out.resolve() in run.path.resolve().parents:
        raise InputError(f"{out}: holds the run {run.path}, which an export may not replace; choose another --out")
    model = load_generator(snapshot)
    if is_legacy(model):
        raise RunStateError(
            f"{run.path}: was trained by pix2pix-sar 0.1, whose dropout is not keyed, so an export could not "
            "reproduce its images; train a new run to export it"
        )
    facts = model_facts(run, cfg, info, epoch, tensorflow_version=tf.__version__)
    with atomic_dir(out, overwrite) as folder:
        _write_saved_model(inference_generator(model, cfg.model), cfg.model.in_channels, folder.path / SAVED_MODEL)
        facts["files"] = {
            str(p.relative_to(folder.path)): p.stat().st_size
            for p in sorted((folder.path / SAVED_MODEL).rglob("*"))
            if p.is_file()
        }
        (folder.path / FACTS).write_text(json.dumps(facts, indent=2) + "\n")
        (folder.path / CARD).write_text(model_card(facts))
        return folder.commit()


def _write_saved_model(generator, channels: int, path: Path) -> None:
    """The SavedModel: `generator` (an inference copy, any size) behind two endpoints.

    A plain ``tf.Module`` that tracks the generator's underlying ``tf.Variable`` s, not
    Keras' ExportArchive: that one stores every weight twice (keras-team/keras#23553:
    twice the size on disk and in the memory of whoever loads it)."""
    import tensorflow as tf

    def keyed(masks, keys):
        return {"images": tf.cast(generator([masks, keys], training=True), tf.float32)}

    def with_seed(masks, seed, offsets):
        n = tf.shape(masks)[0]
        keys = tf.stack(
            [tf.fill([n], seed), tf.zeros([n], tf.int32), offsets[:, 0], offsets[:, 1]], axis=1, name="noise_keys"
        )
        return keyed(masks, keys)

    masks = tf.TensorSpec((None, None, None, channels), tf.float32, name="masks")
    module = tf.Module()
    module.weights = [v.value for v in generator.variables]  # the tf.Variables the functions capture
    module.generate = tf.function(
        with_seed,
        input_signature=[
            masks,
            tf.TensorSpec((), tf.int32, name="seed"),
            tf.TensorSpec((None, 2), tf.int32, name="offsets"),
        ],
    )
    module.generate_keyed = tf.function(keyed, input_signature=[masks, tf.TensorSpec((None, 4), tf.int32, "keys")])
    signatures = {"serving_default": module.generate, "generate": module.generate}
    tf.saved_model.save(module, str(path), signatures={**signatures, "generate_keyed": module.generate_keyed})


def model_facts(
    run: RunFolder, cfg: Config, info: DatasetInfo, epoch: int, tensorflow_version: str = ""
) -> dict[str, Any]:
    """What export.json holds (but the file sizes): everything the model card says, as data."""
    model = cfg.model
    scheme = class_scheme(info.classes, str(run.dataset_json))
    margin = -(-model.reach // (model.stride // 2)) * (model.stride // 2)
    encoding = {
        str(code): scheme.encode(np.full((1, 1), code, np.uint8))[0, 0].tolist() for code in ZONE_CODES
    }  # zone code -> channel values
    run_info = json.loads(run.run_json.read_text()) if run.run_json.exists() else {}
    dataset_path = run_info.get("dataset")
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "pix2pix_sar_version": __version__,
        "tensorflow_version": tensorflow_version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run": str(run.path.resolve()),
        "epoch": epoch,
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
            "total_channels": scheme.channels + len(info.extra_bands),
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


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _number(text: str) -> float | int | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _training_facts(run: RunFolder, cfg: Config, epoch: int) -> dict[str, Any]:
    history = [r for r in _read_csv(run.history_csv) if r.get("epoch")]
    upto = [r for r in history if int(r["epoch"]) <= epoch]
    seconds = sum(float(r.get("seconds") or 0) for r in upto)
    last = next((r for r in history if int(r["epoch"]) == epoch), None)
    return {
        "epochs_trained": max((int(r["epoch"]) for r in history), default=None),
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
    row = next((r for r in _read_csv(run.eval_per_epoch_csv) if _number(r.get("epoch", "")) == epoch), None)
    if row is None:
        return None
    record = json.loads(run.eval_json.read_text()) if run.eval_json.exists() else {}
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
    limits = [
        f"It learned the look of its training data only ({'synthetic' if info.synthetic else 'real'} "
        f"{info.scaling.units} images, {info.patch_size}-pixel patches"
        + (f", glaciers {', '.join(info.extra['glaciers'])}" if info.extra.get("glaciers") else "")
        + "); other sensors, resolutions, incidence angles or seasons are outside what it has seen.",
        "Images are plausible texture for a zone mask, not a physical SAR simulation: no geometry, "
        "no calibrated backscatter, values only within the training clip range.",
        f"Input is the {info.classes} class scheme; masks must be encoded exactly as 'input.encoding' says"
        + (
            f", followed by the extra bands {', '.join(info.band_names)} scaled as 'input.extra_bands' says."
            if info.extra_bands
            else "."
        ),
        "Where the mask has no data (0) the output is meaningless and must be masked out.",
    ]
    if not cfg.model.whole_scene:
        limits.append(
            f"A paper variant: tiles of {cfg.model.patch_size} px only, normalised one by one; large scenes are "
            "blended tiles and may show a faint tile grid (train the 'scene' variant for whole scenes)."
        )
    return limits


# --- The model card -------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def model_card(facts: dict[str, Any]) -> str:
    """model_card.md from the facts of export.json."""
    ds, tr, metrics = facts["dataset"], facts["training"], facts["metrics"]
    patches = facts["dataset_patches"]
    lines = [
        f"# pix2pix-sar generator: {facts['variant']}, epoch {facts['epoch']}",
        "",
        "A pix2pix conditional GAN generator that turns a glacier zone mask (rock / glacier / ocean) into a "
        "synthetic SAR image (Dietrich-Sussner, Davari et al., *Synthetic Glacier SAR Image Generation from "
        "Arbitrary Masks Using Pix2Pix Algorithm*). Exported by pix2pix-sar "
        f"{facts['pix2pix_sar_version']} (TensorFlow {facts['tensorflow_version']}) on {facts['created']} "
        f"from the run `{facts['run']}`. The same facts as data: `export.json`.",
        "",
        "## Use",
        "",
        "```python",
        "import numpy as np, tensorflow as tf",
        "model = tf.saved_model.load('MODEL/saved_model')   # pix2pix-sar is not needed",
        f"masks = np.zeros((1, {facts['patch_size']}, {facts['patch_size']}, "
        f"{facts['input'].get('total_channels', facts['input']['channels'])}), "
        "np.float32)  # encoded, see Input",
        "images = model.generate(tf.constant(masks), tf.constant(0), tf.constant([[0, 0]], tf.int32))['images']",
        "```",
        "",
        "Or with pix2pix-sar: `pix2pix-sar generate MASK.tif --run MODEL --out IMAGE.tif` (the same pixels "
        "as with the run folder, for the same `--seed`).",
        "",
        "| signature | inputs -> outputs |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in facts["signatures"].items()),
        "",
        "## Input",
        "",
        f"Class scheme `{facts['input']['classes']}` ({facts['input']['description']}), "
        f"{facts['input']['channels']} float32 channel(s). Zone codes {facts['input']['zone_codes']}; "
        "each code becomes:",
        "",
        "| zone code | channel values |",
        "|---|---|",
        *(f"| {code} | {values} |" for code, values in facts["input"]["encoding"].items()),
        "",
        *(
            [
                "Then the extra bands, one channel each, in this order (values in their units, clipped to "
                "[low, high] and mapped linearly to [-1, 1]):",
                "",
                "| band | units | low | high |",
                "|---|---|---|---|",
                *(
                    f"| {b['name']} | {b['units'] or '-'} | {b['low']:.6g} | {b['high']:.6g} |"
                    for b in facts["input"]["extra_bands"]
                ),
                "",
            ]
            if facts["input"].get("extra_bands")
            else []
        ),
        "## Output and physical units",
        "",
        f"One float32 channel in model units [-1, 1]. To the training data's units: {facts['output']['to_physical']}. "
        f"{facts['output']['nodata'].capitalize()}.",
        "",
        "## Tiling and noise",
        "",
        f"Patch size {facts['patch_size']}, total stride {facts['stride']}, receptive field "
        f"{facts['receptive_field']}. Tiling: {facts['tiling']}",
        "",
        f"Noise: {facts['noise']}.",
        "",
        "## Training data",
        "",
        f"`{facts['dataset_path'] or 'unknown'}`: {ds['patch_size']}-pixel patches, classes `{ds['classes']}`, "
        f"{'synthetic' if ds.get('synthetic') else 'real'} SAR in {ds['scaling']['units']} "
        f"(clip range {ds['scaling']['db_min']:g} .. {ds['scaling']['db_max']:g})"
        + (f", CaFFe ({ds.get('caffe_layout', 'original')} layout)" if ds.get("caffe") else "")
        + (f", glaciers {', '.join(ds['glaciers'])}" if ds.get("glaciers") else "")
        + (", patches: " + ", ".join(f"{n} {s}" for s, n in patches.items()) if patches else "")
        + f"; split by {ds.get('split_by', 'patch')}, seed {ds.get('seed')}. Sources: "
        + (", ".join(f"`{Path(s).name}`" for s in ds.get("sources", [])[:10]) or "-")
        + (f" and {len(ds['sources']) - 10} more" if len(ds.get("sources", [])) > 10 else "")
        + ".",
        "",
        "## Training",
        "",
        f"Variant `{facts['variant']}`, trained for {_fmt(tr['epochs_trained'])} epoch(s); this is the snapshot "
        f"of epoch {tr['epoch_exported']}"
        + (f", reached after {tr['seconds_to_epoch']:.0f} s of training" if tr["seconds_to_epoch"] else "")
        + f". Batch {tr['batch_size']}, Adam lr {tr['learning_rate']:g} (betas {tr['adam_betas'][0]:g}, "
        f"{tr['adam_betas'][1]:g}), loss GAN {tr['loss']['gan_weight']:g} + L1 {tr['loss']['l1_weight']:g}, "
        f"flips {'on' if tr['flips'] else 'off'}, seed {tr['seed']}. Full configuration: `export.json` `config`.",
        "",
        "## Metrics at this epoch",
        "",
    ]
    if metrics is None:
        lines.append(
            "Not evaluated: run `pix2pix-sar evaluate RUN` before exporting to have Dice, SSIM and the SAR "
            "statistics of this epoch here."
        )
    else:
        values = metrics["values"]
        shown = [k for k in CARD_METRICS if values.get(k) is not None]
        lines += [
            f"`pix2pix-sar evaluate` on the {metrics['split']} split ({metrics['patches']} patches of "
            f"`{metrics['dataset']}`, noise seed {metrics['seed']}, metric version {metrics['metric_version']}); "
            "images scaled to [0, 1], no-data left out. All columns: `export.json` `metrics`.",
            "",
            "| " + " | ".join(shown) + " |",
            "|" + "---|" * len(shown),
            "| " + " | ".join(_fmt(values[k]) for k in shown) + " |",
        ]
    lines += ["", "## Limits", "", *(f"- {text}" for text in facts["limits"]), ""]
    return "\n".join(lines)


# --- Reading --------------------------------------------------------------------------------


class ExportedModel:
    """An export folder, checked complete, read like a run folder by generation."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.facts: dict[str, Any] = {}

    def require(self) -> "ExportedModel":
        path = self.path
        if not path.is_dir():
            raise InputError(f"{path}: no such model folder; {_redo(path)}")
        facts_path = path / FACTS
        if not facts_path.exists():
            raise InputError(f"{path}: incomplete export ({FACTS} is missing); {_redo(path)}")
        try:
            facts = json.loads(facts_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{facts_path}: not valid JSON ({exc.msg}); {_redo(path)}") from None
        if not isinstance(facts, dict) or facts.get("format") != EXPORT_FORMAT or "files" not in facts:
            raise InputError(f"{facts_path}: not the description of a pix2pix-sar export; {_redo(path)}")
        if facts.get("format_version", 0) > EXPORT_VERSION:
            raise InputError(
                f"{path}: export format {facts['format_version']} is newer than this pix2pix-sar reads "
                f"({EXPORT_VERSION}); upgrade pix2pix-sar"
            )
        if f"{SAVED_MODEL}/saved_model.pb" not in facts["files"]:
            raise InputError(f"{facts_path}: lists no SavedModel; {_redo(path)}")
        for name, size in facts["files"].items():
            file = path / name
            if not file.is_file():
                raise InputError(f"{path}: incomplete export ({name} is missing); {_redo(path)}")
            if file.stat().st_size != size:
                raise InputError(
                    f"{path}: incomplete export ({name} has {file.stat().st_size} of {size} bytes); {_redo(path)}"
                )
        self.facts = facts
        return self

    @property
    def epoch(self) -> int:
        return int(self.facts["epoch"])

    def config(self) -> Config:
        return config_from_dict(self.facts["config"], str(self.path / FACTS))

    def dataset_info(self) -> DatasetInfo:
        return DatasetInfo.from_dict(self.facts["dataset"], str(self.path / FACTS))

    def keyed_function(self):
        """``(masks, keys) -> images`` tensors: the SavedModel's generate_keyed."""
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(self.path / SAVED_MODEL))
        except (OSError, ValueError, tf.errors.OpError) as exc:
            raise InputError(
                f"{self.path / SAVED_MODEL}: TensorFlow cannot load it ({type(exc).__name__}); {_redo(self.path)}"
            ) from None
        fn = loaded.generate_keyed

        def generate(masks, keys):
            return fn(masks, keys)["images"]

        generate.loaded = loaded  # keep the restored variables alive
        return generate
