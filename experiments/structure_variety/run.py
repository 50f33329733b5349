"""Do generated whole scenes have the real world's structure and variety? The issue-22 benchmark.

    python experiments/structure_variety/run.py --out OUT [--results DIR]   # ~40 min on 2 CPU cores (estimated)
    python experiments/structure_variety/run.py --smoke --out OUT            # the flow on tiny data, < 1 min
    python experiments/structure_variety/run.py --out OUT --replicates N     # N x the training, intervals

Protocol (issue 22, "Decided up front"):

1. Training data: ``synth --seed 0..3`` (768 x 768 px), one dataset of all four with
   ``prepare --classes zones --patch-size 64`` (``--patch-size 128`` by option); its val
   split is the one prepare makes. Generators and the segmenter train on it only.
2. Held-out scenes the generators never see: ``synth --seed 100..103`` at 1024 x 1024 px
   (structure ratios need >= 1024-px scenes averaged over several: one scene's second real
   draw varies by 25-60 %). For each, K = 4 oracle draws ``synth --seed S --content-seed
   1..4``: the same zones, everything else (terrain, stripes, crevasses, icebergs, speckle)
   redrawn.
3. Budget: every variant trains for the same CPU time (default 15 CPU-minutes,
   ``--cpu-minutes``), user + sys of this process by getrusage(RUSAGE_SELF) (``fit`` runs
   in this process), in chunks of epochs (``fit`` resumes when rerun with a larger
   ``--epochs``) until the budget is spent. Configuration: experiments/demo/config.yaml,
   plus ``--set VARIANT:section.key=value``. Recorded per variant: epochs, steps, CPU-s,
   wall-s and the median step time (history.csv's step_seconds / steps per epoch, without
   each chunk's first epoch: it holds the tracing); the new variant's step may take at
   most 1.5x scene's.
4. Reference segmenter: ``seg fit`` on the same dataset (real patches), a fixed number
   of updates. Its pooled encoder features give the Fréchet distance (>= 1,000 crops over
   the held-out scenes, the same places for every row, bootstrap 95 % interval); its mIoU
   on generated scenes / its mIoU on the real scenes is the segmentation-score ratio.
5. Each variant's last snapshot generates K = 4 samples (seeds 0..3) of every held-out
   scene whole (RunGenerator + generate_image, the path of ``generate --samples 4``). The
   oracle's draws are measured exactly like samples: the ``oracle`` row. Per class:
   structure (evaluation.structure.STRUCTURE_MEASURES: the mean over scenes and samples
   of the generated value / the mean over scenes of the real value); variety
   (sample_variety of the K samples / of the K oracle draws, mean over scenes: 1 for the
   oracle by definition); W1 (dB) and ENL ratio (evaluation.sar_stats, pooled over
   scenes and samples); the grid statistic (max over strides 16-256 of sample 0, the max
   over scenes); tiled == whole for whole-scene variants (max |tile 128 - tile 1024|,
   model units, first held-out scene); the Fréchet distance; the segmentation-score ratio.
6. Replicates (``--replicates N``, default 1): GAN training varies from run to run (two
   ``sampler`` runs of nearly one configuration: ocean variety 0.65 and 0.22 of the
   oracle's), so one run's numbers carry no interval. Replicate r (0-based) trains every
   variant again with ``--set training.seed=r`` (weight initialisation, batch order and
   the noise keys of training) and draws its K samples with seeds r*K .. r*K+K-1 (``generate --seed r*K
   --samples K``). What varies between replicates is only these two seeds: the training
   data, the held-out scenes and their oracle draws, and the segmenter are fixed, made
   once and shared. Replicate 0 is the single run (the config's seed, 0; samples 0..K-1;
   runs/VARIANT, budget/VARIANT.json, measures/VARIANT.json), so an earlier output folder
   resumes; replicate r >= 1 writes VARIANT_r<r> in their place. Cost: N x the CPU budget
   per variant (N x 15 CPU-minutes by default).

Writes OUT/results.json (one row per variant and the oracle, every number, the budget
facts; with N > 1 each variant's row is replicate 0's, plus ``replicates``, every
replicate's row, and ``summary``, per table measure the mean and 95 % t-interval over the
replicates), OUT/results.md (measures x rows with the goals and pass/fail of the judged
variant at the CPU budget; with N > 1 the variant columns show mean [95 % t-interval] and
pass/fail judges the mean) and two figures of replicate 0's samples, scene.png (zones |
real | each variant) and zoom.png (a 320 x 320 window with rock, glacier and ocean: real, 4 samples of the best
variant, 2 oracle draws), all into --results (default OUT), atomically. Every step skips
what is done, so a stopped run continues when rerun; a chunk killed mid-way is retrained
from its last saved state and only its finished chunks' CPU time is counted.
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
from augmentation.analysis import t_interval  # noqa: E402 (the augmentation experiment's, over replicates)
from cpu_budget import cpu_seconds, train_within_budget  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "experiments" / "demo" / "config.yaml"


@dataclass(frozen=True)
class Setup:
    """Sizes of one benchmark: the issue's (default) or the smoke test's."""

    train_seeds: tuple[int, ...] = (0, 1, 2, 3)
    train_size: int = 768
    held_out_seeds: tuple[int, ...] = (100, 101, 102, 103)
    held_out_size: int = 1024
    samples: int = 4  # K: samples per variant and oracle draws (content seeds 1..K) per held-out scene
    patch_size: int = 64
    cpu_minutes: float = 15.0
    first_chunk: int = 1  # epochs of the first chunk; its CPU time sizes the next chunks
    generator_set: tuple[str, ...] = ()  # --set for every variant, after the demo config
    seg_steps: int = 1500
    seg_batch: int = 8
    seg_args: tuple[str, ...] = ("--base-filters", "16", "--depth", "4")
    crops: int = 1024  # Fréchet crops per set over all held-out scenes (>= frechet.MIN_CROPS)
    variety_crops: int = 64  # crops per image whose mean feature vector gives the samples' feature spread
    zoom: int = 320
    tiles: tuple[int, int] = (128, 1024)  # tiled == whole: the smallest and a whole-scene tile


DEFAULT = Setup()
SMOKE = Setup(
    train_seeds=(0, 1),
    train_size=192,  # prepare estimates the looks (the sampler's speckle) from 192-px scenes, not 128
    held_out_seeds=(100, 101),
    held_out_size=256,
    patch_size=32,
    cpu_minutes=0.05,
    generator_set=("model.base_filters=8", "training.batch_size=4"),
    seg_steps=20,
    seg_args=("--base-filters", "4", "--depth", "2"),
    crops=64,
    variety_crops=8,
)

#: Goals at the CPU budget (issue 22, "Done when"): (low, high) bounds of a ratio or value.
STRUCTURE_GOAL = (0.6, 1.6)
VARIETY_GOAL = (0.6, 1.6)
W1_GOAL_DB = 0.5
ENL_GOAL = (0.8, 1.25)
SEG_GOAL = (0.95, 1.05)
GRID_GOAL = 2.0
TILED_GOAL = 1e-3
STEP_GOAL = 1.5  # x scene's step
FD_GOAL = 0.5  # x scene's Fréchet distance
#: fit --checkpoint-every: a snapshot only at the end of each chunk.
NO_PERIODIC_SNAPSHOTS = 10**6


def write_json(path: Path, data) -> None:
    from pix2pix_sar.atomic import atomic_path
    from pix2pix_sar.jsonio import dumps

    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(dumps(data, indent=1) + "\n")


# --- Data ---------------------------------------------------------------------------


def synth(folder: Path, seed: int, size: int, content_seed: int | None = None) -> Path:
    if not ((folder / "scene.tif").exists() and (folder / "zones.tif").exists()):
        content = ["--content-seed", content_seed] if content_seed is not None else []
        pix2pix_sar("-q", "synth", folder, "--width", size, "--height", size, "--seed", seed, *content)
    return folder


def make_dataset(out: Path, setup: Setup, context: bool = False) -> Path:
    """The training dataset; with `context` the same patches plus the context bands (prepare --context)."""
    data = out / ("data_context" if context else "data")
    if not (data / "dataset.json").exists():
        pairs = []
        for seed in setup.train_seeds:
            folder = synth(out / "scenes" / f"train_{seed}", seed, setup.train_size)
            pairs += ["--sar", folder / "scene.tif", "--mask", folder / "zones.tif"]
        pix2pix_sar(
            "-q", "prepare", *pairs, "--out", data, "--patch-size", setup.patch_size, "--classes", "zones",
            "--overwrite", *(["--context"] if context else []),
        )  # fmt: skip
    return data


@dataclass
class HeldOut:
    """One held-out scene in the training dataset's model range (-1 where no data)."""

    seed: int
    zones: np.ndarray
    valid: np.ndarray
    real: np.ndarray
    oracle: list[np.ndarray]  # K content redraws of the same zones
    pixel_size: float


