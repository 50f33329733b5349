"""Does a run conditioned on the sensor render each sensor's look? The issue-25 benchmark.

    python experiments/sensors/run.py --out OUT [--results DIR]   # ~12 CPU-min, 8-12 min wall on 2 cores (estimated)
    python experiments/sensors/run.py --smoke --out OUT            # the flow on tiny data, < 1 min

Protocol (README.md beside this file):

1. Training data: ``synth --sensor S --seed 0..1`` (768 x 768 px) for S1, TSX and PALSAR
   (C, X and L band: 4.4, 2.5 and 2 looks, NESZ -25, -19 and -28 dB, 20, 7 and 17 m
   pixels). A seed draws the same zones whatever the sensor, so the sensors differ in how
   the scene looks, not where its zones lie. One dataset of all six with ``prepare
   --classes zones --patch-size 64``; it lists three sensors, so ``fit`` conditions on
   them.
2. Held out: ``synth --sensor S --seed 100`` for each sensor (one scene each, zones no run
   has seen, the same zones for the three sensors).
3. Two runs on that dataset, the same configuration (experiments/demo/config.yaml,
   variant scene) and seed, each for the same CPU time (default 5 CPU-minutes,
   ``--cpu-minutes``; user + sys of this process by getrusage, in chunks of epochs as in
   experiments/structure_variety): ``conditioned`` (the default) and ``blind``
   (``--set data.sensor_conditioning=false``: the same patches, no sensor planes).
4. Per sensor S and run, K = 2 samples (seeds 0, 1) of each held-out scene of S, whole:
   the conditioned run renders S (``generate --sensor S``), the blind run cannot be told.
   W1 (dB) and ENL ratio per class (evaluation.sar_stats) against the real held-out scene
   of S, pooled over its scenes and samples. Per sensor the conditioned run is closer
   when its mean over the classes of W1, and of |ln ENL ratio|, is the smaller.
5. Classifier: a small CNN (stride-2 convolutions, global average pooling, softmax over
   the three sensors) trained on the real training patches (SAR alone, model units) for
   a fixed number of seeded updates. Its accuracy on the real held-out scenes' patches
   (non-overlapping patch-size tiles without no-data) and on the same tiles of the
   generated images, labelled with the sensor requested (the blind run: the held-out
   scene's sensor).

Writes OUT/results.json (every number, the budget facts) and OUT/results.md (the tables)
into --results (default OUT), atomically. Every step skips what is done, so a stopped run
continues when rerun. Seeds are fixed: one replicate.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from pix2pix_sar.cli.main import run_in_process as pix2pix_sar  # one command, as typed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the shared cpu_budget module
from cpu_budget import cpu_seconds, train_within_budget  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "experiments" / "demo" / "config.yaml"
#: The two runs: name -> fit --set beyond the shared configuration.
RUNS = {"conditioned": (), "blind": ("data.sensor_conditioning=false",)}
#: fit --checkpoint-every: a snapshot only at the end of each chunk.
NO_PERIODIC_SNAPSHOTS = 10**6
#: Done when: the classifier names the requested sensor on at least this share of generated patches.
CLASSIFIER_GOAL = 0.9


@dataclass(frozen=True)
class Setup:
    """Sizes of one benchmark: the issue's (default) or the smoke test's."""

    sensors: tuple[str, ...] = ("S1", "TSX", "PALSAR")
    train_seeds: tuple[int, ...] = (0, 1)  # per sensor
    train_size: int = 768
    held_out_seeds: tuple[int, ...] = (100,)  # per sensor
    held_out_size: int = 768
    samples: int = 2  # K: samples per held-out scene and run (seeds 0..K-1)
    patch_size: int = 64
    variant: str = "scene"
    cpu_minutes: float = 5.0
    first_chunk: int = 1  # epochs of the first chunk; its CPU time sizes the next chunks
    generator_set: tuple[str, ...] = ()  # --set for both runs, after the demo config
    classifier_filters: tuple[int, ...] = (16, 32, 64)  # one stride-2 convolution each
    classifier_steps: int = 800
    classifier_batch: int = 32
    classifier_seed: int = 0


DEFAULT = Setup()
SMOKE = Setup(
    train_size=192,  # prepare estimates the looks from 192-px scenes, not 128
    held_out_size=192,
    patch_size=32,
    cpu_minutes=0.05,
    generator_set=("model.base_filters=8", "training.batch_size=4"),
    classifier_filters=(8, 16),
    classifier_steps=30,
)


def write_json(path: Path, data) -> None:
    from pix2pix_sar.atomic import atomic_path
    from pix2pix_sar.jsonio import dumps

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(dumps(data, indent=1) + "\n")


# --- Data ---------------------------------------------------------------------------


def synth(folder: Path, seed: int, size: int, sensor: str) -> Path:
    if not ((folder / "scene.tif").exists() and (folder / "zones.tif").exists()):
        pix2pix_sar("-q", "synth", folder, "--width", size, "--height", size, "--seed", seed, "--sensor", sensor)
    return folder


def make_dataset(out: Path, setup: Setup) -> Path:
    data = out / "data"
    if not (data / "dataset.json").exists():
        pairs = []
        for sensor in setup.sensors:
            for seed in setup.train_seeds:
                folder = synth(out / "scenes" / f"train_{sensor}_{seed}", seed, setup.train_size, sensor)
                pairs += ["--sar", folder / "scene.tif", "--mask", folder / "zones.tif"]
        pix2pix_sar(
            "-q", "prepare", *pairs, "--out", data, "--patch-size", setup.patch_size, "--classes", "zones",
            "--overwrite",
        )  # fmt: skip
    return data


@dataclass
class HeldOut:
    """One held-out scene in the training dataset's model range (-1 where no data)."""

    sensor: str
    seed: int
    zones: np.ndarray
    valid: np.ndarray
    real: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.sensor}_{self.seed}"


