#!/usr/bin/env bash
# Grounded VQA answers, A/B on top of the shipped reference model (README, "Grounded VQA"): two fine-tunes of the
# reference for 1,200 steps of its mixture with VQA weighted 3 (init=, lr 3e-4), on the same 40,000 training
# records generated with and without `--vqa-referents` — the only difference is that in `cited` every VQA answer
# first boxes the objects its question names. Both are scored on 600 VQA records of a development split (seed 11,
# used by no training or test split), per question kind.
#   plain   VQA answers as in the recipe (control)
#   cited   VQA answers cite the question's referents, then answer
# Pass names to run a subset (default: both):  bash scripts/vqa_probe.sh cited
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=caption,vqa,rec,res,grec,gres,reg,attcoseg,coseg,nlvr,which_image
DEV=${DEV:-data/sw_devvqa}
OUT=${OUT:-results/vqa_probe}
THREADS=${THREADS:-2}
N=${N:-40000}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(plain cited)
mkdir -p "$OUT"
[ -f "$DEV/val.jsonl" ] || .venv/bin/vistakit data generate --out "$DEV" --split val --n 600 --seed 11 --tasks vqa \
  --vqa-referents  # the referents are only read by benchmarks/vqa_referents.py; answers are the same
score() {  # name, checkpoint
  .venv/bin/vistakit eval --data "$DEV" --split val --tasks vqa --threads "$THREADS" --no-progress --batch-size 16 \
    --checkpoint "$2" --predictions "$OUT/$1" --json "$OUT/$1.json" | tee "$OUT/$1.txt"
  .venv/bin/vistakit score --task vqa --gold "$DEV/val.jsonl" --pred "$OUT/$1/vqa.jsonl" --bins 64 \
    --by question_kind | tee -a "$OUT/$1.txt"
}
[ -f "$OUT/reference.json" ] || score reference src/vistakit/checkpoints/reference
for name in "${names[@]}"; do
  case "$name" in
    plain) data=data/sw40; flags=() ;;
    cited) data=data/sw40v; flags=(--vqa-referents) ;;
    *) echo "unknown variant $name (expected plain or cited)" >&2; exit 2 ;;
  esac
  [ -f "$data/train.jsonl" ] || .venv/bin/vistakit data generate --out "$data" --split train --n "$N" --seed 0 \
    --tasks "$TASKS" "${flags[@]}"
  .venv/bin/vistakit train --out "runs/vqa_$name" --data "$data" --threads "$THREADS" --no-progress \
    init=src/vistakit/checkpoints/reference steps=1200 batch_size=32 bf16=true warmup=50 lr=3e-4 eval_every=0 \
    save_every=600 log_every=50 \
    mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:3,nlvr:0.7,which_image:0.7
  score "$name" "runs/vqa_$name"
done
