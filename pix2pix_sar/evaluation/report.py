"""Compare evaluated runs the way the paper does (Sec. III-C), plus SAR statistics.

    OUT/fig3_curves.png   mean Dice and SSIM per epoch, one line per run (paper Fig. 3); below
                          them the SAR statistics and segmentation score where evaluated
    OUT/table1.md, .csv   Dice and SSIM (mean, std) and SAR statistics at epoch E (Table I)
    OUT/fig4_examples.png mask | target | one column per run, at epoch E (paper Fig. 4)
    OUT/report.md         the above tied together

Each run must have been evaluated (``pix2pix-sar evaluate RUN``), all on the same split
(validation, or ``--split test``: Fig. 4 then shows test patches); E defaults to the last
epoch that every run has evaluated.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from textwrap import fill

import numpy as np

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.data.extra_bands import encode_picked
from pix2pix_sar.data.zones import class_scheme, valid_zones
from pix2pix_sar.errors import InputError, RunStateError, option
from pix2pix_sar.evaluation.figures import Curve, curve_panels, plot_curves, plot_image_grid
from pix2pix_sar.evaluation.preview import pick_patches
from pix2pix_sar.evaluation.sar_stats import SAR_CLASSES
from pix2pix_sar.evaluation.sweep import SEG_FIELDS, evaluated_split, read_per_epoch, split_title
from pix2pix_sar.noise import patch_keys
from pix2pix_sar.run_folder import RunFolder

log = logging.getLogger(__name__)

#: The paper's Table I (epoch 210): variant -> (non-binary Dice, SSIM).
PAPER_TABLE_I = {
    "orig": (0.2638, 0.8409),
    "gen5": (0.2266, 0.8492),
    "dis3": (0.1566, 0.8448),
    "l1_1_gan100": (0.1578, 0.7926),
    "l1_50_gan50": (0.1484, 0.7379),
}

TABLE_FIELDS = (
    "label",
    "variant",
    "run",
    "epoch",
    "images",
    "dice_mean",
    "dice_std",
    "ssim_mean",
    "ssim_std",
    *(f"w1_db_{c}" for c in SAR_CLASSES),
    *(f"enl_ratio_{c}" for c in SAR_CLASSES),
    "spectral_distance_db",
    *SEG_FIELDS,
)


@dataclass(frozen=True)
class EvaluatedRun:
    run: RunFolder
    label: str
    variant: str
    per_epoch: list[dict[str, float]]

    def row(self, epoch: int) -> dict[str, float]:
        return next(r for r in self.per_epoch if r["epoch"] == epoch)


@dataclass(frozen=True)
class ReportResult:
    out: Path
    epoch: int
    report_md: Path
    figures: list[Path]


def load_evaluated(run_dirs: list[str | Path]) -> list[EvaluatedRun]:
    """Each run's per_epoch.csv, labelled by variant (and folder name where variants repeat)."""
    runs = [RunFolder(d).require() for d in run_dirs]
    variants = [r.load_config().variant for r in runs]
    loaded = []
    for run, variant in zip(runs, variants):
        rows = read_per_epoch(run.eval_per_epoch_csv)
        if not rows:
            raise RunStateError(f"{run.path}: not evaluated yet; run 'pix2pix-sar evaluate {run.path}' first")
        label = variant if variants.count(variant) == 1 else f"{variant} ({run.path.name})"
        loaded.append(EvaluatedRun(run, label, variant, rows))
    splits = {evaluated_split(run) for run in runs}
    if len(splits) > 1:
        raise RunStateError(
            "the runs were evaluated on different splits ("
            + ", ".join(f"{r.label}: {evaluated_split(r.run)}" for r in loaded)
            + f"); evaluate them all with the same {option('split')}"
        )
    return loaded


