"""pix2pix-sar prepare: scene + zone mask -> patch dataset."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import overwrite_opt, patch_size_opt, seed_opt, user_errors


@click.command(name="prepare")
@click.option("--sar", required=True, type=click.Path(dir_okay=False), help="SAR scene GeoTIFF.")
@click.option("--mask", required=True, type=click.Path(dir_okay=False), help="Zone mask on the scene's grid (0/64/127/254).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder to write.")
@patch_size_opt
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Share of patches for validation.")
@click.option(
    "--units",
    type=click.Choice(["intensity", "amplitude", "db"]),
    default="intensity",
    show_default=True,
    help="Units of the SAR values.",
)
@seed_opt
@overwrite_opt
@user_errors
def command(sar, mask, out, patch_size, val_fraction, units, seed, overwrite):
    """Cut non-overlapping patches without no-data and split them 90/10 at random."""
    from pix2pix_sar.data.dataset import load_manifest
    from pix2pix_sar.data.prepare import prepare_dataset

    path = prepare_dataset(
        sar, mask, out, patch_size=patch_size, seed=seed, val_fraction=val_fraction, units=units, overwrite=overwrite
    )
    records = load_manifest(path)
    n_val = sum(r.split == "val" for r in records)
    click.echo(f"dataset: {path} ({len(records) - n_val} train, {n_val} val patches of {patch_size}x{patch_size})")
