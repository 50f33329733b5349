"""Does synthetic data help a calving-front segmenter, and how much of a perfect simulator's
gain does a generator capture? The augmentation experiment (issue 23) in one command.

    python experiments/augmentation/run.py --out OUT [--results DIR]   # ~4 h wall on 2 CPU cores
    python experiments/augmentation/run.py --out OUT --stop-after 60    # a part; rerun to continue
    python experiments/augmentation/run.py --smoke --out OUT            # the flow on tiny data

Protocol (README.md): real data are ``synth`` scenes cut into zones patches; held-out
``synth`` scenes are seen by no generator and no segmenter. Per replicate r every source
of chance is redrawn from r (real subset, generator training seed, masks and samples of
the synthetic pool, oracle content and scene seeds, segmenter seed) and shared by every
condition of that replicate, so conditions are compared pair-wise. The oracle pool
mirrors the generated one: ``synth --content-seed`` redraws of the real training masks
where the generated pool has ``generate --samples`` of them, new ``synth`` scenes where
it has new masks (``masks``, ``masks --from``). Every segmenter run has the same number
of updates. Replicates run one after the other and every step skips what is done, so a
stopped run (or ``--stop-after``) continues when rerun; results are tabulated from the
runs done so far. Commands run in this process, exactly as a user types them.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import analysis  # experiments/augmentation/analysis.py and steps.py, beside this script
from steps import (
    generated_pool,
    manifest,
    new_masks,
    oracle_pool,
    prepare,
    real_subset,
    segmenter_run,
    synth,
    train_generator,
    write_json,
)

SOURCES = ("samples", "artificial", "moved")  # mask sources of the synthetic pool


@dataclass(frozen=True)
class Setup:
    """Sizes of one experiment: the default (about 4 h wall on 2 cores) or the smoke test's."""

    train_seeds: tuple[int, ...] = (0, 1, 2)  # synth scenes of the real training data
    harder: bool = False  # every synth scene with its own fjord width, mélange, icebergs, looks (steps.harder_factors)
    held_out_seeds: tuple[int, ...] = (100, 101, 102, 103, 104)  # seen by no generator or segmenter
    scene_size: int = 512
    patch_size: int = 64
    scarce: float = 0.1  # the full condition grid
    full: float | None = 1.0  # real only, the primary condition, real + oracle
    curve: tuple[float, ...] = (0.05, 0.25, 0.5)  # real only, besides scarce and full
    replicates: int = 6
    samples: int = 2  # K: generated samples / oracle redraws per real training mask
    shares: tuple[int, ...] = (25, 50)  # synthetic % of every batch
    generators: tuple[str, ...] = ("sampler", "scene")  # the first is the primary's
    ablation: bool = True  # the primary condition with one mask source at a time
    synthetic_only: bool = True  # generated-GEN-only and oracle-only (synthetic data alone)
    generator_steps: int = 2000  # updates at every fraction
    generator_batch: int = 4
    generator_set: tuple[str, ...] = ()
    artificial_mask_size: int = 256
    moved_front_sources: int = 8  # real training masks with a front that 'masks --from' moves
    advance_px: int = 4
    roughness_px: int = 2
    oracle_new_scenes: int = 8  # new synth scenes per replicate for the oracle's "new masks" (>= 2n patches)
    seg_steps: int = 600
    seg_batch: int = 8
    seg_args: tuple[str, ...] = ("--base-filters", "16", "--depth", "4")


DEFAULT = Setup()
SMOKE = Setup(
    train_seeds=(0, 1),
    held_out_seeds=(100,),
    scene_size=192,  # prepare estimates the looks (the sampler's speckle) from 192-px scenes
    patch_size=32,
    scarce=0.25,  # about 15 patches: 4 generator updates (one epoch)
    full=None,  # the 30-s goal: the scarce grid only, one generator and share, no synthetic-only runs
    curve=(),
    replicates=2,
    shares=(25,),
    generators=("sampler",),
    ablation=False,
    synthetic_only=False,
    samples=1,
    generator_steps=2,
    generator_set=("model.base_filters=8", "model.unet_depth=2", "model.noise_channels=1", "model.fine_noise=false"),
    artificial_mask_size=64,
    moved_front_sources=2,
    oracle_new_scenes=2,  # about 60 patches for the 2n = 32 new ones
    seg_steps=2,
    seg_batch=4,
    seg_args=("--base-filters", "4", "--depth", "2"),
)


