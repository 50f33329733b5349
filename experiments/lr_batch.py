"""How to set the learning rate at a larger batch: batch 1 vs batch 8, same images seen.

    python experiments/lr_batch.py --work /tmp/lrb [--epochs 10] [--variant orig]

Prepares the demo's data (768 x 768 synthetic scene, 64-pixel zones patches), then
trains `--variant` with the demo's configuration for the same number of epochs
(so the same number of training images) at batch 1 with the paper's rate 2e-4, and
at batch 8 with that rate unscaled, scaled by sqrt(8) and by 8 (linear). Each run's
last snapshot is evaluated on the validation patches (Dice, SSIM, MAE on [0, 1];
W1 in dB per class, mean over classes). Prints one JSON row per setting with the
wall time of its training.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_RATE = 2e-4


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pix2pix_sar", "-q", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--variant", default="orig")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from pix2pix_sar.evaluation.sweep import evaluate_run, read_per_epoch
    from pix2pix_sar.run_folder import RunFolder

    scene, data = args.work / "scene", args.work / "dataset"
    if not (scene / "scene.tif").exists():
        cli("synth", str(scene), "--width", "768", "--height", "768", "--seed", "0")
    if not data.exists():
        cli(
            "prepare", "--sar", str(scene / "scene.tif"), "--mask", str(scene / "zones.tif"), "--out", str(data),
            "--patch-size", "64", "--classes", "zones",
        )  # fmt: skip
    settings = [
        ("batch 1, 2e-4", 1, BASE_RATE),
        ("batch 8, no scaling", 8, BASE_RATE),
        ("batch 8, sqrt scaling", 8, BASE_RATE * math.sqrt(8)),
        ("batch 8, linear scaling", 8, BASE_RATE * 8),
    ]
    rows = []
    for label, batch, rate in settings:
        run = args.work / f"run_b{batch}_lr{rate:.2e}"
        t0 = time.perf_counter()
        cli(
            "fit", "--data", str(data), "--out", str(run), "--variant", args.variant,
            "--config", str(ROOT / "experiments/demo/config.yaml"), "--set", f"training.epochs={args.epochs}",
            "--set", f"training.checkpoint_every={args.epochs}", "--batch-size", str(batch),
            "--set", f"optimizer.learning_rate={rate}",
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        evaluate_run(run, batch_size=8)
        last = read_per_epoch(RunFolder(run).eval_per_epoch_csv)[-1]
        w1 = [last[f"w1_db_{c}"] for c in ("ocean", "glacier", "rock")]
        row = {
            "setting": label,
            "batch": batch,
            "learning_rate": rate,
            "epochs": args.epochs,
            "fit_seconds": round(seconds, 1),
            "dice": round(last["dice_mean"], 4),
            "ssim": round(last["ssim_mean"], 4),
            "mae": round(last["mae_mean"], 4),
            "w1_db_mean": round(sum(w1) / len(w1), 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
