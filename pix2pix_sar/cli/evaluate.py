"""pix2pix-sar evaluate: Dice, SSIM and SAR statistics for every snapshot of a run."""

from __future__ import annotations

import math

import click

from pix2pix_sar.cli.options import cli_state, input_opt, on_interrupt, quiet_tensorflow, say, seed_opt, user_errors
from pix2pix_sar.cli.progress import Progress


class EvalProgress:
    """One bar over the images of every snapshot this call evaluates, with the time left;
    each snapshot's scores as a line above it (cli/progress.py)."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.offset = 0  # images of the snapshots before this one

    def epoch_started(self, epoch, images, index, count):
        if index == 0:
            self.bar.start("evaluating", images * count)
        self.offset = index * images
        self.bar.update(self.offset, status=f"snapshot epoch {epoch} ({index + 1}/{count})")

    def batch_finished(self, images_done):
        self.bar.update(self.offset + images_done)

    def epoch_finished(self, epoch, row):
        seg = ""
        if "seg_miou" in row:
            seg = f"   seg mIoU {row['seg_miou']:.3f} (real {row['seg_real_miou']:.3f})"
            if math.isfinite(row["seg_real_mde_m"]) or math.isfinite(row["seg_mde_m"]):
                seg += f", MDE {row['seg_mde_m']:.0f} m (real {row['seg_real_mde_m']:.0f} m)"
        self.bar.echo(
            f"epoch {epoch}: dice {row['dice_mean']:.4f} ± {row['dice_std']:.4f}   "
            f"ssim {row['ssim_mean']:.4f} ± {row['ssim_std']:.4f}{seg}"
        )


@click.command(name="evaluate")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(file_okay=False), help="Dataset folder (default: the one the run trained on).")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True, help="Masks per generator call.")
@click.option(
    "--segmenter",
    type=click.Path(file_okay=False),
    help="Segmenter run folder ('seg fit'): add its mIoU and MDE on the generated images (and on the real ones).",
)
@click.option(
    "--split",
    type=click.Choice(["val", "test"]),
    default="val",
    show_default=True,
    help="Patches to evaluate on: validation, or the test split a CaFFe dataset keeps. RUN/eval holds one split.",
)
@click.option(
    "--scene",
    nargs=2,
    type=click.Path(dir_okay=False),
    metavar="ZONES SAR",
    help="Also measure the last snapshot on a whole scene (zone raster and its real SAR): structure ratios, "
    "W1/ENL, grid statistic, spread across --samples (and with --segmenter the feature distance), "
    "written to RUN/eval/scene_<ZONES name>.json.",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="With --scene: images generated for the scene, seeds seed ... seed+K-1.",
)
@click.option(
    "--sensor",
    help="With --scene, for a run conditioned on the sensor: the sensor to render [default: the one the SAR "
    "file's SENSOR metadata item names, which synth --sensor writes].",
)
@seed_opt
@input_opt
@click.pass_context
@user_errors
def command(ctx, run, data, batch_size, segmenter, split, scene, samples, sensor, seed, input_mode):
    """Evaluate every generator snapshot of RUN on all validation patches (or --split test).

    Writes RUN/eval/per_image.csv, per_epoch.csv (means, std, SAR statistics) and
    curves.png. Snapshots already evaluated are skipped, so rerun it as training
    goes on. Generation uses the same rule as preview and generation: the generator
    runs as in training (each image's own normalisation statistics where the variant
    has normalisation, its noise on: keyed dropout, or the scene variant's coordinate noise),
    seeded by --seed.

    With --segmenter, per_epoch.csv gains seg_miou and seg_mde_m (the segmenter on
    each snapshot's images against their masks) and seg_real_miou / seg_real_mde_m
    (the same segmenter on the real images: the ceiling), for every snapshot.

    A packed dataset ('pix2pix-sar dataset pack') can be streamed batch by batch
    (--input streamed; auto streams above the fit threshold): memory then does not
    grow with the split, and targets are the pack's float16 values. RUN/eval keeps
    one input; a switch is refused.

    With --scene ZONES SAR, the last snapshot also generates the whole scene's zones
    --samples times and is measured against the real scene (docs/evaluation.md,
    "Whole-scene structure, variety and feature distance").
    """
    if sensor and not scene:
        raise click.UsageError("--sensor applies to --scene; patches are generated with their own sensor")
    quiet_tensorflow()
    from pix2pix_sar.evaluation.sweep import evaluate_run

    quiet = cli_state(ctx).quiet
    on_interrupt(ctx, f"snapshots evaluated so far are kept in {run}/eval; a rerun evaluates the rest")
    bar = ctx.with_resource(Progress(unit="image", enabled=not quiet))
    result = evaluate_run(
        run,
        data,
        batch_size=batch_size,
        seed=seed,
        reporter=EvalProgress(bar),
        segmenter=segmenter,
        split=split,
        input_mode=input_mode,
    )
    if result.evaluated or result.seg_scored:
        done = f"evaluated epoch(s) {', '.join(map(str, result.evaluated)) or 'none new'}"
        if result.seg_scored:
            done += f"; segmentation score for epoch(s) {', '.join(map(str, result.seg_scored))}"
        say(ctx, f"{done} ({result.images_per_second:.1f} images/s); {len(result.skipped)} were evaluated before")
    else:
        say(ctx, f"all {len(result.skipped)} snapshot(s) already evaluated; nothing to do")
    say(ctx, f"per-epoch metrics: {result.run.eval_per_epoch_csv}\ncurves: {result.run.eval_curves_png}")
    if scene:
        from pix2pix_sar.evaluation.scene_eval import evaluate_scene, scene_json_path

        measured = evaluate_scene(run, *scene, samples=samples, seed=seed, segmenter=segmenter, sensor=sensor)
        if not quiet:
            ratios = measured["structure_ratio"]
            shown = ", ".join(
                f"{k} {v:.2f}" for k, v in ratios.items() if v is not None and k in measured["structure_goal_keys"]
            )
            say(ctx, f"scene (epoch {measured['epoch']}, {samples} samples): structure vs real: {shown}")
        say(ctx, f"scene measures: {scene_json_path(run, scene[0])}")
