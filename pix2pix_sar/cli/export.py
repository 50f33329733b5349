"""pix2pix-sar export: a run's generator as a self-contained model folder (SavedModel + model card)."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import overwrite_opt, quiet_tensorflow, say, user_errors


@click.command(name="export")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Model folder to write.")
@click.option("--epoch", type=int, help="Snapshot epoch (default: the last).")
@overwrite_opt
@user_errors
def command(run, out, epoch, overwrite):
    """Export RUN's generator as a self-contained model folder (--out).

    The folder holds a TensorFlow SavedModel that plain TensorFlow loads (no
    pix2pix-sar needed), export.json (class scheme, scaling to physical units, patch
    size, variant, receptive field, tiling rule, training data, metrics at the epoch)
    and model_card.md. Run 'pix2pix-sar evaluate RUN' first to have metrics in it.

    \b
    pix2pix-sar export RUN --out MODEL [--epoch 300]
    pix2pix-sar generate MASK.tif --run MODEL --out IMAGE.tif     # the same pixels as --run RUN
    """
    quiet_tensorflow()
    from pix2pix_sar.generation.export import CARD, export_run

    path = export_run(run, out, epoch=epoch, overwrite=overwrite)
    say(click.get_current_context(), f"exported: {path} (model card: {path / CARD})")
