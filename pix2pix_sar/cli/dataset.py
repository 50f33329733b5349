"""pix2pix-sar dataset: maintenance of a patch dataset (pack it for streaming input)."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import cli_state, on_interrupt, overwrite_opt, say, user_errors
from pix2pix_sar.cli.progress import Progress


@click.group(name="dataset")
def command():
    """Maintain a patch dataset made by 'prepare' or 'generate --as-dataset'."""


@command.command(name="pack")
@click.argument("dataset", type=click.Path(file_okay=False))
@overwrite_opt
@click.pass_context
@user_errors
def pack_command(ctx, dataset, overwrite):
    """Pack DATASET's patches into DATASET/packed/ for streaming input (data.input: streamed).

    A cache derived from the GeoTIFF patches, which stay the dataset of record: one
    fixed-size record per patch (uint8 zone codes, float16 SAR), read in any order
    without holding the dataset in memory. Rerun with --overwrite after the dataset
    changed (training refuses an out-of-date pack)."""
    from pix2pix_sar.data.packed import is_packed, pack_dataset

    on_interrupt(ctx, "the pack was not written (it appears only when complete); a rerun starts over")
    with Progress(unit="patch", enabled=not cli_state(ctx).quiet) as bar:

        def progress(split: str, done: int, total: int) -> None:
            if split != bar.label:
                bar.start(split, total)
            bar.update(done, total)

        was_packed = is_packed(dataset) and not overwrite
        path = pack_dataset(dataset, overwrite=overwrite, progress=progress)
    say(ctx, f"{path} is up to date; nothing to do" if was_packed else f"packed: {path}")
