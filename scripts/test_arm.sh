#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# lowbit on AArch64 under emulation: cross-compiles the tests with Debian's g++-aarch64-linux-gnu
# (cmake/toolchains/aarch64-linux-gnu.cmake) into build-arm, and runs them through ctest under
# qemu-aarch64 twice: with QEMU_CPU=max (every extension qemu knows, dotprod and i8mm among them)
# and with a CPU without dotprod/i8mm (QEMU_CPU=cortex-a57, Armv8.0-A).
#
# Built for the baseline (no -march), so the SIMD backend runs the ISA layer's plain NEON struct
# (isa::neon without sdot) under both CPU models; the `_neon_i8mm` programs (tests/CMakeLists.txt:
# the ISA-layer test and the GEMM tests of every format, built with +dotprod+i8mm+bf16: isa::neon
# with sdot) run under max and report Skipped under cortex-a57; the dispatch test loads its
# baseline, neon_dotprod and neon_i8mm modules where the CPU has them. Everything else is the same
# suite as on x86: core, formats, quant, nn, io/gguf, prune, graph, docs snippets, the GEMM tests of
# every format (SIMD against the reference on odd shapes), and the SmolLM2 model tests (greedy
# answers token for token and logits within the KL bounds of llama.cpp's x86 output). Not built:
# the header and compile-fail checks (what the compiler accepts: the native build runs them). Not
# run: package/* (host-side packaging checks, run by scripts/package_test.sh and the x86 build); the
# Qwen2.5 and Gemma 3 model tests (their files are not fetched here; minutes per token under
# emulation); the CLI scripts (cli/*: they run the programs directly); and, unless
# LOWBIT_ARM_SLOW=1, the i-quant encoders' error-versus-ggml comparison (formats/ and
# formats_fpfast/: 6 s natively, over 5 min of emulated CPU each; their bit-exact decode of the
# golden rows runs). The models/ error cases run the CLI through qemu.
# OpenMP: the cross sysroot's libgomp (see the toolchain file's emulator line).
#
# Usage: scripts/test_arm.sh [extra ctest arguments]
# Env: LOWBIT_JOBS (build and ctest parallelism, default nproc),
#      LOWBIT_ARM_CPUS (the QEMU_CPU models to run, default "max cortex-a57"),
#      LOWBIT_ARM_SLOW=1 (run the slow cases too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${LOWBIT_JOBS:-$(nproc)}"
cpus="${LOWBIT_ARM_CPUS:-max cortex-a57}"
exclude='^package/|qwen2|gemma3|Qwen|Gemma'
slow='^formats(_fpfast)?/iq codebook formats: encoder error'
[ "${LOWBIT_ARM_SLOW:-0}" = 1 ] || exclude+="|${slow}"
start=$SECONDS
phase() { echo "test_arm: $1 ($((SECONDS - start)) s)" >&2; }

scripts/setup_arm.sh
model="$(scripts/fetch_model.sh | tail -n 1)"  # the golden test reads the model file's rows
phase "setup done"

cmake -S . -B build-arm -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
      -DCMAKE_BUILD_TYPE=Release -DLOWBIT_NATIVE=OFF -DLOWBIT_BUILD_EXAMPLES=OFF \
      -DLOWBIT_SMOLLM2_GGUF="$model"
cmake --build build-arm -j "$jobs"
phase "build done"

status=0
summary=()
for cpu in $cpus; do
  log="build-arm/ctest-${cpu}.log"
  echo "test_arm: ctest under qemu-aarch64, QEMU_CPU=${cpu}" >&2
  rc=0
  QEMU_CPU="$cpu" ctest --test-dir build-arm --output-on-failure -j "$jobs" -E "$exclude" "$@" \
    2>&1 | tee "$log" || rc=$?
  [ "$rc" -eq 0 ] || status=1
  # Per area (the test name's prefix): passed / run.
  per_area="$(awk '/Test +#[0-9]+: / {
                     name = $0; sub(/.*Test +#[0-9]+: /, "", name); sub(/ \.\.\..*/, "", name)
                     area = name; sub(/\/.*/, "", area); run[area]++
                     if ($0 ~ / Passed /) pass[area]++ }
                   END { for (a in run) printf "    %s %d/%d\n", a, pass[a], run[a] }' "$log" | sort)"
  summary+=("QEMU_CPU=${cpu}: $(grep -E 'tests passed' "$log" | tail -n 1)"
            "$per_area")
  phase "ctest QEMU_CPU=${cpu} done"
done

echo "test_arm: summary (passed/run per area; logs in build-arm/ctest-<cpu>.log)"
printf '%s\n' "${summary[@]}"
echo "test_arm: $((SECONDS - start)) s in all"
exit "$status"
