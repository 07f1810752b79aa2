#!/usr/bin/env bash
# Quick A/B tests of new model parts on top of the shipped reference model (docs/experiments.md, "Fine-tuning probes"): each
# variant fine-tunes the reference for 1,200 steps of its own mixture (init=, lr 3e-4) with one part added fresh,
# beside a control with nothing added; all are scored on a development split (seed 11: neither the training nor
# the test splits use it). About 20 minutes of training per variant on a 2-core CPU.
#   control  nothing added
#   head     PixelLLM's location head (model.lm.location_weight=1); scored with the LM's <loc_k> scores and
#            with the head's read-out (--locations head)
#   (zoom tokens, model.image_tokenizer.zoom_grid=4, were a variant too: removed with the option, see docs/experiments.md)
#   (so was "fine", the tokenizer on a 2x finer patch grid, image_tokenizer.fine_patches: removed likewise)
# Pass names to run a subset (default: all):  DATA=data/sw120 bash scripts/finetune_probe.sh control head
# DATA: the reference's training data (scripts/train_reference.sh; default data/sw).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/sw}
DEV=${DEV:-data/sw_dev}
OUT=${OUT:-results/finetune_probe}
THREADS=${THREADS:-2}
TASKS=rec,res,grec,gres,attcoseg
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(control head)
mkdir -p "$OUT"
[ -f "$DEV/val.jsonl" ] || .venv/bin/vistakit data generate --out "$DEV" --split val --n 800 --seed 11 \
  --tasks rec,res,grec,gres,attcoseg,reg,vqa,caption
score() {  # name, then eval options
  local name=$1; shift
  .venv/bin/vistakit eval --data "$DEV" --split val --tasks "$TASKS" --threads "$THREADS" --no-progress --batch-size 16 \
    --json "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"
}
[ -f "$OUT/reference.json" ] || score reference  # scored once per OUT
for name in "${names[@]}"; do
  case "$name" in
    control) extra=() ;;
    head) extra=(model.lm.location_weight=1.0) ;;
    *) echo "unknown variant $name (expected control or head)" >&2; exit 2 ;;
  esac
  .venv/bin/vistakit train --out "runs/ft_$name" --data "$DATA" --threads "$THREADS" --no-progress \
    init=src/vistakit/checkpoints/reference steps=1200 batch_size=32 bf16=true warmup=50 lr=3e-4 eval_every=0 \
    save_every=600 log_every=50 \
    mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:1,nlvr:0.7,which_image:0.7 \
    "${extra[@]}"
  score "$name" --checkpoint "runs/ft_$name"
  [ "$name" != head ] || score head_readout --checkpoint runs/ft_head --locations head
done
