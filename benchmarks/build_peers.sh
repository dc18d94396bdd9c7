#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Build the peer GEMM/GEMV benchmarks (not part of the lowbit CMake build):
#   peer_ggml        ggml (llama.cpp @ 0c1e57098, built by scripts/build_llama.sh)
#   peer_blas_dnnl   OpenBLAS (libopenblas-openmp-dev) and oneDNN 2.6 (libdnnl-dev)
# into $LOWBIT_CACHE/peers/ (LOWBIT_CACHE defaults to ~/.cache/lowbit).
# Prints the output directory as the last line of stdout.
#
# Env: LOWBIT_CACHE, CXX (default g++), PEERS (subset: "ggml blas_dnnl", default both)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
CACHE="${LOWBIT_CACHE:-$HOME/.cache/lowbit}"
OUT="${CACHE}/peers"
CXX="${CXX:-g++}"
PEERS="${PEERS:-ggml blas_dnnl}"
CXXFLAGS=(-std=c++20 -O2 -march=native -Wall -Wextra)

log() { echo "[build_peers] $*" >&2; }
die() { echo "[build_peers] ERROR: $*" >&2; exit 1; }

mkdir -p "$OUT"

for p in $PEERS; do
  case "$p" in
    ggml)
      BIN_DIR="$("${ROOT}/scripts/build_llama.sh" | tail -n 1)"
      [ -f "${BIN_DIR}/libggml.so" ] || die "libggml.so not found in '${BIN_DIR}' (scripts/build_llama.sh failed?)"
      GGML_INC="${CACHE}/llama/llama_cpp_python-0.3.36/vendor/llama.cpp/ggml/include"
      [ -f "${GGML_INC}/ggml-backend.h" ] || die "ggml headers not found in ${GGML_INC}"
      log "building peer_ggml against ${BIN_DIR}"
      "$CXX" "${CXXFLAGS[@]}" -I"${GGML_INC}" "${SCRIPT_DIR}/peer_ggml.cpp" -o "${OUT}/peer_ggml" \
        -L"${BIN_DIR}" -Wl,-rpath,"${BIN_DIR}" -lggml -lggml-base -lggml-cpu
      ;;
    blas_dnnl)
      [ -f /usr/include/dnnl.hpp ] || die "oneDNN headers missing: apt-get install libdnnl-dev"
      [ -f /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h ] || \
        die "OpenBLAS (OpenMP) headers missing: apt-get install libopenblas-openmp-dev"
      log "building peer_blas_dnnl"
      # Link the OpenMP OpenBLAS explicitly (not the alternatives-selected libblas).
      "$CXX" "${CXXFLAGS[@]}" -fopenmp -I/usr/include/x86_64-linux-gnu/openblas-openmp \
        "${SCRIPT_DIR}/peer_blas_dnnl.cpp" -o "${OUT}/peer_blas_dnnl" \
        /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so \
        -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -ldnnl
      ;;
    *) die "unknown peer '$p' (ggml, blas_dnnl)" ;;
  esac
done
echo "$OUT"