@dataclass(frozen=True)
class Condition:
    name: str
    generator: str | None = None  # None: real only or oracle
    oracle: bool = False
    share: int | None = None  # synthetic % of every batch; None: real only; 100: synthetic only
    sources: tuple[str, ...] = SOURCES
    role: str = "secondary"


def primary_name(setup: Setup) -> str:
    return f"real+generated-{setup.generators[0]}-{setup.shares[0]}"


def conditions(setup: Setup, fraction: float) -> list[Condition]:
    """The conditions run at `fraction`; names say real / generated / oracle as they apply."""
    real, first = Condition("real", role="baseline"), setup.generators[0]
    primary = Condition(primary_name(setup), first, share=setup.shares[0], role="primary")
    oracle = [Condition(f"real+oracle-{s}", oracle=True, share=s) for s in setup.shares]
    if fraction == setup.full:
        return [real, primary, oracle[0]]
    if fraction != setup.scarce:
        return [real]
    generated = [Condition(f"real+generated-{g}-{s}", g, share=s) for g in setup.generators for s in setup.shares]
    generated = [primary if c.name == primary.name else c for c in generated]
    alone = [Condition(f"generated-{g}-only", g, share=100) for g in setup.generators]
    ablation = [Condition(f"{primary.name}-{s}-only", first, share=setup.shares[0], sources=(s,)) for s in SOURCES]
    ablation = ablation if setup.ablation else []
    alone = [*alone, Condition("oracle-only", oracle=True, share=100)] if setup.synthetic_only else []
    return [real, *generated, *oracle, *alone, *ablation]


def replicate_seeds(setup: Setup, r: int) -> dict:
    """Every seed of replicate r. Shared by all conditions of r; different for each r."""
    k = setup.samples
    return {
        "real_subset": 10_000 + r,
        "generator_training": r,
        "pool_masks": 1_000 * r,  # masks --seed; masks --from adds the source's index
        "generate": 100 * r,  # generate --seed (--samples K: seeds generate .. generate+K-1)
        "oracle_content": [1 + r * k + i for i in range(k)],  # synth --content-seed (0 is unused)
        "oracle_new_scenes": [20_000 + r * setup.oracle_new_scenes + i for i in range(setup.oracle_new_scenes)],
        "segmenter": r,
    }


def fractions(setup: Setup) -> list[float]:
    return [setup.scarce, *([setup.full] if setup.full else []), *setup.curve]


def tag(fraction: float) -> str:
    return f"real{fraction * 100:05.1f}".replace(".", "p")


# --- Steps, each skipped when done -----------------------------------------------------


class Stopped(Exception):
    """--stop-after passed before the step named in the message."""


class Ledger:
    """CPU (this process, user + sys) and wall seconds of every finished step, in a JSON file,
    so the budget survives stops; a step killed mid-way is not counted."""

    def __init__(self, path: Path):
        self.path = path
        self.steps = json.loads(path.read_text()) if path.exists() else {}

    def run(self, name: str, action):
        """`action()`, timed the first time it finishes (a rerun only finds its outputs)."""
        usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = action()
        if name not in self.steps:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
            self.steps[name] = {"cpu_s": round(cpu, 2), "wall_s": round(time.perf_counter() - wall0, 2)}
            write_json(self.path, self.steps)
        return result

    def total(self, key: str) -> float:
        return sum(s[key] for s in self.steps.values())


# --- One replicate ----------------------------------------------------------------------


