"""The paper's protocol in one command (Sec. III-C): train the five variants, evaluate
every snapshot, write Fig. 3, Table I and Fig. 4.

    python experiments/paper/run_paper.py --data DATASET --out OUT     # the real thing
    python experiments/paper/run_paper.py --smoke --out OUT            # tiny, CPU, ~30 s

It only chains the user's commands (``fit``, ``evaluate``, ``report``; in one process
so TensorFlow starts once), so every step is resumable: rerun the same command after
a stop and training continues from its last state, evaluation skips done snapshots.

    OUT/runs/<variant>/   run folders (snapshots, eval/per_epoch.csv, eval/curves.png, ...)
    OUT/report/           fig3_curves.png, table1.md/.csv, fig4_examples.png, report.md

--smoke makes a synthetic scene, cuts 32-pixel patches and trains two variants for two
epochs with 8 base filters and two encoder blocks; it checks the flow, not the paper's numbers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pix2pix_sar.cli.main import run_in_process as pix2pix_sar  # one command, as typed

HERE = Path(__file__).resolve().parent
VARIANTS = ("orig", "gen5", "dis3", "l1_1_gan100", "l1_50_gan50")
#: Table I and Fig. 4 of the paper are at epoch 210.
PAPER_EPOCH = 210
SMOKE_VARIANTS = ("orig", "gen5")
SMOKE_FIT = ("--epochs", "2", "--checkpoint-every", "1", "--set", "model.base_filters=8", "--set", "model.unet_depth=2")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="Patch dataset from 'pix2pix-sar prepare' (not with --smoke).")
    parser.add_argument("--out", required=True, help="Folder for the runs and the report.")
    parser.add_argument("--smoke", action="store_true", help="Tiny synthetic dataset, two variants, two epochs.")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, help="Subset of variants (default: all five).")
    parser.add_argument(
        "--epoch", type=int, help=f"Epoch of Table I / Fig. 4 (default: {PAPER_EPOCH}; smoke: the last)."
    )
    parser.add_argument("--batch-size", type=int, default=8, help="Evaluation batch size (default: 8).")
    args = parser.parse_args(argv)
    if bool(args.data) == args.smoke:
        parser.error("give either --data DATASET or --smoke")

    out = Path(args.out)
    variants = args.variants or (SMOKE_VARIANTS if args.smoke else VARIANTS)
    fit_extra: tuple[str, ...] = ()
    data = args.data
    epoch = args.epoch if args.epoch is not None else (None if args.smoke else PAPER_EPOCH)
    if args.smoke:
        data = str(out / "dataset")
        if not (out / "dataset" / "dataset.json").exists():
            pix2pix_sar("synth", str(out / "scene"), "--width", "192", "--height", "192", "--seed", "0")
            pix2pix_sar(
                "prepare",
                "--sar",
                str(out / "scene/scene.tif"),
                "--mask",
                str(out / "scene/zones.tif"),
                "--out",
                data,
                "--patch-size",
                "32",
                "--overwrite",
            )
        fit_extra = SMOKE_FIT

    runs = []
    for variant in variants:
        run = str(out / "runs" / variant)
        pix2pix_sar(
            "-q",
            "fit",
            "--data",
            data,
            "--out",
            run,
            "--variant",
            variant,
            "--config",
            str(HERE / f"{variant}.yaml"),
            *fit_extra,
        )
        pix2pix_sar("-q", "evaluate", run, "--batch-size", str(args.batch_size))
        runs.append(run)
    pix2pix_sar("report", *runs, "--out", str(out / "report"), *(["--epoch", str(epoch)] if epoch else []))


if __name__ == "__main__":
    main()
