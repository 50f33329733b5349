"""pix2pix-sar generate: SAR images from masks of any size, or a synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import click

from pix2pix_sar.cli.options import (
    CtrlCBetweenSteps,
    cli_state,
    extra_opt,
    on_interrupt,
    overwrite_opt,
    quiet_tensorflow,
    say,
    user_errors,
)
from pix2pix_sar.cli.progress import Progress


@click.command(name="generate")
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder from 'fit', or a model folder from 'export' (the same pixels).",
)
@click.option("--epoch", type=int, help="Snapshot epoch (default: the last).")
@click.option(
    "--out", type=click.Path(), help="Output .tif (cloud-optimised GeoTIFF) or .png; a folder if INPUT is a folder."
)
@click.option(
    "--as-dataset",
    "dataset_out",
    type=click.Path(file_okay=False),
    help="Instead of --out: write masks + generated images as a dataset (see --layout).",
)
@click.option(
    "--layout",
    type=click.Choice(["ours", "caffe"]),
    default="ours",
    show_default=True,
    help="With --as-dataset: ours (a patch dataset for 'fit') or caffe (whole images, zones and fronts as "
    "PNGs in the CaFFe benchmark's layout, for CaFFe readers and 'prepare --caffe').",
)
@click.option(
    "--tile",
    type=int,
    help="Tile size in pixels (default: the run's patch size; 'scene' runs: the mask plus margins, up to 512).",
)
@click.option(
    "--overlap",
    type=int,
    help="Tile overlap in pixels, blended smoothly (default: a quarter of the tile; 'scene' runs crop instead).",
)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True, help="Tiles per generator call.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generator's dropout noise.")
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Images per mask, seeds seed ... seed+K-1, written as NAME_s<k>.tif (k = 0 ...); with --as-dataset "
    "all samples of one mask fall in the same split (split per mask).",
)
@click.option(
    "--sensor",
    help="The sensor to render, one of those the run was trained on (a run whose dataset has two or more "
    "sensors requires it; other runs refuse it).",
)
@click.option("--xla/--no-xla", default=None, help="XLA-compile generation (default: on for GPU, off on CPU).")
@click.option(
    "--units",
    help="GeoTIFF values: the training data's units (default), 'model' ([-1, 1]), or "
    "intensity/amplitude/db if the run was trained on one of those.",
)
@click.option(
    "--mask-values",
    type=click.Choice(["zones", "binary"]),
    default="zones",
    show_default=True,
    help="zones: CaFFe codes 0/64/127/254; binary: 0 = ocean, 1 or 255 = land (no no-data).",
)
@extra_opt(
    "An extra band the run was trained with (repeatable), e.g. dem=copdem.tif: a raster in any CRS "
    "covering the mask, or a folder where mask NAME.tif pairs with NAME_<band>.tif. Warped onto the mask.",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="With --as-dataset: share of validation patches (--layout caffe: share of whole masks put in test/).",
)
@overwrite_opt
@click.pass_context
@user_errors
def command(
    ctx,
    input_path,
    run_dir,
    epoch,
    out,
    dataset_out,
    layout,
    tile,
    overlap,
    batch_size,
    seed,
    samples,
    sensor,
    xla,
    units,
    mask_values,
    extras,
    val_fraction,
    overwrite,
):
    """Generate a SAR image for each mask in INPUT (a mask file or a folder of them).

    Masks hold CaFFe zone codes (0 no data, 64 rock, 127 glacier, 254 ocean) or,
    with --mask-values binary, 0 = ocean and 1/255 = land; any width and height,
    GeoTIFF or PNG. Large masks are generated in overlapping, batched tiles: patch
    variants blend tiles with a smooth window; 'scene' runs generate each tile with a
    margin and keep its centre, so tiled output equals whole-mask output. GeoTIFF
    outputs keep the mask's CRS and geotransform, with no-data where the mask has no data.
    """
    if (out is None) == (dataset_out is None):
        raise click.UsageError("give exactly one of --out and --as-dataset")
    if layout != "ours" and dataset_out is None:
        raise click.UsageError("--layout applies to --as-dataset")
    if layout == "caffe" and extras:
        raise click.UsageError("--extra applies to --out and to --as-dataset with --layout ours")
    if samples > 1 and layout == "caffe":
        raise click.UsageError("--samples applies to --out and to --as-dataset with --layout ours")
    if dataset_out is not None and units is not None:
        raise click.UsageError("--units applies to --out; a dataset holds the model's [-1, 1] values")
    quiet_tensorflow()
    from pix2pix_sar.generation.generate import generate_dataset, generate_files
    from pix2pix_sar.generation.run_generator import TileSettings

    settings = TileSettings(
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        seed=seed,
        xla="auto" if xla is None else ("on" if xla else "off"),
        sensor=sensor,
    )
    quiet = cli_state(ctx).quiet
    # Outputs appear whole or not at all (atomic.py); a rerun does not skip finished images.
    if dataset_out is not None:
        on_interrupt(ctx, f"{dataset_out} was not written (it appears only when complete); a rerun starts over")
    elif Path(input_path).is_dir() or samples > 1:
        on_interrupt(
            ctx,
            f"images finished in {out} are kept, the one in progress was discarded; a rerun starts over "
            "(with --overwrite, since the finished ones exist)",
        )
    else:
        on_interrupt(ctx, f"{out} was not written (it appears only when complete); a rerun starts over")
    bar = ctx.with_resource(Progress("generating", unit="mask" if dataset_out else "tile", enabled=not quiet))
    # Ctrl-C stops between tile batches: raised inside TensorFlow's native code it can
    # surface as another error. A dataset's progress comes per mask, so there it stays immediate.
    ctrl_c = ctx.with_resource(CtrlCBetweenSteps()) if dataset_out is None else None

    def tiles_done(name, done, total):
        ctrl_c.check()
        if quiet:
            return
        if name != bar.label or done < bar.done:  # the next mask (or sample): its own time left
            bar.start(name, total)
        bar.update(done, total)

    def masks_done(name, done, total):
        bar.update(done, total, label="generating", status=name)

    progress = tiles_done if dataset_out is None else None if quiet else masks_done
    if dataset_out is not None:
        if layout == "caffe":
            from pix2pix_sar.generation.caffe_layout import generate_caffe_set

            path = generate_caffe_set(
                run_dir,
                input_path,
                dataset_out,
                epoch=epoch,
                settings=settings,
                test_fraction=val_fraction,
                overwrite=overwrite,
                progress=progress,
                mask_values=mask_values,
            )
            say(ctx, f"synthetic set in CaFFe's layout: {path}")
            return
        path = generate_dataset(
            run_dir,
            input_path,
            dataset_out,
            epoch=epoch,
            settings=settings,
            val_fraction=val_fraction,
            overwrite=overwrite,
            progress=progress,
            mask_values=mask_values,
            bands=extras,
            samples=samples,
        )
        say(ctx, f"synthetic dataset: {path}")
        return
    written = generate_files(
        run_dir,
        input_path,
        out,
        epoch=epoch,
        settings=settings,
        units=units,
        overwrite=overwrite,
        progress=progress,
        mask_values=mask_values,
        bands=extras,
        samples=samples,
    )
    for path in written:
        say(ctx, f"generated: {path}")
