#!/usr/bin/env python
"""Training, generation and input-pipeline speed, one JSON line per configuration.

    python experiments/benchmark.py --variant orig --batch-sizes 1 --configs float32:off --baseline

For every batch size and (precision, XLA) pair it reports training images/s after warm-up,
generation tiles/s (the project's inference rule, batched), the input pipeline's
pairs/s and peak memory (host RSS; GPU peak when a GPU is used). With --baseline it
also times a plain TF-tutorial-style loop (two tapes, two discriminator calls,
Keras BCE, float32, no XLA) on the same data in the same process. With --repeats N
(and --baseline) the two are timed alternately, N blocks of --steps each, and an
``interleaved`` line gives both medians and their ratio: on a busy machine compare only
those. Data are random tensors of the right shapes: speed does not depend on content.

    python experiments/benchmark.py --batch-sizes 1 --configs float32:off,mixed_bfloat16:off \
        --baseline --repeats 5 --steps 5 --no-generation --no-pipeline

End to end (process start to exit), on a prepared dataset:

    python experiments/benchmark.py --e2e DATASET --variant orig --epochs 2 --runs 3 --step-ms 64

runs ``pix2pix-sar fit`` (a fresh run folder each time) and a tutorial-style training
process (same patches, same steps, the tutorial's step, one checkpoint save at the end)
alternately, --runs times each, and prints their wall times, the median ratio, where
fit's time went outside the train steps (before fit: interpreter and imports; start-up
phases; the first step's tracing; input, saving, logging and the loop; the last writes;
from the ``timing`` log line and history.csv of the median run), and a projection of the
share outside train steps for the paper's data (--project-patches 2,003 per epoch,
--project-epochs 300, --project-batch 64) at --step-ms per step.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    return (time.perf_counter() - start) / max(steps, 1)


def tutorial_step_fn(cfg, batch):
    """The TF pix2pix tutorial's train step on one fixed batch (our block builders)."""
    step, _ = tutorial_step(cfg)
    return lambda: float(step(*batch))


def tutorial_process(data_dir: str, cfg, epochs: int, out: str) -> None:
    """The TF pix2pix tutorial's training, as one process: load the training patches,
    build the networks, train `epochs` epochs at batch 1 (shuffled tf.data), save one
    checkpoint (both networks and optimizers) at the end."""
    import tensorflow as tf

    from pix2pix_sar.data.dataset import load_info, load_split
    from pix2pix_sar.data.zones import class_scheme

    parts, last = {}, time.perf_counter()

    def mark(name):
        nonlocal last
        now = time.perf_counter()
        parts[name] = parts.get(name, 0.0) + now - last
        last = now

    info = load_info(Path(data_dir))
    split = load_split(Path(data_dir), "train")
    masks = class_scheme(info.classes, data_dir).encode(split.zones).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((masks, split.images)).shuffle(len(masks)).batch(1)
    mark("patches")
    step, objects = tutorial_step(cfg)
    mark("models")
    for _ in range(epochs):
        for mask, target in dataset:
            float(step(mask, target))
            mark("first_step" if "first_step" not in parts else "steps")
    tf.train.Checkpoint(**objects).save(os.path.join(out, "ckpt"))
    mark("checkpoint")
    print("tutorial-timing " + json.dumps({k: round(v, 3) for k, v in parts.items()}), file=sys.stderr)


def tutorial_step(cfg):
    """(train_step(input_image, target) -> gen loss, the objects the tutorial checkpoints)."""
    import keras
    import tensorflow as tf

    from pix2pix_sar.models import build_discriminator, build_generator

    generator, discriminator = build_generator(cfg.model), build_discriminator(cfg.model)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(input_image, target):
        keys = tf.zeros((tf.shape(input_image)[0], 4), tf.int32)  # our generator takes noise keys
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

    objects = dict(
        generator_optimizer=g_opt, discriminator_optimizer=d_opt, generator=generator, discriminator=discriminator
    )
    return train_step, objects


def _timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stderr


def _fit_breakdown(wall: float, stderr: str, run_dir: Path) -> dict:
    """Where one fit process's wall time went, in seconds (and the share outside train steps)."""
    timing = json.loads(re.search(r"timing (\{.*\})", stderr).group(1))
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    total = {k: sum(float(r[k]) for r in rows) for k in ("seconds", "step_seconds", "input_seconds")}
    total.update({k: sum(float(r[k]) for r in rows) for k in ("save_seconds", "log_seconds")})
    steps_run = total["step_seconds"]
    epochs = len(rows)
    parts = {
        "before_fit": wall - timing["total"],  # interpreter, imports (TensorFlow, Keras), CLI, exit
        **{f"startup_{k}": v for k, v in timing["startup"].items()},
        "train_steps": steps_run,
        "input": total["input_seconds"],
        "saving": total["save_seconds"],
        "logging": total["log_seconds"],
        "loop": total["seconds"] - steps_run - total["input_seconds"] - total["save_seconds"] - total["log_seconds"],
        "epoch_ends": timing["epoch_ends"],
        "epoch_end_state_saves": timing["total"]
        - sum(timing["startup"].values())
        - total["seconds"]
        - timing["epoch_ends"]
        - timing["final_wait"]
        - timing["teardown"],
        "final_writes": timing["final_wait"],
        "teardown": timing["teardown"],
    }
    return {
        "wall_s": round(wall, 2),
        "epochs": epochs,
        "parts_s": {k: round(v, 3) for k, v in parts.items()},
        "first_step_s": round(timing["first_step"], 3),
        "non_step_share": round(1 - steps_run / wall, 4),
        "timing": timing,
        "rows": rows,
    }


