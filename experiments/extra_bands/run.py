"""Does elevation help the generator draw rock? The extra-bands ablation in one command.

    python experiments/extra_bands/run.py --out OUT            # default sizes, ~20 min on 2 CPU cores
    python experiments/extra_bands/run.py --smoke --out OUT    # the flow on tiny data, < 20 s

Protocol (issue 12, item 4):

1. Data: ``synth`` scenes (several seeds), each with its dem.tif (3x the pixel, no data
   over the ocean), prepared once with ``--extra dem=DEMS/`` (a folder paired by scene
   name), zones classes, split by scene: the held-out scenes (validation split) are
   never trained on. The "no elevation" dataset is the same patches without the band,
   so both conditions see exactly the same masks, targets and held-out patches.
2. A segmenter (``seg fit``) is trained once on the real training split.
3. For each condition (without / with ``--extra dem``) and each seed, the same variant
   trains with the same budget (updates, batch, width), then ``evaluate --segmenter``
   scores its last snapshot on the held-out scenes.
4. Reported per condition (mean over seeds, and per seed): W1 in dB on rock
   (``w1_db_rock``, evaluation.sar_stats restricted to the rock zone), the spectral
   distance in dB, the segmentation score (mIoU and front MDE of the segmenter on the
   generated images; its score on the real images is the ceiling) and, on rock, the
   correlation between the image's dB and the terrain's slope toward the sensor (the
   DEM's column gradient) next to the same correlation in the real images.

The synthetic scenes are idealised: their rock brightness follows the DEM's slope by
construction (``pix2pix_sar.data.synth``), so this measures whether the generator can
use the band at all, not how much a real DEM explains real backscatter.

Writes OUT/results.json, OUT/results.md (the table) and OUT/rock.png (held-out rock
patches: mask, DEM, real, generated without and with elevation). Every step skips what
is already done, so rerunning after a stop continues. Commands run in this process
(TensorFlow starts once), exactly as a user types them.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_sar import jsonio
from pix2pix_sar.cli.main import run_in_process as pix2pix_sar  # one command, as typed


@dataclass(frozen=True)
class Setup:
    """Sizes of one ablation: the default (about 20 minutes on 2 cores) or the smoke test.

    Measured on the 2-core CPU: one generator update (base 16, 64 px, batch 4) takes
    about 65 ms, so the four runs take about 16 minutes; data, segmenter and evaluation
    about 3 more."""

    scenes: int = 6  # synth scenes
    held_out: int = 2  # of them held out (the validation split)
    scene_size: int = 384
    pixel_size: float = 40.0
    patch_size: int = 64
    variant: str = "orig"
    generator_set: tuple[str, ...] = ("model.base_filters=16",)
    generator_steps: int = 3600  # generator updates per run, the same for both conditions (120 epochs)
    generator_batch: int = 4
    seeds: tuple[int, ...] = (0, 1)
    seg_steps: int = 600
    seg_batch: int = 8
    seg_args: tuple[str, ...] = ("--base-filters", "16", "--depth", "4")
    figure_patches: int = 4


DEFAULT = Setup()
SMOKE = Setup(
    scenes=3,
    held_out=1,
    scene_size=64,
    patch_size=32,
    generator_set=("model.base_filters=4", "model.unet_depth=2"),
    generator_steps=2,
    generator_batch=4,
    seeds=(0,),
    seg_steps=1,
    seg_batch=4,
    seg_args=("--base-filters", "4", "--depth", "2"),
    figure_patches=2,
)

#: Conditions: name -> whether the generator gets the DEM.
CONDITIONS = {"no elevation": False, "with elevation": True}
#: per_epoch.csv columns reported (evaluate --segmenter).
METRICS = ("w1_db_rock", "spectral_distance_db", "seg_miou", "seg_mde_m", "seg_real_miou", "seg_real_mde_m")


def make_data(out: Path, setup: Setup) -> tuple[Path, Path]:
    """(dataset with the DEM band, the same patches without it)."""
    with_dem, without = out / "data_dem", out / "data_plain"
    if not (with_dem / "dataset.json").exists():
        scenes, dems = out / "scenes", out / "dems"
        for seed in range(setup.scenes):
            folder = out / "synth" / f"scene_{seed}"
            if not (folder / "dem.tif").exists():
                size = setup.scene_size
                pix2pix_sar(
                    "synth", folder, "--width", size, "--height", size, "--seed", seed,
                    "--pixel-size", setup.pixel_size,
                )  # fmt: skip
            # Scene NAME.tif pairs with NAME_zones.tif beside it and NAME_dem.tif in the DEM folder.
            for src, dst in (
                (folder / "scene.tif", scenes / f"scene_{seed}.tif"),
                (folder / "zones.tif", scenes / f"scene_{seed}_zones.tif"),
                (folder / "dem.tif", dems / f"scene_{seed}_dem.tif"),
            ):
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        pix2pix_sar(
            "-q", "prepare", "--sar", scenes, "--mask", scenes, "--extra", f"dem={dems}", "--out", with_dem,
            "--patch-size", setup.patch_size, "--classes", "zones", "--split-by", "scene",
            "--val-fraction", setup.held_out / setup.scenes,
        )  # fmt: skip
    if not (without / "dataset.json").exists():
        tmp = without.with_name(without.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(with_dem, tmp, ignore=shutil.ignore_patterns("*_dem.tif", "packed"))
        info = json.loads((tmp / "dataset.json").read_text())
        (tmp / "dataset.json").write_text(jsonio.dumps({**info, "extra_bands": []}, indent=2) + "\n")
        tmp.rename(without)
    return with_dem, without


def train_count(data: Path) -> int:
    from pix2pix_sar.data.dataset import split_size

    return split_size(data, "train")


def train_segmenter(data: Path, out: Path, setup: Setup) -> Path:
    if not (out / "segmenter.keras").exists():
        pix2pix_sar(
            "-q", "seg", "fit", "--data", data, "--out", out, "--steps", setup.seg_steps,
            "--batch-size", setup.seg_batch, *setup.seg_args,
        )  # fmt: skip
    return out


def train_and_evaluate(data: Path, out: Path, segmenter: Path, setup: Setup, seed: int) -> dict[str, float]:
    """Train for `setup.generator_steps` updates (rounded up to whole epochs), evaluate the last snapshot."""
    steps_per_epoch = max(1, train_count(data) // setup.generator_batch)
    epochs = max(1, math.ceil(setup.generator_steps / steps_per_epoch))
    sets = [arg for s in setup.generator_set for arg in ("--set", s)]
    pix2pix_sar(
        "-q", "fit", "--data", data, "--out", out, "--variant", setup.variant, "--batch-size", setup.generator_batch,
        "--epochs", epochs, "--checkpoint-every", epochs, "--seed", seed, *sets,
    )  # fmt: skip
    per_epoch = out / "eval" / "per_epoch.csv"
    if not per_epoch.exists():
        pix2pix_sar("-q", "evaluate", out, "--segmenter", segmenter)
    with per_epoch.open(newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    row = {k: float(last[k]) for k in METRICS if last.get(k) not in (None, "")}
    return {**row, "epochs": epochs, "updates": epochs * steps_per_epoch}


def rock_slope_correlation(images_db: np.ndarray, dem_m: np.ndarray, zones: np.ndarray) -> float:
    """Pearson correlation over rock pixels between dB and the terrain's rise toward the
    sensor (it looks from the left: the DEM's column gradient)."""
    from pix2pix_sar.data.zones import ROCK

    rise = np.gradient(dem_m, axis=-1)
    rock = zones == ROCK
    rock[..., :1] = rock[..., -1:] = False  # one-sided gradients at the patch edges
    if rock.sum() < 10:
        return math.nan
    return float(np.corrcoef(rise[rock], images_db[rock])[0, 1])


def held_out_images(data: Path, runs: dict[str, Path]) -> dict:
    """Held-out patches: zones, DEM (m), real dB and each condition's generated dB (seed 0 runs)."""
    from pix2pix_sar.data.dataset import load_info, load_split
    from pix2pix_sar.data.extra_bands import encode_inputs
    from pix2pix_sar.data.zones import class_scheme
    from pix2pix_sar.models.inference import generate_images
    from pix2pix_sar.models.snapshots import load_generator
    from pix2pix_sar.noise import patch_keys
    from pix2pix_sar.run_folder import RunFolder

    info = load_info(data)
    split = load_split(data, "val")
    scheme = class_scheme(info.classes, str(data))
    [band] = info.extra_bands
    keys = patch_keys(0, np.arange(len(split)))
    out = {
        "zones": split.zones,
        "dem_m": band.from_model(split.extras[..., 0]),
        "real": info.scaling.model_to_db(split.images[..., 0]),
    }
    for name, run_dir in runs.items():
        run = RunFolder(run_dir)
        generator = load_generator(run.find_snapshot()[1])
        extras = split.extras if CONDITIONS[name] else None
        masks = encode_inputs(scheme, split.zones, extras)
        generated = generate_images(generator, masks, keys, cfg=run.load_config().model)
        out[name] = info.scaling.model_to_db(np.asarray(generated)[..., 0])
    return out


def rock_figure(images: dict, path: Path, count: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pix2pix_sar.data.zones import ROCK

    rock_share = (images["zones"] == ROCK).mean(axis=(1, 2))
    pick = np.sort(np.argsort(-rock_share, kind="stable")[:count])
    columns = [("zones", "zones"), ("DEM (m)", "dem_m"), ("real (dB)", "real")] + [
        (f"{name} (dB)", name) for name in CONDITIONS
    ]
    low, high = np.percentile(images["real"], [1, 99])
    fig, axes = plt.subplots(len(pick), len(columns), figsize=(2.2 * len(columns), 2.2 * len(pick)), squeeze=False)
    for r, i in enumerate(pick):
        for c, (title, key) in enumerate(columns):
            ax = axes[r, c]
            if key == "zones":
                ax.imshow(images[key][i], cmap="viridis", vmin=0, vmax=254, interpolation="nearest")
            elif key == "dem_m":
                ax.imshow(images[key][i], cmap="terrain")
            else:
                ax.imshow(images[key][i], cmap="gray", vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
    fig.suptitle("Held-out rock: generated without and with elevation (sensor looks from the left)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarise(results: list[dict], correlations: dict, setup: Setup, seconds: float, counts: dict) -> str:
    lines = [
        "| condition | W1 rock (dB) ↓ | spectral distance (dB) ↓ | seg mIoU ↑ | seg front MDE (m) ↓ "
        "| rock dB–slope corr. | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in CONDITIONS:
        runs = [r for r in results if r["condition"] == name]

        def cell(key, digits, runs=runs):
            values = [r.get(key, math.nan) for r in runs]
            per_seed = ", ".join(f"{v:.{digits}f}" for v in values)
            return f"{_mean(values):.{digits}f}" + (f" ({per_seed})" if len(values) > 1 else "")

        lines.append(
            f"| {name} | {cell('w1_db_rock', 2)} | {cell('spectral_distance_db', 2)} | {cell('seg_miou', 3)} "
            f"| {cell('seg_mde_m', 0)} | {correlations[name]:.2f} | {len(runs)} |"
        )
    ceiling = results[0]
    lines.append(
        f"| real images (ceiling) | 0 | 0 | {ceiling.get('seg_real_miou', math.nan):.3f} "
        f"| {ceiling.get('seg_real_mde_m', math.nan):.0f} | {correlations['real']:.2f} | - |"
    )
    table = "\n".join(lines) + "\n"
    header = (
        f"{setup.scenes} synth scenes ({setup.scene_size} px at {setup.pixel_size:g} m, DEM at "
        f"{3 * setup.pixel_size:g} m), {setup.patch_size}-px zones patches, split by scene: "
        f"{counts['train']} training patches, {counts['val']} held-out ({setup.held_out} scenes). "
        f"Variant {setup.variant} ({', '.join(setup.generator_set)}), {results[0]['updates']} updates of "
        f"batch {setup.generator_batch} per run, seeds {', '.join(map(str, setup.seeds))}; segmenter: "
        f"{setup.seg_steps} updates on the real training split. Means over seeds (per seed in brackets); "
        f"the dB–slope correlation is over held-out rock pixels (seed-0 runs). Wall time {seconds / 60:.1f} min.\n\n"
    )
    return header + table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Folder for everything the ablation makes.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the flow, not the answer.")
    parser.add_argument("--results", help="Where results.json/.md and rock.png go [default: OUT].")
    args = parser.parse_args(argv)
    setup = SMOKE if args.smoke else DEFAULT
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # every run traces its own functions
    out = Path(args.out)
    results_dir = Path(args.results) if args.results else out
    out.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()

    with_dem, without = make_data(out, setup)
    data_of = {"no elevation": without, "with elevation": with_dem}
    segmenter = train_segmenter(without, out / "segmenter", setup)
    results, first_runs = [], {}
    for name, data in data_of.items():
        for seed in setup.seeds:
            run = out / "runs" / f"{name.replace(' ', '_')}_seed{seed}"
            scores = train_and_evaluate(data, run, segmenter, setup, seed)
            results.append({"condition": name, "seed": seed, **scores})
            first_runs.setdefault(name, run)

    images = held_out_images(with_dem, first_runs)
    correlations = {
        key: rock_slope_correlation(images[key], images["dem_m"], images["zones"]) for key in ("real", *CONDITIONS)
    }
    rock_figure(images, results_dir / "rock.png", setup.figure_patches)
    from pix2pix_sar.data.dataset import split_size

    counts = {s: split_size(with_dem, s) for s in ("train", "val")}
    seconds = time.perf_counter() - t0
    summary = summarise(results, correlations, setup, seconds, counts)
    (results_dir / "results.md").write_text(summary)
    record = {
        "setup": {k: list(v) if isinstance(v, tuple) else v for k, v in setup.__dict__.items()},
        "patches": counts,
        "runs": results,
        "rock_slope_correlation": correlations,
        "wall_seconds": seconds,
        "cpu_seconds": time.process_time() - cpu0,
    }
    (results_dir / "results.json").write_text(jsonio.dumps(record, indent=1) + "\n")
    print(summary)
    print(f"wall {seconds / 60:.1f} min, CPU {record['cpu_seconds'] / 60:.1f} min; results in {results_dir}")


if __name__ == "__main__":
    main()