def held_out_scenes(out: Path, setup: Setup, scaling) -> list[HeldOut]:
    from pix2pix_sar import geo
    from pix2pix_sar.data.zones import valid_zones
    from pix2pix_sar.generation.generate import read_zones

    scenes = []
    for sensor in setup.sensors:
        for seed in setup.held_out_seeds:
            folder = synth(out / "scenes" / f"held_out_{sensor}_{seed}", seed, setup.held_out_size, sensor)
            zones = read_zones(folder / "zones.tif")
            valid = valid_zones(zones)
            with np.errstate(divide="ignore", invalid="ignore"):
                image = np.where(valid, scaling.to_model(geo.read_array(folder / "scene.tif")), np.float32(-1.0))
            real = np.nan_to_num(image, nan=-1.0).astype(np.float32)
            scenes.append(HeldOut(sensor, seed, zones, valid, real))
    return scenes


# --- Training -----------------------------------------------------------------------


def train_run(name: str, data: Path, run: Path, ledger_path: Path, setup: Setup) -> dict:
    """Fit run `name` in chunks of epochs until `setup.cpu_minutes` of this process's CPU
    time is spent; the chunks are kept in `ledger_path`, so a rerun continues."""
    set_args = [a for s in (*setup.generator_set, *RUNS[name]) for a in ("--set", s)]

    def fit_to(epochs: int) -> None:
        pix2pix_sar(
            "-q", "fit", "--data", data, "--out", run, "--variant", setup.variant, "--config", DEMO_CONFIG,
            *set_args, "--epochs", epochs, "--checkpoint-every", NO_PERIODIC_SNAPSHOTS,
        )  # fmt: skip

    ledger = train_within_budget(fit_to, ledger_path, setup.cpu_minutes, setup.first_chunk, write_json)
    return budget_facts(run, data, ledger)


def budget_facts(run: Path, data: Path, ledger: dict) -> dict:
    from pix2pix_sar.data.dataset import split_size
    from pix2pix_sar.data.sharding import steps_per_epoch
    from pix2pix_sar.run_folder import RunFolder

    folder = RunFolder(run)
    config = folder.load_config()
    per_epoch = steps_per_epoch(split_size(data, "train"), config.training.batch_size)
    epochs = int(folder.history()[-1]["epoch"])
    cpu, wall = (sum(c[k] for c in ledger["chunks"]) for k in ("cpu_s", "wall_s"))
    return {
        "epochs": epochs,
        "steps": epochs * per_epoch,
        "batch_size": config.training.batch_size,
        "sensor_conditioning": config.data.sensor_conditioning,
        "in_channels": config.model.in_channels,
        "cpu_min": cpu / 60.0,
        "wall_min": wall / 60.0,
        "chunks": len(ledger["chunks"]),
    }


