#!/usr/bin/env bash
# GPU speed check, offline, in under 5 minutes: orig at 256x256, batch 1, 16 and 64,
# float32 (no XLA) and mixed_bfloat16 + XLA; prints the JSON lines and a table.
#   experiments/gpu_check.sh            # uses .venv/bin/python if present, else python3
#   PYTHON=python experiments/gpu_check.sh   # e.g. inside the Docker image
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
"$PY" -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 'no GPU visible to TensorFlow')"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 290 "$PY" experiments/benchmark.py --variant orig --batch-sizes 1,16,64 \
    --configs float32:off,mixed_bfloat16:on --steps 20 --warmup 5 --baseline | tee "$out" || true
"$PY" - "$out" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'impl':<12} {'batch':>5} {'precision':<15} {'xla':<4} {'train img/s':>12} {'gen tiles/s':>12} {'GPU peak MB':>12}")
for r in rows:
    if r["what"] == "train":
        print(f"{r['impl']:<12} {r['batch']:>5} {r['precision']:<15} {r['xla']:<4} {r['images_per_s']:>12} "
              f"{r.get('generate_tiles_per_s', ''):>12} {r.get('gpu_peak_mb', ''):>12}")
for r in rows:
    if r["what"] == "pipeline":
        print(f"input pipeline: {r['pairs_per_s']} pairs/s")
PYEOF
