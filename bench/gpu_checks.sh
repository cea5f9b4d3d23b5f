#!/usr/bin/env bash
# Every GPU check in one run (under 9 minutes on an H100): the GPU-relevant tests (with pytest-xdist), synthetic
# throughput of the full recipes, a real-data classifier and perceptual SR run (decoded cache, pinned copies,
# augmentation on the GPU), upscale speed per precision, Set14 PSNR per precision. Logs and metrics go to OUT.
#   bench/gpu_checks.sh TINY_IMAGENET SR_BENCH_DIR OUT
set -uo pipefail
DATA=$1; BENCH=$2; OUT=$3
mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
step() {  # name, seconds allowed, command...
  local name=$1 limit=$2 start=$SECONDS; shift 2
  echo "== $name: $*"; timeout "$limit" "$@"; echo "== $name: rc $? in $((SECONDS - start)) s"
}
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, fastai; print("torch", torch.__version__, "fastai", fastai.__version__, torch.cuda.get_device_name())'
step tests 150 python3 -m pytest -q -x -n 4 --tb=short -p no:cacheprovider tests/test_cuda.py tests/test_learner.py tests/test_sr.py tests/test_bundled.py
step throughput 150 python3 bench/gpu_throughput.py --steps 30
step classify 60 python3 -m superres classify train --data "$DATA" --preset step2 --epochs 5 --bs 512 --lr 4e-3 --out /tmp/clf
step sr 60 python3 -m superres train --data "$DATA" --classifier /tmp/clf --loss perceptual --epochs 2 --bs 128 --out /tmp/sr
step upscale 60 python3 bench/upscale_speed.py --size 2048 --reps 3
for p in fp32 bf16 fp16; do
  step "set14 $p" 25 python3 -m superres evaluate --hr-dir "$BENCH/Set14" --model default --precision "$p" --json /tmp/set14_$p.json
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mean"])' /tmp/set14_$p.json
done
} 2>&1 | tee "$OUT/gpu_checks.log"
for f in /tmp/clf/metrics.json /tmp/clf/history.csv /tmp/sr/metrics.json /tmp/sr/history.csv; do
  [ -f "$f" ] && cp "$f" "$OUT/$(basename "$(dirname "$f")")_$(basename "$f")"
done