def generated_samples(name: str, run: Path, scenes: list[HeldOut], cache: Path, setup: Setup) -> dict:
    """Scene name -> (K, H, W) samples in the model range; the conditioned run renders the
    scene's sensor, the blind run none. Cached per snapshot epoch."""
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    gen = RunGenerator.from_run(run)
    if cache.exists():
        with np.load(cache) as held:
            names = [s.name for s in scenes]
            if int(held["epoch"]) == gen.epoch and all(n in held and len(held[n]) == setup.samples for n in names):
                return {n: held[n] for n in names}
    samples = {}
    for scene in scenes:
        gen.use_sensor(scene.sensor if gen.sensors else None)
        images = []
        for k in range(setup.samples):  # seeds 0..K-1, as generate --samples K
            gen.seed = k
            images.append(generate_image(gen, scene.zones, TileSettings(seed=k)))
        samples[scene.name] = np.stack(images)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, epoch=gen.epoch, **samples)
    return samples


# --- Measuring ----------------------------------------------------------------------


def sar_measures(scenes: list[HeldOut], samples: dict, scaling, sensors) -> dict:
    """Per sensor: W1 (dB), real and generated ENL and their ratio per class, pooled over
    the sensor's held-out scenes and samples."""
    from pix2pix_sar.evaluation.sar_stats import SAR_CLASSES, SarStatistics

    out = {}
    for sensor in sensors:
        stats = SarStatistics(scaling)
        for scene in (s for s in scenes if s.sensor == sensor):
            for image in samples[scene.name]:
                stats.add(scene.zones[None], scene.real[None], image[None])
        summary = stats.summary()
        out[sensor] = {
            key: {c: summary[f"{key}_{c}"] for c in SAR_CLASSES}
            for key in ("w1_db", "enl_ratio", "enl_real", "enl_gen")
        }
    return out


