"""model_card.md: the facts of an export (export.json, :mod:`pix2pix_sar.generation.run_facts`)
for people: what the model is, how to call it, its input encoding, output units, tiling and
noise, training data, training, metrics at the exported epoch, and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: per_epoch.csv columns the model card shows (all of the row is in export.json).
CARD_METRICS = ("dice_mean", "dice_std", "ssim_mean", "ssim_std", "mae_mean", "seg_miou", "seg_mde_m")


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
        *(
            [
                "Then one constant channel per sensor, in this order: 1 for the sensor to render, 0 for the "
                f"others ({', '.join(facts['input']['sensors'])}; `generate --sensor NAME`).",
                "",
            ]
            if facts["input"].get("sensors")
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
