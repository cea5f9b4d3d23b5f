#!/usr/bin/env bash
# The GPU checks of one run (step limits add up to about 6 minutes): the GPU-relevant tests, real-data training against synthetic batches
# (decoded cache inline and in the background, per-item PIL), the classifier data path alone, a real-data classifier and
# perceptual SR run, Set14 PSNR with the default precision. `bench/gpu_throughput.py` (all recipes, synthetic) and `bench/upscale_speed.py --size 2048` are the
# others BENCHMARKS.md reports; run them when time allows. Logs and metrics go to OUT.
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
step tests 75 python3 -m pytest -q -n 4 --maxfail=5 --tb=short -p no:cacheprovider tests/test_cuda.py tests/test_bundled.py \
  tests/test_learner.py::test_train_export_and_fresh_process_load tests/test_sr.py::test_degradation_and_erasing_hit_the_input_only \
  tests/test_sr.py::test_decoded_pairs_are_the_datablock_pairs tests/test_data.py::test_prefetched_batches_are_the_same_batches \
  tests/test_sr.py::test_default_feature_layer_is_the_deepest_with_8x8_features
step "real vs synthetic" 120 python3 bench/gpu_throughput.py --data "$DATA" --steps 20
step "data classify" 40 python3 bench/data_speed.py --data "$DATA" --classes 200 --bs 512 --seconds 5
step classify 50 python3 -m superres classify train --data "$DATA" --preset step2 --epochs 8 --bs 512 --lr 4e-3 --out /tmp/clf
step sr 60 python3 -m superres train --data "$DATA" --classifier /tmp/clf --loss perceptual --freeze-epochs 1 --epochs 1 --bs 128 --out /tmp/sr
step "set14 auto" 25 python3 -m superres evaluate --hr-dir "$BENCH/Set14" --model default --json /tmp/set14_auto.json
} 2>&1 | sed -u 's/.*\r//' | tee "$OUT/gpu_checks.log"  # progress bars: only their last state
for f in /tmp/clf/metrics.json /tmp/clf/history.csv /tmp/sr/metrics.json /tmp/sr/history.csv; do
  [ -f "$f" ] && cp "$f" "$OUT/$(basename "$(dirname "$f")")_$(basename "$f")"
done
