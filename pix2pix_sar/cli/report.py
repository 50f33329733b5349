"""pix2pix-sar report: the paper's Fig. 3, Table I and Fig. 4 for evaluated runs."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import quiet_tensorflow, say, seed_opt, user_errors


@click.command(name="report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for the figures, tables and report.md."
)
@click.option("--epoch", type=int, help="Epoch of Table I and Fig. 4 (default: the last one all runs have).")
@click.option("--count", type=click.IntRange(1, 16), default=3, show_default=True, help="Patches in Fig. 4.")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset for Fig. 4 (default: the first run's).")
@click.option(
    "--allow-different-data",
    is_flag=True,
    help="Report runs trained on different datasets (by dataset.json and manifest.csv) anyway; "
    "report.md then says their scores do not rank them.",
)
@seed_opt
@user_errors
def command(runs, out, epoch, count, data, seed, allow_different_data):
    """Compare evaluated RUNS: Fig. 3 curves, Table I, Fig. 4 examples, report.md.

    Evaluate each run first with 'pix2pix-sar evaluate RUN'.
    """
    quiet_tensorflow()
    from pix2pix_sar.evaluation.report import write_report

    result = write_report(
        list(runs), out, epoch=epoch, count=count, seed=seed, data_dir=data, allow_different_data=allow_different_data
    )
    say(click.get_current_context(), f"report at epoch {result.epoch}: {result.report_md}")
