"""pix2pix-sar masks: artificial glacier zone masks, or a real mask with a moved front."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import overwrite_opt, say, user_errors


@click.command(name="masks")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--count", type=int, default=1, show_default=True, help="Masks to write.")
@click.option("--size", type=int, default=256, show_default=True, help="Width and height in pixels.")
@click.option("--width", type=int, help="Width in pixels (overrides --size).")
@click.option("--height", type=int, help="Height in pixels (overrides --size).")
@click.option("--seed", type=int, default=0, show_default=True, help="Mask i is drawn from (seed, i).")
@click.option(
    "--front",
    "front_position",
    type=float,
    help="Calving front along the flow, 0 (head) .. 1 (far edge) [drawn: 0.3-0.75].",
)
@click.option(
    "--roughness",
    help="Front roughness: a fraction of the length [drawn: 0.005-0.04]; with --from a distance (5, 5px, 200m).",
)
@click.option("--fjord-width", type=float, help="Fjord width at mid-length, fraction of the width [drawn: 0.25-0.5].")
@click.option("--coast", type=float, help="Where the fjord walls end, fraction along the flow [drawn: 0.8-0.95].")
@click.option(
    "--icebergs",
    type=click.IntRange(0),
    default=0,
    deprecated="It has no effect: icebergs are ocean (254) in CaFFe masks, as in synth.",
    help="Kept for old command lines; masks cannot show icebergs, and the generator puts "
    "ice into the ocean as it learned from the training scenes.",
)
@click.option(
    "--orientation",
    type=click.Choice(["down", "right", "up", "left"]),
    default="down",
    show_default=True,
    help="Flow direction (glacier head -> sea).",
)
@click.option("--pixel-size", type=float, default=40.0, show_default=True, help="Metres per pixel (EPSG:3031 grid).")
@click.option(
    "--from", "source", type=click.Path(dir_okay=False), help="Perturb this real mask instead of drawing new ones."
)
@click.option(
    "--advance",
    default="0",
    show_default=True,
    help="With --from: move the front seaward (negative: retreat): 5, 5px or 200m.",
)
@overwrite_opt
@user_errors
def command(
    out,
    count,
    size,
    width,
    height,
    seed,
    front_position,
    roughness,
    fjord_width,
    coast,
    icebergs,
    orientation,
    pixel_size,
    source,
    advance,
    overwrite,
):
    """Write glacier zone masks into the folder OUT (CaFFe codes: 64 rock, 127 glacier,
    254 ocean, including melange and icebergs).

    New scenes: fjord walls of rock, a glacier tongue whose calving front lies at
    --front with --roughness, ocean beyond the coast. Parameters
    not given are drawn per mask from the ranges shown. With --from MASK: variants of
    a real mask whose front is advanced or retreated by --advance and roughened by
    --roughness (each variant a different roughness draw).
    """
    from pix2pix_sar.generation.masks import write_artificial_masks, write_moved_fronts

    if source is not None:
        paths = write_moved_fronts(
            source, out, count, advance=advance, roughness=roughness or "0", seed=seed, overwrite=overwrite
        )
    else:
        try:
            rough = None if roughness is None else float(roughness)
        except ValueError:
            raise click.BadParameter(
                "a fraction of the length, e.g. 0.02 (distances apply with --from)", param_hint="'--roughness'"
            ) from None
        paths = write_artificial_masks(
            out,
            count,
            width or size,
            height or size,
            seed=seed,
            pixel_size=pixel_size,
            overwrite=overwrite,
            front_position=front_position,
            front_roughness=rough,
            fjord_width=fjord_width,
            coast=coast,
            orientation=orientation,
        )
    say(click.get_current_context(), f"{len(paths)} mask(s) in {out}")