def project(
    breakdown: dict, steps_measured: int, data_scale: float, patches: int, epochs: int, batch: int, step_ms: float
) -> dict:
    """The share of wall time outside train steps for `epochs` epochs of `patches` at
    `batch`, if a step takes `step_ms`, from the measured overheads: per step (input,
    logging, the loop), per epoch (after the history rows), per snapshot and per state
    save on the training thread, once (before fit and start-up, with reading the patches
    scaled by `data_scale`, the pixels to read over those read; the first step's tracing;
    the last writes). A projection: it assumes these overheads do not change with the
    device or the batch size, and the paper's snapshot schedule (every 15 epochs) and
    state_every default (10 minutes)."""
    parts, timing = breakdown["parts_s"], breakdown["timing"]
    mean_step = (parts["train_steps"] - timing["first_step"]) / max(steps_measured - 1, 1)
    steps = epochs * math.ceil(patches / batch)
    step_seconds = steps * step_ms / 1000
    per_step = (parts["input"] + parts["logging"] + parts["loop"]) / steps_measured
    snapshots = math.ceil(epochs / 15)
    state_every = 600.0  # training.state_every's default, 10m
    states = math.ceil(step_seconds / state_every) + 1
    snapshot_cost = timing["snapshot_seconds"] / max(timing["snapshots"], 1)
    state_cost = timing["state_save_seconds"] / max(timing["state_saves"], 1)
    overheads = {
        "once_before_fit_and_startup": parts["before_fit"]
        + sum(timing["startup"].values())
        + timing["startup"]["patches"] * (data_scale - 1),
        "once_tracing": max(timing["first_step"] - mean_step, 0.0),
        "once_final_writes": parts["final_writes"] + parts["teardown"],
        "per_step": steps * per_step,
        "per_epoch": epochs * parts["epoch_ends"] / breakdown["epochs"],
        "snapshots": snapshots * snapshot_cost,
        "state_saves": states * state_cost,
    }
    outside = sum(overheads.values())
    return {
        "what": "projection",
        "patches": patches,
        "epochs": epochs,
        "batch": batch,
        "step_ms": step_ms,
        "steps": steps,
        "train_step_s": round(step_seconds, 1),
        "outside_steps_s": {k: round(v, 2) for k, v in overheads.items()},
        "non_step_share": round(outside / (outside + step_seconds), 4),
    }


