"""The augmentation experiment's steps: each chains the user's commands (``synth``,
``prepare``, ``masks``, ``masks --from``, ``fit``, ``generate --samples --as-dataset``,
``seg fit``, ``seg evaluate``) in this process and skips what is already done."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pix2pix_sar.cli.main import run_in_process as pix2pix_sar  # one command, as typed

if TYPE_CHECKING:
    from run import Setup

ROOT = Path(__file__).resolve().parents[2]
#: The generators' configuration: the variant (pix2pix_sar/config.py) + the demo's file +
#: Setup.generator_set + --set VARIANT:key=value. Nothing here repeats a variant's keys.
DEMO_CONFIG = ROOT / "experiments" / "demo" / "config.yaml"


def write_json(path: Path, data) -> None:
    from pix2pix_sar.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")


def harder_factors(seed: int) -> list:
    """The harder benchmark's synth options for scene `seed` (issue 23): fjord width, mélange
    reach, iceberg count and looks drawn per scene, from the scene seed alone, so a content
    redraw (the oracle) keeps its scene's zones and the same draw serves every replicate."""
    rng = np.random.default_rng([seed, 23])
    fjord, melange, icebergs = rng.uniform(0.7, 1.3), rng.uniform(0.5, 3.0), rng.uniform(0.5, 4.0)
    looks = rng.choice([1.0, 2.0, 4.0])
    return ["--fjord-width", f"{fjord:.3f}", "--melange", f"{melange:.3f}", "--icebergs", f"{icebergs:.3f}",
            "--looks", f"{looks:g}"]  # fmt: skip


def synth(folder: Path, seed: int, size: int, content_seed: int | None = None, harder: bool = False) -> Path:
    if not (folder / "zones.tif").exists():
        content = ["--content-seed", content_seed] if content_seed is not None else []
        factors = harder_factors(seed) if harder else []
        pix2pix_sar("-q", "synth", folder, "--width", size, "--height", size, "--seed", seed, *content, *factors)
    return folder


def prepare(scenes: list[Path], out: Path, setup: Setup, scaling_from: Path | None = None) -> Path:
    """All patches of `scenes` in the train split (held-out data are scored as their train split)."""
    if not (out / "dataset.json").exists():
        pairs = [a for s in scenes for a in ("--sar", s / "scene.tif", "--mask", s / "zones.tif")]
        scaling = ["--scaling-from", scaling_from] if scaling_from else []
        pix2pix_sar(
            "-q", "prepare", *pairs, "--out", out, "--patch-size", setup.patch_size, "--classes", "zones",
            "--val-fraction", 0, *scaling, "--overwrite",
        )  # fmt: skip
    return out


