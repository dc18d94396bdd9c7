#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Accuracy of pruning + quantization with lowbit-quantize --prune on a real model: perplexity on a
# fixed English text and mean KL divergence to the f32 baseline (docs/pruning_accuracy.md).
#
#   scripts/prune_accuracy.sh [--model smollm2|qwen2] [--threads T] [--ctx C] [--chunks N]
#                             [--calib-chunks N] [--configs "NAME ..."] [--out FILE]
#
# Baseline: the model file's weights decoded to f32 (lowbit-quantize IN OUT F32), as
# scripts/accuracy_table.sh makes it. Configurations (NAME = METHOD_SPEC_VALUES):
#   dense_Q8_0, dense_int4                 no pruning, Q8_0 values / int4 g32 asym (--fake-quant)
#   {magnitude,wanda}_{50,2of4}_{Q8_0,int4} 50 % unstructured or 2:4 per output row, by |w| or by
#                                          Wanda's |w| * ||x_j||_2, then Q8_0 / int4 g32 asym values
# Pruned: the blocks' projection weights (attn q/k/v/output, ffn gate/up/down).
# Wanda's ||x_j||_2 comes from an importance matrix that llama.cpp's llama-imatrix computes on the
# f32 baseline over a calibration text (-c C; all chunks, or the first N with --calib-chunks N):
# Apache-2.0, MPL-2.0 and the Artistic licence from Debian's base-files
# (/usr/share/common-licenses/{Apache-2.0,MPL-2.0,Artistic}).
# Evaluation text (a different one): GPL-2, GPL-3, LGPL-2.1 and GFDL-1.3 from base-files, as in
# accuracy_table.sh; llama-perplexity -c C over its first N chunks (--chunks).
# Results are cached in build-prune/<model>/ (a configuration with a complete log is not run again).
# Prints a markdown table on stdout (also written to --out, default build-prune/<model>/prune.md).
# Env: LOWBIT_QUANTIZE=PATH uses that lowbit-quantize binary instead of building one.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
JOBS="${LOWBIT_JOBS:-2}"
THREADS=2
CTX=512
CHUNKS=20
CALIB_CHUNKS=-1
MODEL_NAME=smollm2
OUT=""
CONFIGS="dense_Q8_0 magnitude_50_Q8_0 wanda_50_Q8_0 magnitude_2of4_Q8_0 wanda_2of4_Q8_0
         dense_int4 magnitude_50_int4 wanda_50_int4 magnitude_2of4_int4 wanda_2of4_int4"

log() { echo "[prune_accuracy] $*" >&2; }
die() { echo "[prune_accuracy] ERROR: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL_NAME="${2:?}"; shift 2 ;;
    --threads) THREADS="${2:?}"; shift 2 ;;
    --ctx) CTX="${2:?}"; shift 2 ;;
    --chunks) CHUNKS="${2:?}"; shift 2 ;;
    --calib-chunks) CALIB_CHUNKS="${2:?}"; shift 2 ;;
    --configs) CONFIGS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done

WORK="${REPO_DIR}/build-prune/${MODEL_NAME}"
OUT="${OUT:-${WORK}/prune.md}"
MODEL="$("${REPO_DIR}/scripts/fetch_model.sh" "$MODEL_NAME" | tail -n 1)"
LLAMA_BIN="$("${REPO_DIR}/scripts/build_llama.sh" | tail -n 1)"
[ -x "${LLAMA_BIN}/llama-perplexity" ] || die "${LLAMA_BIN}/llama-perplexity missing (scripts/build_llama.sh)"
if [ ! -x "${LLAMA_BIN}/llama-imatrix" ]; then
  log "building llama-imatrix"
  cmake --build "$(dirname "$LLAMA_BIN")" --target llama-imatrix -j "$JOBS" >/dev/null
fi
mkdir -p "$WORK"
QUANTIZE="${LOWBIT_QUANTIZE:-}"
if [ -z "$QUANTIZE" ]; then
  log "building lowbit-quantize"
  cmake -S "$REPO_DIR" -B "${REPO_DIR}/build-prune/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=ON >/dev/null
  cmake --build "${REPO_DIR}/build-prune/build" --target lowbit-quantize -j "$JOBS" >/dev/null
  QUANTIZE="${REPO_DIR}/build-prune/build/examples/quantize/lowbit-quantize"
fi

L=/usr/share/common-licenses
TEXT="${WORK}/eval.txt"
cat "$L/GPL-2" "$L/GPL-3" "$L/LGPL-2.1" "$L/GFDL-1.3" > "$TEXT"
CALIB="${WORK}/calib.txt"
cat "$L/Apache-2.0" "$L/MPL-2.0" "$L/Artistic" > "$CALIB"