def held_out_scenes(out: Path, setup: Setup, scaling) -> list[HeldOut]:
    from pix2pix_sar import geo
    from pix2pix_sar.data.zones import valid_zones
    from pix2pix_sar.generation.generate import read_zones

    def model_range(path: Path, valid: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            image = np.where(valid, scaling.to_model(geo.read_array(path)), np.float32(-1.0))
        return np.nan_to_num(image, nan=-1.0).astype(np.float32)

    scenes = []
    for seed in setup.held_out_seeds:
        folder = synth(out / "scenes" / f"held_out_{seed}", seed, setup.held_out_size)
        zones = read_zones(folder / "zones.tif")
        valid = valid_zones(zones)
        oracle = []
        for k in range(1, setup.samples + 1):
            draw = synth(out / "scenes" / f"held_out_{seed}_content{k}", seed, setup.held_out_size, content_seed=k)
            if not np.array_equal(read_zones(draw / "zones.tif"), zones):
                raise SystemExit(f"{draw}: --content-seed changed the zones of seed {seed}; the oracle needs the same")
            oracle.append(model_range(draw / "scene.tif", valid))
        grid = geo.read_raster(folder / "zones.tif")[1]
        scenes.append(
            HeldOut(seed, zones, valid, model_range(folder / "scene.tif", valid), oracle, geo.pixel_size_m(grid))
        )
    return scenes


# --- Replicates ---------------------------------------------------------------------


def replicate_name(variant: str, replicate: int) -> str:
    """The stem of a replicate's run folder, budget ledger and measures: replicate 0 keeps
    the single run's names, so an output folder of a run without replicates resumes."""
    return variant if replicate == 0 else f"{variant}_r{replicate}"


def replicate_sets(replicate: int) -> list[str]:
    """fit --set of a replicate: its own training seed. Replicate 0 passes none, so it is
    the single run exactly (the config's seed, 0)."""
    return [f"training.seed={replicate}"] if replicate else []


def sample_seeds(replicate: int, setup: Setup) -> list[int]:
    """The K sample seeds of a replicate, disjoint across replicates (as generate --seed r*K --samples K)."""
    return list(range(replicate * setup.samples, (replicate + 1) * setup.samples))


# --- Training -----------------------------------------------------------------------


def train_segmenter(data: Path, out: Path, setup: Setup) -> Path:
    if not (out / "segmenter.keras").exists():
        pix2pix_sar(
            "-q", "seg", "fit", "--data", data, "--out", out, "--steps", setup.seg_steps,
            "--batch-size", setup.seg_batch, *setup.seg_args,
        )  # fmt: skip
    return out


def train_variant(variant: str, data: Path, run: Path, ledger_path: Path, setup: Setup, sets: list[str]) -> dict:
    """Fit `variant` in chunks of epochs until `setup.cpu_minutes` of this process's CPU
    time is spent; the chunks are kept in `ledger_path`, so a rerun continues."""
    set_args = [a for s in (*setup.generator_set, *sets) for a in ("--set", s)]

    def fit_to(epochs: int) -> None:
        pix2pix_sar(
            "-q", "fit", "--data", data, "--out", run, "--variant", variant, "--config", DEMO_CONFIG,
            *set_args, "--epochs", epochs, "--checkpoint-every", NO_PERIODIC_SNAPSHOTS,
        )  # fmt: skip

    ledger = train_within_budget(fit_to, ledger_path, setup.cpu_minutes, setup.first_chunk, write_json)
    return budget_facts(run, data, ledger)


def budget_facts(run: Path, data: Path, ledger: dict) -> dict:
    from pix2pix_sar.data.dataset import split_size
    from pix2pix_sar.data.sharding import steps_per_epoch
    from pix2pix_sar.run_folder import RunFolder

    folder = RunFolder(run)
    batch = folder.load_config().training.batch_size
    per_epoch = steps_per_epoch(split_size(data, "train"), batch)
    history = folder.history()
    # Steady steps: each chunk's first epoch also holds its tracing (unless no other epoch is left).
    traced = {1, *(c["epochs"] + 1 for c in ledger["chunks"])}
    steady = [row for row in history if int(row["epoch"]) not in traced] or history
    step_s = [row["step_seconds"] / per_epoch for row in steady]
    cpu, wall = (sum(c[k] for c in ledger["chunks"]) for k in ("cpu_s", "wall_s"))
    return {
        "epochs": int(history[-1]["epoch"]),
        "steps": int(history[-1]["epoch"]) * per_epoch,
        "batch_size": batch,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_min": cpu / 60.0,
        "wall_min": wall / 60.0,
        "chunks": len(ledger["chunks"]),
        "median_step_ms": 1000.0 * float(np.median(step_s)),
    }


# --- Measuring ----------------------------------------------------------------------


def tiles(a: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size x size tiles of a 2-D array, (N, size, size)."""
    h, w = (a.shape[0] // size) * size, (a.shape[1] // size) * size
    return a[:h, :w].reshape(h // size, size, w // size, size).swapaxes(1, 2).reshape(-1, size, size)


class Measurer:
    """The measures of one row (a variant's samples or the oracle's draws) against the
    real held-out scenes; what depends only on the real scenes is computed once."""

    def __init__(self, scenes: list[HeldOut], scaling, seg_run: Path, setup: Setup):
        from pix2pix_sar.evaluation.frechet import SegmenterFeatures, crop_origins
        from pix2pix_sar.evaluation.segscore import SegmentationScores, Segmenter
        from pix2pix_sar.evaluation.structure import structure_measures

        self.scenes, self.scaling, self.setup = scenes, scaling, setup
        self.segmenter = Segmenter.load(seg_run)
        if self.segmenter.info.scaling != scaling:
            raise SystemExit(f"{seg_run}: trained on another scaling than the generators' dataset")
        self.features = SegmenterFeatures(seg_run)
        size, per_scene = self.features.patch_size, -(-setup.crops // len(scenes))
        self.origins = [crop_origins(s.zones, size, per_scene, seed=s.seed) for s in scenes]
        self.variety_origins = [crop_origins(s.zones, size, setup.variety_crops, seed=s.seed + 1) for s in scenes]
        self.real_structure = [structure_measures(self.db(s, s.real), s.zones) for s in scenes]
        self.real_features = np.concatenate([self.features(s.real, o) for s, o in zip(scenes, self.origins)])
        real_scores = SegmentationScores(self.segmenter.scheme)
        for s in scenes:
            self.segment(real_scores, s, s.real)
        self.real_miou = real_scores.result()["miou"]

    def db(self, scene: HeldOut, image: np.ndarray) -> np.ndarray:
        return np.where(scene.valid, self.scaling.model_to_db(image), np.nan)

    def segment(self, scores, scene: HeldOut, image: np.ndarray) -> None:
        size = self.features.patch_size
        zones = tiles(scene.zones, size)
        predicted = self.segmenter.predict(tiles(image, size)[..., None])
        scores.add(predicted, zones, np.full(len(zones), scene.pixel_size))

    def measure(self, samples_of) -> dict:
        """`samples_of(scene)` -> K images (model range) of the scene's zones."""
        from pix2pix_sar.evaluation.frechet import frechet_with_interval
        from pix2pix_sar.evaluation.sar_stats import SAR_CLASSES, SarStatistics
        from pix2pix_sar.evaluation.segscore import SegmentationScores
        from pix2pix_sar.evaluation.structure import sample_variety, structure_measures
        from pix2pix_sar.generation.seams import grid_statistic

        stats, scores = SarStatistics(self.scaling), SegmentationScores(self.segmenter.scheme)
        structure, variety, grid, generated_features = [], [], [], []
        for scene, origins, variety_origins in zip(self.scenes, self.origins, self.variety_origins):
            images = samples_of(scene)
            images_db = [self.db(scene, image) for image in images]
            structure.append([structure_measures(db, scene.zones) for db in images_db])
            for image in images:
                stats.add(scene.zones[None], scene.real[None], image[None])
                self.segment(scores, scene, image)
            per_image = np.stack([self.features(image, variety_origins).mean(0) for image in images])
            variety.append(sample_variety(np.stack(images_db), scene.zones, per_image))
            grid.append(grid_statistic(images_db[0], scene.zones).value)
            parts = np.array_split(np.arange(len(origins)), len(images))  # the same places, spread over samples
            generated_features += [self.features(image, origins[p]) for image, p in zip(images, parts)]
        summary = stats.summary()
        miou = scores.result()["miou"]
        return {
            "structure": self.structure_ratios(structure),
            "variety_raw": variety,
            "w1_db": {c: summary[f"w1_db_{c}"] for c in SAR_CLASSES},
            "enl_ratio": {c: summary[f"enl_ratio_{c}"] for c in SAR_CLASSES},
            "grid": max(grid),
            "grid_per_scene": grid,
            "frechet": frechet_with_interval(self.real_features, np.concatenate(generated_features)),
            "seg_miou": miou,
            "seg_real_miou": self.real_miou,
            "seg_ratio": miou / self.real_miou if self.real_miou > 0 else math.nan,
        }

    def structure_ratios(self, per_scene: list[list[dict]]) -> dict:
        """Per key: the mean over scenes and samples of the generated value / the mean over
        scenes of the real value (scenes where the real value is defined)."""
        out = {}
        for key in self.real_structure[0]:
            real, gen = [], []
            for real_scene, samples in zip(self.real_structure, per_scene):
                if real_scene[key]["value"] is not None:
                    real.append(real_scene[key]["value"])
                    gen += [s[key]["value"] for s in samples if s[key]["value"] is not None]
            real_mean = float(np.mean(real)) if real else math.nan
            gen_mean = float(np.mean(gen)) if gen else math.nan
            ratio = gen_mean / real_mean if real_mean > 0 else math.nan
            out[key] = {"ratio": ratio, "generated": gen_mean, "real": real_mean, "scenes": len(real)}
        return out


def variety_ratios(raw: list[dict], oracle_raw: list[dict]) -> dict:
    """Per key of sample_variety: the mean over scenes of (samples' spread / oracle's)."""
    from pix2pix_sar.evaluation.structure import variety_ratios as per_scene

    ratios = [per_scene(g, o) for g, o in zip(raw, oracle_raw)]
    out = {}
    for key in oracle_raw[0]:
        values = [r[key] for r in ratios if r.get(key) is not None]
        out[key] = float(np.mean(values)) if values else math.nan
    return out


def measure_variant(variant: str, run: Path, measurer: Measurer, cache: Path, seeds: list[int]) -> dict:
    """The variant's measures of the samples drawn with `seeds` (cached per snapshot epoch)
    and those samples of the first scene."""
    from pix2pix_sar.generation.generate import generate_image
    from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

    gen = RunGenerator.from_run(run)
    samples_file = cache.with_suffix(".npy")
    if cache.exists() and samples_file.exists():
        cached = json.loads(cache.read_text())
        if cached.get("epoch") == gen.epoch:
            return cached
    first: list[np.ndarray] = []

    def samples_of(scene: HeldOut) -> list[np.ndarray]:
        images = []
        for seed in seeds:  # as generate --seed seeds[0] --samples K
            gen.seed = seed
            images.append(generate_image(gen, scene.zones, TileSettings(seed=seed)))
        gen.seed = seeds[0]
        if not first:
            first.extend(images)
        return images

    result = {"variant": variant, "epoch": gen.epoch, **measurer.measure(samples_of)}
    if gen.model_config.whole_scene:
        small, large = (
            generate_image(gen, measurer.scenes[0].zones, TileSettings(tile=tile, seed=seeds[0]))
            for tile in measurer.setup.tiles
        )
        result["tiled_vs_whole"] = float(np.abs(small - large).max())
    np.save(samples_file, np.stack(first))
    write_json(cache, result)
    return result


def measure_oracle(measurer: Measurer, cache: Path) -> dict:
    if cache.exists():
        return json.loads(cache.read_text())
    result = {"variant": "oracle", **measurer.measure(lambda scene: scene.oracle)}
    write_json(cache, result)
    return result


# --- Table and figures --------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One table row: where its value is in a result row, its goal and how it is checked:
    ``goal`` (low, high) bounds, or with ``vs_scene`` a factor of the scene row's value."""

    label: str
    keys: tuple[str, ...]
    goal: tuple[float, float] | None = None
    vs_scene: bool = False
    digits: int = 2

    def value(self, row: dict) -> float | None:
        for key in self.keys:
            if not isinstance(row, dict) or row.get(key) is None:
                return None
            row = row[key]
        return row if math.isfinite(row) else None

    def goal_text(self) -> str:
        if self.goal is None:
            return "(reported)"
        low, high = self.goal
        text = f"≤ {high:g}" if low == -math.inf else f"{low:g}–{high:g}"
        return text + ("× scene's" if self.vs_scene else "")

    def met(self, row: dict, rows: dict) -> bool | None:
        value = self.value(row)
        if self.goal is None or value is None:
            return None
        low, high = self.goal
        if self.vs_scene:
            base = self.value(rows["scene"]) if "scene" in rows and row is not rows["scene"] else None
            if base is None:
                return None
            low, high = low * base, high * base
        return bool(low <= value <= high)


def measures() -> list[Measure]:
    from pix2pix_sar.evaluation.structure import STRUCTURE_MEASURES

    at_most = -math.inf
    classes = ("ocean", "glacier", "rock")
    return [
        *(
            Measure(
                f"structure {m.measure} {m.zone}", ("structure", m.key, "ratio"), STRUCTURE_GOAL if m.goal else None
            )
            for m in STRUCTURE_MEASURES
        ),
        *(Measure(f"variety {c} (8-px block means)", ("variety", f"block_spread_{c}"), VARIETY_GOAL) for c in classes),
        Measure("variety (segmenter features)", ("variety", "feature_spread")),
        *(Measure(f"W1 {c} (dB)", ("w1_db", c), (at_most, W1_GOAL_DB)) for c in classes),
        *(Measure(f"ENL ratio {c}", ("enl_ratio", c), ENL_GOAL) for c in classes),
        Measure("Fréchet distance [95 % interval]", ("frechet", "fd"), (at_most, FD_GOAL), vs_scene=True),
        Measure("seg mIoU generated / real", ("seg_ratio",), SEG_GOAL, digits=3),
        Measure("seg mIoU on generated", ("seg_miou",), digits=3),
        Measure("grid statistic (max over scenes)", ("grid",), (at_most, GRID_GOAL)),
        Measure("tiled == whole (max abs diff)", ("tiled_vs_whole",), (at_most, TILED_GOAL), digits=6),
        Measure("median step (ms)", ("budget", "median_step_ms"), (at_most, STEP_GOAL), vs_scene=True, digits=1),
        Measure("epochs", ("budget", "epochs"), digits=0),
        Measure("steps", ("budget", "steps"), digits=0),
        Measure("training CPU-min", ("budget", "cpu_min"), digits=1),
        Measure("training wall-min", ("budget", "wall_min"), digits=1),
    ]


def _cell(measure: Measure, row: dict) -> str:
    value = measure.value(row)
    if value is None:
        return "–"
    if measure.keys == ("frechet", "fd"):  # its scale follows the segmenter's features
        return f"{value:.3g} [{row['frechet']['fd_low']:.3g}, {row['frechet']['fd_high']:.3g}]"
    text = f"{value:.{measure.digits}f}"
    return text


def _interval_cell(measure: Measure, interval: dict) -> str:
    """mean [95 % t-interval] over replicates; mean (n=1) where only one replicate has a value."""
    if interval["n"] == 0:
        return "–"

    def number(x: float) -> str:
        return f"{x:.3g}" if measure.keys == ("frechet", "fd") else f"{x:.{measure.digits}f}"

    if interval["low"] is None:
        return f"{number(interval['mean'])} (n={interval['n']})"
    return f"{number(interval['mean'])} [{number(interval['low'])}, {number(interval['high'])}]"


def judge(row: dict, rows: dict) -> dict[str, bool | None]:
    """Measure label -> met (True/False), or None where it has no goal or no value."""
    return {m.label: m.met(row, rows) for m in measures()}


def replicate_summary(replicate_rows: list[dict]) -> dict[str, dict]:
    """Measure label -> mean, 95 % t-interval (low, high) and n over the replicates' rows
    (replicates without a value left out; low and high are None for n < 2)."""
    summary = {}
    for m in measures():
        interval = t_interval([m.value(row) for row in replicate_rows])
        finite = interval.n >= 2 and math.isfinite(interval.half)
        summary[m.label] = {
            "mean": interval.mean if interval.n else None,
            "low": interval.mean - interval.half if finite else None,
            "high": interval.mean + interval.half if finite else None,
            "n": interval.n,
        }
    return summary


def mean_row(summary: dict[str, dict]) -> dict:
    """A row holding each measure's mean over replicates where its value goes: what pass/fail judges."""
    row: dict = {}
    for m in measures():
        node = row
        for key in m.keys[:-1]:
            node = node.setdefault(key, {})
        mean = summary[m.label]["mean"]
        node[m.keys[-1]] = math.nan if mean is None else mean  # Measure.value: no value
    return row


def judged_rows(rows: dict[str, dict], summaries: dict[str, dict]) -> dict[str, dict]:
    """The rows pass/fail and the best variant judge: the mean over replicates for variants
    with a summary, the row itself otherwise (the oracle, or a single run)."""
    return {name: mean_row(summaries[name]) if name in summaries else row for name, row in rows.items()}


def results_table(rows: dict[str, dict], judged: str, header: str, summaries: dict[str, dict] | None = None) -> str:
    """The measures x rows table; variants in `summaries` (replicate_summary) show mean
    [95 % t-interval] over replicates, and pass/fail judges the mean."""
    summaries = summaries or {}
    names = list(rows)
    judging = judged_rows(rows, summaries)
    verdict = judge(judging[judged], judging)

    def cell(m: Measure, name: str) -> str:
        return _interval_cell(m, summaries[name][m.label]) if name in summaries else _cell(m, rows[name])

    lines = [
        f"| measure | goal | {' | '.join(names)} | {judged}: goal met |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for m in measures():
        mark = {True: "pass", False: "**fail**", None: ""}[verdict[m.label]]
        lines.append(f"| {m.label} | {m.goal_text()} | {' | '.join(cell(m, n) for n in names)} | {mark} |")
    met = [v for v in verdict.values() if v is not None]
    return f"{header}\n\n" + "\n".join(lines) + f"\n\n{judged}: {sum(met)} of {len(met)} goals met.\n"


def best_variant(rows: dict[str, dict]) -> str:
    """The variant meeting most goals (ties: the smaller Fréchet distance)."""
    candidates = [n for n in rows if n != "oracle"]

    def score(name):
        met = sum(v is True for v in judge(rows[name], rows).values())
        return (-met, rows[name]["frechet"]["fd"])

    return min(candidates, key=score)


def zoom_window(zones: np.ndarray, size: int) -> tuple[slice, slice]:
    """The size x size window (on a 16-px grid) whose rarest of rock, glacier and ocean is largest."""
    from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK

    h, w = zones.shape
    size = min(size, h, w)
    best, where = -1.0, (0, 0)
    sums = [np.pad((zones == c).cumsum(0).cumsum(1), ((1, 0), (1, 0))) for c in (ROCK, GLACIER, OCEAN)]
    for r in range(0, h - size + 1, 16):
        for c in range(0, w - size + 1, 16):
            rarest = min(s[r + size, c + size] - s[r, c + size] - s[r + size, c] + s[r, c] for s in sums)
            if rarest > best:
                best, where = rarest, (r, c)
    return slice(where[0], where[0] + size), slice(where[1], where[1] + size)


def figures(scene: HeldOut, samples: dict[str, np.ndarray], best: str, results: Path, setup: Setup) -> None:
    from pix2pix_sar.evaluation.figures import plot_image_grid

    def shown(image):
        return np.where(scene.valid, image, np.float32(-1.0))[None]

    columns = [("real", shown(scene.real)), *((name, shown(images[0])) for name, images in samples.items())]
    label = f"held-out seed {scene.seed}, sample 0"
    plot_image_grid(scene.zones[None], columns, results / "scene.png", row_labels=[label])
    window = zoom_window(scene.zones, setup.zoom)
    columns = [("real", shown(scene.real)[(0, *window)][None])]
    columns += [(f"{best} s{k}", shown(image)[(0, *window)][None]) for k, image in enumerate(samples[best])]
    columns += [(f"oracle draw {k + 1}", shown(image)[(0, *window)][None]) for k, image in enumerate(scene.oracle[:2])]
    rows, cols = window
    label = f"rows {rows.start}-{rows.stop}, cols {cols.start}-{cols.stop}"
    plot_image_grid(scene.zones[window][None], columns, results / "zoom.png", row_labels=[label])


# --- Main ---------------------------------------------------------------------------


def parse_sets(values: list[str], variants: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {v: [] for v in variants}
    for value in values:
        variant, sep, assignment = value.partition(":")
        if not sep or variant not in out:
            raise SystemExit(f"--set {value}: give VARIANT:section.key=value with VARIANT one of {', '.join(variants)}")
        out[variant].append(assignment)
    return out


def replicate_record(
    name: str, replicate_rows: dict[str, list[dict]], summaries: dict[str, dict], out: Path, setup: Setup
) -> dict:
    """results.json's additions to a variant's row with replicates: every replicate's row
    (its training seed read back from its run's config, its sample seeds) and the summary."""
    from pix2pix_sar.run_folder import RunFolder

    if name not in summaries:
        return {}
    replicates = [
        {
            "replicate": r,
            "training_seed": RunFolder(out / "runs" / replicate_name(name, r)).load_config().training.seed,
            "sample_seeds": sample_seeds(r, setup),
            **row,
        }
        for r, row in enumerate(replicate_rows[name])
    ]
    return {"replicates": replicates, "summary": summaries[name]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Folder for everything the benchmark makes.")
    parser.add_argument("--results", help="Where results.json/.md, scene.png and zoom.png go [default: OUT].")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the flow, not the answer.")
    parser.add_argument("--variants", default="scene,sampler", help="Comma-separated variants [scene,sampler].")
    parser.add_argument(
        "--context-for",
        default="sampler",
        help="Variants trained with the context bands (prepare --context) [sampler; '' for none].",
    )
    parser.add_argument("--judge", help="The variant the pass/fail column judges [default: the last variant].")
    parser.add_argument("--cpu-minutes", type=float, help="Training budget per variant [15; smoke 0.05].")
    parser.add_argument("--patch-size", type=int, choices=(64, 128), help="Training patches [64; smoke 32].")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="VARIANT:KEY=VALUE", help="fit --set for a variant."
    )
    parser.add_argument(
        "--replicates",
        type=int,
        default=1,
        help="Train and measure every variant N times, replicate r with training.seed=r and sample seeds "
        "r*K..r*K+K-1; the table shows mean [95 %% t-interval] [1].",
    )
    args = parser.parse_args(argv)
    if args.replicates < 1:
        raise SystemExit(f"--replicates {args.replicates}: give 1 or more")
    setup = SMOKE if args.smoke else DEFAULT
    if args.cpu_minutes is not None:
        setup = replace(setup, cpu_minutes=args.cpu_minutes)
    if args.patch_size is not None:
        setup = replace(setup, patch_size=args.patch_size)
    variants = [v for v in args.variants.split(",") if v]
    sets = parse_sets(args.sets, variants)
    if args.replicates > 1 and any(a.startswith("training.seed=") for each in sets.values() for a in each):
        raise SystemExit("--set VARIANT:training.seed: the replicates set the training seed (replicate r: r)")
    judged = args.judge or variants[-1]
    if judged not in variants:
        raise SystemExit(f"--judge {judged}: not one of --variants {args.variants}")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # every fit traces its own functions
    out = Path(args.out)
    results = Path(args.results) if args.results else out
    out.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()

    from pix2pix_sar.data.dataset import load_info

    data = make_dataset(out, setup)
    scaling = load_info(data).scaling
    scenes = held_out_scenes(out, setup, scaling)
    segmenter = train_segmenter(data, out / "segmenter", setup)
    context_for = {v for v in args.context_for.split(",") if v} & set(variants)
    data_of = {v: data for v in variants}
    if context_for:
        data_context = make_dataset(out, setup, context=True)
        if load_info(data_context).scaling != scaling:
            raise SystemExit(f"{data_context}: another SAR scaling than {data}; the measures need one")
        data_of.update({v: data_context for v in context_for})
    replicates = range(args.replicates)
    budgets = {}  # (variant, replicate) -> budget facts; replicate by replicate, so a stopped run has whole ones
    for r in replicates:
        for v in variants:
            name = replicate_name(v, r)
            run_sets = [*sets[v], *replicate_sets(r)]
            budgets[v, r] = train_variant(
                v, data_of[v], out / "runs" / name, out / "budget" / f"{name}.json", setup, run_sets
            )
            budgets[v, r]["context_bands"] = v in context_for

    measurer = Measurer(scenes, scaling, segmenter, setup)
    oracle = measure_oracle(measurer, out / "measures" / "oracle.json")
    replicate_rows: dict[str, list[dict]] = {v: [] for v in variants}
    samples = {}
    for r in replicates:
        for v in variants:
            name = replicate_name(v, r)
            cache = out / "measures" / f"{name}.json"
            measured = measure_variant(v, out / "runs" / name, measurer, cache, sample_seeds(r, setup))
            row = {**measured, "variety": variety_ratios(measured["variety_raw"], oracle["variety_raw"])}
            row["budget"] = budgets[v, r]
            replicate_rows[v].append(row)
            if r == 0:  # the figures show replicate 0
                samples[v] = np.load(cache.with_suffix(".npy"))
    rows = {v: replicate_rows[v][0] for v in variants}
    rows["oracle"] = {**oracle, "variety": {k: 1.0 for k in oracle["variety_raw"][0]}}  # by definition
    summaries = {v: replicate_summary(replicate_rows[v]) for v in variants} if args.replicates > 1 else {}
    judging = judged_rows(rows, summaries)
    best = best_variant(judging)
    figures(scenes[0], samples, best, results, setup)

    seconds = time.perf_counter() - t0
    header = (
        f"Training: synth seeds {', '.join(map(str, setup.train_seeds))} ({setup.train_size} px), "
        f"{setup.patch_size}-px zones patches"
        + (f" (with the context bands for {', '.join(sorted(context_for))})" if context_for else "")
        + f"; {setup.cpu_minutes:g} CPU-minutes per variant "
        f"(experiments/demo/config.yaml). Held out: synth seeds {', '.join(map(str, setup.held_out_seeds))} "
        f"({setup.held_out_size} px), {setup.samples} samples each against {setup.samples} oracle draws "
        f"(--content-seed 1..{setup.samples}). Ratios are generated / real (variety: / oracle). Segmenter: "
        f"{setup.seg_steps} updates on the real training patches; Fréchet distance on "
        f"{rows['oracle']['frechet']['crops']} crops with a 95 % bootstrap interval. Pass/fail: {judged} against "
        f"issue 22's goals at the CPU budget. Best variant (zoom.png): {best}. Wall time {seconds / 60:.1f} min."
    )
    if summaries:
        k = setup.samples
        header += (
            f"\n\nReplicates: {args.replicates}. Replicate r = 0..{args.replicates - 1} trains every variant with "
            f"training.seed=r and draws its samples with seeds r*{k}..r*{k}+{k - 1}; the training data, held-out "
            "scenes, oracle draws and segmenter are the same for all. Variant columns: mean [95 % t-interval] "
            "over the replicates (the Fréchet distance's too, in place of its bootstrap interval); pass/fail "
            "judges the mean; the figures show replicate 0."
        )
    table = results_table(rows, judged, header, summaries)
    from pix2pix_sar.atomic import atomic_path

    with atomic_path(results / "results.md") as tmp:
        tmp.write_text(table)
    record = {
        "setup": asdict(setup),
        "variants": variants,
        "context_for": sorted(context_for),
        "judged": judged,
        "best": best,
        "replicates": args.replicates,
        "goals_met": judge(judging[judged], judging),
        "rows": [
            {"name": name, **row, **replicate_record(name, replicate_rows, summaries, out, setup)}
            for name, row in rows.items()
        ],
        "wall_s": seconds,
        "cpu_s": cpu_seconds() - cpu0,
    }
    write_json(results / "results.json", record)
    print(table)
    print(f"wall {seconds / 60:.1f} min, CPU {record['cpu_s'] / 60:.1f} min (this process); results in {results}")


if __name__ == "__main__":
    main()
