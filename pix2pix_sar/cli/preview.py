"""pix2pix-sar preview: a PNG of masks, targets and generated images."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import quiet_tensorflow, say, seed_opt, user_errors


@click.command(name="preview")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset folder (default: the one the run trained on).")
@click.option("--count", type=click.IntRange(1, 32), default=4, show_default=True, help="Patches to show.")
@click.option("--epoch", type=int, help="Snapshot epoch (default: the last).")
@click.option(
    "--scene",
    nargs=2,
    type=click.Path(dir_okay=False),
    metavar="ZONES SAR",
    help="Also show a whole scene: its zone mask and its SAR image (same grid), generated as 'generate' does.",
)
@click.option(
    "--sensor",
    help="With --scene, for a run conditioned on the sensor: the sensor to render [default: the one the SAR "
    "file's SENSOR metadata item names, which synth --sensor writes].",
)
@seed_opt
@user_errors
def command(run, out, data, count, epoch, seed, scene, sensor):
    """Show validation masks, their real images and the generator's images side by side."""
    if sensor and not scene:
        raise click.UsageError("--sensor applies to --scene; patches are generated with their own sensor")
    quiet_tensorflow()
    from pix2pix_sar.evaluation.preview import write_preview

    path = write_preview(run, out, data, count=count, epoch=epoch, seed=seed, scene=scene or None, sensor=sensor)
    say(click.get_current_context(), f"preview: {path}")
