#!/usr/bin/env python
"""Tiled generation speed and memory: ours (batched tiles, one tf.function, each
overlap generated once) against a naive loop calling the generator once per tile.

    python experiments/generate_benchmark.py                      # 4096x4096, orig, 256 tiles
    python experiments/generate_benchmark.py --size 2048 --skip-eager
    python experiments/generate_benchmark.py --scene 12000x9000   # streaming memory check
    python experiments/generate_benchmark.py --seam-figure RUN    # docs/seam_crop.png

Timing part (one process, same mask, same tiles, same blending): the mask is a
drawn glacier scene; the generator is the `orig` variant with untrained weights
(speed does not depend on the weights). Three loops over the same tiles:

* batched:        the project's generator (generation.tiling.generate_rows) with
                  --batch-size tiles per call of the compiled inference function;
* naive_compiled: the same compiled function called at batch 1 per tile;
* naive_eager:    the Keras model called eagerly at batch 1 per tile
                  (``model(tile, training=True)``), as a plain loop would.

Each is warmed up with one call first; the three then advance in lockstep, one band
of tile rows each in turn, so that other load on a shared machine hits all alike.
Scene part (--scene WxH): a scene-sized mask
streamed to a cloud-optimised GeoTIFF with a small generator (base 8 filters, 256
tiles); reports peak RSS next to the size a full float32 canvas would need.
Seam figure part (--seam-figure RUN): a scene generated with hard tile edges and
blended; reports for each the seam ratio and the grid statistic (generation.seams:
the largest per-degree-of-freedom strength of a pattern repeating with a stride of
16..256 pixels, ~1 for noise, and the stride where it occurs), plus the statistic at
the plan's own tile stride.
Prints one JSON object per part.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_run(folder: Path, assignments: list[str]) -> Path:
    """A run folder with an untrained generator snapshot (epoch 0)."""
    import keras

    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import DatasetInfo
    from pix2pix_sar.data.scaling import SarScaling
    from pix2pix_sar.models import build_generator
    from pix2pix_sar.run_folder import RunFolder

    keras.utils.set_random_seed(0)
    cfg = resolve_config("orig", assignments=assignments)
    run = RunFolder(folder)
    run.snapshot_dir.mkdir(parents=True)
    run.config_path.write_text(cfg.to_yaml())
    info = DatasetInfo(cfg.model.patch_size, "binary", SarScaling("intensity", -25.0, 0.0), 0, 0.1)
    run.dataset_json.write_text(json.dumps(info.to_dict()))
    build_generator(cfg.model).save(run.snapshot_path(0))
    return folder


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timing(args) -> dict:
    import numpy as np

    from pix2pix_sar.generation.masks import MaskShape, draw_mask
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.generation.tiling import generate_rows

    tmp = Path(tempfile.mkdtemp(prefix="genbench."))
    run = make_run(tmp / "run", [f"model.patch_size={args.tile}"])
    gen = RunGenerator.from_run(run, seed=0)
    zones = draw_mask(MaskShape(args.size, args.size), seed=0)
    encoded = gen.scheme.encode(zones)
    settings = TileSettings(args.tile, args.overlap, args.batch_size)
    plan = gen.plan(args.size, args.size, settings)

    from pix2pix_sar.models.inference import inference_generator
    from pix2pix_sar.models.snapshots import load_generator
    from pix2pix_sar.noise import tile_keys

    model = inference_generator(load_generator(gen.run.find_snapshot(0)[1]))
    loops = {
        "batched": (gen.generate_batch, args.batch_size),
        "naive_compiled": (gen.generate_batch, 1),
        "naive_eager": (lambda t, o: model([t, tile_keys(0, o[:, 0], o[:, 1])], training=True).numpy(), 1),
    }
    if args.skip_eager:
        del loops["naive_eager"]
    warm_tile = encoded[None, : args.tile, : args.tile]
    for fn, batch in loops.values():
        fn(np.repeat(warm_tile, batch, 0), np.zeros((batch, 2), np.int64))  # trace / warm up
    # The loops advance in lockstep, one band of tile rows each in turn, so that load
    # from other processes on a shared machine falls on all of them alike.
    streams = {
        name: generate_rows(plan, lambda r, n: encoded[r : r + n], fn, batch) for name, (fn, batch) in loops.items()
    }
    seconds = dict.fromkeys(streams, 0.0)
    while streams:
        for name in list(streams):
            start = time.perf_counter()
            if next(streams[name], None) is None:
                del streams[name]
            seconds[name] += time.perf_counter() - start
    seconds = {k: round(v, 2) for k, v in seconds.items()}
    return {
        "part": "timing",
        "mask": f"{args.size}x{args.size}",
        "tile": args.tile,
        "overlap": plan.overlap,
        "tiles": plan.tile_count,
        "batch_size": args.batch_size,
        "variant": "orig (untrained weights)",
        "seconds": seconds,
        "tiles_per_second": {k: round(plan.tile_count / v, 2) for k, v in seconds.items()},
        "speedup_vs_naive": {k: round(v / seconds["batched"], 2) for k, v in seconds.items() if k != "batched"},
        "cpu_count": os.cpu_count(),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def scene(args) -> dict:
    import numpy as np

    from pix2pix_sar import geo
    from pix2pix_sar.generation.generate import generate_file
    from pix2pix_sar.generation.masks import MaskShape, draw_mask
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    width, height = (int(v) for v in args.scene.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="genscene."))
    run = make_run(tmp / "run", ["model.patch_size=256", "model.base_filters=8"])
    # A scene-sized mask written in row blocks (a drawn 1024 scene repeated).
    block = draw_mask(MaskShape(1024, 1024), seed=1)
    row = np.tile(block, (1, -(-width // 1024)))[:, :width]
    grid = geo.Grid(geo.crs_from_user("EPSG:3031"), (-2_430_000.0, 40.0, 0.0, 1_320_000.0, 0.0, -40.0), width, height)
    mask = tmp / "scene_mask.tif"
    with geo.RasterRowWriter(mask, grid, np.uint8, nodata=0) as w:
        for r in range(0, height, 1024):
            w.write_rows(r, row[: min(1024, height - r)])
        w.commit()
    gen = RunGenerator.from_run(run, seed=0)
    before = rss_mb()
    start = time.perf_counter()
    out = generate_file(gen, mask, tmp / "scene_generated.tif", TileSettings(256, 64, args.batch_size))
    seconds = time.perf_counter() - start
    return {
        "part": "scene",
        "mask": f"{width}x{height}",
        "generator": "orig, base_filters=8 (untrained), 256 tiles, overlap 64",
        "seconds": round(seconds, 1),
        "peak_rss_mb_before_generation": round(before, 1),
        "peak_rss_mb_after_generation": round(rss_mb(), 1),
        "full_float32_canvas_mb": round(width * height * 4 / 2**20, 1),
        "is_cog": geo.is_cog(out),
        "output_mb": round(out.stat().st_size / 2**20, 1),
    }


def seam_figure(args) -> dict:
    """A crop across a tile corner: hard tile edges (overlap 0) next to the blended default."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from pix2pix_sar.atomic import atomic_path
    from pix2pix_sar.data.synth import synth_scene
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings
    from pix2pix_sar.generation.seams import GRID_STRIDES, grid_statistic, seam_stats

    gen = RunGenerator.load(args.seam_figure, seed=0)  # a run, or an export
    tile = gen.patch_size
    size = 8 * tile
    zones = synth_scene(size, size, seed=11).zones
    zones[zones == 0] = 254
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6))
    stats, grids = {}, {}
    for ax, (title, overlap) in zip(
        axes, (("hard tile edges (overlap 0)", 0), (f"blended (overlap {tile // 4})", None))
    ):
        settings = TileSettings(overlap=overlap, batch_size=16)
        image = generate_image(gen, zones, settings)
        plan = gen.plan(size, size, settings)
        stats[title] = round(seam_stats(image, plan).ratio, 3)
        # Model range -> dB: the run's scaling is linear in dB (dB = db_min .. db_max
        # for -1 .. 1; for "dn" runs these are DN), and the grid statistic is invariant
        # under a linear map anyway, so this only makes the units explicit.
        scaling = gen.scaling
        image_db = (image.astype(np.float64) + 1.0) / 2.0 * (scaling.db_max - scaling.db_min) + scaling.db_min
        # The tile stride: tiles are spread evenly, so the period may be fractional; the
        # nearest integer stride is measured too (in case it lies outside 16..256).
        tile_stride = round((plan.cols[-1] - plan.cols[0]) / max(len(plan.cols) - 1, 1)) or tile
        grid = grid_statistic(image_db, zones, sorted({*GRID_STRIDES, tile_stride}))
        grids[title] = {
            "value": round(grid.value, 2),
            "stride": grid.stride,
            "tile_stride": tile_stride,
            "at_tile_stride": round(grid.per_stride.get(tile_stride, float("nan")), 2),
        }
        edge_rows, edge_cols = plan.boundaries()
        # The crop is centred on a tile corner of this plan, 1.5 tiles each way.
        r0 = min(edge_rows, key=lambda r: abs(r - size // 2)) - 3 * tile // 2
        c0 = min(edge_cols, key=lambda c: abs(c - size // 2)) - 3 * tile // 2
        crop = image[r0 : r0 + 3 * tile, c0 : c0 + 3 * tile]
        ax.imshow(crop, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        for r in edge_rows:
            if r0 <= r < r0 + 3 * tile:
                ax.annotate(
                    "",
                    (-1, r - r0 - 0.5),
                    (-6, r - r0 - 0.5),
                    arrowprops={"arrowstyle": "->", "color": "red"},
                    annotation_clip=False,
                )
        for c in edge_cols:
            if c0 <= c < c0 + 3 * tile:
                ax.annotate(
                    "",
                    (c - c0 - 0.5, -1),
                    (c - c0 - 0.5, -6),
                    arrowprops={"arrowstyle": "->", "color": "red"},
                    annotation_clip=False,
                )
        ax.set_title(
            f"{title}\nseam ratio {stats[title]:.2f}, grid statistic {grid.value:.1f}"
            f"\n(largest at stride {grid.stride})",
            fontsize=8,
        )
        ax.set_axis_off()
    fig.suptitle(f"crop across a tile corner ({tile}-pixel tiles; red arrows: tile edges)", fontsize=9)
    fig.tight_layout()
    with atomic_path(args.figure_out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    return {
        "part": "seam_figure",
        "run": str(args.seam_figure),
        "epoch": gen.epoch,
        "seam_ratio": stats,
        "grid_statistic": grids,
        "png": args.figure_out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096, help="Square mask size for the timing part.")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-eager", action="store_true", help="Leave out the eager Keras loop.")
    parser.add_argument("--scene", help="WxH: run the streaming memory check instead of the timing part.")
    parser.add_argument("--seam-figure", metavar="RUN", help="Draw the docs' seam crop with this trained run instead.")
    parser.add_argument("--figure-out", default="docs/seam_crop.png")
    args = parser.parse_args()
    part = seam_figure if args.seam_figure else scene if args.scene else timing
    print(json.dumps(part(args)), flush=True)


if __name__ == "__main__":
    main()