def manifest(data: Path) -> list[dict]:
    with (data / "manifest.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["split"] == "train"]


def subset(data: Path, out: Path, keep: list[str], synthetic: bool | None = None) -> Path:
    """A copy of `data` with only the train patches `keep`; `synthetic` relabels it (the
    oracle's synth patches are synthetic data for --synthetic-share)."""
    from pix2pix_sar.data.dataset import MANIFEST_FIELDS

    if (out / "dataset.json").exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    keep_set = set(keep)
    rows = [r for r in manifest(data) if r["id"] in keep_set]
    for split in ("train", "val"):
        (tmp / split).mkdir(parents=True)
    for r in rows:
        for kind in ("sar", "mask"):
            shutil.copyfile(data / "train" / f"{r['id']}_{kind}.tif", tmp / "train" / f"{r['id']}_{kind}.tif")
    with (tmp / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    info = json.loads((data / "dataset.json").read_text())
    if synthetic is not None:
        info["synthetic"] = synthetic
    (tmp / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
    tmp.rename(out)
    return out


def mask_folder(data: Path, ids: list[str], out: Path) -> Path:
    """The masks of `ids` as a folder of GeoTIFFs, as 'generate' reads them."""
    if not out.exists():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for pid in ids:
            shutil.copyfile(data / "train" / f"{pid}_mask.tif", tmp / f"{pid}_mask.tif")
        tmp.rename(out)
    return out


def front_patches(data: Path) -> list[str]:
    """Training patches whose mask holds a calving front ('masks --from' moves one)."""
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.evaluation.fronts import front_mask

    split = load_split(data, "train")
    return [pid for pid, zones in zip(split.ids, split.zones) if front_mask(zones).any()]


def real_subset(data: Path, out: Path, fraction: float, seed: int) -> Path:
    """round(fraction * N) training patches; nested across fractions (one permutation per replicate)."""
    if fraction >= 1:
        return data
    ids = [r["id"] for r in manifest(data)]
    order = np.random.default_rng(seed).permutation(len(ids))
    return subset(data, out, sorted(ids[i] for i in order[: max(1, round(fraction * len(ids)))]))


def new_masks(real: Path, out: Path, setup: Setup, seed: int) -> dict[str, Path]:
    """Mask folders: the real training masks ("samples"), and the two new-mask sources, each
    enough for n patches (n = real patches)."""
    ids = [r["id"] for r in manifest(real)]
    n, folders = len(ids), {"samples": mask_folder(real, ids, out / "samples")}
    artificial = folders["artificial"] = out / "artificial"
    if not artificial.exists():
        per_mask = (setup.artificial_mask_size // setup.patch_size) ** 2
        size = setup.artificial_mask_size
        pix2pix_sar("-q", "masks", artificial, "--count", -(-n // per_mask), "--size", size, "--seed", seed)
    moved = folders["moved"] = out / "moved"
    if not moved.exists():
        tmp = out / "moved.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        with_front = front_patches(real)
        rng = np.random.default_rng(seed)
        sources = rng.choice(with_front, size=min(setup.moved_front_sources, len(with_front)), replace=False)
        for i, pid in enumerate(sources):
            pix2pix_sar(
                "-q", "masks", tmp / f"from_{i}", "--from", real / "train" / f"{pid}_mask.tif",
                "--count", -(-n // len(sources)), "--advance", f"{(-1) ** i * setup.advance_px}px",
                "--roughness", f"{setup.roughness_px}px", "--seed", seed + i,
            )  # fmt: skip
            for path in sorted((tmp / f"from_{i}").glob("*.tif")):
                path.rename(tmp / f"from{i}_{path.name}")
            (tmp / f"from_{i}").rmdir()
        tmp.rename(moved)
    return folders


def trimmed(data: Path, out: Path, count: int, seed: int) -> Path:
    """`count` patches of `data`, drawn with `seed` (all of them if it has fewer)."""
    ids = [r["id"] for r in manifest(data)]
    keep = np.random.default_rng(seed).choice(ids, size=min(count, len(ids)), replace=False)
    return subset(data, out, [str(k) for k in keep])


def generated_pool(run: Path, real: Path, masks: dict[str, Path], out: Path, setup: Setup, seeds: dict) -> dict:
    """Source -> dataset: K samples of every real mask; n patches each from artificial and moved masks."""
    n, pool = len(manifest(real)), {}
    for source, folder in masks.items():
        whole = out / f"{source}_all"
        if not (whole / "dataset.json").exists():
            k = setup.samples if source == "samples" else 1
            pix2pix_sar(
                "-q", "generate", folder, "--run", run, "--as-dataset", whole, "--val-fraction", 0,
                "--samples", k, "--seed", seeds["generate"],
            )  # fmt: skip
        count = n * setup.samples if source == "samples" else n
        pool[source] = trimmed(whole, out / source, count, seeds["pool_masks"] + 7)
    return pool


def oracle_pool(real: Path, draws: Path, scene_of: dict[str, tuple], out: Path, setup: Setup, seeds: dict) -> dict:
    """The oracle mirror of generated_pool: the K content redraws of exactly the real subset's
    windows ("samples"), and 2n patches of new synth scenes ("new": artificial + moved)."""

    def scene(row: dict) -> tuple:  # (train seed or None, "real" / "redraw" / "new")
        return scene_of[str(Path(row["source"]).resolve())]

    n = len(manifest(real))
    windows = {(scene(r)[0], r["col_off"], r["row_off"]) for r in manifest(real)}
    rows = manifest(draws)
    redraws = [
        r["id"] for r in rows if scene(r)[1] == "redraw" and (scene(r)[0], r["col_off"], r["row_off"]) in windows
    ]
    if len(redraws) != setup.samples * n:
        raise SystemExit(f"{draws}: {len(redraws)} redrawn patches for {n} real ones x K={setup.samples}")
    new = [r["id"] for r in rows if scene(r)[1] == "new"]
    if len(new) < 2 * n:  # the oracle mirrors the generated pool's 2n patches from new masks
        raise SystemExit(f"{draws}: {len(new)} patches of new scenes for 2 x {n}; raise Setup.oracle_new_scenes")
    keep = np.random.default_rng(seeds["pool_masks"] + 3).choice(new, size=2 * n, replace=False)
    return {
        "samples": subset(draws, out / "samples", redraws, synthetic=True),
        "new": subset(draws, out / "new", [str(k) for k in keep], synthetic=True),
    }


def train_generator(variant: str, real: Path, run: Path, setup: Setup, seed: int, sets: list[str]) -> Path:
    per_epoch = -(-len(manifest(real)) // setup.generator_batch)
    epochs = max(1, math.ceil(setup.generator_steps / per_epoch))
    if not (run / "snapshots" / f"generator_epoch_{epochs:04d}.keras").exists():
        set_args = [a for s in (*setup.generator_set, *sets, f"training.seed={seed}") for a in ("--set", s)]
        pix2pix_sar(
            "-q", "fit", "--data", real, "--out", run, "--variant", variant, "--config", DEMO_CONFIG, *set_args,
            "--batch-size", setup.generator_batch, "--epochs", epochs, "--checkpoint-every", epochs,
        )  # fmt: skip
    return run


def segmenter_run(data: list[Path], share: int | None, run: Path, held_out: Path, setup: Setup, seed: int) -> dict:
    result = run / "eval" / "seg_train.json"  # the held-out dataset's patches are its train split
    if not result.exists():
        shares = ["--synthetic-share", share / 100] if share is not None and share < 100 else []
        pix2pix_sar(
            "-q", "seg", "fit", *(a for d in data for a in ("--data", d)), "--out", run, "--steps", setup.seg_steps,
            "--batch-size", setup.seg_batch, "--seed", seed, *shares, *setup.seg_args,
        )  # fmt: skip
        pix2pix_sar("-q", "seg", "evaluate", run, "--data", held_out, "--split", "train")
    return json.loads(result.read_text())  # json reads NaN (no front found)