class Experiment:
    def __init__(self, out: Path, setup: Setup, sets: dict[str, list[str]], stop_after_s: float | None):
        self.out, self.setup, self.sets = out, setup, sets
        self.ledger = Ledger(out / "ledger.json")
        self.deadline = time.perf_counter() + stop_after_s if stop_after_s else None
        self.runs: list[dict] = json.loads((out / "runs.json").read_text()) if (out / "runs.json").exists() else []

    def step(self, name: str, action, *args):
        """`action(*args)` (it skips what is done); stop, resumably, once --stop-after has passed."""
        if self.deadline and time.perf_counter() > self.deadline:
            raise Stopped(name)
        try:
            return self.ledger.run(name, lambda: action(*args))
        finally:
            if "keras" in sys.modules:  # some 130 models in one process: drop each one's graph state
                sys.modules["keras"].backend.clear_session()

    def data(self) -> tuple[Path, Path]:
        s, scenes = self.setup, self.out / "scenes"
        train = [synth(scenes / f"train_{seed}", seed, s.scene_size, harder=s.harder) for seed in s.train_seeds]
        real = prepare(train, self.out / "real", s)
        held = [synth(scenes / f"held_out_{seed}", seed, s.scene_size, harder=s.harder) for seed in s.held_out_seeds]
        return real, prepare(held, self.out / "held_out", s, scaling_from=real)

    def oracle_draws(self, real: Path, r: int, seeds: dict) -> tuple[Path, dict[str, tuple]]:
        """One dataset of replicate r's oracle scenes; scene path -> (train seed or None, kind)."""
        s, folder = self.setup, self.out / "oracle_scenes" / f"r{r}"
        scenes, scene_of = [], {}
        for train_seed in s.train_seeds:
            scene_of[str((self.out / "scenes" / f"train_{train_seed}" / "scene.tif").resolve())] = (train_seed, "real")
            for c in seeds["oracle_content"]:
                scenes.append(synth(folder / f"train_{train_seed}_c{c}", train_seed, s.scene_size, c, s.harder))
                scene_of[str((scenes[-1] / "scene.tif").resolve())] = (train_seed, "redraw")
        for seed in seeds["oracle_new_scenes"]:
            scenes.append(synth(folder / f"new_{seed}", seed, s.scene_size, harder=s.harder))
            scene_of[str((scenes[-1] / "scene.tif").resolve())] = (None, "new")
        return prepare(scenes, self.out / f"oracle_r{r}", s, scaling_from=real), scene_of

    def replicate(self, real: Path, held_out: Path, r: int) -> None:
        seeds = replicate_seeds(self.setup, r)
        draws = self.step(f"r{r}/oracle_scenes", self.oracle_draws, real, r, seeds)
        for fraction in fractions(self.setup):
            self.fraction(real, held_out, r, seeds, draws, fraction)

    def fraction(self, real: Path, held_out: Path, r: int, seeds: dict, draws: tuple, fraction: float) -> None:
        """Replicate r's conditions at one real fraction; pools made only for the conditions not done."""
        s, at, base = self.setup, f"r{r}/{tag(fraction)}", self.out / tag(fraction) / f"r{r}"
        todo = [c for c in conditions(s, fraction) if not self.done(fraction, c.name, r)]
        if not todo:
            return
        train = real_subset(real, base / "real", fraction, seeds["real_subset"])
        pools: dict[str, dict] = {}
        if any(c.oracle for c in todo):
            pools["oracle"] = self.step(f"{at}/pool_oracle", oracle_pool, train, *draws, base / "oracle", s, seeds)
        generators = sorted({c.generator for c in todo if c.generator}, key=s.generators.index)
        if generators:
            masks = self.step(f"{at}/masks", new_masks, train, base / "masks", s, seeds["pool_masks"])
        for g in generators:
            run = base / "generators" / g
            self.step(f"{at}/generator_{g}", train_generator, g, train, run, s, r, self.sets.get(g, []))
            pools[g] = self.step(f"{at}/pool_{g}", generated_pool, run, train, masks, base / "pool" / g, s, seeds)
        for c in todo:
            pool = pools["oracle" if c.oracle else c.generator] if c.share else {}
            chosen = [pool[k] for k in pool if c.oracle or k in c.sources]
            data = chosen if c.share == 100 else [train, *chosen]
            run = base / "seg" / c.name.replace("+", "_")
            scores = self.step(f"{at}/seg_{c.name}", segmenter_run, data, c.share, run, held_out, s, seeds["segmenter"])
            self.record(fraction, c, r, seeds, train, chosen, scores, self.ledger.steps[f"{at}/seg_{c.name}"])

    def done(self, fraction: float, condition: str, r: int) -> bool:
        return any(x["fraction"] == fraction and x["condition"] == condition and x["replicate"] == r for x in self.runs)

    def record(self, fraction, c: Condition, r: int, seeds: dict, real: Path, pool: list, scores: dict, cost) -> None:
        """One runs.json row: every seed the run used (None: not used by this condition)."""
        generated, oracle = c.generator is not None, c.oracle
        used = {
            "real_subset": seeds["real_subset"] if fraction < 1 else None,
            "segmenter": seeds["segmenter"],
            "generator_training": seeds["generator_training"] if generated else None,
            "generate": seeds["generate"] if generated else None,
            "pool_masks": seeds["pool_masks"] if generated or oracle else None,
            "oracle_content": seeds["oracle_content"] if oracle else None,
            "oracle_new_scenes": seeds["oracle_new_scenes"] if oracle else None,
        }
        mde = scores.get("mde_m")
        self.runs.append(
            {
                "fraction": fraction,
                "condition": c.name,
                "replicate": r,
                "role": c.role,
                "generator": c.generator,
                "synthetic_share": c.share,
                "sources": list(c.sources) if c.share else [],
                "seeds": used,
                "real_patches": len(manifest(real)) if c.share != 100 else 0,
                "synthetic_patches": sum(len(manifest(p)) for p in pool),
                "seg_steps": self.setup.seg_steps,
                "miou": scores["miou"],
                "mde_m": mde if mde is not None and math.isfinite(mde) else None,
                "mde_images": scores.get("mde_images"),
                **cost,
            }
        )
        write_json(self.out / "runs.json", self.runs)


