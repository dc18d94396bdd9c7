#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Make the re-quantized Qwen file of tests/data/qwen2_requant/ with lowbit's own re-quantizer,
# so that neither tests nor CI need llama.cpp for it:
#
#   lowbit-quantize qwen2.5-coder-0.5b-instruct.gguf qwen2.5-coder-0.5b-instruct-q3_k_m.gguf Q3_K_M
#
# (the same bytes as `llama-quantize --allow-requantize IN OUT Q3_K_M` of llama-cpp-python
# 0.3.36's vendored llama.cpp; 896-wide rows make most Q3_K choices fall back, so the file mixes
# Q4_0, Q5_0, Q4_K, Q5_1, Q5_K and Q8_0). The result is cached in $CACHE/models/ and checked
# against scripts/checksums.sha256.
#
# Usage: scripts/make_requant.sh [--check-llama]
#   --check-llama  also run llama.cpp's llama-quantize (scripts/build_llama.sh) with the same
#                  options and require a byte-identical file
# Idempotent. Prints the absolute path of the .gguf as the last line of stdout.
# Env: LOWBIT_CACHE (default $HOME/.cache/lowbit), LOWBIT_QTOOL_BUILD (lowbit build dir for
#      lowbit-quantize, default build-qtool), LOWBIT_JOBS (default 2)
set -euo pipefail

LOG_TAG=make_requant
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
BUILD_DIR="${LOWBIT_QTOOL_BUILD:-${REPO_DIR}/build-qtool}"

FTYPE="Q3_K_M"
OUT_NAME="qwen2.5-coder-0.5b-instruct-q3_k_m.gguf"
OUT="${CACHE}/models/${OUT_NAME}"
CHECK_LLAMA=0
for arg in "$@"; do
    case "$arg" in
        --check-llama) CHECK_LLAMA=1 ;;
        *) die "unknown argument '$arg' (usage: $0 [--check-llama])" ;;
    esac
done

if [ "$CHECK_LLAMA" = 0 ] && [ -f "$OUT" ] && verify "$OUT" "$OUT_NAME"; then
    log "model OK: $OUT"
    echo "$OUT"
    exit 0
fi

SRC="$("${SCRIPT_DIR}/fetch_model.sh" qwen2 | tail -n 1)"
[ -f "$SRC" ] || die "fetch_model.sh qwen2 did not give a model path"

TOOL="${BUILD_DIR}/examples/quantize/lowbit-quantize"
log "building lowbit-quantize in $BUILD_DIR"
if [ ! -f "${BUILD_DIR}/build.ninja" ]; then
    cmake -S "$REPO_DIR" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_EXAMPLES=ON >&2
fi
cmake --build "$BUILD_DIR" --target lowbit-quantize -j"${LOWBIT_JOBS:-2}" >&2
[ -x "$TOOL" ] || die "no $TOOL after the build"

mkdir -p "${CACHE}/models"
log "lowbit-quantize $(basename "$SRC") -> $OUT_NAME ($FTYPE)"
"$TOOL" "$SRC" "$OUT.tmp" "$FTYPE" --threads 2 >&2 || { rm -f "$OUT.tmp"; die "lowbit-quantize failed"; }

if [ "$CHECK_LLAMA" = 1 ]; then
    BIN_DIR="$("${SCRIPT_DIR}/build_llama.sh" | tail -n 1)"
    log "llama-quantize --allow-requantize $(basename "$SRC") ($FTYPE) for comparison"
    LD_LIBRARY_PATH="${BIN_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "${BIN_DIR}/llama-quantize" \
        --allow-requantize "$SRC" "$OUT.llama.tmp" "$FTYPE" 2 >&2 \
        || { rm -f "$OUT.tmp" "$OUT.llama.tmp"; die "llama-quantize failed"; }
    if cmp -s "$OUT.tmp" "$OUT.llama.tmp"; then
        log "lowbit-quantize and llama-quantize wrote byte-identical files"
        rm -f "$OUT.llama.tmp"
    else
        log "files differ; llama-quantize's file kept as $OUT.llama.tmp"
        rm -f "$OUT.tmp"
        die "lowbit-quantize's $FTYPE file is not byte-identical to llama-quantize's"
    fi
fi

verify "$OUT.tmp" "$OUT_NAME" \
    || { rm -f "$OUT.tmp"; die "lowbit-quantize's $OUT_NAME does not match scripts/checksums.sha256"; }
mv "$OUT.tmp" "$OUT"
log "model OK: $OUT"
echo "$OUT"