complete() { [ -f "$1" ] && grep -q "Final estimate\|Mean    KLD" "$1"; }

perplexity() {  # perplexity MODEL LOG [extra args]
  local model="$1" logf="$2"; shift 2
  if complete "$logf"; then log "reusing $logf"; return 0; fi
  "${LLAMA_BIN}/llama-perplexity" -m "$model" -f "$TEXT" -c "$CTX" -b "$CTX" --chunks "$CHUNKS" -t "$THREADS" "$@" \
    >"$logf" 2>&1 || { tail -n 20 "$logf" >&2; die "llama-perplexity failed on $model"; }
}

BASE="${WORK}/base_f32.gguf"
if [ ! -f "$BASE" ]; then
  log "baseline: F32"
  "$QUANTIZE" --threads "$THREADS" "$MODEL" "$BASE" F32 >"${WORK}/base.quantize.log" 2>&1 \
    || die "lowbit-quantize F32 failed"
fi
IMATRIX="${WORK}/imatrix.gguf"
if [ ! -f "$IMATRIX" ]; then
  log "imatrix on the calibration text"
  "${LLAMA_BIN}/llama-imatrix" -m "$BASE" -f "$CALIB" -c "$CTX" -b "$CTX" --chunks "$CALIB_CHUNKS" \
    -t "$THREADS" -o "$IMATRIX" \
    >"${WORK}/imatrix.log" 2>&1 || { tail -n 20 "${WORK}/imatrix.log" >&2; die "llama-imatrix failed"; }
fi
log "baseline perplexity"
perplexity "$BASE" "${WORK}/base.ppl.log" --kl-divergence-base "${WORK}/base.kld"

for c in $CONFIGS; do
  method="${c%%_*}" rest="${c#*_}" spec="" values=""
  if [ "$method" = dense ]; then values="$rest"; else spec="${rest%%_*}" values="${rest#*_}"; fi
  args=(--threads "$THREADS")
  case "$spec" in
    "") ;;
    50) args+=(--prune 50%) ;;
    2of4) args+=(--prune 2:4) ;;
    *) die "unknown pruning spec in $c" ;;
  esac
  case "$method" in
    dense) ;;
    magnitude) args+=(--method magnitude) ;;
    wanda) args+=(--method wanda --imatrix "$IMATRIX") ;;
    *) die "unknown method in $c" ;;
  esac
  case "$values" in
    Q8_0) type=Q8_0 ;;
    int4) type=F32; args+=(--fake-quant int4_g32_asym) ;;
    *) die "unknown value format in $c" ;;
  esac
  file="${WORK}/${c}.gguf" logf="${WORK}/${c}.ppl.log"
  if ! complete "$logf"; then
    log "$c: lowbit-quantize ${args[*]} $type"
    "$QUANTIZE" "${args[@]}" "$MODEL" "$file" "$type" >"${WORK}/${c}.quantize.log" 2>&1 \
      || { tail -n 5 "${WORK}/${c}.quantize.log" >&2; die "lowbit-quantize failed for $c"; }
  fi
  log "$c: perplexity"
  perplexity "$file" "$logf" --kl-divergence-base "${WORK}/base.kld" --kl-divergence
  rm -f "$file"
done

# The table: perplexity (with its +/-), mean KL to the baseline, same top token, and the pruned
# tensors' sparsity before and after quantization (from lowbit-quantize's log).
field() { grep -o "$1 *: *[0-9.]* *± *[0-9.]*" "$2" | tail -n 1 | sed 's/.*: *//'; }
{
  echo "| configuration | perplexity | mean KL to f32 | same top token (%) | sparsity of pruned tensors, before / after quantization |"
  echo "|---|---|---|---|---|"
  base_ppl="$(grep -o "Final estimate: PPL = [0-9.]* +/- [0-9.]*" "${WORK}/base.ppl.log" | sed 's/.*= //; s/+\/-/±/')"
  echo "| f32 baseline | ${base_ppl} | 0 | 100 | - |"
  for c in $CONFIGS; do
    logf="${WORK}/${c}.ppl.log"
    complete "$logf" || { echo "| $c | not run | | | |"; continue; }
    sp="$(grep -o "sparsity [0-9.]*% before quantization, [0-9.]*% after" "${WORK}/${c}.quantize.log" 2>/dev/null \
          | sed 's/sparsity \([0-9.]*%\) before quantization, \([0-9.]*%\) after/\1 \/ \2/' || true)"
    echo "| $c | $(field "Mean PPL(Q)" "$logf") | $(field "Mean    KLD" "$logf") | $(field "Same top p" "$logf") | ${sp:--} |"
  done
  echo
  echo "Model: $(basename "$MODEL"); llama-perplexity -c $CTX -b $CTX --chunks $CHUNKS -t $THREADS."
} | tee "$OUT"
