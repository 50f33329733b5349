"""Time and peak memory of `prepare` on a large scene (default 10,000 x 10,000 Float32).

    .venv/bin/python experiments/prepare_benchmark.py [--size 10000] [--patch-size 256] [--workdir DIR]

1. Writes the scene once (outside the measurement): a synthetic 2,000^2 scene tiled
   to SIZE^2 (Float32 intensity, tiled GeoTIFF, no-data 0) with its zone raster and
   an AOI in EPSG:4326 covering most of it.
   This runs in a subprocess of its own, so that the measured one below is not
   forked from a process holding the scene.
2. Runs `prepare_scenes` in a fresh subprocess and reports its wall time and peak
   resident memory (that child's ru_maxrss from os.wait4), with the number of
   patches written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
from pix2pix_sar.data.prepare import PrepareOptions, prepare_scenes
from pix2pix_sar.data.scenes import AreaOfInterest, SceneInput
from pix2pix_sar.data.dataset import load_manifest
work, patch = Path(sys.argv[1]), int(sys.argv[2])
start = time.perf_counter()
out = prepare_scenes(
    [SceneInput(work / "scene.tif", work / "zones.tif")], work / "dataset",
    options=PrepareOptions(patch_size=patch, max_nodata=0.0),
    aoi=AreaOfInterest.from_file(work / "aoi.geojson"), overwrite=True,
)
print(json.dumps({"seconds": time.perf_counter() - start, "patches": len(load_manifest(out))}))
"""


def write_scene(work: Path, size: int) -> None:
    import numpy as np

    from pix2pix_sar import geo
    from pix2pix_sar.data.synth import DEFAULT_CRS, DEFAULT_ORIGIN, synth_scene

    tile = synth_scene(2000, 2000, seed=0)
    reps = -(-size // 2000)
    intensity = np.tile(tile.intensity, (reps, reps))[:size, :size]
    zones = np.tile(tile.zones, (reps, reps))[:size, :size]
    grid = geo.Grid(
        geo.crs_from_user(DEFAULT_CRS), (DEFAULT_ORIGIN[0], 40.0, 0, DEFAULT_ORIGIN[1], 0, -40.0), size, size
    )
    geo.write_geotiff(work / "scene.tif", intensity, grid, nodata=0, compress="LZW")
    geo.write_geotiff(work / "zones.tif", zones, grid, nodata=0, compress="LZW")
    x0, _, _, y0, _, _ = grid.geotransform
    bounds = (x0 + 0.02 * size * 40, y0 - 0.98 * size * 40, x0 + 0.98 * size * 40, y0 - 0.02 * size * 40)
    wgs84 = geo.crs_from_user("EPSG:4326")
    aoi = geo.transform_geometries([geo.bounds_polygon(bounds)], grid.crs_wkt, wgs84)
    geo.write_vector(work / "aoi.geojson", aoi, wgs84, {"name": ["benchmark"]}, driver="GeoJSON")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--write-scene-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="prepare_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.write_scene_only:
        write_scene(work, args.size)
        return
    if not (work / "scene.tif").exists():
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--write-scene-only", "--size", str(args.size), "--workdir", str(work)],
            check=True,
        )
        print(f"wrote the {args.size}x{args.size} scene in {time.perf_counter() - start:.0f} s ({work})")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(work), str(args.patch_size)], stdout=subprocess.PIPE, text=True
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        sys.exit(f"prepare failed (status {status})")
    stats = json.loads(output.strip().splitlines()[-1])
    peak_mib = usage.ru_maxrss / 1024  # kB on Linux
    scene_mib = (work / "scene.tif").stat().st_size / 2**20
    print(
        f"prepare {args.size}x{args.size} Float32 (file {scene_mib:,.0f} MiB), patch {args.patch_size}: "
        f"{stats['patches']} patches in {stats['seconds']:.1f} s, peak memory {peak_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
