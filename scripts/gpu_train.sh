#!/usr/bin/env bash
# Trains the default model on a CUDA machine within a fixed wall-clock budget (how the committed
# checkpoint was made; see segmentation/default_model/MODEL_CARD.md). Needs torch with CUDA,
# numpy, OpenCV, scikit-image and segment_anything importable; no Django.
# Usage: scripts/gpu_train.sh OUT_DIR [MINUTES] [INIT_CHECKPOINT]
#   INIT_CHECKPOINT (e.g. segmentation/default_model/default_sam.pt) continues from a checkpoint; the
#   first attempt profiles 5 steps first (torch.profiler table in the log: where a step's time goes).
# Environment: BATCH (images per step, default 48), TARGETS (objects per image, default 8), LR.
# Why these sizes: one step issues ~30,000 PyTorch operator calls whatever the batch (8 prompt rounds,
# counted on the CPU), so at B=32 x T=4 the H200 waited on Python dispatch (0.53 s/step, 60 img/s);
# more targets per step add decoder supervision at almost no extra step time, and more images need
# more loader workers than 16 cores have (14 kept up with 60 img/s).
set -uo pipefail
out=${1:?output folder}; minutes=${2:-7.5}; init=${3:-}
batch=${BATCH:-48}; targets=${TARGETS:-8}; lr=${LR:-$([ -n "$init" ] && echo 3e-4 || echo 1e-3)}
mkdir -p "$out"
# segment_anything is pure Python: a GPU box without it can get the copy from this repo's .venv
# (carried there as .venv/lib/python3.11/site-packages/segment_anything).
carried=.venv/lib/python3.11/site-packages
if ! python3 -c "import segment_anything" 2>/dev/null && [ -d "$carried/segment_anything" ]; then
  export PYTHONPATH="$PWD/$carried${PYTHONPATH:+:$PYTHONPATH}"
fi
started=$(date +%s)
run() {  # $1 batch size, $2 minutes, $3 steps to profile first
  PYTHONUNBUFFERED=1 python3 -m segmentation.training.train --device cuda --minutes "$2" --out "$out" \
    --batch "$1" --targets "$targets" --lr "$lr" --rounds 8 --grad-rounds 5 --workers 15 --profile-steps "$3" \
    ${init:+--init "$init"} \
    --eval-objects 300 --eval-clicks 20 --eval-max-seconds 60 2>&1 | tee -a "$out/train_stdout.log"
  return "${PIPESTATUS[0]}"
}
run "$batch" "$minutes" 5 && exit 0
# Out of memory or another early failure: retry once with half the batch in the time that is left.
left=$(python3 -c "print(round(max(0.5, $minutes - ($(date +%s) - $started) / 60 - 0.3), 2))")
echo "[gpu_train] first attempt failed; retrying with batch $((batch / 2)) for $left min" | tee -a "$out/train_stdout.log"
run "$((batch / 2))" "$left" 0
