#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Regenerate the golden llama.cpp reference data in tests/data/smollm2/:
# fetches the model, builds llama.cpp (both cached in $LOWBIT_CACHE), then runs
# scripts/make_references.py. Extra arguments are passed to the .py
# (e.g. --out DIR to write somewhere else, --threads N).
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit)
set -euo pipefail

LOG_TAG=make_references
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
LLAMA_SRC="${CACHE}/llama/llama_cpp_python-0.3.36"

MODEL="$("${SCRIPT_DIR}/fetch_model.sh" | tail -n 1)"
BIN_DIR="$("${SCRIPT_DIR}/build_llama.sh" | tail -n 1)"
[ -f "$MODEL" ] || die "fetch_model.sh did not give a model path"
[ -f "${BIN_DIR}/libllama.so" ] || die "build_llama.sh did not give a bin dir with libllama.so"

# The low-level bindings need numpy and typing_extensions only.
if ! python3 -c 'import numpy, typing_extensions' >/dev/null 2>&1; then
    log "installing python3-numpy python3-typing-extensions via apt"
    as_root apt-get update
    as_root apt-get install -y python3-numpy python3-typing-extensions
fi

OUT_DIR="${REPO_DIR}/tests/data/smollm2"
for arg in "$@"; do  # --out DIR also moves the per-operation tensors
    if [ "${prev:-}" = "--out" ]; then OUT_DIR="$arg"; fi
    prev="$arg"
done

python3 "${SCRIPT_DIR}/make_references.py" \
    --model "$MODEL" \
    --llama-src "$LLAMA_SRC" \
    --lib-dir "$BIN_DIR" \
    --llama-tokenize "${BIN_DIR}/llama-tokenize" \
    --out "${REPO_DIR}/tests/data/smollm2" \
    "$@"

# llama.cpp's intermediate tensors of layers 0 and 29 for the first 12 tokens of the logits prompt
# (tests/smollm2/test_ggml_ops.cpp replays each operation on them).
TOOL="${CACHE}/ggml_layer_tensors"
log "building ${TOOL}"
g++ -O2 -std=c++17 "${SCRIPT_DIR}/ggml_layer_tensors.cpp" \
    -I"${LLAMA_SRC}/vendor/llama.cpp/include" -I"${LLAMA_SRC}/vendor/llama.cpp/ggml/include" \
    -L"$BIN_DIR" -lllama -lggml -lggml-base -Wl,-rpath,"$BIN_DIR" -o "$TOOL"
mapfile -t IDS < <(python3 -c 'import json, sys; print("\n".join(map(str, json.load(open(sys.argv[1]))["ids"][:12])))' \
    "${OUT_DIR}/logits_prompt.json")
"$TOOL" "$MODEL" "${OUT_DIR}/ggml_layer_tensors" 2 0,29 "${IDS[@]}"
log "wrote ${OUT_DIR}/ggml_layer_tensors.json and .f32"
