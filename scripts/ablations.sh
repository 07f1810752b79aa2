#!/usr/bin/env bash
# The issue's two ablations, each the reference recipe (scripts/train_reference.sh: same data, seed, steps, batch,
# schedule, mixture) with one change, then evaluated like the reference (scripts/eval_reference.sh):
#   projector — the all-patch projector (64 tokens per image) instead of the instruction-guided tokenizer
#               (16 query tokens + 4 where tokens per image): preset tiny-projector, as many steps as fit the
#               reference's training time;
#   uniform   — RES / GRES / co-segmentation masks written with uniformly sampled points instead of the default
#               adaptive sampler (model.sampler=uniform; the answers are rebuilt from the targets at training time).
# Each is one ~55-minute training run plus a few minutes of evaluation on a 2-core CPU; pass the names to run a
# subset:  bash scripts/ablations.sh uniform
# DATA=DIR picks the training data folder (default data/sw, as scripts/train_reference.sh); REUSE_DATA=1 skips
# regenerating it (deterministic); THREADS=1 runs two ablations side by side on 2 cores; EXTRA="key=value ..."
# adds settings to every run (EXTRA=model.vision.attribute_weight=0: the recipe before the attribute heads, which
# the README's ablation table was measured on).
set -euo pipefail
cd "$(dirname "$0")/.."
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(projector uniform)
for name in "${names[@]}"; do
  case "$name" in
    # same time budget: with 64 tokens per image its steps cost ~1.7x, so 5,300 steps fill the reference's hour
    projector) extra=(preset=tiny-projector steps=5300) ;;
    uniform) extra=(model.sampler=uniform) ;;
    *) echo "unknown ablation $name (expected projector or uniform)" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086  # EXTRA is a list of key=value words
  OUT="runs/ablation-$name" bash scripts/train_reference.sh "${extra[@]}" ${EXTRA:-}
  CKPT="runs/ablation-$name" OUT="results/ablation-$name" bash scripts/eval_reference.sh
done
