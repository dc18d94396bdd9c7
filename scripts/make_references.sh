#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Regenerate the golden llama.cpp reference data under tests/data/:
#
#   scripts/make_references.sh [MODEL ...] [-- | options for make_references.py]
#
# MODEL (default smollm2):
#   smollm2        tests/data/smollm2/ (+ ggml_layer_tensors.{json,f32}, per-operation tensors)
#   qwen2          tests/data/qwen2/    (Qwen2.5-Coder-0.5B-Instruct)
#   gemma3         tests/data/gemma3/   (Gemma 3 270M base)
#   qwen2_requant  tests/data/qwen2_requant/ (Qwen re-quantized to Q3_K_M by scripts/make_requant.sh;
#                  logits and greedy only: the vocabulary is qwen2's)
#   all            all four
# Fetches the models (scripts/fetch_model.sh, scripts/make_requant.sh) and builds llama.cpp
# (scripts/build_llama.sh), all cached in $LOWBIT_CACHE, then runs scripts/make_references.py
# for each model. Other arguments are passed to the .py (e.g. --threads N, or --out DIR to
# write somewhere else, only with a single MODEL).
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit)
set -euo pipefail

LOG_TAG=make_references
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
LLAMA_SRC="${CACHE}/llama/llama_cpp_python-0.3.36"

MODELS=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        smollm2|qwen2|gemma3|qwen2_requant) MODELS+=("$1"); shift ;;
        all) MODELS+=(smollm2 qwen2 gemma3 qwen2_requant); shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ "${#MODELS[@]}" -gt 0 ] || MODELS=(smollm2)
PY_ARGS=("$@")
OUT_ARG=""
for arg in "${PY_ARGS[@]}"; do  # --out DIR also moves smollm2's per-operation tensors
    if [ "${prev:-}" = "--out" ]; then OUT_ARG="$arg"; fi
    prev="$arg"
done
if [ -n "$OUT_ARG" ] && [ "${#MODELS[@]}" -gt 1 ]; then
    die "--out DIR works with a single model only"
fi

BIN_DIR="$("${SCRIPT_DIR}/build_llama.sh" | tail -n 1)"
[ -f "${BIN_DIR}/libllama.so" ] || die "build_llama.sh did not give a bin dir with libllama.so"

# The low-level bindings need numpy and typing_extensions; the tensor facts gguf-py.
if ! python3 -c 'import numpy, typing_extensions' >/dev/null 2>&1; then
    log "installing python3-numpy python3-typing-extensions via apt"
    as_root apt-get update
    as_root apt-get install -y python3-numpy python3-typing-extensions
fi
if ! python3 -c 'import gguf' >/dev/null 2>&1; then
    log "gguf-py is missing (python3 -m pip install gguf==0.19.0): qwen2/gemma3 files will lack the tensor facts"
fi

make_smollm2() {
    local model out
    model="$("${SCRIPT_DIR}/fetch_model.sh" smollm2 | tail -n 1)"
    [ -f "$model" ] || die "fetch_model.sh did not give a model path"
    out="${OUT_ARG:-${REPO_DIR}/tests/data/smollm2}"
    python3 "${SCRIPT_DIR}/make_references.py" --kind smollm2 \
        --model "$model" \
        --llama-src "$LLAMA_SRC" \
        --lib-dir "$BIN_DIR" \
        --llama-tokenize "${BIN_DIR}/llama-tokenize" \
        --out "${REPO_DIR}/tests/data/smollm2" \
        "${PY_ARGS[@]}"

    # llama.cpp's intermediate tensors of layers 0 and 29 for the first 12 tokens of the logits prompt
    # (tests/smollm2/test_ggml_ops.cpp replays each operation on them).
    local tool="${CACHE}/ggml_layer_tensors" ids
    log "building ${tool}"
    g++ -O2 -std=c++17 "${SCRIPT_DIR}/ggml_layer_tensors.cpp" \
        -I"${LLAMA_SRC}/vendor/llama.cpp/include" -I"${LLAMA_SRC}/vendor/llama.cpp/ggml/include" \
        -L"$BIN_DIR" -lllama -lggml -lggml-base -Wl,-rpath,"$BIN_DIR" -o "$tool"
    mapfile -t ids < <(python3 -c 'import json, sys; print("\n".join(map(str, json.load(open(sys.argv[1]))["ids"][:12])))' \
        "${out}/logits_prompt.json")
    "$tool" "$model" "${out}/ggml_layer_tensors" 2 0,29 "${ids[@]}"
    log "wrote ${out}/ggml_layer_tensors.json and .f32"
}

# make_kind KIND MODEL_PATH OUT_DIR [extra .py arguments]
make_kind() {
    local kind="$1" model="$2" out="$3"
    shift 3
    [ -f "$model" ] || die "no model file for $kind"
    python3 "${SCRIPT_DIR}/make_references.py" --kind "$kind" \
        --model "$model" \
        --llama-src "$LLAMA_SRC" \
        --lib-dir "$BIN_DIR" \
        --out "${OUT_ARG:-$out}" \
        "$@" "${PY_ARGS[@]}"
}

for m in "${MODELS[@]}"; do
    log "=== $m ==="
    case "$m" in
        smollm2) make_smollm2 ;;
        qwen2|gemma3)
            make_kind "$m" "$("${SCRIPT_DIR}/fetch_model.sh" "$m" | tail -n 1)" "${REPO_DIR}/tests/data/$m" \
                --llama-tokenize "${BIN_DIR}/llama-tokenize" ;;
        qwen2_requant)
            make_kind qwen2 "$("${SCRIPT_DIR}/make_requant.sh" | tail -n 1)" "${REPO_DIR}/tests/data/qwen2_requant" \
                --no-tokenize ;;
    esac
done
