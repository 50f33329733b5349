"""Does synthetic data help a calving-front segmenter? The augmentation experiment in one command.

    python experiments/augmentation/run.py --out OUT                 # default data, ~1 h on 2 CPU cores
    python experiments/augmentation/run.py --data DATASET --out OUT  # your dataset (val split = held out)
    python experiments/augmentation/run.py --smoke --out OUT         # the flow on tiny data, < 1 min

Protocol (issue 10):

1. Real data: DATASET's train split trains, its val split is held out (prepare it with
   ``--split-by scene`` so held-out scenes are never seen). Default: five ``synth``
   scenes (seeds 0-4, 512x512 at 40 m), 64-pixel zones patches, split by scene 3 / 2.
2. For each real fraction (10 % and 100 % of the real training patches; the 10 % subset
   is drawn once, seeded), a generator (variant ``scene``) is trained on that subset
   only (no leakage), for the same number of updates at both fractions; its last
   snapshot is used (held-out scenes never pick an epoch).
3. The synthetic pool is twice the real training set: half generated from the real
   training masks, half from new masks — artificial ones (``masks``) and moved-front
   variants of real training masks (``masks --from``), in equal parts.
4. The segmenter (``seg fit``) trains with the same number of updates on: real only;
   real + synthetic at shares 0.25 and 0.5 (``--synthetic-share``); synthetic only —
   each with several seeds.
5. ``seg evaluate`` on the held-out split: mIoU and front MDE; mean and 95 % t-interval
   over seeds (n = seeds) in OUT/results.md, results.csv and results.png.

Every step skips what is already done, so rerunning after a stop continues.
Commands run in this process (TensorFlow starts once), exactly as a user types them.
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

from pix2pix_sar.cli.main import run_in_process as pix2pix_sar  # one command, as typed


@dataclass(frozen=True)
class Setup:
    """Sizes of one experiment: the default (about an hour on 2 cores) or the smoke test."""

    scenes: int = 5  # synth scenes (default data only)
    held_out: int = 2  # of them held out
    scene_size: int = 512
    patch_size: int = 64
    fractions: tuple[float, ...] = (0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    generator_steps: int = 2000  # generator updates, at every fraction
    generator_batch: int = 4
    generator_set: tuple[str, ...] = ("model.base_filters=32",)
    seg_steps: int = 600
    seg_batch: int = 8
    seg_args: tuple[str, ...] = ("--base-filters", "16", "--depth", "4")
    artificial_mask_size: int = 256
    moved_front_sources: int = 4  # real training masks that 'masks --from' varies


DEFAULT = Setup()
SMOKE = Setup(
    scenes=3,
    held_out=1,
    scene_size=128,
    patch_size=32,
    fractions=(0.5,),
    seeds=(0, 1),
    generator_steps=8,
    generator_batch=4,
    generator_set=("model.base_filters=8",),
    seg_steps=2,
    seg_batch=4,
    seg_args=("--base-filters", "4", "--depth", "2"),
    artificial_mask_size=64,
    moved_front_sources=2,
)

#: Segmenter training conditions: name -> synthetic share (None: no synthetic data; 1.0: synthetic only).
CONDITIONS = {"real": None, "real+syn 0.25": 0.25, "real+syn 0.5": 0.5, "synthetic": 1.0}


def default_data(out: Path, setup: Setup) -> Path:
    data = out / "real"
    if (data / "dataset.json").exists():
        return data
    scenes = []
    for seed in range(setup.scenes):
        folder = out / "scenes" / f"scene_{seed}"
        if not (folder / "zones.tif").exists():
            size = setup.scene_size
            pix2pix_sar("synth", folder, "--width", size, "--height", size, "--seed", seed)
        scenes.append(folder)
    args = []
    for folder in scenes:
        args += ["--sar", folder / "scene.tif", "--mask", folder / "zones.tif"]
    pix2pix_sar(
        "-q",
        "prepare",
        *args,
        "--out",
        data,
        "--patch-size",
        setup.patch_size,
        "--classes",
        "zones",
        "--split-by",
        "scene",
        "--val-fraction",
        setup.held_out / setup.scenes,
    )
    return data


def train_ids(data: Path) -> list[str]:
    from pix2pix_sar.data.dataset import load_manifest

    return [r.id for r in load_manifest(data) if r.split == "train"]


def subset(data: Path, out: Path, keep: list[str], split_of: str = "train") -> Path:
    """A copy of `data` with only the `keep` patches of `split_of` (and all others)."""
    from pix2pix_sar.data.dataset import MANIFEST_FIELDS

    if (out / "dataset.json").exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    keep_set = set(keep)
    with (data / "manifest.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] != split_of or r["id"] in keep_set]
    for split in ("train", "val"):
        (tmp / split).mkdir(parents=True)
    for r in rows:
        for kind in ("sar", "mask"):
            shutil.copyfile(data / r["split"] / f"{r['id']}_{kind}.tif", tmp / r["split"] / f"{r['id']}_{kind}.tif")
    with (tmp / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    shutil.copyfile(data / "dataset.json", tmp / "dataset.json")
    tmp.rename(out)
    return out


def mask_folder(data: Path, ids: list[str], out: Path) -> Path:
    """The masks of `ids` (train split) as a folder of GeoTIFFs, as 'generate' reads them."""
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for pid in ids:
        shutil.copyfile(data / "train" / f"{pid}_mask.tif", tmp / f"{pid}_mask.tif")
    tmp.rename(out)
    return out


def front_patches(data: Path) -> list[str]:
    """Training patches whose mask holds a calving front (glacier next to ocean)."""
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.evaluation.fronts import front_mask

    split = load_split(data, "train")
    return [pid for pid, zones in zip(split.ids, split.zones) if front_mask(zones).any()]


def synthetic_pool(real: Path, run: Path, out: Path, setup: Setup, seed: int) -> list[Path]:
    """Twice the real training set: n from the real masks, n from new masks (half artificial,
    half moved fronts of real masks), each an 'as-dataset' synthetic set."""
    ids = train_ids(real)
    n = len(ids)
    from_real = out / "from_real_masks"
    if not (from_real / "dataset.json").exists():
        masks = mask_folder(real, ids, out / "masks_real")
        pix2pix_sar("-q", "generate", masks, "--run", run, "--as-dataset", from_real, "--val-fraction", 0)

    new_masks = out / "masks_new"
    if not new_masks.exists():
        tmp = out / "masks_new.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        patches = (setup.artificial_mask_size // setup.patch_size) ** 2
        count = math.ceil(n / 2 / patches)
        size = setup.artificial_mask_size
        pix2pix_sar("-q", "masks", tmp, "--count", count, "--size", size, "--seed", seed, "--pixel-size", 40)
        rng = np.random.default_rng(seed)
        with_front = front_patches(real)  # 'masks --from' moves a calving front: sources need one
        sources = rng.choice(with_front, size=min(setup.moved_front_sources, len(with_front)), replace=False)
        per_source = math.ceil(n / 2 / max(1, len(sources)))
        for i, pid in enumerate(sources):
            moved = out / f"moved_{i}"
            shutil.rmtree(moved, ignore_errors=True)
            pix2pix_sar(
                "-q", "masks", moved, "--from", real / "train" / f"{pid}_mask.tif", "--count", per_source,
                "--advance", f"{(-1) ** i * 4}px", "--roughness", "2px", "--seed", seed + i,
            )  # fmt: skip
            for path in sorted(moved.glob("*.tif")):
                path.rename(tmp / f"moved{i}_{path.name}")
            moved.rmdir()
        tmp.rename(new_masks)
    from_new = out / "from_new_masks_all"
    if not (from_new / "dataset.json").exists():
        pix2pix_sar("-q", "generate", new_masks, "--run", run, "--as-dataset", from_new, "--val-fraction", 0)
    # Exactly n patches from new masks: half artificial, half moved fronts where both suffice.
    new_ids = train_ids(from_new)
    moved_ids = [i for i in new_ids if i.startswith("moved")]
    artificial_ids = [i for i in new_ids if not i.startswith("moved")]
    rng = np.random.default_rng(seed + 1)
    take_moved = min(len(moved_ids), n // 2)
    take_art = min(len(artificial_ids), n - take_moved)
    keep = [*rng.choice(moved_ids, take_moved, replace=False), *rng.choice(artificial_ids, take_art, replace=False)]
    trimmed = subset(from_new, out / "from_new_masks", [str(k) for k in keep])
    return [from_real, trimmed]


def run_generator(real: Path, out: Path, setup: Setup) -> Path:
    n = len(train_ids(real))
    steps_per_epoch = max(1, n // setup.generator_batch)
    epochs = max(1, math.ceil(setup.generator_steps / steps_per_epoch))
    sets = [arg for s in setup.generator_set for arg in ("--set", s)]
    pix2pix_sar(
        "-q", "fit", "--data", real, "--out", out, "--variant", "scene", "--batch-size", setup.generator_batch,
        "--epochs", epochs, "--checkpoint-every", epochs, *sets,
    )  # fmt: skip
    return out


def seg_score(data_dirs: list[Path], share: float | None, out: Path, held_out: Path, setup: Setup, seed: int) -> dict:
    result_file = out / "eval" / "seg_val.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    data_args = [a for d in data_dirs for a in ("--data", d)]
    share_args = ["--synthetic-share", share] if share is not None and 0 < share < 1 else []
    pix2pix_sar(
        "-q", "seg", "fit", *data_args, "--out", out, "--steps", setup.seg_steps, "--batch-size", setup.seg_batch,
        "--seed", seed, *share_args, *setup.seg_args,
    )  # fmt: skip
    from pix2pix_sar.evaluation.segscore import seg_evaluate

    return seg_evaluate(out, held_out, split="val")


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % t-interval over seeds (NaN half-width for n < 2)."""
    from scipy import stats

    x = np.asarray([v for v in values if math.isfinite(v)], float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def summarise(results: list[dict], out: Path, setup: Setup, seconds: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for fraction in setup.fractions:
        for condition in CONDITIONS:
            runs = [r for r in results if r["fraction"] == fraction and r["condition"] == condition]
            miou, miou_ci = t_interval([r["miou"] for r in runs])
            mde, mde_ci = t_interval([r["mde_m"] for r in runs])
            rows.append(
                {
                    "real_fraction": fraction,
                    "condition": condition,
                    "n": len(runs),
                    "miou": miou,
                    "miou_ci95": miou_ci,
                    "mde_m": mde,
                    "mde_ci95": mde_ci,
                    "real_patches": runs[0]["real_patches"],
                    "synthetic_patches": runs[0]["synthetic_patches"],
                }
            )
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| real patches | condition | mIoU (mean ± 95 % CI) | MDE m (mean ± 95 % CI) | n seeds |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['real_fraction']:.0%} ({r['real_patches']}) | {r['condition']} | "
            f"{r['miou']:.3f} ± {r['miou_ci95']:.3f} | {r['mde_m']:.0f} ± {r['mde_ci95']:.0f} | {r['n']} |"
        )
    table = "\n".join(lines) + "\n"
    (out / "results.md").write_text(
        f"Held-out split of the real data; {len(setup.seeds)} seeds per condition; "
        f"{setup.seg_steps} segmenter updates each; wall time {seconds / 60:.1f} min.\n\n{table}"
    )

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    width = 0.8 / len(CONDITIONS)
    for k, condition in enumerate(CONDITIONS):
        sel = [r for r in rows if r["condition"] == condition]
        x = np.arange(len(sel)) + (k - (len(CONDITIONS) - 1) / 2) * width
        for ax, key in zip(axes, ("miou", "mde_m")):
            ci = "miou_ci95" if key == "miou" else "mde_ci95"
            ax.bar(x, [r[key] for r in sel], width, yerr=[r[ci] for r in sel], capsize=3, label=condition)
    for ax, name in zip(axes, ("mIoU (held-out scenes)", "front MDE (m, held-out scenes)")):
        ax.set_xticks(np.arange(len(setup.fractions)), [f"{f:.0%} real" for f in setup.fractions])
        ax.set_ylabel(name)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=110)
    plt.close(fig)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="Real zones dataset; its val split is held out (default: synthetic scenes).")
    parser.add_argument("--out", required=True, help="Folder for everything the experiment makes.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the flow, not the answer.")
    args = parser.parse_args(argv)
    setup = SMOKE if args.smoke else DEFAULT
    # Every seg fit traces its own train step; TensorFlow counts those as retracing.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    data = Path(args.data) if args.data else default_data(out, setup)

    results = []
    all_train = train_ids(data)
    for fraction in setup.fractions:
        tag = f"real{round(fraction * 100):03d}"
        if fraction < 1:
            rng = np.random.default_rng(1234)
            keep = sorted(rng.choice(all_train, max(1, round(fraction * len(all_train))), replace=False))
            real = subset(data, out / tag / "real", [str(k) for k in keep])
        else:
            real = data
        run = run_generator(real, out / tag / "generator", setup)
        pool = synthetic_pool(real, run, out / tag / "synthetic", setup, seed=0)
        n_real, n_syn = len(train_ids(real)), sum(len(train_ids(p)) for p in pool)
        for condition, share in CONDITIONS.items():
            data_dirs = pool if share == 1.0 else [real] if share is None else [real, *pool]
            for seed in setup.seeds:
                name = f"{condition.replace(' ', '_').replace('+', '_')}_seed{seed}"
                scores = seg_score(data_dirs, share, out / tag / "seg" / name, data, setup, seed)
                results.append(
                    {
                        "fraction": fraction,
                        "condition": condition,
                        "seed": seed,
                        "miou": scores["miou"],
                        "mde_m": scores.get("mde_m", math.nan),
                        "real_patches": n_real,
                        "synthetic_patches": n_syn,
                    }
                )
    seconds = time.perf_counter() - t0
    with (out / "runs.json").open("w") as fh:
        json.dump(results, fh, indent=1)
    table = summarise(results, out, setup, seconds)
    cpu = time.process_time() - cpu0
    print(table)
    print(f"wall {seconds / 60:.1f} min, CPU {cpu / 60:.1f} min (this process); results in {out}")


if __name__ == "__main__":
    main()
