"""pix2pix-sar evaluate: Dice, SSIM and SAR statistics for every snapshot of a run."""

from __future__ import annotations

import sys

import click

from pix2pix_sar.cli.options import cli_state, quiet_tensorflow, seed_opt, user_errors


class ProgbarEvalReporter:
    """A Keras progress bar per snapshot (a live bar on a terminal, one line otherwise)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def epoch_started(self, epoch, images):
        import keras

        if not self.quiet:
            click.echo(f"snapshot epoch {epoch}")
            self.bar = keras.utils.Progbar(images, verbose=1 if sys.stdout.isatty() else 2, unit_name="image")

    def batch_finished(self, images_done):
        if self.bar is not None:
            self.bar.update(images_done)

    def epoch_finished(self, epoch, row):
        if not self.quiet:
            click.echo(
                f"  dice {row['dice_mean']:.4f} ± {row['dice_std']:.4f}   "
                f"ssim {row['ssim_mean']:.4f} ± {row['ssim_std']:.4f}"
            )


@click.command(name="evaluate")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(file_okay=False), help="Dataset folder (default: the one the run trained on).")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True, help="Masks per generator call.")
@seed_opt
@click.pass_context
@user_errors
def command(ctx, run, data, batch_size, seed):
    """Evaluate every generator snapshot of RUN on all validation patches.

    Writes RUN/eval/per_image.csv, per_epoch.csv (means, std, SAR statistics) and
    curves.png. Snapshots already evaluated are skipped, so rerun it as training
    goes on. Generation uses the same rule as preview and generation (per-image
    BatchNorm, dropout on, seeded by --seed).
    """
    quiet_tensorflow()
    from pix2pix_sar.evaluation.sweep import evaluate_run

    quiet = cli_state(ctx).quiet
    result = evaluate_run(run, data, batch_size=batch_size, seed=seed, reporter=ProgbarEvalReporter(quiet))
    if result.evaluated:
        click.echo(
            f"evaluated epoch(s) {', '.join(map(str, result.evaluated))} "
            f"({result.images_per_second:.1f} images/s); skipped {len(result.skipped)} already done"
        )
    else:
        click.echo(f"all {len(result.skipped)} snapshot(s) already evaluated; nothing to do")
    click.echo(f"per-epoch metrics: {result.run.eval_per_epoch_csv}\ncurves: {result.run.eval_curves_png}")
