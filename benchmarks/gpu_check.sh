#!/usr/bin/env bash
# Issue 14's GPU-resident path, measured in one prepared run on a lent GPU (the device tool gives about 10 minutes):
# the torch DIS against OpenCV on the dev set, then `stvsr bench` at 1080p output for the fast and default models
# (above 720p output: dis+imdn.x4 and propstvsr.x4x2), then the per-stage profile, with the GPU's utilisation
# sampled every 0.2 s. Runs unchanged on CPU (DEVICE=cpu), without nvidia-smi.
#   DEVICE=cuda OUT=/tmp/gpu bash benchmarks/gpu_check.sh
set -euo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-runs/gpu_check}
DATA=${DATA:-../shared/data/dev/vimeo_septuplet}
FRAMES=${FRAMES:-24}  # input frames per bench run (FRAMES=4 for a quick dry run on CPU)
mkdir -p "$OUT"
if command -v nvidia-smi > /dev/null && [ "$DEVICE" != cpu ]; then
  nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv -lms 200 > "$OUT/utilisation.csv" &
  SMI=$!
  trap 'kill $SMI 2> /dev/null || true' EXIT
fi
python benchmarks/torch_flow_agreement.py --data "$DATA" --device "$DEVICE" | tee "$OUT/flow_agreement.txt"
for precision in fp32 bf16; do
  stvsr bench --output 1080p --frames "$FRAMES" --device "$DEVICE" --precision "$precision" \
    --methods dis+imdn.x4,imdn.x4+dis_fast,propstvsr.x4x2,propstvsr.x4+dis,dis+bicubic,bicubic+dis \
    | tee "$OUT/bench_1080p_$precision.txt"
done
python benchmarks/bench_stages.py --device "$DEVICE" --frames "$((FRAMES + 6))" | tee "$OUT/stages.txt"
echo "utilisation samples: $OUT/utilisation.csv"
