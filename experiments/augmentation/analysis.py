"""The augmentation experiment's arithmetic: intervals over replicates, paired differences,
"gain captured", and the results tables. Plain numpy and scipy, no TensorFlow, so the
test checks it against hand-computed numbers without running anything.

A run is one row of runs.json: ``fraction``, ``condition``, ``replicate``, ``miou``,
``mde_m`` (None where no front was found) and more. Replicates pair runs across
conditions: the same real subset, generator seed, synthetic pool and segmenter seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BASELINE = "real"
METRICS = ("miou", "mde_m")  # mIoU: higher is better; MDE (m): lower is better


@dataclass(frozen=True)
class Interval:
    """Mean and half-width of the 95 % t-interval over n values (NaN half-width for n < 2)."""

    mean: float
    half: float
    n: int

    def excludes_zero(self) -> bool:
        return self.n >= 2 and math.isfinite(self.half) and abs(self.mean) > self.half

    def text(self, digits: int, signed: bool = False) -> str:
        if self.n == 0:
            return "–"
        sign = "+" if signed else ""
        half = f"{self.half:.{digits}f}" if math.isfinite(self.half) else "?"
        return f"{self.mean:{sign}.{digits}f} ± {half}"


def t_interval(values) -> Interval:
    """95 % t-interval of the mean: mean ± t(0.975, n-1) * sd / sqrt(n); None and NaN left out."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if x.size == 0:
        return Interval(math.nan, math.nan, 0)
    if x.size < 2:
        return Interval(float(x.mean()), math.nan, 1)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return Interval(float(x.mean()), float(half), int(x.size))


def by_replicate(runs: list[dict], fraction: float, condition: str, metric: str) -> dict[int, float]:
    """Replicate -> the metric of that condition's run (runs without a value left out)."""
    out = {}
    for r in runs:
        value = r.get(metric)
        if r["fraction"] == fraction and r["condition"] == condition and value is not None and math.isfinite(value):
            out[int(r["replicate"])] = float(value)
    return out


def paired_differences(
    runs: list[dict], fraction: float, condition: str, metric: str, baseline: str = BASELINE
) -> dict[int, float]:
    """Replicate -> condition minus baseline, over the replicates where both have a value."""
    cond, base = by_replicate(runs, fraction, condition, metric), by_replicate(runs, fraction, baseline, metric)
    return {k: cond[k] - base[k] for k in sorted(cond.keys() & base.keys())}


@dataclass(frozen=True)
class GainCaptured:
    """Mean paired difference of the generator / that of the oracle, with a bootstrap interval.
    Undefined (ratio None) when the oracle's own gain is not distinguishable from zero."""

    ratio: float | None
    low: float | None
    high: float | None
    oracle: Interval
    generated: Interval
    replicates: int

    def text(self) -> str:
        if self.ratio is None:
            why = "fewer than 2 paired replicates" if self.replicates < 2 else "oracle gain not distinguishable from 0"
            return f"undefined ({why})"
        return f"{self.ratio:.2f} [{self.low:.2f}, {self.high:.2f}]"


def gain_captured(generated: dict[int, float], oracle: dict[int, float], boots: int = 10_000, seed: int = 0):
    """Ratio of mean paired differences over the replicates both have; 95 % percentile
    bootstrap over replicates (the same resampled replicates for numerator and denominator)."""
    common = sorted(generated.keys() & oracle.keys())
    g = np.array([generated[k] for k in common], float)
    o = np.array([oracle[k] for k in common], float)
    oracle_interval, generated_interval = t_interval(o), t_interval(g)
    if len(common) < 2 or not oracle_interval.excludes_zero():
        return GainCaptured(None, None, None, oracle_interval, generated_interval, len(common))
    picks = np.random.default_rng(seed).integers(0, len(common), size=(boots, len(common)))
    o_means = o[picks].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = g[picks].mean(axis=1) / o_means
    ratios = ratios[np.isfinite(ratios)]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return GainCaptured(
        float(g.mean() / o.mean()), float(low), float(high), oracle_interval, generated_interval, len(common)
    )


# --- Tables -------------------------------------------------------------------------


