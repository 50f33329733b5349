"""orig vs scene on the same synthetic scene, the same budget: whole-scene quality.

    python experiments/scene_vs_orig.py --work /tmp/svo [--size 1024] [--epochs 20]
        [--crop 1000x900] [--figure docs/scene_vs_orig.png] [--zoom-figure docs/scene_vs_orig_zoom.png]
        [--json out.json]

1. `synth` a size x size scene, `prepare --classes zones` 64-pixel patches.
2. `fit` each variant with the demo's configuration (experiments/demo/config.yaml:
   32 base filters) for the same number of epochs, i.e. the same images seen; the
   wall time is reported beside it.
3. Generate the scene's zones cropped to --crop (1000 x 900: not a multiple of
   any tile) with each run's default tiling, and measure against the real scene:
   grid statistic (max over strides 16..256, and where), seam ratio, W1 in dB per
   class, ENL ratio per class, spectral distance (dB, on the 64-pixel patches of
   the scene), diversity (mean per-pixel std over 4 seeds, in dB), and for `scene`
   the largest difference between --tile 128 and --tile 1024 in model units.
4. A figure: zones | real | each variant (whole crop).

Prints one JSON row per variant (and one for the real scene's grid statistic).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pix2pix_sar", "-q", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--crop", default="1000x900")
    parser.add_argument("--variants", default="orig,scene")
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--zoom-figure", type=Path, help="the same, on a 320x320 window of rock, glacier and ocean")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.crop.split("x"))

    from pix2pix_sar import geo
    from pix2pix_sar.data.dataset import load_info
    from pix2pix_sar.evaluation.figures import plot_image_grid
    from pix2pix_sar.evaluation.sar_stats import SAR_CLASSES, SarStatistics
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.generation.seams import grid_statistic, seam_stats

    work = args.work
    scene = work / "scene"
    if not (scene / "scene.tif").exists():
        cli("synth", str(scene), "--width", str(args.size), "--height", str(args.size), "--seed", "0")
    data = work / "dataset"
    if not data.exists():
        cli(
            "prepare", "--sar", str(scene / "scene.tif"), "--mask", str(scene / "zones.tif"), "--out", str(data),
            "--patch-size", "64", "--classes", "zones",
        )  # fmt: skip
    scaling = load_info(data).scaling
    zones = geo.read_raster(scene / "zones.tif")[0][:height, :width]
    real = scaling.to_model(geo.read_raster(scene / "scene.tif")[0][:height, :width])
    real[zones == 0] = -1.0
    real_db = scaling.model_to_db(real)
    valid = zones != 0
    rows = [{"what": "real scene", **_grid(grid_statistic(real_db, zones))}]
    print(json.dumps(rows[0]), flush=True)

    images = {}
    for variant in args.variants.split(","):
        run = work / f"run_{variant}"
        t0 = time.perf_counter()
        cli(
            "fit", "--data", str(data), "--out", str(run), "--variant", variant,
            "--config", str(ROOT / "experiments/demo/config.yaml"), "--set", f"training.epochs={args.epochs}",
            "--set", f"training.checkpoint_every={args.epochs}",
        )  # fmt: skip
        fit_seconds = time.perf_counter() - t0
        settings = TileSettings(seed=0)
        seeds = []
        for seed in range(4):
            gen = RunGenerator.from_run(run, seed=seed)
            seeds.append(generate_image(gen, zones, TileSettings(seed=seed)))
        image = seeds[0]
        images[variant] = np.where(valid, image, -1.0)
        plan = gen.plan(width, height, settings)
        db = scaling.model_to_db(image)
        stats = SarStatistics(scaling)
        patches = _patches(zones), _patches(real), _patches(images[variant])
        stats.add(*patches)
        summary = stats.summary()
        row = {
            "what": variant,
            "epochs": args.epochs,
            "fit_seconds": round(fit_seconds, 1),
            "tile": plan.tile,
            **_grid(grid_statistic(db, zones)),
            "seam_ratio": round(seam_stats(db, plan, valid).ratio, 3) if plan.tile_count > 1 else float("nan"),
            **{f"w1_db_{c}": round(summary[f"w1_db_{c}"], 2) for c in SAR_CLASSES},
            "w1_db_mean": round(float(np.mean([summary[f"w1_db_{c}"] for c in SAR_CLASSES])), 2),
            **{f"enl_ratio_{c}": round(summary[f"enl_ratio_{c}"], 2) for c in SAR_CLASSES},
            "spectral_distance_db": round(summary["spectral_distance_db"], 2),
            "diversity_db": round(float(np.std([scaling.model_to_db(s) for s in seeds], axis=0)[valid].mean()), 3),
        }
        if gen.model_config.whole_scene:
            small = generate_image(RunGenerator.from_run(run, seed=0), zones, TileSettings(tile=128, seed=0))
            large = generate_image(RunGenerator.from_run(run, seed=0), zones, TileSettings(tile=1024, seed=0))
            row["tile128_vs_tile1024"] = float(np.abs(small - large).max())
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.figure:
        columns = [("real", real[None]), *((v, images[v][None]) for v in images)]
        plot_image_grid(zones[None], columns, args.figure, row_labels=[f"{width}x{height} crop"])
    if args.zoom_figure:
        window = (slice(150, 470), slice(80, 400))
        columns = [("real", real[window][None]), *((v, images[v][window][None]) for v in images)]
        plot_image_grid(zones[window][None], columns, args.zoom_figure, row_labels=["320x320 window"])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


def _grid(result) -> dict:
    return {"grid_statistic": round(result.value, 2), "grid_stride": result.stride}


def _patches(image: np.ndarray, size: int = 64) -> np.ndarray:
    """Non-overlapping size x size patches of a 2-D array, (N, size, size)."""
    h, w = (image.shape[0] // size) * size, (image.shape[1] // size) * size
    return image[:h, :w].reshape(h // size, size, w // size, size).swapaxes(1, 2).reshape(-1, size, size)


if __name__ == "__main__":
    main()
