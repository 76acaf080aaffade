#!/usr/bin/env bash
# Builds everything the GPU check runs, on a machine with Go, from the
# repository root, into .bin/ (git-ignored; the device tool's carry takes
# it): the test binaries of runtime/cuda, runtime, gpt2 and the root
# package and the nnscope CLI, stripped and packed into one xz tarball (the
# carry limit is 64 MiB: unpacked they are ~130 MiB, packed ~33 MiB), and
# PyTorch's baseline script. Then, with the device tool:
#
#   command: "bash runtime/cuda/testdata/gpu_all.sh", carry: [".bin"], timeout_s: 420
set -euo pipefail
root=$(pwd)
grep -qx '/.bin/' .git/info/exclude 2>/dev/null || echo '/.bin/' >>.git/info/exclude
rm -rf .bin && mkdir -p .bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
flags=(-trimpath -ldflags=-s\ -w)
go test -c "${flags[@]}" -o "$tmp/cuda.test" ./runtime/cuda
go test -c "${flags[@]}" -o "$tmp/runtime.test" ./runtime
go test -c "${flags[@]}" -o "$tmp/gpt2.test" ./gpt2
go test -c "${flags[@]}" -o "$tmp/nnscope.test" .
go build "${flags[@]}" -o "$tmp/nnscope" ./cmd/nnscope
(cd "$tmp" && tar cf - cuda.test runtime.test gpt2.test nnscope.test nnscope | xz -T0 -6 >"$root/.bin/bins.tar.xz")
# PyTorch's baseline, its CPU runs dropped (the device call's minutes are few).
if [ -f ../shared/tools/device_baseline.py ]; then
	sed 's/for dev, threads in \[("cuda", None), ("cpu", 2), ("cpu", 16)\]:/for dev, threads in [("cuda", None)]:/' \
		../shared/tools/device_baseline.py >.bin/device_baseline.py
	grep -q 'in \[("cuda", None)\]:' .bin/device_baseline.py || echo "note: could not drop the baseline's CPU runs"
else
	echo "note: ../shared/tools/device_baseline.py not found; the PyTorch baseline will be skipped"
fi
ls -la .bin
du -sh .bin