def condition_rows(runs: list[dict], fraction: float, conditions: list[str], roles: dict[str, str]) -> list[dict]:
    """One row per condition run at `fraction`: intervals and paired differences to real."""
    rows = []
    for condition in conditions:
        if not any(r["fraction"] == fraction and r["condition"] == condition for r in runs):
            continue
        row = {"fraction": fraction, "condition": condition, "role": roles.get(condition, "secondary")}
        for metric in METRICS:
            row[metric] = t_interval(by_replicate(runs, fraction, condition, metric).values())
            diffs = paired_differences(runs, fraction, condition, metric) if condition != BASELINE else {}
            row[f"d_{metric}"] = t_interval(diffs.values()) if diffs else None
            row[f"d_{metric}_each"] = diffs
        rows.append(row)
    return rows


def _fmt_pct(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def markdown(runs: list[dict], facts: dict) -> str:
    """results.md: the primary comparison, the condition table per fraction, gain captured,
    the real-only curve. `facts` holds scarce, fractions, conditions (in order), roles,
    primary, generators, shares, header."""
    scarce, primary = facts["scarce"], facts["primary"]
    lines = [facts["header"], ""]
    d = {m: t_interval(paired_differences(runs, scarce, primary, m).values()) for m in METRICS}
    lines += [
        f"**Primary comparison (fixed before running):** `{primary}` − `real` at {_fmt_pct(scarce)} real, "
        f"paired over {d['miou'].n} replicates: Δ mIoU {d['miou'].text(3, True)}, "
        f"Δ MDE {d['mde_m'].text(0, True)} m (95 % t-interval). Everything else below is secondary.",
        "",
    ]
    for fraction in facts["fractions"]:
        rows = condition_rows(runs, fraction, facts["conditions"], facts["roles"])
        if not rows:
            continue
        lines += [
            f"### {_fmt_pct(fraction)} real",
            "",
            "| condition | role | n | mIoU | Δ mIoU vs real (paired) | MDE m | Δ MDE m vs real (paired) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            dm, dd = row["d_miou"], row["d_mde_m"]
            lines.append(
                f"| {row['condition']} | {row['role']} | {row['miou'].n} | {row['miou'].text(3)} | "
                f"{dm.text(3, True) if dm else ''} | {row['mde_m'].text(0)} | {dd.text(0, True) if dd else ''} |"
            )
        lines.append("")
    lines += [
        f"### Gain captured at {_fmt_pct(scarce)} real (generated − real) / (oracle − real), secondary",
        "",
        "| generator | share | mIoU: ratio [95 % bootstrap] | oracle Δ mIoU | MDE: ratio [95 % bootstrap] "
        "| oracle Δ MDE m |",
        "|---|---|---|---|---|---|",
    ]
    for generator in facts["generators"]:
        for share in facts["shares"]:
            cells = []
            for metric, digits in (("miou", 3), ("mde_m", 0)):
                gen = paired_differences(runs, scarce, f"real+generated-{generator}-{share}", metric)
                orc = paired_differences(runs, scarce, f"real+oracle-{share}", metric)
                gc = gain_captured(gen, orc)
                cells += [gc.text(), gc.oracle.text(digits, True)]
            lines.append(f"| {generator} | {share} % | {' | '.join(cells)} |")
    lines += [
        "",
        "### Real only over real fractions (where it stops improving)",
        "",
        "| real | n | mIoU | MDE m |",
        "|---|---|---|---|",
    ]
    for fraction in sorted({r["fraction"] for r in runs}):
        miou = t_interval(by_replicate(runs, fraction, BASELINE, "miou").values())
        mde = t_interval(by_replicate(runs, fraction, BASELINE, "mde_m").values())
        if miou.n:
            lines.append(f"| {_fmt_pct(fraction)} | {miou.n} | {miou.text(3)} | {mde.text(0)} |")
    return "\n".join(lines) + "\n"


def csv_rows(runs: list[dict], facts: dict) -> list[dict]:
    """results.csv: one row per fraction and condition, every interval as mean and half-width."""
    out = []
    for fraction in facts["fractions"]:
        for row in condition_rows(runs, fraction, facts["conditions"], facts["roles"]):
            flat = {"fraction": fraction, "condition": row["condition"], "role": row["role"], "n": row["miou"].n}
            for metric in METRICS:
                flat[metric], flat[f"{metric}_ci95"] = row[metric].mean, row[metric].half
                d = row[f"d_{metric}"]
                flat[f"d_{metric}"], flat[f"d_{metric}_ci95"] = (d.mean, d.half) if d else (None, None)
            out.append(flat)
    return out
