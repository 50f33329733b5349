"""pix2pix-sar prepare: scenes + labels (+ AOI) or a CaFFe tree -> patch dataset."""

from __future__ import annotations

from pathlib import Path

import click

from pix2pix_sar.cli.options import (
    cli_state,
    extra_opt,
    given_here,
    on_interrupt,
    overwrite_opt,
    patch_size_opt,
    say,
    scaling_from_opt,
    seed_opt,
    user_errors,
)
from pix2pix_sar.cli.progress import Progress

UNITS = ["auto", "intensity", "amplitude", "db", "dn"]


@click.command(name="prepare")
@click.option("--sar", multiple=True, type=click.Path(), help="SAR scene GeoTIFF or a folder of them (repeatable).")
@click.option(
    "--mask",
    multiple=True,
    type=click.Path(),
    help="Zone raster (0/64/127/254) per --sar in order, or one folder where scene NAME.tif "
    "pairs with NAME_zones.tif / NAME_mask.tif. Warped to the scene grid (nearest) if grids differ.",
)
@click.option(
    "--labels", type=click.Path(dir_okay=False), help="Label vectors (GeoPackage, Shapefile, GeoJSON) for all scenes."
)
@click.option("--label-field", help="Field of --labels holding 64/127/254 or rock/glacier/ocean.")
@click.option(
    "--caffe",
    type=click.Path(file_okay=False),
    help="A CaFFe benchmark folder instead of --sar: the original layout (sar_images/, zones/ with train/, test/) "
    "or torchgeo's patched one (sar_images/, zones/, fronts/ with train/, val/, test/).",
)
@click.option("--aoi", type=click.Path(dir_okay=False), help="Area of interest: polygon(s) in any CRS.")
@click.option("--bounds", help='Area of interest as "minx miny maxx maxy" (with --bounds-crs).')
@click.option("--bounds-crs", default="EPSG:4326", show_default=True, help="CRS of --bounds.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder to write.")
@patch_size_opt
@click.option("--stride", type=int, help="Step between patches in pixels [default: the patch size].")
@click.option(
    "--max-nodata",
    type=float,
    help="Largest share of no-data pixels in a patch [default: 0; with --caffe, CaFFe's default].",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of patches for validation (CaFFe's original layout: drawn from its training images, whole images).",
)
@click.option(
    "--split-by",
    type=click.Choice(["patch", "scene", "source"]),
    help="patch: random patches (the paper); scene: whole scenes apart; source: CaFFe's own split "
    "[default: patch; with --caffe, CaFFe's default]. CaFFe's test split stays test under every rule.",
)
@click.option(
    "--units",
    type=click.Choice(UNITS, case_sensitive=False),
    default="auto",
    show_default=True,
    help="Units of the SAR values (any case: dB, db).",
)
@click.option(
    "--classes",
    type=click.Choice(["binary", "zones"]),
    default="binary",
    show_default=True,
    help="binary: land/ocean (the paper); zones: one-hot rock/glacier/ocean.",
)
@click.option("--band", type=int, help="Band of a multi-band scene.")
@click.option(
    "--sensor",
    help="The scenes' sensor, one of CaFFe's codes: ERS, ENVISAT, RSAT, PALSAR, TSX, TDX, S1 (any case) "
    "[default: each scene's SENSOR metadata item, which synth --sensor writes; none: no sensor]. "
    "CaFFe names carry their own.",
)
@extra_opt(
    "An extra conditioning band (repeatable, in order), e.g. dem=copdem.tif: a raster in any CRS, "
    "or a folder where scene NAME.tif pairs with NAME_<band>.tif. Warped onto each scene (average where "
    "finer, bilinear where coarser); no data over the ocean counts as 0.",
)
@click.option(
    "--context",
    is_flag=True,
    default=None,
    help="Add context bands computed from each whole mask (distance to the calving front and to rock, "
    "and the front distance's phase on the glacier), "
    "so the generator knows where in the fjord a patch lies; needs --classes zones. A run trained with "
    "them computes them itself from every mask it generates for. [default: as --scaling-from's dataset; off]",
)
@scaling_from_opt
@seed_opt
@overwrite_opt
@click.pass_context
@user_errors
def command(
    ctx,
    sar,
    mask,
    labels,
    label_field,
    caffe,
    aoi,
    bounds,
    bounds_crs,
    out,
    patch_size,
    stride,
    max_nodata,
    val_fraction,
    split_by,
    units,
    classes,
    band,
    sensor,
    extras,
    context,
    scaling_from,
    seed,
    overwrite,
):
    """Cut patches inside the AOI from every scene and split them (default 90/10 at random).

    \b
    pix2pix-sar prepare --sar S.tif --mask S_zones.tif --out DATASET
    pix2pix-sar prepare --sar scenes/ --labels zones.gpkg --label-field class --aoi aoi.geojson --out DATASET
    pix2pix-sar prepare --caffe CaFFe/ --out DATASET
    pix2pix-sar prepare --sar S.tif --mask S_zones.tif --extra dem=copdem.tif --out DATASET
    pix2pix-sar prepare --sar HELD_OUT.tif --mask HELD_OUT_zones.tif --scaling-from RUN --out DATASET
    """
    from pix2pix_sar.data.context import is_context_band
    from pix2pix_sar.data.dataset import load_manifest
    from pix2pix_sar.data.prepare import PrepareOptions, ScalingSource, context_band_names, prepare_scenes
    from pix2pix_sar.data.scenes import AreaOfInterest, VectorLabels, pair_scenes

    if bool(sar) == bool(caffe):
        raise click.UsageError("give scenes with --sar, or a CaFFe folder with --caffe (one of the two)")
    if labels and not label_field:
        raise click.UsageError("--labels needs --label-field NAME (the field holding the zone code or class)")
    if labels and mask:
        raise click.UsageError("give labels either as rasters (--mask) or as vectors (--labels), not both")
    if aoi and bounds:
        raise click.UsageError("give the area of interest either as --aoi or as --bounds, not both")
    if caffe and sensor:
        raise click.UsageError("--sensor applies to --sar scenes; CaFFe's file names carry each image's sensor")
    if caffe and extras:
        raise click.UsageError("--extra applies to georeferenced --sar scenes; CaFFe's images have no CRS to warp to")
    source = ScalingSource.load(scaling_from) if scaling_from else None
    if source is not None:  # what the command line leaves out follows the source
        patch_size = patch_size if given_here(ctx, "patch_size") else source.info.patch_size
        classes = classes if given_here(ctx, "classes") else source.info.classes
        if context is None:
            context = any(is_context_band(name) for name in source.info.band_names)
    given = dict(
        patch_size=patch_size,
        stride=stride,
        val_fraction=val_fraction,
        seed=seed,
        units=units,
        classes=classes,
        band=band,
        max_nodata=max_nodata,
        split_by=split_by,
        context=context,
        sensor=sensor,
    )
    if caffe:
        from pix2pix_sar.data.caffe import caffe_options, prepare_caffe

        options = caffe_options(**given)  # CaFFe's defaults for what was left out
    else:
        options = PrepareOptions(**{k: v for k, v in given.items() if v is not None})
    options.check()  # before the progress bar: a bad combination is reported alone
    if source is not None:
        source.check(options, [b.name for b in extras] + (context_band_names(source) if options.context else []))
    on_interrupt(ctx, f"{out} was not written (a dataset appears only when complete); a rerun starts over")
    with Progress("preparing", enabled=not cli_state(ctx).quiet) as bar:

        def progress(done: int, total: int, what: str) -> None:
            bar.update(done, total, status=what)

        if caffe:
            path = prepare_caffe(
                caffe, out, options=options, overwrite=overwrite, progress=progress, scaling_from=source
            )
        else:
            area = None
            if aoi:
                area = AreaOfInterest.from_file(aoi)
            elif bounds:
                try:
                    values = tuple(float(v) for v in bounds.replace(",", " ").split())
                except ValueError:
                    values = ()
                if len(values) != 4:
                    raise click.BadParameter('give four numbers: "minx miny maxx maxy"', param_hint="'--bounds'")
                area = AreaOfInterest.from_bounds(values, bounds_crs)
            vector = VectorLabels(Path(labels), label_field) if labels else None
            scenes = pair_scenes([Path(s) for s in sar], [Path(m) for m in mask])
            path = prepare_scenes(
                scenes,
                out,
                options=options,
                labels=vector,
                aoi=area,
                overwrite=overwrite,
                progress=progress,
                bands=extras,
                scaling_from=source,
            )
    records = load_manifest(path)
    counts = {split: sum(r.split == split for r in records) for split in ("train", "val", "test")}
    shown = ", ".join(f"{n} {split}" for split, n in counts.items() if n or split != "test")
    say(ctx, f"dataset: {path} ({shown} patches of {patch_size}x{patch_size})")
