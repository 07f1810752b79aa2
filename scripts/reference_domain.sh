#!/usr/bin/env bash
# Writes the shipped reference model's training record, src/vistakit/checkpoints/reference/training_domain.json
# (the model was trained before training wrote one). Its tasks are the 11 that scripts/train_reference.sh trains
# (the mixtures of its stages' *_train_config.json); detection, pose, grounded_caption, generate and edit were never
# trained. Its image statistics are measured on a regeneration of the stage-1 data with the same generator
# settings (the training files themselves are not shipped): 4,000 records, seed 0. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=caption,vqa,rec,res,grec,gres,reg,attcoseg,coseg,nlvr,which_image
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
.venv/bin/vistakit data generate --out "$DATA" --split train --n 4000 --seed 0 --tasks "$TASKS" --cite-referents nlvr
.venv/bin/vistakit data domain "$DATA" --split train --checkpoint src/vistakit/checkpoints/reference \
  --note "ShapesWorld 64 px scenes (scripts/train_reference.sh); image statistics measured by scripts/reference_domain.sh on 4,000 regenerated stage-1 records"
