"""pix2pix-sar variants: the registry as a table."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import quiet_tensorflow, user_errors


@click.command(name="variants")
@click.option("--patch-size", type=int, default=256, show_default=True, help="Patch size for the parameter counts.")
@user_errors
def command(patch_size):
    """List the named variants with their changes and parameter counts (1 band in and out)."""
    quiet_tensorflow()
    from pix2pix_sar.config import VARIANTS, resolve_config
    from pix2pix_sar.models.summary import parameter_counts

    rows = []
    for name, variant in VARIANTS.items():
        cfg = resolve_config(name, assignments=[f"model.patch_size={patch_size}"])
        gen, disc = parameter_counts(cfg.model)
        field = f"<= {2 * cfg.model.reach + 1} px" if cfg.model.whole_scene else "whole tile"
        rows.append((name, variant.description, f"{gen:,}", f"{disc:,}", field))
    header = ("variant", "change from orig", "generator params", "discriminator params", "receptive field")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for i, row in enumerate([header, *rows]):
        click.echo("  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
