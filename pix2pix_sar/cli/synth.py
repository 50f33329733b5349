"""pix2pix-sar synth: the embedded default scene."""

from __future__ import annotations

import click

from pix2pix_sar.cli.options import say, seed_opt, user_errors


@click.command(name="synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--width", type=int, default=1024, show_default=True)
@click.option("--height", type=int, default=1024, show_default=True)
@click.option(
    "--looks", type=float, help="Equivalent number of looks of the speckle [default: --sensor's; without it, 4]."
)
@click.option("--pixel-size", type=float, help="Metres per pixel [default: --sensor's in CaFFe; without it, 40].")
@click.option(
    "--sensor",
    help="Render this sensor (CaFFe's codes: ERS, ENVISAT, RSAT, PALSAR, TSX, TDX, S1; any case): its looks, "
    "pixel size, band texture, calibration offset and noise floor, features sized in metres; recorded as "
    "scene.tif's SENSOR metadata item, which prepare reads. Default: no sensor (the scene as always).",
)
@click.option("--crs", default="EPSG:3031", show_default=True, help="CRS of the scene.")
@click.option(
    "--content-seed",
    type=click.IntRange(0),
    help="Redraw everything but the zones (terrain, stripes, crevasses, mélange, icebergs, speckle): "
    "a second draw of the same world for --seed's zones. Default: the scene --seed always gave.",
)
@click.option(
    "--fjord-width",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Harder benchmark: scale the fjord's width (geometry; 1: the scene as always).",
)
@click.option(
    "--melange",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Harder benchmark: scale how far the ice mélange reaches from the front (0: none).",
)
@click.option(
    "--icebergs",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Harder benchmark: scale the number of icebergs (0: none).",
)
@seed_opt
@user_errors
def command(out, width, height, looks, pixel_size, sensor, crs, content_seed, fjord_width, melange, icebergs, seed):
    """Write a synthetic glacier SAR scene and its labels.

    OUT/scene.tif (Float32 linear intensity, no-data 0), OUT/zones.tif (zone codes
    0/64/127/254), OUT/zones.gpkg (the zones as polygons, fields zone and class) and
    OUT/aoi.geojson (an area of interest in EPSG:4326). scene.tif records the seeds and
    parameters in its metadata (SYNTH_SEED, SYNTH_CONTENT_SEED, ...; gdalinfo shows them).
    """
    from pix2pix_sar.data.synth import SynthFiles, write_synth_scene

    if width < 16 or height < 16:
        raise click.BadParameter("must be at least 16 pixels", param_hint="'--width'/'--height'")
    for value, name in ((looks, "--looks"), (pixel_size, "--pixel-size")):
        if value is not None and not value > 0:
            raise click.BadParameter("must be positive", param_hint=f"'{name}'")
    write_synth_scene(
        out,
        width,
        height,
        seed=seed,
        looks=looks,
        pixel_size=pixel_size,
        crs=crs,
        content_seed=content_seed,
        sensor=sensor,
        fjord_width=fjord_width,
        melange=melange,
        icebergs=icebergs,
    )
    files = SynthFiles.in_folder(out)
    say(
        click.get_current_context(),
        f"scene: {files.scene}\nzones: {files.zones}\nzone polygons: {files.zones_vector}\n"
        f"AOI (EPSG:4326): {files.aoi}",
    )
