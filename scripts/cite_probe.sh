#!/usr/bin/env bash
# Answers that cite their referents, A/B on top of the shipped reference model (docs/experiments.md, "Grounded
# answers"). For TASK (vqa or nlvr): two fine-tunes of the reference for 1,200 steps of its
# mixture with TASK weighted 3 (init=, lr 3e-4), on the same 40,000 training records generated without and with
# `--cite-referents TASK` — the only difference is that in `cited` every TASK answer first boxes the objects its
# question / statement names. Both are scored on 600 TASK records of a development split (seed 11, used by no
# training or test split); VQA also per question kind.
#   plain   answers as in the recipe (control)
#   cited   answers cite the referents, then answer
# Pass names to run a subset (default: both):  TASK=nlvr bash scripts/cite_probe.sh cited
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${TASK:-vqa}
TASKS=caption,vqa,rec,res,grec,gres,reg,attcoseg,coseg,nlvr,which_image
DEV=${DEV:-data/sw_dev_$TASK}
OUT=${OUT:-results/cite_probe_$TASK}
THREADS=${THREADS:-2}
N=${N:-40000}
case "$TASK" in
  vqa) mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:3,nlvr:0.7,which_image:0.7 ;;
  nlvr) mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:1,nlvr:3,which_image:0.7 ;;
  *) echo "TASK must be vqa or nlvr, got $TASK" >&2; exit 2 ;;
esac
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(plain cited)
mkdir -p "$OUT"
# the dev split lists its referents (read by research/cited_answers.py); its prompts and answers are the same
[ -f "$DEV/val.jsonl" ] || .venv/bin/vistakit data generate --out "$DEV" --split val --n 600 --seed 11 \
  --tasks "$TASK" --cite-referents "$TASK"
score() {  # name, checkpoint
  .venv/bin/vistakit eval --data "$DEV" --split val --tasks "$TASK" --threads "$THREADS" --no-progress \
    --batch-size 16 --checkpoint "$2" --predictions "$OUT/$1" --json "$OUT/$1.json" | tee "$OUT/$1.txt"
  [ "$TASK" != vqa ] || .venv/bin/vistakit score --task vqa --gold "$DEV/val.jsonl" --pred "$OUT/$1/vqa.jsonl" \
    --bins 64 --by question_kind | tee -a "$OUT/$1.txt"
  [ "$TASK" != nlvr ] || .venv/bin/vistakit score --task nlvr --gold "$DEV/val.jsonl" --pred "$OUT/$1/nlvr.jsonl" \
    --bins 64 --by statement_kind | tee -a "$OUT/$1.txt"
}
[ -f "$OUT/reference.json" ] || score reference src/vistakit/checkpoints/reference
for name in "${names[@]}"; do
  case "$name" in
    plain) data=data/sw40; flags=() ;;
    cited) data=data/sw40_cite_$TASK; flags=(--cite-referents "$TASK") ;;
    *) echo "unknown variant $name (expected plain or cited)" >&2; exit 2 ;;
  esac
  [ -f "$data/train.jsonl" ] || .venv/bin/vistakit data generate --out "$data" --split train --n "$N" --seed 0 \
    --tasks "$TASKS" "${flags[@]}"
  .venv/bin/vistakit train --out "runs/cite_${TASK}_$name" --data "$data" --threads "$THREADS" --no-progress \
    init=src/vistakit/checkpoints/reference steps=1200 batch_size=32 bf16=true warmup=50 lr=3e-4 eval_every=0 \
    save_every=600 log_every=50 mixture=$mixture
  score "$name" "runs/cite_${TASK}_$name"
done
