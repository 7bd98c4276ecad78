#!/usr/bin/env bash
# The aarch64 kernels (NEON, NEON + dot product) against the portable loop without ARM hardware:
# tools/kernel_check.c and the C kernels cross-compiled into static aarch64 binaries (Debian's
# aarch64-linux-gnu-gcc at -O2, and clang at -O3 as the Swift package builds them, when a clang
# that targets aarch64 is at hand), each run under qemu-aarch64 user-mode emulation twice: as a
# Cortex-A53 (armv8.0, no dot product: the NEON kernel is the best) and as a Cortex-A76 (armv8.2
# with sdot: the dot-product kernel). Fails if any kernel differs from the portable loop, if a CPU
# model does not select the kernel expected of it, if the NEON kernels did not take the NEON
# pull-back and weight quantizer loops (the `loops` lines say which loop each kernel ran), or if
# the results hashed for comparison differ between runs. Emulation says nothing about speed: the times printed are not a measure of ARM.
#   tools/kernel_check_arm.sh [--full]     --full: the full-size timing shape (slow under qemu)
# Needs: gcc-aarch64-linux-gnu and qemu-user-static (or qemu-user) from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
quick="--quick"
[ "${1:-}" = "--full" ] && quick=""
cc_arm=aarch64-linux-gnu-gcc
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if ! command -v "$cc_arm" >/dev/null 2>&1 || [ -z "$qemu" ]; then
  echo "error: needs $cc_arm and qemu-aarch64 (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user-static)" >&2
  exit 2
fi
src=Sources/CPrismKernels
out=.build/kernel_check_arm
mkdir -p "$out"
flags=(-I "$src/include" -I "$src")

"$cc_arm" -O2 -static -o "$out/gcc" "${flags[@]}" tools/kernel_check.c "$src"/*.c -lm 2>"$out/gcc.log" || { cat "$out/gcc.log" >&2; exit 1; }
bins=("$out/gcc")

# clang (the Swift toolchain's, else the system's) compiles, the cross gcc links its C library.
clang=${CLANG:-$(command -v /opt/swift/usr/bin/clang || command -v clang || true)}
sysroot=/usr/aarch64-linux-gnu
if [ -n "$clang" ] && [ -d "$sysroot/include" ]; then
  rm -rf "$out/clang.o" && mkdir -p "$out/clang.o"
  ok=1
  for f in tools/kernel_check.c "$src"/*.c; do
    "$clang" --target=aarch64-linux-gnu --sysroot="$sysroot" -O3 -c "${flags[@]}" "$f" -o "$out/clang.o/$(basename "$f" .c).o" 2>>"$out/clang.log" || ok=0
  done
  if [ "$ok" = 1 ] && "$cc_arm" -static -o "$out/clang" "$out/clang.o"/*.o -lm 2>>"$out/clang.log"; then
    bins+=("$out/clang")
  else
    cat "$out/clang.log" >&2
    echo "error: $clang could not build the kernels for aarch64" >&2
    exit 1
  fi
else
  echo "(no clang targeting aarch64 found: gcc build only)"
fi

status=0
hashes=""
for bin in "${bins[@]}"; do
  for cpu in cortex-a53:neon cortex-a76:neon-dotprod; do
    model=${cpu%%:*} want=${cpu#*:}
    echo "== $(basename "$bin") build under $qemu -cpu $model"
    log="$out/$(basename "$bin")-$model.txt"
    start=$(date +%s.%N)
    if ! "$qemu" -cpu "$model" "$bin" $quick >"$log" 2>&1; then status=1; fi
    cat "$log"
    printf "(%.1f s under emulation)\n" "$(echo "$(date +%s.%N) - $start" | bc)"
    grep -q "^CPU's best int8 kernel: $want;" "$log" || { echo "FAIL: -cpu $model should select $want" ; status=1; }
    # The pull-back and the weight quantizer took their NEON loops (the line names the loop each ran).
    for k in neon $want; do
      grep -Eq "^loops $k +pull-back: neon [1-9][0-9]*, .*weight quantizer: neon [1-9]" "$log" ||
        { echo "FAIL: -cpu $model: the $k kernel did not run the NEON pull-back and weight quantizer"; status=1; }
    done
    # Every run's hashes, the kernel's name left out (the NEON and dot-product GELU are one loop).
    h=$(grep '^hash' "$log" | sed 's/^hash  gelu_tanh [a-z-]* */hash  gelu_tanh /' | sort -u)
    [ -z "$hashes" ] && hashes=$h
    [ "$h" = "$hashes" ] || { echo "FAIL: results hashed differ from the first run's"; status=1; }
  done
done
[ "$status" = 0 ] && echo "aarch64 kernels: every run agrees with the portable loop, bit for bit where stated" || echo "aarch64 kernels: FAILED"
exit $status