def end_to_end(args) -> None:
    """fit and the tutorial-style process, interleaved, --runs times each."""
    sets = [a for s in args.set for a in ("--set", s)]
    fits, tutorials = [], []
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        for i in range(args.runs):
            run_dir = Path(tmp) / f"fit{i}"
            fit_argv = [sys.executable, "-m", "pix2pix_sar", "-v", "fit", "--data", args.e2e, "--out", str(run_dir)]
            fit_argv += ["--variant", args.variant, "--epochs", str(args.epochs), "--batch-size", "1", *sets]
            wall, stderr = _timed(fit_argv)
            fits.append(_fit_breakdown(wall, stderr, run_dir))
            out = Path(tmp) / f"tutorial{i}"
            out.mkdir()
            tut_argv = [sys.executable, __file__, "--tutorial-process", args.e2e, "--out", str(out)]
            tut_argv += [
                "--variant",
                args.variant,
                "--epochs",
                str(args.epochs),
                *[a for s in args.set for a in ("--set", s)],
            ]
            wall, stderr = _timed(tut_argv)
            tutorials.append(wall)
            tutorial_parts = json.loads(re.search(r"tutorial-timing (\{.*\})", stderr).group(1))
            row = {
                "what": "e2e",
                "run": i + 1,
                "fit_wall_s": fits[-1]["wall_s"],
                "tutorial_wall_s": round(tutorials[-1], 2),
                "fit_parts_s": fits[-1]["parts_s"],
                "tutorial_parts_s": tutorial_parts,
            }
            print(json.dumps(row), flush=True)
    median = sorted(fits, key=lambda f: f["wall_s"])[len(fits) // 2]
    from pix2pix_sar.data.dataset import load_info, split_size

    measured = split_size(Path(args.e2e), "train")
    steps_measured = args.epochs * measured
    data_scale = (
        args.project_patches * args.project_patch_size**2 / (measured * load_info(Path(args.e2e)).patch_size ** 2)
    )
    summary = {
        "what": "e2e-summary",
        "variant": args.variant,
        "epochs": args.epochs,
        "steps": steps_measured,
        "runs": args.runs,
        "fit_wall_s_median": median["wall_s"],
        "tutorial_wall_s_median": round(statistics.median(tutorials), 2),
        "tutorial_over_fit": round(statistics.median(tutorials) / median["wall_s"], 3),
        "fit_parts_s": median["parts_s"],
        "fit_first_step_s": median["first_step_s"],
        "fit_non_step_share": median["non_step_share"],
    }
    print(json.dumps(summary), flush=True)
    projection = project(
        median, steps_measured, data_scale, args.project_patches, args.project_epochs, args.project_batch, args.step_ms
    )
    print(json.dumps(projection), flush=True)


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
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="with --baseline: time ours and the tutorial alternately, REPEATS blocks of --steps each "
        "per configuration, and report medians and the ratio (compare only such medians on a busy machine)",
    )
    parser.add_argument("--no-generation", action="store_true")
    parser.add_argument("--no-pipeline", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    parser.add_argument("--e2e", metavar="DATASET", help="end to end: fit vs a tutorial-style process on DATASET")
    parser.add_argument("--epochs", type=int, default=2, help="--e2e: epochs per run")
    parser.add_argument("--runs", type=int, default=3, help="--e2e: runs of each, interleaved")
    parser.add_argument("--step-ms", type=float, default=64.0, help="--e2e: step time of the projection")
    parser.add_argument("--project-patches", type=int, default=2003, help="--e2e: patches per epoch (the paper's)")
    parser.add_argument("--project-epochs", type=int, default=300, help="--e2e: epochs (the paper's)")
    parser.add_argument("--project-batch", type=int, default=64, help="--e2e: batch size of the projection")
    parser.add_argument("--project-patch-size", type=int, default=256, help="--e2e: patch side of the projection")
    parser.add_argument("--tutorial-process", metavar="DATASET", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.e2e:
        return end_to_end(args)
    if args.tutorial_process:
        from pix2pix_sar.config import resolve_config
        from pix2pix_sar.data.dataset import load_info

        size = load_info(Path(args.tutorial_process)).patch_size
        cfg = resolve_config(args.variant, assignments=[f"model.patch_size={size}", *args.set])
        return tutorial_process(args.tutorial_process, cfg, args.epochs, args.out)

    from pix2pix_sar.training.distribute import make_strategy

    strategy = make_strategy(args.strategy)
    import keras
    import numpy as np
    import tensorflow as tf

    from pix2pix_sar.config import resolve_config
    from pix2pix_sar.data.dataset import SplitArrays
    from pix2pix_sar.data.pipeline import MemoryFeeder
    from pix2pix_sar.data.zones import CLASS_SCHEMES
    from pix2pix_sar.models.inference import inference_generator, make_generate_fn
    from pix2pix_sar.noise import patch_keys
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.inputs import WorkerShard, distributed_epoch
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
            step = make_train_step(strategy, nets, cfg.loss, batch, mask_channels=1, jit_compile=xla == "on")
            dist = strategy.experimental_distribute_values_from_function(
                lambda ctx: tuple(
                    tf.constant(a[ctx.replica_id_in_sync_group :: ctx.num_replicas_in_sync]) for a in (masks, images)
                )
            )
            ours = lambda step=step, dist=dist: float(step(*dist, 0, 0)["gen_total"])  # noqa: E731
            if args.baseline and args.repeats > 1:
                # Interleaved: the tutorial's loop is built beside ours and both are timed in
                # alternation, --repeats blocks of --steps each, so load from other processes
                # hits both alike; medians and the median of the per-repeat ratios are reported.
                keras.utils.set_random_seed(0)
                baseline = tutorial_step_fn(cfg, (tf.constant(masks), tf.constant(images)))
                _time(baseline, 0, args.warmup)
                _time(ours, 0, args.warmup)
                runs = {"ours": [], "tutorial": []}
                for _ in range(args.repeats):
                    runs["ours"].append(_time(ours, args.steps, 0))
                    runs["tutorial"].append(_time(baseline, args.steps, 0))
                seconds = statistics.median(runs["ours"])
                ratios = [t / o for o, t in zip(runs["ours"], runs["tutorial"])]
                print(
                    json.dumps(
                        {
                            "what": "interleaved",
                            **base,
                            "batch": batch,
                            "precision": precision,
                            "xla": xla,
                            "repeats": args.repeats,
                            "steps_per_repeat": args.steps,
                            "ours_step_ms": [round(1000 * s, 1) for s in runs["ours"]],
                            "tutorial_step_ms": [round(1000 * s, 1) for s in runs["tutorial"]],
                            "ours_median_ms": round(1000 * seconds, 1),
                            "tutorial_median_ms": round(1000 * statistics.median(runs["tutorial"]), 1),
                            "tutorial_over_ours": round(statistics.median(runs["tutorial"]) / seconds, 3),
                            "median_paired_ratio": round(statistics.median(ratios), 3),
                        }
                    ),
                    flush=True,
                )
                del baseline
            else:
                seconds = _time(ours, args.steps, args.warmup)
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
        if args.baseline and args.repeats <= 1:
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
            MemoryFeeder(split, CLASS_SCHEMES["binary"]),
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
