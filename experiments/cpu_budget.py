"""Training for a CPU-time budget, shared by the experiments that compare runs at equal cost
(structure_variety, sensors): `fit` in chunks of epochs until the budget is spent."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Callable


def cpu_seconds() -> float:
    """User + system CPU time of this process (`fit` runs in it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_within_budget(
    fit_to: Callable[[int], None],
    ledger_path: Path,
    cpu_minutes: float,
    first_chunk: int,
    write_json: Callable[[Path, dict], None],
) -> dict:
    """Call ``fit_to(epochs)`` (a `fit` that resumes to `epochs`) in chunks until `cpu_minutes`
    of this process's CPU time are spent: the first chunk is `first_chunk` epochs, its CPU
    time per epoch (tracing included: every chunk pays it) sizes the next; training stops
    when less than half an epoch is left. The chunks are kept in `ledger_path`, so a rerun
    continues; another budget trains on (or stops) from where it is. Returns the ledger."""
    budget = cpu_minutes * 60.0
    ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else {"chunks": []}
    if ledger.get("budget_s") != budget:
        ledger.update(budget_s=budget, done=False)
    while not ledger.get("done"):
        chunks = ledger["chunks"]
        spent, epochs = sum(c["cpu_s"] for c in chunks), (chunks[-1]["epochs"] if chunks else 0)
        if chunks:
            per_epoch = spent / epochs
            if budget - spent < 0.5 * per_epoch:
                ledger["done"] = True
                write_json(ledger_path, ledger)
                break
            target = epochs + max(1, round((budget - spent) / per_epoch))
        else:
            target = first_chunk
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        fit_to(target)
        chunks.append({"epochs": target, "cpu_s": cpu_seconds() - cpu0, "wall_s": time.perf_counter() - wall0})
        write_json(ledger_path, ledger)
    return ledger