def facts(setup: Setup, ledger: Ledger) -> dict:
    grid = [f for f in (setup.scarce, setup.full) if f]
    names = [c.name for f in grid for c in conditions(setup, f)]
    return {
        "scarce": setup.scarce,
        "fractions": grid,
        "conditions": list(dict.fromkeys(names)),
        "roles": {c.name: c.role for c in conditions(setup, setup.scarce)},
        "primary": primary_name(setup),
        "generators": setup.generators,
        "shares": setup.shares,
        "header": (
            f"{'Harder benchmark (synth factors varied per scene). ' if setup.harder else ''}"
            f"Held out: synth seeds {', '.join(map(str, setup.held_out_seeds))} ({setup.scene_size} px), never "
            f"trained on. {setup.seg_steps} segmenter updates of batch {setup.seg_batch} in every condition; "
            f"generators {setup.generator_steps} updates of batch {setup.generator_batch}. Mean ± 95 % t-interval "
            f"over replicates; Δ: paired per replicate (same real subset, generator seed, pool, segmenter seed). "
            f"Steps done so far: {ledger.total('cpu_s') / 60:.1f} CPU-min, {ledger.total('wall_s') / 60:.1f} wall-min."
        ),
    }


def write_results(runs: list[dict], setup: Setup, ledger: Ledger, results: Path) -> str:
    from pix2pix_sar.atomic import atomic_path

    f = facts(setup, ledger)
    table = analysis.markdown(runs, f)
    with atomic_path(results / "results.md") as tmp:
        tmp.write_text(table)
    rows = analysis.csv_rows(runs, f)
    if rows:
        with atomic_path(results / "results.csv") as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    write_json(results / "runs.json", runs)
    write_json(
        results / "setup.json", {**asdict(setup), "cpu_s": ledger.total("cpu_s"), "wall_s": ledger.total("wall_s")}
    )
    return table


