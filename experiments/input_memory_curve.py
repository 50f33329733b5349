"""Peak memory and input throughput of `fit` against dataset size, in memory and streamed.

    .venv/bin/python experiments/input_memory_curve.py [--sizes 1000 4000 16000] [--patch-size 64]

For each size, writes a dataset of random 64-pixel zones patches (GeoTIFFs, as
`prepare` writes them; kept under --work), packs it, and runs one epoch of
`pix2pix-sar fit` with a small model (8 base filters, batch 16) twice in fresh
processes: ``--set data.input=memory`` and ``--set data.input=streamed``. Reports
each run's peak resident memory (the process's own VmHWM, printed at its exit) and
its input throughput: patches / the seconds the epoch spent waiting for input
(history.csv's ``input_seconds``) — and the whole command's wall time.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


#: Runs the CLI and reports the process's own peak memory (VmHWM) on stderr at exit.
_MEASURED_CLI = (
    "import atexit, sys; from pathlib import Path; "
    "atexit.register(lambda: print(next(l for l in Path('/proc/self/status').read_text().splitlines() "
    "if l.startswith('VmHWM')), file=sys.stderr)); "
    "from pix2pix_sar.cli.main import cli; cli.main(args=sys.argv[1:], prog_name='pix2pix-sar')"
)


def fit_once(dataset: Path, run: Path, mode: str, batch: int) -> dict:
    args = ["-q", "fit", "--data", str(dataset), "--out", str(run), "--variant", "orig", "--epochs", "1"]
    args += ["--batch-size", str(batch), "--set", "model.base_filters=8", "--set", f"data.input={mode}"]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    peak_kb = int(next(line for line in proc.stderr.splitlines() if line.startswith("VmHWM")).split()[1])
    with (run / "history.csv").open(newline="") as fh:
        row = list(csv.DictReader(fh))[-1]
    return {"peak_mb": peak_kb / 1024, "wall_s": wall, "row": row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--work", default="/tmp/pix2pix_sar_input_curve")
    args = parser.parse_args()

    from pipeline_benchmark import make_dataset  # experiments/pipeline_benchmark.py

    from pix2pix_sar.data.packed import pack_dataset

    rows = []
    for n in args.sizes:
        dataset = make_dataset(Path(args.work) / f"n{n}_s{args.patch_size}", n, args.patch_size)
        pack_dataset(dataset)
        for mode in ("memory", "streamed"):
            run = Path(args.work) / f"run_n{n}_{mode}"
            subprocess.run(["rm", "-rf", str(run)], check=True)
            result = fit_once(dataset, run, mode, args.batch_size)
            input_s = float(result["row"].get("input_seconds", "nan"))
            rows.append((n, mode, result["peak_mb"], n / input_s if input_s > 0 else float("nan"), result["wall_s"]))
            print(rows[-1], flush=True)
    print("| patches | input | peak RSS (MB) | input throughput (patches / input-wait s) | fit wall (s) |")
    print("|---|---|---|---|---|")
    for n, mode, peak, rate, wall in rows:
        print(f"| {n:,} | {mode} | {peak:,.0f} | {rate:,.0f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
