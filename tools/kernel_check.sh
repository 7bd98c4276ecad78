#!/usr/bin/env bash
# Builds tools/kernel_check.c with the C kernels into one static binary and runs it: every int8
# kernel this CPU has against the portable loop, and the prompt kernel's speed. Copy the binary
# (build/kernel_check, self-contained) to any x86-64 Linux machine to check its VNNI paths there.
# The aarch64 kernels: tools/kernel_check_arm.sh (cross-compiled, run under qemu).
#   tools/kernel_check.sh [--build-only]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build
out=.build/kernel_check
# The compiler and level SwiftPM builds the kernels with (clang, -O3) when it is on PATH: the
# timings are then the product's (gcc -O2 ran the AVX512-VNNI prompt kernel at 53 GMAC/s where
# clang's build of the same source runs at 130). CC=gcc picks another.
cc=${CC:-$(command -v clang || echo cc)}
"$cc" -O3 -static -o "$out" -I Sources/CPrismKernels/include -I Sources/CPrismKernels \
  tools/kernel_check.c Sources/CPrismKernels/*.c -lm
echo "built $out with $cc"
[ "${1:-}" = "--build-only" ] && exit 0
"$out"
# The AVX-VNNI prompt kernel is the AVX512-VNNI one's source with four tokens per tile load and
# the VEX intrinsic: on a CPU with AVX512-VNNI, its logic is checked through that twin built
# with the same four (only the instruction encoding differs).
if grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null; then
  "$cc" -O3 -static -DPRISM_VNNI512_NT=4 -o "$out-nt4" -I Sources/CPrismKernels/include -I Sources/CPrismKernels \
    tools/kernel_check.c Sources/CPrismKernels/*.c -lm
  echo "AVX512-VNNI prompt kernel with 4 tokens per tile load (the AVX-VNNI kernel's shape):"
  "$out-nt4" | grep -E "^(FAIL|time  q8q8_matmul  .*avx512|all kernels)"
fi
