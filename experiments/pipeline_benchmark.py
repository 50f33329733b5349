"""Training input throughput: in memory (MemoryFeeder) against streamed from the pack (StreamedFeeder).

    .venv/bin/python experiments/pipeline_benchmark.py [--patches 2000] [--size 256] [--batch-size 16]

Writes a dataset of random patches (GeoTIFFs, as `prepare` writes them) under --work
once, packs it (`pix2pix-sar dataset pack`), then, in one process, times epochs of
both paths interleaved (memory, streamed warm, streamed cold, ...), each iterated to
the end in Python (no model: the input side alone), in the order and with the flips
of training (training.inputs.worker_rows), as compact batches: the decode to float32
masks happens in the train step on the device, and its CPU cost is reported apart. "Cold" evicts the pack from the page
cache before the epoch (posix_fadvise DONTNEED). The in-memory path's own cold cost is
reading the GeoTIFFs into memory, reported as its load time. Peak memory (VmHWM) of
each path is measured in a fresh process (--only memory|streamed). Medians after a
warm-up epoch; the load average is printed, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def make_dataset(path: Path, n: int, size: int) -> Path:
    from pix2pix_sar import geo
    from pix2pix_sar.data.dataset import DatasetInfo, DatasetWriter, PatchRecord
    from pix2pix_sar.data.scaling import SarScaling
    from pix2pix_sar.data.zones import ZONE_CODES

    if (path / "dataset.json").exists():
        return path
    rng = np.random.default_rng(0)
    grid = geo.Grid.north_up(geo.crs_from_user("EPSG:3031"), (0.0, 0.0), 40.0, size, size)
    with DatasetWriter(path, overwrite=True) as writer:
        for i in range(n):
            zones = rng.choice(np.array(ZONE_CODES[1:], np.uint8), size=(size, size))
            sar = rng.uniform(-1, 1, size=(size, size)).astype(np.float32)
            writer.add(PatchRecord(f"p{i:06d}", "train", "bench", 0, 0, size, size), sar, zones, grid)
        scaling = SarScaling(units="db", db_min=-30.0, db_max=5.0, dtype="float32", nodata=None)
        return writer.commit(DatasetInfo(size, "zones", scaling, 0, 0.0, ["bench"]))


def evict(dataset: Path) -> None:
    for path in (dataset / "packed").glob("train.*"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def build(dataset: Path, path: str):
    """A WorkerShard of one replica over the train split, in memory or streamed."""
    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.packed import PackedSplit
    from pix2pix_sar.data.pipeline import MemoryFeeder, StreamedFeeder
    from pix2pix_sar.data.zones import class_scheme
    from pix2pix_sar.training.inputs import WorkerShard

    scheme = class_scheme("zones", "benchmark")
    start = time.perf_counter()
    if path == "memory":
        feeder = MemoryFeeder(load_split(dataset, "train"), scheme)
    else:
        feeder = StreamedFeeder(PackedSplit.open(dataset, "train"), scheme)
    seconds = time.perf_counter() - start
    return WorkerShard(feeder.count, range(1), 1, feeder, np.arange(feeder.count)), seconds


def run_epoch(shard, batch_size: int, epoch: int) -> tuple[int, float, float]:
    """One epoch of compact batches, in the order and with the flips training uses."""
    from pix2pix_sar.training.inputs import worker_rows

    rows, flips = worker_rows(shard, batch_size, 0, epoch, flip=True)
    wall, cpu = time.perf_counter(), time.process_time()
    count = 0
    for masks, _ in shard.feeder.feed(rows, batch_size, flips, compact=True):
        count += int(masks.shape[0])
    return count, time.perf_counter() - wall, time.process_time() - cpu


def decode_ms(shard, batch_size: int) -> float:
    """CPU milliseconds of the in-step decode of one batch (free beside a GPU step)."""
    import tensorflow as tf

    rows, flips = worker_rows_first(shard, batch_size)
    batch = next(iter(shard.feeder.feed(rows, batch_size, flips, compact=True)))
    decode = tf.function(shard.feeder.decode)
    decode(*batch)
    start = time.process_time()
    for _ in range(20):
        decode(*batch)
    return (time.process_time() - start) / 20 * 1000


def worker_rows_first(shard, batch_size: int):
    from pix2pix_sar.training.inputs import worker_rows

    rows, flips = worker_rows(shard, batch_size, 0, 0, flip=True)
    return rows[:batch_size], flips[:batch_size]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def only(dataset: Path, path: str, batch_size: int) -> None:
    """One path in a fresh process: build, two epochs, peak memory as JSON."""
    import tensorflow as tf  # noqa: F401  (counted in after_import_mb)

    before = peak_rss_mb()
    shard, seconds = build(dataset, path)
    for epoch in range(2):
        run_epoch(shard, batch_size, epoch)
    print(json.dumps({"path": path, "peak_mb": peak_rss_mb(), "after_import_mb": before, "build_s": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3, help="Timed epochs per path (after one warm-up).")
    parser.add_argument("--work", default="/tmp/pix2pix_sar_pipeline_bench", help="Where the dataset is written.")
    parser.add_argument("--only", choices=("memory", "streamed"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    dataset = Path(args.work) / f"n{args.patches}_s{args.size}"
    if args.only:
        only(dataset, args.only, args.batch_size)
        return
    from pix2pix_sar.data.packed import pack_dataset

    start = time.perf_counter()
    make_dataset(dataset, args.patches, args.size)
    pack_start = time.perf_counter()
    pack_dataset(dataset)
    print(
        f"{args.patches} patches {args.size}x{args.size} (zones), batch {args.batch_size}, flips on, "
        f"{os.cpu_count()} CPUs; dataset {pack_start - start:.1f} s, pack {time.perf_counter() - pack_start:.1f} s"
    )
    memory, memory_load = build(dataset, "memory")
    streamed, _ = build(dataset, "streamed")
    print(f"in-memory load (GDAL reads of every patch, encode, copy to TensorFlow): {memory_load:.1f} s")
    rates: dict[str, list[float]] = {"memory": [], "streamed warm": [], "streamed cold": []}
    for epoch in range(args.epochs + 1):
        for label, shard in (("memory", memory), ("streamed warm", streamed), ("streamed cold", streamed)):
            if label == "streamed cold":
                evict(dataset)
            count, wall, cpu = run_epoch(shard, args.batch_size, epoch)
            if epoch:
                rates[label].append(count / wall)
            print(
                f"epoch {epoch} {label:14s} {count} pairs in {wall:.2f} s = {count / wall:,.0f} pairs/s "
                f"({count / cpu:,.0f} per CPU-second), load {os.getloadavg()[0]:.1f}"
            )
    medians = {k: float(np.median(v)) for k, v in rates.items()}
    peaks = {}
    for path in ("memory", "streamed"):
        cmd = [sys.executable, __file__, "--only", path, "--work", args.work, "--patches", str(args.patches)]
        cmd += ["--size", str(args.size), "--batch-size", str(args.batch_size)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        peaks[path] = json.loads(out)["peak_mb"]
    print()
    decode = {
        name: decode_ms(shard, args.batch_size) for name, shard in (("in-memory", memory), ("streamed", streamed))
    }
    print(
        f"decode in the step, CPU ms per batch of {args.batch_size}: "
        + ", ".join(f"{k} {v:.1f}" for k, v in decode.items())
    )
    print("| path | pairs/s (median) | ratio to in-memory | peak RSS (MB, fresh process) |")
    print("|---|---|---|---|")
    for label, rate in medians.items():
        peak = peaks["memory" if label == "memory" else "streamed"]
        print(f"| {label} | {rate:,.0f} | {rate / medians['memory']:.2f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
