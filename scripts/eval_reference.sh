#!/usr/bin/env bash
# The figures of the README's results table for a model (default: the shipped reference model), on fresh
# ShapesWorld splits made with a seed (7) that no training split uses: 300 test and 150 compositional records per task
# (the first 100 / 50 of each are the records of the 1,100 / 550-record splits the earlier tables used).
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=caption,vqa,rec,res,grec,gres,reg,attcoseg,coseg,nlvr,which_image
DATA=${DATA:-data/sw_eval}
CKPT=${CKPT:+--checkpoint $CKPT}
OUT=${OUT:-results}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
.venv/bin/vistakit data generate --out "$DATA" --split test --n 3300 --seed 7 --tasks "$TASKS"
.venv/bin/vistakit data generate --out "$DATA" --split compositional --n 1650 --seed 7 --tasks "$TASKS"
.venv/bin/vistakit eval --data "$DATA" --split test $CKPT --threads "$THREADS" --no-progress --batch-size 16 \
  --predictions "$OUT/test_predictions" --json "$OUT/test.json" | tee "$OUT/test.txt"
.venv/bin/vistakit eval --data "$DATA" --split compositional $CKPT --threads "$THREADS" --no-progress --batch-size 16 \
  --json "$OUT/compositional.json" | tee "$OUT/compositional.txt"
