#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Installs what is needed, builds the API reference (Doxygen, warnings are errors), fetches the
# three real models (SmolLM2-135M, Qwen2.5-Coder-0.5B, Gemma 3 270M; checked by sha256, cached in
# ~/.cache/lowbit), builds lowbit's tests, makes the re-quantized
# Qwen file with lowbit-quantize (scripts/make_requant.sh), and runs every test through ctest; then
# rebuilds the GGUF reader's tests (the fuzz test among them) under AddressSanitizer and UBSan and
# runs those; the AArch64 cross build under qemu (scripts/test_arm.sh); runs every libFuzzer target for 20 s on its seeds (scripts/fuzz.sh); then the packaging checks (Conan, vcpkg layout, pkg-config) and the compile-time report.
# Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
scripts/docs.sh  # the API reference (Doxygen over include/); fails on any warning
model="$(scripts/fetch_model.sh | tail -n 1)"
LOWBIT_QWEN2_GGUF="$(scripts/fetch_model.sh qwen2 | tail -n 1)"
LOWBIT_GEMMA3_GGUF="$(scripts/fetch_model.sh gemma3 | tail -n 1)"
export LOWBIT_QWEN2_GGUF LOWBIT_GEMMA3_GGUF
jobs="$(nproc)"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_SMOLLM2_GGUF="$model"
cmake --build build -j "$jobs"
LOWBIT_QWEN2_REQUANT_GGUF="$(LOWBIT_QTOOL_BUILD=build LOWBIT_JOBS="$jobs" scripts/make_requant.sh | tail -n 1)"
export LOWBIT_QWEN2_REQUANT_GGUF

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOWBIT_SANITIZE=address,undefined \
      -DLOWBIT_SMOLLM2_GGUF="$model"
cmake --build build-asan -j "$jobs" --target lowbit_io_test_gguf lowbit_io_test_gguf_writer lowbit_io_test_gguf_attacks
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -R '^io/' "$@"

# A short libFuzzer run of every target (Clang 14, ASan + UBSan) on the committed seeds.
LOWBIT_FUZZ_BPE_GGUF="$model" LOWBIT_FUZZ_SPM_GGUF="$LOWBIT_GEMMA3_GGUF" scripts/fuzz.sh --seconds 20

ctest --test-dir build --output-on-failure -j "$jobs" "$@"

# AArch64: the portable tests cross-compiled and run under qemu (-cpu max and cortex-a57).
LOWBIT_JOBS="$jobs" scripts/test_arm.sh

# Conan create (offline, system xsimd), the vcpkg port's layout and consumer, the pkg-config consumer.
scripts/package_test.sh
# Compile times against the budget (report only: timings on a shared machine vary).
python3 scripts/compile_report.py build --out build/compile_report.md
