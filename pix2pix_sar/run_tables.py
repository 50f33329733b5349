"""The CSV tables a run folder keeps, one row per epoch (or step): history.csv (fit, seg
fit), appended as training goes and rewound on resume, and eval/per_epoch.csv (evaluate),
read back as numbers. :class:`~pix2pix_sar.run_folder.RunFiles` says where they are."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.errors import InputError


def append_history(path: Path, header: Sequence[str], row: Sequence[Any]) -> None:
    """One row of a history CSV (fit: per epoch; seg fit: per epoch, by step); a history
    written before its header changed gets the new one (its old rows leave new columns empty)."""
    rows = list(csv.reader(path.open(newline=""))) if path.exists() else []
    if rows and rows[0] != list(header):
        with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
            csv.writer(fh).writerows([header, *rows[1:]])
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if not rows:
            writer.writerow(header)
        writer.writerow(row)


def rewind_history(path: Path, last: int) -> None:
    """Drop the rows of a history CSV whose first column (epoch or step) is after `last`:
    the work an interruption lost, replayed on resume (fit and seg fit)."""
    if not path.exists():
        return
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= last]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        csv.writer(fh).writerows(kept)


#: eval/per_epoch.csv columns that hold counts, read back as int (evaluation/sweep.py writes them).
PER_EPOCH_COUNTS = ("epoch", "images", "dice_skipped", "ssim_skipped", "mae_skipped", "spectra_patches")


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV's rows as text by column name; none for a missing file."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def read_per_epoch(
    path: Path, counts: Sequence[str] = PER_EPOCH_COUNTS, fix: str = "delete it and rerun 'pix2pix-sar evaluate'"
) -> list[dict[str, float]]:
    """A table of one row per epoch (eval/per_epoch.csv, history.csv) as numbers, in epoch
    order: the `counts` columns as int where finite, the others as float; an empty cell (a
    column added after its row was written) is NaN. A cell that is not a number is refused
    with `fix`."""
    rows = []
    for row in read_rows(path):
        try:
            parsed = {k: math.nan if v in ("", None) else float(v) for k, v in row.items()}
        except (TypeError, ValueError):
            raise InputError(f"{path}: malformed row {row}; {fix}") from None
        for key in counts:
            if key in parsed and math.isfinite(parsed[key]):
                parsed[key] = int(parsed[key])
        rows.append(parsed)
    return sorted(rows, key=lambda r: r["epoch"])
