"""pix2pix-sar synth: the embedded default scene."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import seed_opt, user_errors


@click.command(name="synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--width", type=int, default=1024, show_default=True)
@click.option("--height", type=int, default=1024, show_default=True)
@click.option("--looks", type=float, default=4.0, show_default=True, help="Equivalent number of looks of the speckle.")
@click.option("--pixel-size", type=float, default=40.0, show_default=True, help="Metres per pixel.")
@click.option("--crs", default="EPSG:3031", show_default=True, help="CRS of the scene.")
@seed_opt
@user_errors
def command(out, width, height, looks, pixel_size, crs, seed):
    """Write a synthetic glacier SAR scene (OUT/scene.tif) and its zones (OUT/zones.tif)."""
    from pix2pix_sar.data.synth import write_synth_scene

    if width < 16 or height < 16:
        raise click.BadParameter("must be at least 16 pixels", param_hint="'--width'/'--height'")
    if looks <= 0:
        raise click.BadParameter("must be positive", param_hint="'--looks'")
    sar, zones = write_synth_scene(out, width, height, seed=seed, looks=looks, pixel_size=pixel_size, crs=crs)
    click.echo(f"scene: {sar}\nzones: {zones}")
