#!/usr/bin/env bash
# Trains the default model on a CUDA machine within a fixed wall-clock budget (how the committed
# checkpoint was made; see segmentation/default_model/MODEL_CARD.md). Needs torch with CUDA,
# numpy, OpenCV, scikit-image and segment_anything importable; no Django.
# Usage: scripts/gpu_train.sh OUT_DIR [MINUTES] [INIT_CHECKPOINT]
#   INIT_CHECKPOINT (e.g. segmentation/default_model/default_sam.pt) continues from a checkpoint; the
#   first attempt profiles 5 steps first (torch.profiler table in the log: where a step's time goes).
set -uo pipefail
out=${1:?output folder}; minutes=${2:-7.5}; init=${3:-}
mkdir -p "$out"
started=$(date +%s)
run() {  # $1 batch size, $2 minutes, $3 steps to profile first
  PYTHONUNBUFFERED=1 python3 -m segmentation.training.train --device cuda --minutes "$2" --out "$out" \
    --batch "$1" --targets 4 --rounds 8 --grad-rounds 5 --workers 14 --profile-steps "$3" ${init:+--init "$init"} \
    --eval-objects 300 --eval-clicks 20 --eval-max-seconds 60 2>&1 | tee -a "$out/train_stdout.log"
  return "${PIPESTATUS[0]}"
}
run 32 "$minutes" 5 && exit 0
# Out of memory or another early failure: retry once with half the batch in the time that is left.
left=$(python3 -c "print(round(max(0.5, $minutes - ($(date +%s) - $started) / 60 - 0.3), 2))")
echo "[gpu_train] first attempt failed; retrying with batch 16 for $left min" | tee -a "$out/train_stdout.log"
run 16 "$left" 0
