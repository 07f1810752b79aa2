#!/usr/bin/env bash
# Per-geometry figures of a model (default: the shipped reference): REC Acc@0.5, RES cIoU, VQA accuracy and caption
# CIDEr on ShapesWorld test splits of four fixed geometries (64x64, 128x128, 160x96, 96x144), drawn anti-aliased,
# seed 7 (no training split uses it). Writes $OUT/<geometry>.json and prints a markdown table.
#   bash scripts/eval_geometries.sh                      # N=100 records per task and geometry
#   CKPT=runs/geo N=300 OUT=results/geo bash scripts/eval_geometries.sh
set -euo pipefail
cd "$(dirname "$0")/.."
GEOMETRIES=${GEOMETRIES:-64x64,128x128,160x96,96x144}
TASKS=rec,res,vqa,caption
N=${N:-100}
DATA=${DATA:-data/sw_geo_test}
CKPT=${CKPT:+--checkpoint $CKPT}
OUT=${OUT:-results/geometry}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
n_tasks=$(echo "$TASKS" | tr ',' '\n' | wc -l)
.venv/bin/vistakit data generate --out "$DATA" --split test --n $((N * n_tasks)) --seed 7 --tasks "$TASKS" \
  --geometry "$GEOMETRIES" --render aa
IFS=',' read -ra GEOS <<< "$GEOMETRIES"
for g in "${GEOS[@]}"; do
  dir="$DATA/$g"; [ "${#GEOS[@]}" -eq 1 ] && dir="$DATA"
  .venv/bin/vistakit eval --data "$dir" --split test $CKPT --threads "$THREADS" --no-progress --batch-size 16 \
    --json "$OUT/$g.json" > "$OUT/$g.txt"
done
.venv/bin/python - "$OUT" "${GEOS[@]}" <<'PY'
import json, sys
out, geos = sys.argv[1], sys.argv[2:]
print("| image | REC Acc@0.5 | RES cIoU | VQA | caption CIDEr |\n|---|---:|---:|---:|---:|")
for g in geos:
    r = json.load(open(f"{out}/{g}.json"))
    w, h = g.split("x")
    print(f"| {w} × {h} | {r['rec']['acc50']:.3f} | {r['res']['ciou']:.3f} | {r['vqa']['accuracy']:.3f} | "
          f"{r['caption']['cider']:.3f} |")
PY
