#!/usr/bin/env bash
# The README's location-head experiment: fine-tune the shipped reference model for 1,200 steps of its own mixture
# with the location head (lm.location_weight=1, a fresh head; init=) and without it (the control), then score both
# on a development split (seed 11: neither training nor the test splits use it) with the LM's <loc_k> scores and,
# for the head run, with the head's read-out (--locations head). About 35 minutes of training on a 2-core CPU.
# DATA: the reference's training data (scripts/train_reference.sh; default data/sw).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/sw}
DEV=${DEV:-data/sw_dev}
OUT=${OUT:-results/location_head}
THREADS=${THREADS:-2}
TASKS=rec,res,grec,gres,attcoseg
mkdir -p "$OUT"
.venv/bin/vistakit data generate --out "$DEV" --split val --n 800 --seed 11 --tasks rec,res,grec,gres,attcoseg,reg,vqa,caption
common=(--data "$DATA" --threads "$THREADS" --no-progress init=src/vistakit/checkpoints/reference
        steps=1200 batch_size=32 bf16=true warmup=50 lr=3e-4 eval_every=0 save_every=600 log_every=50
        mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:1,nlvr:0.7,which_image:0.7)
.venv/bin/vistakit train --out runs/ft_head "${common[@]}" model.lm.location_weight=1.0
.venv/bin/vistakit train --out runs/ft_ctrl "${common[@]}"
run_eval() {  # name, then eval options
  local name=$1; shift
  .venv/bin/vistakit eval --data "$DEV" --split val --tasks "$TASKS" --threads "$THREADS" --no-progress --batch-size 16 \
    --json "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"
}
run_eval reference
run_eval control --checkpoint runs/ft_ctrl
run_eval head_tokens --checkpoint runs/ft_head
run_eval head_readout --checkpoint runs/ft_head --locations head
