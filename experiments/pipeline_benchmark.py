"""Patch pairs per second that data.pipeline feeds after the first epoch.

    .venv/bin/python experiments/pipeline_benchmark.py [--patches 2000] [--size 256] [--batch-size 1]

Builds an in-memory split of random 256x256 patches (what load_split returns),
builds the SplitFeeder once (the "cache": masks encoded, patches copied into
TensorFlow), runs one warm-up epoch, then times the following epochs by iterating
the tf.data dataset to the end in Python, as the training loop does (no model: the
input side alone). Reports wall-clock and CPU-time rates and the load average,
since the machine may be shared. It times the bare feeder and the input the
training loop uses (training.inputs.distributed_epoch on one device, which adds
the per-replica schedule and tf.distribute's iterator).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _run(make, epochs: int, label: str) -> None:
    rates = []
    for epoch in range(epochs + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        count = sum(int(masks.shape[0]) for masks, _ in make(epoch))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if epoch:  # the first epoch warms up (tracing, allocation)
            rates.append((count / wall, count / cpu))
        print(
            f"{label} epoch {epoch}: {count} pairs in {wall:.2f} s = {count / wall:,.0f} pairs/s "
            f"({count / cpu:,.0f} per CPU-second), load {os.getloadavg()[0]:.1f}"
        )
    wall_rate, cpu_rate = np.median(rates, axis=0)
    print(
        f"{label}: after the first epoch {wall_rate:,.0f} pairs/s wall, {cpu_rate:,.0f} pairs per CPU-second (medians)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--classes", default="binary")
    parser.add_argument("--flip", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from pix2pix_sar.data.dataset import SplitArrays
    from pix2pix_sar.data.pipeline import SplitFeeder
    from pix2pix_sar.data.sharding import flip_schedule, replica_schedule
    from pix2pix_sar.data.zones import ZONE_CODES, class_scheme
    from pix2pix_sar.training.inputs import WorkerShard, distributed_epoch

    rng = np.random.default_rng(0)
    n, size = args.patches, args.size
    split = SplitArrays(
        [f"p{i}" for i in range(n)],
        rng.choice(np.array(ZONE_CODES, np.uint8), size=(n, size, size)),
        rng.uniform(-1, 1, size=(n, size, size, 1)).astype(np.float32),
    )
    scheme = class_scheme(args.classes, "benchmark")
    print(
        f"{n} patches {size}x{size}, batch {args.batch_size}, classes {args.classes}, flip {args.flip}, "
        f"{os.cpu_count()} CPUs"
    )
    start = time.perf_counter()
    feeder = SplitFeeder(split, scheme)
    print(f"SplitFeeder built in {time.perf_counter() - start:.2f} s (once per split)")

    def bare(epoch):
        rows = replica_schedule(n, 0, epoch, 0, 1, args.batch_size).reshape(-1)
        return feeder.feed(rows, args.batch_size, flip_schedule(n, 0, epoch)[rows] if args.flip else None)

    _run(bare, args.epochs, "feeder")
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    shard = WorkerShard(n, range(1), 1, feeder, np.arange(n))
    _run(lambda e: distributed_epoch(strategy, shard, args.batch_size, 0, e, args.flip), args.epochs, "training input")


if __name__ == "__main__":
    main()