def check_same_data(runs: list[EvaluatedRun], allow_different_data: bool = False) -> list[str]:
    """Runs ranked against each other must have been trained on the same data: the same
    dataset.json content and the same manifest.csv (compared by hash, not by folder).
    Refused unless `allow_different_data`; then returns the differences (report.md states them)."""
    first, *others = runs
    ours = first.run.dataset_identity()
    found = []
    for run in others:
        theirs = run.run.dataset_identity()
        if theirs[0] != ours[0]:
            found.append(f"{run.label}'s dataset.json differs from {first.label}'s")
        elif None not in (theirs[1], ours[1]) and theirs[1] != ours[1]:
            found.append(f"{run.label}'s patches (manifest.csv) differ from {first.label}'s")
    if found and not allow_different_data:
        raise RunStateError(
            f"the runs were trained on different datasets ({'; '.join(found)}), so their scores do not rank them; "
            f"compare runs trained on the same dataset, or pass {option('allow_different_data')} to report them anyway"
        )
    return found


def common_epoch(runs: list[EvaluatedRun], epoch: int | None) -> int:
    """`epoch` if every run has it, else the last epoch that all runs have."""
    shared = set.intersection(*({r["epoch"] for r in run.per_epoch} for run in runs))
    if epoch is not None:
        missing = [run.label for run in runs if epoch not in {r["epoch"] for r in run.per_epoch}]
        if missing:
            raise RunStateError(
                f"epoch {epoch} is not evaluated for {', '.join(missing)}; "
                f"epochs all runs have: {', '.join(map(str, sorted(shared))) or 'none'}"
            )
        return epoch
    if not shared:
        raise RunStateError("the runs have no evaluated epoch in common; train and evaluate them to a shared epoch")
    return max(shared)


def table_rows(runs: list[EvaluatedRun], epoch: int) -> list[dict]:
    rows = []
    for run in runs:
        r = run.row(epoch)
        rows.append(
            {
                "label": run.label,
                "variant": run.variant,
                "run": str(run.run.path),
                **{k: r.get(k, float("nan")) for k in TABLE_FIELDS if k not in ("label", "variant", "run")},
            }
        )
    return rows


def curves_caption(panels: tuple[Curve, ...], word: str, epoch: int) -> str:
    """What Fig. 3 shows, panel by panel (:func:`curve_panels`), for report.md."""
    text = (
        f"Panels, top to bottom (their axis labels): {'; '.join(c.name for c in panels)}. Dice and SSIM "
        f"are means over all {word} patches for every saved generator, the band ±1 standard deviation over patches."
    )
    if any(c.classes for c in panels):
        text += (
            " The SAR panels have one line per run and zone class (ocean solid, glacier dashed, rock dotted) "
            "and a grey line where generated matches real (W1 0, ENL ratio 1)."
        )
    if any(c.ceiling for c in panels):
        text += " The segmenter panels also show, dashed, the same segmenter on the real images."
    return text + f" The dotted line marks epoch {epoch}."


def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def table_markdown(rows: list[dict], epoch: int) -> str:
    """Table I; with the segmentation score (evaluate --segmenter) two more columns:
    the segmenter on the generated images, and in brackets on the real ones."""
    seg = any(r["seg_miou"] == r["seg_miou"] for r in rows)
    head = f"| model | non-binary Dice (epoch {epoch}) | SSIM (epoch {epoch}) |"
    head += " seg mIoU (real) | seg MDE m (real) |" if seg else ""
    lines = [head + " paper Dice / SSIM (epoch 210) |", "|---|---|---|" + ("---|---|" if seg else "") + "---|"]
    for r in rows:
        paper = PAPER_TABLE_I.get(r["variant"])
        cells = f"| {r['label']} | {_fmt(r['dice_mean'])} ± {_fmt(r['dice_std'])} | "
        cells += f"{_fmt(r['ssim_mean'])} ± {_fmt(r['ssim_std'])} | "
        if seg:
            cells += f"{_fmt(r['seg_miou'], 3)} ({_fmt(r['seg_real_miou'], 3)}) | "
            cells += f"{_fmt(r['seg_mde_m'], 0)} ({_fmt(r['seg_real_mde_m'], 0)}) | "
        lines.append(cells + f"{f'{paper[0]:.4f} / {paper[1]:.4f}' if paper else '—'} |")
    return "\n".join(lines) + "\n"


