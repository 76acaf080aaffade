#!/usr/bin/env bash
# Every GPU check of nnscope in one call on the GPU machine (which has no
# Go). Build first, on a machine with Go, from the repository root:
#
#   mkdir -p .bin && grep -qx '/.bin/' .git/info/exclude || echo '/.bin/' >> .git/info/exclude
#   CGO_ENABLED=0 go test -c -o .bin/cuda.test ./runtime/cuda
#   CGO_ENABLED=0 go test -c -o .bin/runtime.test ./runtime
#   CGO_ENABLED=0 go test -c -o .bin/gpt2.test ./gpt2
#   CGO_ENABLED=0 go build -o .bin/nnscope ./cmd/nnscope
#   cp ../shared/tools/device_baseline.py .bin/
#
# then run `bash runtime/cuda/testdata/gpu_all.sh` there with carry [".bin"].
# Results go to $OUT: cuda.txt, ops.txt, reference.txt, bench.txt,
# pytorch.txt, env.txt. Budget: about 6 minutes.
set -uo pipefail
OUT=${OUT:-/tmp/nnscope-gpu-check}
mkdir -p "$OUT"
root=$(pwd)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export NNSCOPE_CUDA_CACHE=/tmp/nnscope-cuda-cache
export NNSCOPE_REQUIRE_GPU=1
status=0
# 1. The CUDA package: kernels against CPU references, allocator, GEMM.
OUT="$OUT" timeout 200 bash runtime/cuda/testdata/gpu_check.sh >/dev/null 2>&1 || status=1
# 2. The op-level suite on both backends (forward and gradients agree).
(cd "$root/runtime" && timeout 90 "$root/.bin/runtime.test" -test.v -test.count=1 -test.run 'Backends|GPU') >"$OUT/ops.txt" 2>&1 || status=1
# 3. Every reference.json case with the model on the GPU.
(cd "$root/gpt2" && timeout 90 "$root/.bin/gpt2.test" -test.v -test.count=1 -test.run 'ReferenceOnGPU') >"$OUT/reference.txt" 2>&1 || status=1
# 4. Speed: nnscope FP32 and TF32, then PyTorch on the same machine.
{
	timeout 120 "$root/.bin/nnscope" bench -device cuda -repeats 20
	timeout 60 "$root/.bin/nnscope" bench -device cuda -tf32 -repeats 20 -only seed1,seed1-32x128,gemm-128x768x3072
} >"$OUT/bench.txt" 2>&1 || status=1
timeout 120 python3 "$root/.bin/device_baseline.py" >"$OUT/pytorch.txt" 2>&1 || true
tail -n 5 "$OUT"/*.txt
exit $status
