#!/usr/bin/env bash
# Every GPU check of nnscope in one call on the GPU machine (which has no
# Go). Build first, on a machine with Go, from the repository root:
#
#   bash runtime/cuda/testdata/gpu_build.sh
#
# then run `bash runtime/cuda/testdata/gpu_all.sh` there with carry [".bin"]
# (timeout_s 420). Results go to $OUT: cuda.txt, ops.txt, reference.txt,
# scripts.txt, bench.txt, pytorch.txt, env.txt, times.txt. Budget: about 6 minutes.
# NNSCOPE_GPU_SKIP_BENCH=1 leaves out the speed runs (for a dry run of the
# script against runtime/cuda/fakecuda's libraries, via NNSCOPE_CUDA_LIB).
set -uo pipefail
OUT=${OUT:-/tmp/nnscope-gpu-check}
mkdir -p "$OUT"
root=$(pwd)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export NNSCOPE_CUDA_CACHE=/tmp/nnscope-cuda-cache
export NNSCOPE_REQUIRE_GPU=1
export NNSCOPE_CUDA_POISON=1 # tests: every allocation starts as NaNs (unset for the speed runs)
status=0
SECONDS=0
# phase NAME: notes when each phase starts (times.txt), to size the next call.
phase() { echo "phase $1 starts at ${SECONDS}s" >>"$OUT/times.txt"; }
# The binaries travel packed (the carry limit is 64 MiB).
if [ -f .bin/bins.tar.xz ]; then
	python3 -c 'import tarfile; tarfile.open(".bin/bins.tar.xz").extractall(".bin")' || tar -C .bin -xJf .bin/bins.tar.xz || exit 2
	chmod +x .bin/*.test .bin/nnscope
fi
phase cuda
# 1. The CUDA package: kernels against CPU references, allocator, GEMM.
OUT="$OUT" timeout 200 bash runtime/cuda/testdata/gpu_check.sh >/dev/null 2>&1 || status=1
phase ops
# 2. The op-level suite on both backends (forward and gradients agree).
(cd "$root/runtime" && timeout 90 "$root/.bin/runtime.test" -test.v -test.count=1 -test.run 'Backends|GPU|GradAccumulatesInPlace|AddInPlaceViews|LinearBackwardSameRows') >"$OUT/ops.txt" 2>&1 || status=1
phase reference
# 3. Every reference.json case with the model on the GPU.
(cd "$root/gpt2" && timeout 90 "$root/.bin/gpt2.test" -test.v -test.count=1 -test.run 'ReferenceOnGPU') >"$OUT/reference.txt" 2>&1 || status=1
phase scripts
# 4. Interventions through the API and through `nnscope run`, as users drive them.
# (A group's status is its last command's: each command sets status itself.)
{
	(cd "$root" && timeout 60 "$root/.bin/nnscope.test" -test.v -test.count=1 -test.run 'InterventionsOnGPU|TraceReleasesGPUMemory|TokenInputsOnModelDevice') || status=1
	for s in gradients gradient_edit activation_patching steering; do
		echo "== NNSCOPE_DEVICE=cuda nnscope run scripts/$s.go"
		NNSCOPE_DEVICE=cuda timeout 60 "$root/.bin/nnscope" run "scripts/$s.go" -model testdata/gpt2-tiny 2>&1 | tail -n 15 || status=1
	done
} >"$OUT/scripts.txt" 2>&1
phase bench
# 5. Speed: nnscope FP32 and TF32, then PyTorch on the same machine.
unset NNSCOPE_CUDA_POISON
if [ -n "${NNSCOPE_GPU_SKIP_BENCH:-}" ]; then
	phase end
	tail -n 5 "$OUT"/*.txt
	exit $status
fi
{
	timeout 120 "$root/.bin/nnscope" bench -device cuda -repeats 20 || status=1
	timeout 60 "$root/.bin/nnscope" bench -device cuda -tf32 -repeats 20 -only seed1,seed1-32x128,seed1-32x128-params,seed1-32x128-params-dense,gemm-128x768x3072 || status=1
	# Where the time goes: GPU time per kernel (events around each call).
	timeout 60 "$root/.bin/nnscope" bench -device cuda -profile -repeats 5 -only seed1,gen-10+20,seed1-32x128-params || status=1
	timeout 60 "$root/.bin/nnscope" bench -device cuda -tf32 -profile -repeats 5 -only seed1-32x128-params || status=1
} >"$OUT/bench.txt" 2>&1
phase pytorch
# PyTorch on the GPU only (gpu_build.sh drops the baseline's CPU runs), in
# FP32 and then with cuBLAS allowed TF32.
{
	timeout 90 python3 "$root/.bin/device_baseline.py"
	echo "== TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1"
	TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 timeout 90 python3 "$root/.bin/device_baseline.py"
} >"$OUT/pytorch.txt" 2>&1
phase end
tail -n 5 "$OUT"/*.txt
exit $status
