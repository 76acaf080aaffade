#!/usr/bin/env bash
# The GPU check of runtime/cuda, run on the GPU machine from the repository
# root, with the test binary built beforehand on a machine with Go:
#
#   CGO_ENABLED=0 go test -c -o .bin/cuda.test ./runtime/cuda
#   bash runtime/cuda/testdata/gpu_check.sh        # on the GPU machine
#
# It needs no Go and no CUDA toolkit beyond the driver, NVRTC and cuBLAS
# (found in /usr/local/cuda/lib64 or pip's nvidia/* wheels). Output goes to
# $OUT (default /tmp/nnscope-gpu-check): cuda.txt (tests and benchmarks) and
# env.txt. It finishes in about a minute; the hard limit is 180 s
# (120 s of tests, 60 s of benchmarks).
set -uo pipefail
OUT=${OUT:-/tmp/nnscope-gpu-check}
mkdir -p "$OUT"
root=$(pwd)
bin="$root/.bin/cuda.test"
if [ ! -x "$bin" ] && [ -f "$root/.bin/bins.tar.xz" ]; then # packed by gpu_build.sh
	(cd "$root/.bin" && { python3 -c 'import tarfile; tarfile.open("bins.tar.xz").extractall(".")' || tar -xJf bins.tar.xz; } && chmod +x ./*.test nnscope)
fi
if [ ! -x "$bin" ]; then
	echo "missing $bin: build it with CGO_ENABLED=0 go test -c -o .bin/cuda.test ./runtime/cuda" | tee "$OUT/cuda.txt"
	exit 2
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export NNSCOPE_CUDA_CACHE=/tmp/nnscope-cuda-cache # fresh machine: the first Open compiles, the second hits
export NNSCOPE_REQUIRE_GPU=1                      # a GPU test that cannot open the device fails instead of skipping
{
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
	ls /usr/local/cuda/lib64 2>&1 | grep -E '^lib(nvrtc|cublas)' | head -20
} >"$OUT/env.txt"
cat "$OUT/env.txt"
# The tests read kernels/ and testdata/ relative to the package folder.
cd "$root/runtime/cuda" || exit 2
# Tests first (a failure must not hide the benchmarks), then benchmarks.
timeout 120 "$bin" -test.v -test.count=1 -test.run . 2>&1 | tee "$OUT/cuda.txt"
status=${PIPESTATUS[0]}
echo "tests: exit status $status" | tee -a "$OUT/cuda.txt"
# Speed without gpu_all.sh's poisoned allocations (a memset per Alloc).
env -u NNSCOPE_CUDA_POISON timeout 60 "$bin" -test.v -test.run '^$' -test.bench . -test.benchtime 1s 2>&1 | tee -a "$OUT/cuda.txt"
bstatus=${PIPESTATUS[0]}
echo "benchmarks: exit status $bstatus" | tee -a "$OUT/cuda.txt"
[ "$status" -eq 0 ] && [ "$bstatus" -eq 0 ]