def sar_markdown(rows: list[dict]) -> str:
    classes = list(SAR_CLASSES)
    head = ["model", *(f"W1 {c} (dB)" for c in classes), *(f"ENL ratio {c}" for c in classes), "spectral dist. (dB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["label"],
            *(_fmt(r[f"w1_db_{c}"], 2) for c in classes),
            *(_fmt(r[f"enl_ratio_{c}"], 2) for c in classes),
            _fmt(r["spectral_distance_db"], 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def examples_dataset(runs: list[EvaluatedRun], data_dir: str | Path | None) -> Path:
    """The dataset Fig. 4 shows: `data_dir` (--data) or else the training data of the first
    run whose extra bands include every band of the runs (a run without a band leaves it out,
    so runs with and without a DEM compare on the DEM run's data). Checked against that run."""
    bands = {run.label: run.run.dataset_info().band_names for run in runs}
    needed = set().union(*bands.values())
    reference = next((run for run in runs if needed <= set(bands[run.label])), None)
    if reference is None:
        raise InputError(
            "Fig. 4 needs one dataset with every run's extra bands, and no run was trained with them all ("
            + "; ".join(f"{label}: {', '.join(names) or 'none'}" for label, names in bands.items())
            + "); report these runs separately"
        )
    return reference.run.dataset_dir(data_dir)


def _example_grid(
    runs: list[EvaluatedRun], epoch: int, out: Path, data_dir: Path, count: int, seed: int, split_name: str = "val"
) -> Path:
    """Fig. 4: `count` patches of the evaluated split chosen by `seed`; mask, target, each run at `epoch`.
    `data_dir`: from :func:`examples_dataset`."""
    from pix2pix_sar.models.inference import generate_images
    from pix2pix_sar.models.snapshots import load_generator

    datasets = {str(r.run.recorded_dataset()) for r in runs if r.run.recorded_dataset() is not None}
    if len(datasets) > 1:
        log.warning("the runs were trained on different datasets; Fig. 4 shows patches of %s", data_dir)
    split = load_split(data_dir, split_name)
    if len(split) == 0:
        raise InputError(f"{data_dir}: has no {split_title(split_name)} patches for Fig. 4")
    data_bands = load_info(data_dir).band_names
    pick = pick_patches(len(split), count, seed)
    columns = [("target", split.images[pick])]
    # Each run's generator gets its own compiled function, traced once; TensorFlow's
    # "excessive retracing" warning counts those as retraces, so keep it quiet here.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        for run in runs:
            info, config = run.run.dataset_info(), run.run.load_config()
            scheme = class_scheme(info.classes, str(run.run.dataset_json))
            conditioned = config.data.sensor_conditioning
            masks = encode_picked(scheme, split, pick, data_bands, info, conditioned, str(data_dir))
            generator = load_generator(run.run.find_snapshot(epoch)[1])
            keys = patch_keys(seed, pick)
            images = generate_images(generator, masks, keys, cfg=config.model)
            columns.append((run.label, np.where(valid_zones(split.zones[pick])[..., None], images, -1.0)))
    finally:
        tf_log.setLevel(level)
    labels = [split.ids[i] for i in pick]
    return plot_image_grid(split.zones[pick], columns, out, row_labels=labels, scaling=load_info(data_dir).scaling)


def write_report(
    run_dirs: list[str | Path],
    out: str | Path,
    epoch: int | None = None,
    count: int = 3,
    seed: int = 0,
    data_dir: str | Path | None = None,
    allow_different_data: bool = False,
) -> ReportResult:
    """Fig. 3, Table I, Fig. 4 and report.md for evaluated runs; see the module docstring.
    Runs trained on different datasets are refused unless `allow_different_data`."""

    if not run_dirs:
        raise InputError("give at least one evaluated RUN folder")
    runs = load_evaluated(list(run_dirs))
    different_data = check_same_data(runs, allow_different_data)
    split = evaluated_split(runs[0].run)
    word = split_title(split)
    epoch = common_epoch(runs, epoch)
    examples = examples_dataset(runs, data_dir)  # before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    series = {r.label: r.per_epoch for r in runs}
    fig3 = plot_curves(
        series,
        out / "fig3_curves.png",
        title=f"{word.capitalize()} metrics per epoch (mean, band: ±1 std)",
        mark_epoch=epoch,
    )
    rows = table_rows(runs, epoch)
    with atomic_path(out / "table1.csv") as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=TABLE_FIELDS)
            writer.writeheader()
            writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    table_md = table_markdown(rows, epoch)
    with atomic_path(out / "table1.md") as tmp:
        tmp.write_text(f"Table I — {word} means ± std at epoch {epoch}\n\n{table_md}")
    fig4 = _example_grid(runs, epoch, out / "fig4_examples.png", examples, count, seed, split)

    best = max(rows, key=lambda r: (r["ssim_mean"], r["dice_mean"]))
    bands = {r.label: r.run.dataset_info().band_names for r in runs}
    runs_md = "\n".join(
        f"- **{r.label}**: `{r.run.path}` — {len(r.per_epoch)} evaluated snapshot(s), "
        f"epochs {r.per_epoch[0]['epoch']}–{r.per_epoch[-1]['epoch']}, {r.per_epoch[-1]['images']} {word} patches"
        + (f", extra bands: {', '.join(bands[r.label]) or 'none'}" if any(bands.values()) else "")
        for r in runs
    )
    caveat = (
        f" (but the runs were trained on different datasets: {'; '.join(different_data)}; the scores do not rank them)"
        if different_data
        else ""
    )
    text = f"""# pix2pix-sar evaluation report

Runs compared (labelled by variant):

{runs_md}

## Fig. 3 — metrics per epoch

![Fig. 3](fig3_curves.png)

{fill(curves_caption(curve_panels(series), word, epoch), 100)}

## Table I — epoch {epoch}

{table_md}
Highest SSIM at epoch {epoch}: **{best["label"]}**{caveat}. Also in `table1.csv` / `table1.md`. The paper's
numbers come from its own data (2003/223 patches of real glacier scenes); compare trends, not values.
Where runs were evaluated with `--segmenter`, "seg" is the segmentation score: a zone segmenter
trained on real images segments the generated ones, scored against the masks they were made
from (mIoU, calving-front MDE in metres); in brackets the same segmenter on the real images.

## SAR statistics — epoch {epoch}

{sar_markdown(rows)}
- **W1** — Wasserstein-1 distance between real and generated backscatter histograms of one zone
  class, in dB (in DN for `dn` datasets; 0 = same distribution).
- **ENL ratio** — equivalent number of looks (mean² / variance of linear intensity, median over
  8×8 windows inside one class) of generated over real images: ≈ 1 means speckle like the real
  images, ≫ 1 too smooth, ≪ 1 too noisy.
- **spectral distance** — mean absolute difference (dB) between the radially averaged power spectra
  of real and generated images: a distribution-level texture score with no learned features.

## Fig. 4 — examples at epoch {epoch}

![Fig. 4](fig4_examples.png)

{count} {word} patches of `{examples}` chosen with seed {seed}: mask (zones: rock, glacier,
ocean), target, then each run's generated image.

## How the numbers are made

- Images are compared in [0, 1] (the model's [−1, 1] shifted and halved). Non-binary Dice is
  Eq. 6 of the paper; SSIM is Wang et al. (Gaussian window 11, σ 1.5, K1 0.01, K2 0.03), identical
  to `skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1)`; the 5-pixel border is excluded, as there.
- Generated images follow the project's one generation rule (`pix2pix_sar/models/inference.py`):
  the generator runs as in training, as in pix2pix: normalisation (where the variant has any) with
  each image's own statistics, and its noise on (keyed dropout; `scene`: coordinate noise). The
  noise is seeded, so rerunning gives the same numbers.
"""
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    return ReportResult(out, epoch, out / "report.md", [fig3, fig4])
