"""pix2pix-sar fit: train a variant, resuming where a previous run stopped."""

from __future__ import annotations

import sys

import click

from pix2pix_sar.cli.options import (
    cli_state,
    config_opt,
    quiet_tensorflow,
    set_opt,
    state_every_opt,
    user_errors,
    variant_opt,
)
from pix2pix_sar.config import PRECISIONS, STRATEGIES


class ProgbarReporter:
    """A Keras progress bar per epoch with the running means of the four loss parts
    (a live bar on a terminal, one line per epoch otherwise)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.sums: dict[str, float] = {}
        self.before: int | None = 0  # steps of the epoch done before this process (a resumed epoch)

    def epoch_started(self, epoch, epochs, steps):
        import keras

        from pix2pix_sar.training.step import LOSS_NAMES

        self.sums = dict.fromkeys(LOSS_NAMES, 0.0)
        self.before = None
        if not self.quiet:
            click.echo(f"Epoch {epoch}/{epochs}")
            self.bar = keras.utils.Progbar(
                steps, verbose=1 if sys.stdout.isatty() else 2, stateful_metrics=LOSS_NAMES, unit_name="step"
            )

    def step_finished(self, step, losses):
        if self.before is None:
            self.before = step - 1
        for k, v in losses.items():
            self.sums[k] += v
        if self.bar is not None:
            self.bar.update(step, values=[(k, v / (step - self.before)) for k, v in self.sums.items()])

    def epoch_finished(self, epoch, losses, seconds):
        pass


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

    flags = {
        "training.epochs": epochs,
        "training.checkpoint_every": checkpoint_every,
        "training.state_every": state_every,
        "training.batch_size": batch_size,
        "training.seed": seed,
        "training.strategy": strategy,
        "training.precision": precision,
        "training.xla": None if xla is None else ("on" if xla else "off"),
    }
    extra = [f"{k}={v}" for k, v in flags.items() if v is not None]
    cfg = resolve_config(variant, config_file, [*assignments, *extra])  # a bad config fails before TensorFlow loads
    from pix2pix_sar.training.loop import fit

    quiet = cli_state(ctx).quiet
    result = fit(cfg, data, out, ProgbarReporter(quiet))
    if result.start_epoch == result.end_epoch:
        click.echo(f"{out} is already trained to epoch {result.end_epoch}; nothing to do (ask for more with --epochs)")
    else:
        snaps = result.run.snapshots()
        click.echo(
            f"trained epochs {result.start_epoch + 1}-{result.end_epoch} into {out} "
            f"({len(snaps)} snapshot(s), last: {snaps[max(snaps)].name if snaps else 'none'})"
        )
