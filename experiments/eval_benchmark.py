"""Evaluation throughput (images/s) of the paper's `orig` generator at 256x256.

    .venv/bin/python experiments/eval_benchmark.py [--images 24] [--batch-sizes 1 4 8]

Runs what ``pix2pix-sar evaluate`` runs per snapshot, with an untrained generator
(throughput does not depend on the weights) and synthetic masks and targets:
the seeded inference copy (per-image BatchNorm, dropout on), the compiled
generate + Dice + SSIM function, and the SAR statistics in numpy. Prints images/s
for generation alone, generation + metrics, and the whole per-batch work
(best of --repeats timings).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24, help="Images per measurement.")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many timings (shared machines are noisy).")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.scaling import SarScaling
    from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK, encode_binary
    from pix2pix_sar.evaluation.sar_stats import SarStatistics
    from pix2pix_sar.evaluation.sweep import SnapshotGenerator, make_evaluate_fn
    from pix2pix_sar.models import build_generator
    from pix2pix_sar.noise import patch_keys

    size = args.patch_size
    cfg = resolve_config("orig", assignments=[f"model.patch_size={size}"])
    generator = build_generator(cfg.model)
    seeded = SnapshotGenerator(generator, cfg.model, seed=0)
    evaluate = make_evaluate_fn(seeded.generate)
    rng = np.random.default_rng(0)
    zones = np.full((args.images, size, size), OCEAN, np.uint8)
    zones[:, : size // 3], zones[:, size // 3 : 2 * size // 3] = ROCK, GLACIER
    masks = encode_binary(zones)
    targets = rng.uniform(-1, 1, (args.images, size, size, 1)).astype(np.float32)
    keys = patch_keys(0, np.arange(args.images))
    valid = (zones != 0)[..., None].astype(np.float32)
    scaling = SarScaling("intensity", -25.0, 0.0)

    print(
        f"orig generator, {size}x{size}, {generator.count_params():,} parameters; "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); TF {tf.__version__}"
    )
    print(f"{'batch':>5} {'generate':>12} {'+ metrics':>12} {'+ SAR stats':>12}   (images/s)")
    for batch in args.batch_sizes:
        # Warm up (trace) on one batch of this size.
        evaluate(
            tf.constant(masks[:batch]),
            tf.constant(keys[:batch]),
            tf.constant(targets[:batch]),
            tf.constant(valid[:batch]),
        )
        seeded.generate(tf.constant(masks[:batch]), tf.constant(keys[:batch]))
        rates = {stage: 0.0 for stage in ("generate", "metrics", "all")}
        for stage in [*rates] * args.repeats:
            stats = SarStatistics(scaling)
            t0 = time.perf_counter()
            for start in range(0, args.images, batch):
                m, t = tf.constant(masks[start : start + batch]), tf.constant(targets[start : start + batch])
                k, v = tf.constant(keys[start : start + batch]), tf.constant(valid[start : start + batch])
                if stage == "generate":
                    seeded.generate(m, k).numpy()
                    continue
                images, *values = evaluate(m, k, t, v)
                [v.numpy() for v in values]
                if stage == "all":
                    stats.add(zones[start : start + batch], targets[start : start + batch], images.numpy())
            if stage == "all":
                stats.summary()
            rates[stage] = max(rates[stage], args.images / (time.perf_counter() - t0))
        print(f"{batch:>5} " + " ".join(f"{r:>12.2f}" for r in rates.values()), flush=True)


if __name__ == "__main__":
    main()
