"""pix2pix-sar fit: train a variant, resuming where a previous run stopped."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import (
    cli_state,
    config_opt,
    quiet_tensorflow,
    say,
    set_opt,
    state_every_opt,
    user_errors,
    variant_opt,
)
from pix2pix_sar.cli.progress import Progress
from pix2pix_sar.config import PRECISIONS, STRATEGIES


class FitProgress:
    """One bar over all the steps still to train, with the time left and the running means
    of the four loss parts of the epoch; a line per finished epoch above it (cli/progress.py)."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.sums: dict[str, float] = {}
        self.before: int | None = 0  # steps of the epoch done before this process (a resumed epoch)
        self.epoch = self.epochs = self.steps = 0

    def epoch_started(self, epoch, epochs, steps):
        from pix2pix_sar.training.step import LOSS_NAMES

        if not self.steps:
            self.bar.start("training", epochs * steps)
        self.sums = dict.fromkeys(LOSS_NAMES, 0.0)
        self.before = None
        self.epoch, self.epochs, self.steps = epoch, epochs, steps

    def step_finished(self, step, losses):
        if self.before is None:
            self.before = step - 1
        for k, v in losses.items():
            self.sums[k] += v
        means = " ".join(f"{k} {v / (step - self.before):.3f}" for k, v in self.sums.items())
        self.bar.update((self.epoch - 1) * self.steps + step, status=f"epoch {self.epoch}/{self.epochs}  {means}")

    def epoch_finished(self, epoch, losses, seconds):
        parts = ", ".join(f"{k} {v:.4f}" for k, v in losses.items())
        self.bar.echo(f"epoch {epoch}/{self.epochs}: {parts} ({seconds:.1f} s)")


@click.command(name="fit")
@click.option("--data", required=True, type=click.Path(file_okay=False), help="Dataset folder from 'prepare'.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (created, or resumed).")
@variant_opt
@click.option("--epochs", type=int, help="Train until this epoch (training.epochs; paper: 300).")
@click.option("--checkpoint-every", type=int, help="Epochs between generator snapshots (paper: 15).")
@state_every_opt(
    "Full-state saves (resume points): a number of epochs, or wall time such as 90s, 10m, 1h "
    "(training.state_every; default 10m). Always at the end and on SIGTERM/SIGINT."
)
@click.option("--batch-size", type=int, help="Patches per step (paper: 1).")
@click.option("--seed", type=int, help="Seed of weights, data order and dropout (training.seed).")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    help="tf.distribute strategy (training.strategy; default auto: mirrored if several GPUs).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help="Compute precision (training.precision; default auto: mixed_bfloat16 on GPU and on CPUs with native "
    "bfloat16 for patch size x base filters >= 8192, else float32; a resumed run keeps its own).",
)
@click.option("--xla/--no-xla", default=None, help="XLA-compile the train step (training.xla; default: on for GPU).")
@config_opt
@set_opt
@click.pass_context
@user_errors
def command(
    ctx,
    data,
    out,
    variant,
    epochs,
    checkpoint_every,
    state_every,
    batch_size,
    seed,
    strategy,
    precision,
    xla,
    config_file,
    assignments,
):
    """Train VARIANT on DATA into OUT; rerun the same command to resume after a stop.

    Options given here win over --config and --set. Each run folder keeps the
    resolved config.yaml, generator snapshots by epoch, resumable state,
    TensorBoard logs and history.csv. SIGTERM (docker stop) or Ctrl-C finishes the
    step in progress, saves the state and exits with status 143 or 130; the rerun
    continues from that step.
    """
    quiet_tensorflow()
    from pix2pix_sar.config import resolve_config

    training = {
        "epochs": epochs,
        "checkpoint_every": checkpoint_every,
        "state_every": state_every,
        "batch_size": batch_size,
        "seed": seed,
        "strategy": strategy,
        "precision": precision,
        "xla": None if xla is None else ("on" if xla else "off"),
    }
    # Typed values, not section.key=value text: YAML would read "on" as a boolean.
    given = {"training": {k: v for k, v in training.items() if v is not None}}
    cfg = resolve_config(variant, config_file, assignments, given)  # a bad config fails before TensorFlow loads
    from pix2pix_sar.training.loop import fit

    with Progress(unit="step", enabled=not cli_state(ctx).quiet) as bar:
        result = fit(cfg, data, out, FitProgress(bar))
    if result.start_epoch == result.end_epoch:
        say(ctx, f"{out} is already trained to epoch {result.end_epoch}; nothing to do (ask for more with --epochs)")
    else:
        snaps = result.run.snapshots()
        say(
            ctx,
            f"trained epochs {result.start_epoch + 1}-{result.end_epoch} into {out} "
            f"({len(snaps)} snapshot(s), last: {snaps[max(snaps)].name if snaps else 'none'})",
        )