def same_setup(out: Path, setup: Setup) -> None:
    """Refuse to continue OUT with other sizes or another benchmark (steps would find the
    other setup's scenes and runs done); --replicates may change between parts."""
    record, mine = out / "experiment_setup.json", {**asdict(setup), "replicates": None}
    if not record.exists():
        write_json(record, mine)
    elif json.loads(record.read_text()) != json.loads(json.dumps(mine)):
        raise SystemExit(f"{out}: made with another setup (--smoke/--harder, {record.name}); give another --out")


def adopt_earlier_runs(out: Path, results: Path) -> None:
    """Start a new OUT from the runs recorded in RESULTS (an earlier part whose output folder
    is gone, e.g. another machine or session): those conditions are not run again, and the
    earlier parts' CPU and wall time stay in the totals. A replicate begun there retrains
    its generators with the same seeds for the conditions still to run."""
    earlier_runs, earlier_setup = results / "runs.json", results / "setup.json"
    if (out / "runs.json").exists() or not earlier_runs.exists() or results.resolve() == out:
        return
    write_json(out / "runs.json", json.loads(earlier_runs.read_text()))
    if earlier_setup.exists():
        totals = json.loads(earlier_setup.read_text())
        ledger = json.loads((out / "ledger.json").read_text()) if (out / "ledger.json").exists() else {}
        ledger["earlier parts (from results/setup.json)"] = {"cpu_s": totals["cpu_s"], "wall_s": totals["wall_s"]}
        write_json(out / "ledger.json", ledger)


def parse_sets(values: list[str], variants: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {v: [] for v in variants}
    for value in values:
        variant, sep, assignment = value.partition(":")
        if not sep or variant not in out:
            raise SystemExit(f"--set {value}: give VARIANT:section.key=value with VARIANT one of {', '.join(variants)}")
        out[variant].append(assignment)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Folder for everything the experiment makes.")
    parser.add_argument("--results", help="Where runs.json, results.md/.csv and setup.json go [default: OUT].")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the flow, not the answer.")
    parser.add_argument(
        "--harder", action="store_true", help="Harder benchmark: synth scenes with varied fjord width, mélange, "
        "icebergs and looks (give it its own --out and --results).",
    )  # fmt: skip
    parser.add_argument("--replicates", type=int, help="Replicates [6; smoke 2].")
    parser.add_argument("--stop-after", type=float, metavar="MIN", help="Start no new step after MIN wall minutes.")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="VARIANT:KEY=VALUE")
    args = parser.parse_args(argv)
    setup = SMOKE if args.smoke else DEFAULT
    if args.replicates is not None:
        setup = replace(setup, replicates=args.replicates)
    if args.harder:
        setup = replace(setup, harder=True)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # every seg fit traces its own step
    out = Path(args.out).resolve()  # manifests name their scenes by absolute path
    results = Path(args.results) if args.results else out
    out.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    same_setup(out, setup)
    adopt_earlier_runs(out, results)
    stop_after = args.stop_after * 60 if args.stop_after else None
    experiment = Experiment(out, setup, parse_sets(args.sets, setup.generators), stop_after)
    message = "all steps done"
    try:
        real, held_out = experiment.step("data", experiment.data)
        for r in range(setup.replicates):
            experiment.replicate(real, held_out, r)
    except Stopped as stopped:
        message = f"stopped before {stopped} (--stop-after); rerun the same command to continue"
    table = write_results(experiment.runs, setup, experiment.ledger, results)
    print(table)
    ledger = experiment.ledger
    cpu, wall = ledger.total("cpu_s") / 60, ledger.total("wall_s") / 60
    print(f"{message}; steps so far: {wall:.1f} wall-min, {cpu:.1f} CPU-min; results in {results}")


if __name__ == "__main__":
    main()