def tiles(image: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size x size tiles of `image` without no-data, (N, size, size, 1)."""
    h, w = (image.shape[0] // size) * size, (image.shape[1] // size) * size

    def cut(a):
        return a[:h, :w].reshape(h // size, size, w // size, size).swapaxes(1, 2).reshape(-1, size, size)

    whole = cut(valid).all(axis=(1, 2))
    return cut(image)[whole][..., None].astype(np.float32)


def train_classifier(data: Path, path: Path, setup: Setup):
    """A small CNN telling the sensors apart on real training patches (SAR alone); saved
    to `path` and loaded from there when it was trained with these settings."""
    import keras

    facts_path = path.with_suffix(".json")
    facts = {
        "filters": list(setup.classifier_filters),
        "steps": setup.classifier_steps,
        "batch": setup.classifier_batch,
        "seed": setup.classifier_seed,
        "sensors": list(setup.sensors),
    }
    if path.exists() and facts_path.exists() and json.loads(facts_path.read_text())["settings"] == facts:
        return keras.models.load_model(path), json.loads(facts_path.read_text())
    from pix2pix_sar.atomic import atomic_path
    from pix2pix_sar.data.dataset import load_split

    split = load_split(data, "train")
    labels = np.array([setup.sensors.index(s) for s in split.sensors])
    keras.utils.set_random_seed(setup.classifier_seed)
    inputs = keras.Input((None, None, 1))
    x = inputs
    for filters in setup.classifier_filters:
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(len(setup.sensors), activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(setup.classifier_seed)
    cpu0, losses = cpu_seconds(), []
    for _ in range(setup.classifier_steps):
        pick = rng.integers(0, len(labels), setup.classifier_batch)
        losses.append(float(model.train_on_batch(split.images[pick], labels[pick])))
    record = {
        "settings": facts,
        "patches": len(labels),
        "per_sensor": {s: int((labels == k).sum()) for k, s in enumerate(setup.sensors)},
        "final_loss": float(np.mean(losses[-20:])),
        "cpu_s": cpu_seconds() - cpu0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    write_json(facts_path, record)
    return model, record


def classify(model, patches: dict[str, list[np.ndarray]], sensors) -> dict:
    """Accuracy of naming sensor S on `patches[S]` (stacks of tiles): overall, per sensor,
    and the confusion (true -> predicted -> count)."""
    right = total = 0
    per_sensor, confusion = {}, {}
    for sensor in sensors:
        x = np.concatenate(patches[sensor])
        predicted = model.predict(x, batch_size=256, verbose=0).argmax(axis=1)
        names = [sensors[i] for i in predicted]
        confusion[sensor] = {s: names.count(s) for s in sensors}
        per_sensor[sensor] = confusion[sensor][sensor] / len(names)
        right, total = right + confusion[sensor][sensor], total + len(names)
    return {"accuracy": right / total, "patches": total, "per_sensor": per_sensor, "confusion": confusion}


def log_distance(ratio) -> float:
    """|ln ratio|: how far an ENL ratio is from 1, alike for too smooth and too noisy (NaN if undefined)."""
    return abs(math.log(ratio)) if ratio is not None and math.isfinite(ratio) and ratio > 0 else math.nan


def closeness(measures: dict, sensors) -> dict:
    """Per sensor and run: the mean over classes of W1 and of |ln ENL ratio|, and whether the
    conditioned run is the closer on each."""
    out = {}
    for sensor in sensors:
        row = {}
        for name in RUNS:
            m = measures[name][sensor]
            w1 = [v for v in m["w1_db"].values() if math.isfinite(v)]
            enl = [d for d in map(log_distance, m["enl_ratio"].values()) if math.isfinite(d)]
            row[name] = {
                "w1_db": float(np.mean(w1)) if w1 else math.nan,
                "log_enl": float(np.mean(enl)) if enl else math.nan,
            }
        row["closer_w1"] = bool(row["conditioned"]["w1_db"] < row["blind"]["w1_db"])
        row["closer_enl"] = bool(row["conditioned"]["log_enl"] < row["blind"]["log_enl"])
        out[sensor] = row
    return out


# --- Tables -------------------------------------------------------------------------


def _num(value, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def results_markdown(record: dict) -> str:
    setup, sensors = record["setup"], record["setup"]["sensors"]
    measures, close, budget = record["sar"], record["closeness"], record["budget"]
    lines = [record["header"], "", "### W1 and ENL ratio against each sensor's real held-out scene", ""]
    lines += [
        "| sensor | class | real ENL | W1 blind (dB) | W1 conditioned (dB) | ENL ratio blind | ENL ratio conditioned |",
        "|---|---|---|---|---|---|---|",
    ]
    for sensor in sensors:
        blind, cond = measures["blind"][sensor], measures["conditioned"][sensor]
        for c in blind["w1_db"]:
            mark = {True: " **✓**", False: ""}
            lines.append(
                f"| {sensor} | {c} | {_num(cond['enl_real'][c])} | {_num(blind['w1_db'][c])} | "
                f"{_num(cond['w1_db'][c])}{mark[cond['w1_db'][c] < blind['w1_db'][c]]} | "
                f"{_num(blind['enl_ratio'][c])} | {_num(cond['enl_ratio'][c])}"
                f"{mark[log_distance(cond['enl_ratio'][c]) < log_distance(blind['enl_ratio'][c])]} |"
            )
    lines += ["", "✓: the conditioned run is the closer in that cell. Means over the classes:", ""]
    lines += [
        "| sensor | W1 blind | W1 conditioned | abs ln ENL ratio blind | … conditioned | conditioned closer |",
        "|---|---|---|---|---|---|",
    ]
    for sensor in sensors:
        c = close[sensor]
        verdict = "W1 " + ("yes" if c["closer_w1"] else "**no**") + ", ENL " + ("yes" if c["closer_enl"] else "**no**")
        lines.append(
            f"| {sensor} | {_num(c['blind']['w1_db'])} | {_num(c['conditioned']['w1_db'])} | "
            f"{_num(c['blind']['log_enl'], 3)} | {_num(c['conditioned']['log_enl'], 3)} | {verdict} |"
        )
    lines += ["", "### Sensor classifier (trained on real training patches)", ""]
    lines += ["| patches | count | accuracy | " + " | ".join(sensors) + " |", "|---|---|---|" + "---|" * len(sensors)]
    for label, key in (("real held-out", "real"), ("conditioned, as requested", "conditioned"), ("blind", "blind")):
        a = record["classifier"][key]
        cells = " | ".join(_num(a["per_sensor"][s], 3) for s in sensors)
        lines.append(f"| {label} | {a['patches']} | {_num(a['accuracy'], 3)} | {cells} |")
    lines += ["", "Confusion (rows: sensor requested or real; columns: sensor named):", ""]
    lines += ["| patches | true | " + " | ".join(sensors) + " |", "|---|---|" + "---|" * len(sensors)]
    for key in ("real", "conditioned", "blind"):
        for sensor in sensors:
            counts = record["classifier"][key]["confusion"][sensor]
            lines.append(f"| {key} | {sensor} | " + " | ".join(str(counts[s]) for s in sensors) + " |")
    lines += ["", "### Budget", "", "| run | epochs | steps | batch | input channels | CPU-min | wall-min |"]
    lines.append("|---|---|---|---|---|---|---|")
    for name in RUNS:
        b = budget[name]
        lines.append(
            f"| {name} | {b['epochs']} | {b['steps']} | {b['batch_size']} | {b['in_channels']} | "
            f"{b['cpu_min']:.1f} | {b['wall_min']:.1f} |"
        )
    done = record["done_when"]
    lines += [
        "",
        f"Done when: conditioned closer in W1 and ENL for every sensor: {'yes' if done['closer'] else '**no**'}; "
        f"classifier names the requested sensor on ≥ {CLASSIFIER_GOAL:.0%} of generated patches: "
        f"{'yes' if done['classifier'] else '**no**'} ({record['classifier']['conditioned']['accuracy']:.1%}).",
        "",
        f"One replicate (seeds fixed: synth, training, samples {setup['samples']}, classifier).",
    ]
    return "\n".join(lines) + "\n"


# --- Main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Folder for everything the benchmark makes.")
    parser.add_argument("--results", help="Where results.json/.md go [default: OUT].")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the flow, not the answer.")
    parser.add_argument("--cpu-minutes", type=float, help="Training budget per run [5; smoke 0.05].")
    parser.add_argument("--variant", help="The variant both runs train [scene]; another needs another --out.")
    args = parser.parse_args(argv)
    setup = SMOKE if args.smoke else DEFAULT
    if args.cpu_minutes is not None:
        setup = replace(setup, cpu_minutes=args.cpu_minutes)
    if args.variant is not None:
        setup = replace(setup, variant=args.variant)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # every fit traces its own functions
    out = Path(args.out)
    results = Path(args.results) if args.results else out
    out.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()

    from pix2pix_sar.data.dataset import load_info

    data = make_dataset(out, setup)
    info = load_info(data)
    if set(info.sensors) != set(setup.sensors):
        raise SystemExit(f"{data}: lists sensors {', '.join(info.sensors)}, not {', '.join(setup.sensors)}")
    scenes = held_out_scenes(out, setup, info.scaling)
    budget = {name: train_run(name, data, out / "runs" / name, out / "budget" / f"{name}.json", setup) for name in RUNS}
    samples = {
        name: generated_samples(name, out / "runs" / name, scenes, out / "generated" / f"{name}.npz", setup)
        for name in RUNS
    }
    sar = {name: sar_measures(scenes, samples[name], info.scaling, setup.sensors) for name in RUNS}
    close = closeness(sar, setup.sensors)

    model, classifier_facts = train_classifier(data, out / "classifier" / "classifier.keras", setup)
    size = setup.patch_size
    real = {s: [tiles(h.real, h.valid, size) for h in scenes if h.sensor == s] for s in setup.sensors}
    classifier = {"training": classifier_facts, "real": classify(model, real, setup.sensors)}
    for name in RUNS:
        generated = {
            s: [tiles(image, h.valid, size) for h in scenes if h.sensor == s for image in samples[name][h.name]]
            for s in setup.sensors
        }
        classifier[name] = classify(model, generated, setup.sensors)

    seconds = time.perf_counter() - t0
    header = (
        f"Training: synth --sensor {', '.join(setup.sensors)} x seeds {', '.join(map(str, setup.train_seeds))} "
        f"({setup.train_size} px), {setup.patch_size}-px zones patches, one dataset; variant {setup.variant} "
        f"(experiments/demo/config.yaml{', ' + ', '.join(setup.generator_set) if setup.generator_set else ''}), "
        f"{setup.cpu_minutes:g} CPU-minutes per run: conditioned (one-hot sensor planes) and blind "
        f"(data.sensor_conditioning=false). Held out: synth seed {', '.join(map(str, setup.held_out_seeds))} per "
        f"sensor ({setup.held_out_size} px), {setup.samples} samples per scene and run. Classifier: "
        f"{setup.classifier_steps} updates of batch {setup.classifier_batch} on "
        f"{classifier_facts['patches']} real training patches. Wall time {seconds / 60:.1f} min."
    )
    record = {
        "setup": asdict(setup),
        "header": header,
        "budget": budget,
        "sar": sar,
        "closeness": close,
        "classifier": classifier,
        "done_when": {
            "closer": all(c["closer_w1"] and c["closer_enl"] for c in close.values()),
            "classifier": classifier["conditioned"]["accuracy"] >= CLASSIFIER_GOAL,
        },
        "wall_s": seconds,
        "cpu_s": cpu_seconds() - cpu0,
    }
    table = results_markdown(record)
    from pix2pix_sar.atomic import atomic_path

    with atomic_path(results / "results.md") as tmp:
        tmp.write_text(table)
    write_json(results / "results.json", record)
    print(table)
    print(f"wall {seconds / 60:.1f} min, CPU {record['cpu_s'] / 60:.1f} min (this process); results in {results}")


if __name__ == "__main__":
    main()
