"""pix2pix-sar seg: the reference zone segmenter (train it on a patch dataset)."""

from __future__ import annotations

import click

from pix2pix_sar import jsonio
from pix2pix_sar.cli.options import (
    cli_state,
    config_opt,
    given_here,
    input_opt,
    quiet_tensorflow,
    say,
    set_opt,
    state_every_opt,
    user_errors,
)
from pix2pix_sar.cli.progress import Progress


class SegProgress:
    """One bar over the steps still to train, with the time left and the loss (cli/progress.py)."""

    def __init__(self, bar: Progress):
        self.bar = bar

    def started(self, step: int, total: int) -> None:
        self.bar.start("training", total)
        self.bar.done = step

    def step_finished(self, step: int, loss: float) -> None:
        self.bar.update(step, status=f"loss {loss:.4f}")


@click.group(name="seg")
def command():
    """Reference zone segmenter: SAR patches -> rock / glacier / ocean (or land / ocean)."""


@command.command(name="fit")
@click.option(
    "--data",
    required=True,
    multiple=True,
    type=click.Path(file_okay=False),
    help="Dataset folder from 'prepare' or 'generate --as-dataset' (repeat for several).",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Segmenter run folder (created, or resumed)."
)
@click.option("--steps", type=click.IntRange(min=1), help="Train until this many updates (epochs wrap).")
@click.option("--epochs", type=click.IntRange(min=1), help="Train until this many full epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Patches per step.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of weights and data order.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--base-filters", type=click.IntRange(min=1), default=16, show_default=True, help="U-Net width.")
@click.option("--depth", type=click.IntRange(min=1), default=4, show_default=True, help="U-Net levels.")
@click.option(
    "--synthetic-share",
    type=click.FloatRange(0, 1),
    help="Share of synthetic patches in every batch (rounded to whole patches; default: all patches pooled).",
)
@state_every_opt(
    "State saves (resume points): a number of epochs, or wall time such as 90s, 10m, 1h (checked after "
    "every step and at every epoch end, as fit's). Always at the end and on SIGTERM/SIGINT.",
    default="10m",
)
@input_opt
@config_opt
@set_opt
@click.pass_context
@user_errors
def fit_command(ctx, data, out, config_file, assignments, **options):
    """Train the segmenter on the train splits of the --data sets into OUT; rerun the same command to resume.

    Datasets made by 'generate --as-dataset' are synthetic (dataset.json); with
    --synthetic-share every batch holds that share of them. --steps fixes the number
    of updates, so runs with and without synthetic data compare at the same budget.
    Options given here win over --config and --set (keys: training.steps, training.epochs,
    training.batch_size, training.seed, training.state_every, optimizer.learning_rate,
    model.base_filters, model.depth, data.synthetic_share, data.input); OUT/config.yaml
    keeps the resolved config."""
    if options["steps"] is not None and options["epochs"] is not None:
        raise click.UsageError("give exactly one of --steps and --epochs", ctx=ctx)
    quiet_tensorflow()
    from pix2pix_sar.config import SegConfig, resolve_seg_config

    keys = {name: f"{section}.{name}" for section, names in SegConfig.SECTIONS.items() for name in names}
    keys["input_mode"] = keys.pop("input")
    given = [f"{key}={options[name]}" for name, key in keys.items() if given_here(ctx, name)]
    cfg = resolve_seg_config(config_file, [*assignments, *given])  # a bad config fails before TensorFlow loads
    from pix2pix_sar.segmentation.train import seg_fit

    with Progress(unit="step", enabled=not cli_state(ctx).quiet) as bar:
        result = seg_fit(cfg, data, out, SegProgress(bar))
    if result.start_step == result.end_step:
        say(ctx, f"{out} is already trained to step {result.end_step}; nothing to do")
    else:
        say(ctx, f"trained steps {result.start_step + 1}-{result.end_step} into {out} ({result.model_path.name})")


@command.command(name="evaluate")
@click.argument("segrun", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(file_okay=False), help="Dataset folder (default: the one it trained on).")
@click.option("--split", default="val", show_default=True, help="Split to score.")
@user_errors
def evaluate_command(segrun, data, split):
    """Score SEGRUN on a split: per-class IoU, mIoU and the calving-front MDE (metres).

    Writes SEGRUN/eval/seg_SPLIT.json and prints it as one JSON line last."""
    quiet_tensorflow()
    from pix2pix_sar.evaluation.segscore import seg_evaluate

    click.echo(jsonio.dumps(seg_evaluate(segrun, data, split)))
