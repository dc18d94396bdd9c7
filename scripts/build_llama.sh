#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Build the llama.cpp reference used for golden data and benchmarks.
#
# llama.cpp is taken from the llama-cpp-python==0.3.36 sdist on PyPI (it vendors
# llama.cpp @ 0c1e57098 under vendor/llama.cpp, and its Python package
# llama_cpp/ gives us ctypes bindings that we use with LLAMA_CPP_LIB_PATH).
# The sdist is downloaded with pip (no build), verified, extracted, and
# llama.cpp is built with its default CPU configuration (GGML_NATIVE=ON,
# llamafile sgemm and CPU repack buffers at their defaults = on).
#
# Idempotent: skips the download/extract/build steps that are already done.
# Prints the directory with the binaries and shared libraries (llama-bench,
# llama-tokenize, ..., libllama.so) as the last line of stdout.
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit)
#      LOWBIT_JOBS  (parallel build jobs, default 2)
set -euo pipefail

LOG_TAG=build_llama
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
JOBS="${LOWBIT_JOBS:-2}"

PY_PKG="llama-cpp-python"
PY_VER="0.3.36"
SDIST_NAME="llama_cpp_python-${PY_VER}.tar.gz"
SRC_PARENT="${CACHE}/llama"
SDIST_PATH="${SRC_PARENT}/${SDIST_NAME}"
SRC_DIR="${SRC_PARENT}/llama_cpp_python-${PY_VER}"
LLAMA_SRC="${SRC_DIR}/vendor/llama.cpp"
BUILD_DIR="${CACHE}/build-llama"
BIN_DIR="${BUILD_DIR}/bin"

TARGETS=(llama-bench llama-tokenize llama-simple llama-perplexity llama-quantize llama)
# Files that must exist for the build to count as done.
OUTPUTS=(llama-bench llama-tokenize llama-simple llama-perplexity llama-quantize
         libllama.so libggml.so libggml-base.so libggml-cpu.so)


outputs_present() {
    local f
    for f in "${OUTPUTS[@]}"; do
        [ -e "${BIN_DIR}/${f}" ] || return 1
    done
}

if outputs_present; then
    log "llama.cpp already built in $BUILD_DIR"
    echo "$BIN_DIR"
    exit 0
fi

# Do not race with another build of the same tree (e.g. two scripts at once).
mkdir -p "$CACHE"
exec 9>"${CACHE}/build-llama.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if outputs_present; then
        log "llama.cpp was built by a concurrent run in $BUILD_DIR"
        echo "$BIN_DIR"
        exit 0
    fi
fi

# --- tools -----------------------------------------------------------------
need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v ninja >/dev/null 2>&1 || need_apt+=(ninja-build)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v git >/dev/null 2>&1 || need_apt+=(git)   # only for the version string
if [ "${#need_apt[@]}" -gt 0 ]; then
    log "installing via apt: ${need_apt[*]}"
    as_root apt-get update
    as_root apt-get install -y "${need_apt[@]}"
fi

# The vendored CMakeLists ask for cmake 3.14...3.28 (bookworm ships 3.25).
cmake_ver="$(cmake --version | awk 'NR==1 {print $3}')"
if ! printf '3.14\n%s\n' "$cmake_ver" | sort -V -C; then
    log "cmake $cmake_ver is too old; installing a newer one with pip"
    python3 -m pip install --user --disable-pip-version-check cmake >&2 \
        || python3 -m pip install --user --break-system-packages --disable-pip-version-check cmake >&2
    export PATH="$HOME/.local/bin:$PATH"
fi

# --- source ----------------------------------------------------------------
mkdir -p "$SRC_PARENT"
if [ -f "$SDIST_PATH" ] && ! verify "$SDIST_PATH" "$SDIST_NAME"; then
    log "removing corrupt $SDIST_PATH"
    rm -f "$SDIST_PATH"
    rm -rf "$SRC_DIR"
fi
if [ ! -f "$SDIST_PATH" ]; then
    log "downloading ${PY_PKG}==${PY_VER} sdist from PyPI"
    python3 -m pip download --disable-pip-version-check --no-deps \
        --no-binary :all: "${PY_PKG}==${PY_VER}" -d "$SRC_PARENT" >&2 \
        || die "pip download of ${PY_PKG}==${PY_VER} failed"
    [ -f "$SDIST_PATH" ] || die "pip did not produce $SDIST_PATH"
fi
verify "$SDIST_PATH" "$SDIST_NAME" \
    || die "$SDIST_PATH does not match scripts/checksums.sha256"

if [ ! -f "${LLAMA_SRC}/CMakeLists.txt" ] || [ ! -f "${SRC_DIR}/llama_cpp/llama_cpp.py" ]; then
    log "extracting $SDIST_NAME"
    rm -rf "$SRC_DIR"
    tar -xzf "$SDIST_PATH" -C "$SRC_PARENT"
    [ -f "${LLAMA_SRC}/CMakeLists.txt" ] || die "vendor/llama.cpp missing in $SDIST_NAME"
fi

# --- build -----------------------------------------------------------------
log "configuring llama.cpp in $BUILD_DIR"
cmake -S "$LLAMA_SRC" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_OPENSSL=OFF >&2
log "building (${JOBS} jobs): ${TARGETS[*]}"
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${TARGETS[@]}" >&2

if ! outputs_present; then
    for f in "${OUTPUTS[@]}"; do
        [ -e "${BIN_DIR}/${f}" ] || log "missing after build: ${BIN_DIR}/${f}"
    done
    die "llama.cpp build did not produce the expected outputs"
fi
log "llama.cpp built in $BUILD_DIR"
echo "$BIN_DIR"
