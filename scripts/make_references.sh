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

exec python3 "${SCRIPT_DIR}/make_references.py" \
    --model "$MODEL" \
    --llama-src "$LLAMA_SRC" \
    --lib-dir "$BIN_DIR" \
    --llama-tokenize "${BIN_DIR}/llama-tokenize" \
    --out "${REPO_DIR}/tests/data/smollm2" \
    "$@"
