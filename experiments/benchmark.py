#!/usr/bin/env python
"""Training, generation and input-pipeline speed, one JSON line per configuration.

    python experiments/benchmark.py --variant orig --batch-sizes 1 --configs float32:off --baseline

For every batch size and (precision, XLA) pair it reports training images/s after warm-up,
generation tiles/s (the project's inference rule, batched), the input pipeline's
pairs/s and peak memory (host RSS; GPU peak when a GPU is used). With --baseline it
also times a plain TF-tutorial-style loop (two tapes, two discriminator calls,
Keras BCE, float32, no XLA) on the same data in the same process, and prints the
ratio. Data are random tensors of the right shapes: speed does not depend on content.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _peak_memory() -> dict:
    import tensorflow as tf

    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if tf.config.list_physical_devices("GPU"):
        out["gpu_peak_mb"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
        tf.config.experimental.reset_memory_stats("GPU:0")
    return out


def _time(fn, steps: int, warmup: int) -> float:
    """Seconds per call after `warmup` calls (result pulled to host each call)."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def tutorial_step_fn(cfg, batch):
    """The TF pix2pix tutorial's train step, verbatim in structure (our block builders)."""
    import keras
    import tensorflow as tf

    from pix2pix_sar.models import build_discriminator, build_generator

    generator, discriminator = build_generator(cfg.model), build_discriminator(cfg.model)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    keys = tf.zeros((batch[0].shape[0], 4), tf.int32)  # our generator takes noise keys

    @tf.function
    def train_step(input_image, target):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            gen_output = generator([input_image, keys], training=True)
            disc_real_output = discriminator([input_image, target], training=True)
            disc_generated_output = discriminator([input_image, gen_output], training=True)
            gan_loss = bce(tf.ones_like(disc_generated_output), disc_generated_output)
            l1_loss = tf.reduce_mean(tf.abs(target - gen_output))
            gen_total_loss = gan_loss + 100 * l1_loss
            disc_loss = bce(tf.ones_like(disc_real_output), disc_real_output) + bce(
                tf.zeros_like(disc_generated_output), disc_generated_output
            )
        g_opt.apply_gradients(
            zip(gen_tape.gradient(gen_total_loss, generator.trainable_variables), generator.trainable_variables)
        )
        d_opt.apply_gradients(
            zip(disc_tape.gradient(disc_loss, discriminator.trainable_variables), discriminator.trainable_variables)
        )
        return gen_total_loss

    return lambda: float(train_step(*batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="orig")
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1", help="comma-separated global batch sizes")
    parser.add_argument(
        "--configs",
        default="float32:off",
        help="comma-separated PRECISION:XLA pairs, e.g. float32:off,mixed_bfloat16:on",
    )
    parser.add_argument("--strategy", default="one-device")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also time the tutorial-style loop")
    parser.add_argument("--no-generation", action="store_true")
    parser.add_argument("--no-pipeline", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = parser.parse_args()

    from pix2pix_sar.training.distribute import make_strategy

    strategy = make_strategy(args.strategy)
    import keras
    import numpy as np
    import tensorflow as tf

    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import SplitArrays
    from pix2pix_sar.data.pipeline import SplitFeeder
    from pix2pix_sar.data.zones import CLASS_SCHEMES
    from pix2pix_sar.models.inference import inference_generator, make_generate_fn
    from pix2pix_sar.noise import patch_keys
    from pix2pix_sar.training.inputs import WorkerShard, distributed_epoch
    from pix2pix_sar.training.loop import build_pix2pix
    from pix2pix_sar.training.step import make_train_step

    device = tf.config.list_physical_devices("GPU")[0].name if tf.config.list_physical_devices("GPU") else "cpu"
    if device != "cpu":
        device = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
            "device_name", device
        )
    size = args.patch_size
    rng = np.random.default_rng(0)
    cfg = resolve_config(args.variant, assignments=[f"model.patch_size={size}", *args.set])
    base = {
        "variant": args.variant,
        "patch": size,
        "strategy": args.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "device": device,
    }

    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        masks = np.sign(rng.standard_normal((batch, size, size, 1))).astype(np.float32)
        images = rng.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
        for precision, xla in (pair.split(":") for pair in args.configs.split(",")):
            keras.utils.set_random_seed(0)
            with strategy.scope():
                nets = build_pix2pix(cfg, precision)
            step = make_train_step(strategy, nets, cfg.loss, batch, jit_compile=xla == "on")
            dist = strategy.experimental_distribute_values_from_function(
                lambda ctx: tuple(
                    tf.constant(a[ctx.replica_id_in_sync_group :: ctx.num_replicas_in_sync]) for a in (masks, images)
                )
            )
            seconds = _time(lambda step=step, dist=dist: float(step(*dist, 0, 0)["gen_total"]), args.steps, args.warmup)
            row = {
                "what": "train",
                "impl": "pix2pix-sar",
                **base,
                "batch": batch,
                "precision": precision,
                "xla": xla,
                "images_per_s": round(batch / seconds, 2),
                "step_ms": round(1000 * seconds, 1),
            }
            if not args.no_generation:
                gen = make_generate_fn(inference_generator(nets.generator), jit_compile=xla == "on")
                keys = tf.constant(patch_keys(0, np.arange(batch)))
                gen_seconds = _time(lambda: gen(tf.constant(masks), keys).numpy(), args.steps, args.warmup)
                row["generate_tiles_per_s"] = round(batch / gen_seconds, 2)
            print(json.dumps({**row, **_peak_memory()}), flush=True)
            del nets, step
            keras.backend.clear_session()
        if args.baseline:
            keras.utils.set_random_seed(0)
            baseline = tutorial_step_fn(cfg, (tf.constant(masks), tf.constant(images)))
            seconds = _time(baseline, args.steps, args.warmup)
            print(
                json.dumps(
                    {
                        "what": "train",
                        "impl": "tutorial",
                        **base,
                        "batch": batch,
                        "precision": "float32",
                        "xla": "off",
                        "images_per_s": round(batch / seconds, 2),
                        "step_ms": round(1000 * seconds, 1),
                        **_peak_memory(),
                    }
                ),
                flush=True,
            )
            keras.backend.clear_session()

    if not args.no_pipeline:
        n = 256
        split = SplitArrays(
            [str(i) for i in range(n)],
            rng.choice(np.array([64, 127, 254], np.uint8), (n, size, size)),
            rng.uniform(-1, 1, (n, size, size, 1)).astype(np.float32),
        )
        shard = WorkerShard(
            n,
            range(strategy.num_replicas_in_sync),
            strategy.num_replicas_in_sync,
            SplitFeeder(split, CLASS_SCHEMES["binary"]),
            np.arange(n),
        )
        batch = int(args.batch_sizes.split(",")[0])
        for epoch in range(2):  # the first epoch warms up
            start, count = time.perf_counter(), 0
            for _ in distributed_epoch(strategy, shard, batch, 0, epoch):
                count += batch
            seconds = time.perf_counter() - start
        print(
            json.dumps(
                {"what": "pipeline", **base, "batch": batch, "pairs_per_s": round(count / seconds, 1), **_peak_memory()}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
