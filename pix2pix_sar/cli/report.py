"""pix2pix-sar report: the paper's Fig. 3, Table I and Fig. 4 for evaluated runs."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import quiet_tensorflow, seed_opt, user_errors


@click.command(name="report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for the figures, tables and report.md."
)
@click.option("--epoch", type=int, help="Epoch of Table I and Fig. 4 (default: the last one all runs have).")
@click.option("--count", type=click.IntRange(1, 16), default=3, show_default=True, help="Patches in Fig. 4.")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset for Fig. 4 (default: the first run's).")
@seed_opt
@user_errors
def command(runs, out, epoch, count, data, seed):
    """Compare evaluated RUNS: Fig. 3 curves, Table I, Fig. 4 examples, report.md.

    Evaluate each run first with 'pix2pix-sar evaluate RUN'.
    """
    quiet_tensorflow()
    from pix2pix_sar.evaluation.report import write_report

    result = write_report(list(runs), out, epoch=epoch, count=count, seed=seed, data_dir=data)
    click.echo(f"report at epoch {result.epoch}: {result.report_md}")
