#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Accuracy of lowbit's quantizers on a real model: SmolLM2-135M-Instruct re-quantized to each
# format, perplexity and KL divergence to the f32 baseline on a fixed English text.
#
#   scripts/accuracy_table.sh [--threads T] [--ctx C] [--out FILE] [--configs "NAME ..."]
#
# Baseline: the model file's weights (Q4_1, the token embedding Q8_0) decoded to f32 and written
# as an F32 GGUF by lowbit-quantize. Each configuration is a GGUF file of the same model:
# - GGUF types (Q8_0 Q6_K Q5_K Q4_K Q4_0 IQ4_NL Q3_K Q2_K TQ2_0): written by lowbit-quantize
#   and, side by side, by llama.cpp's llama-quantize from the same input (--allow-requantize), with
#   llama.cpp's rules for which tensors keep higher precision in both;
# - lowbit's parametric formats (int8 per-channel, int4 g32 asym, NF4 g64, FP8 E4M3 per-channel,
#   MXFP4 (OCP: E8M0 scale per 32, E2M1 codes), binary g128 (g64 on 576-wide rows)), on the tensors
#   llama.cpp's rules quantize for Q8_0 (the tied token embedding kept at the baseline): lowbit-quantize --fake-quant writes the re-quantized weights decoded back to f32
#   (llama.cpp cannot run these formats; the bits per weight are the format's).
# Every file is evaluated by the same program, llama.cpp's llama-perplexity (-c C chunks over the
# whole text), which reports perplexity and, against the baseline's saved logits, the mean KL
# divergence and the top-token agreement.
# Text: the GNU GPL 2 and 3, LGPL 2.1 and GFDL 1.3 from Debian's base-files package
# (/usr/share/common-licenses/{GPL-2,GPL-3,LGPL-2.1,GFDL-1.3}), concatenated in that order.
# Prints a markdown table on stdout (also written to --out, default build-accuracy/accuracy.md).
# Results are cached in build-accuracy/ (a configuration with a complete log is not run again).
# Env: LOWBIT_QUANTIZE=PATH uses that lowbit-quantize binary instead of building one.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
JOBS="${LOWBIT_JOBS:-2}"
THREADS=2
CTX=512
WORK="${REPO_DIR}/build-accuracy"
OUT="${WORK}/accuracy.md"
GGUF_TYPES="Q8_0 Q6_K Q5_K Q4_K Q4_0 IQ4_NL Q3_K Q2_K TQ2_0"
FAKE_QUANT="int8_per_channel int4_g32_asym nf4_g64 fp8_e4m3_per_channel mxfp4_g32 binary_g128"
CONFIGS=""

log() { echo "[accuracy] $*" >&2; }
die() { echo "[accuracy] ERROR: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="${2:?}"; shift 2 ;;
    --ctx) CTX="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --configs) CONFIGS="${2:?}"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
if [ -n "$CONFIGS" ]; then
  GGUF_TYPES=""; FAKE_QUANT=""
  for c in $CONFIGS; do
    case "$c" in
      [A-Z]*) GGUF_TYPES="$GGUF_TYPES $c" ;;
      *) FAKE_QUANT="$FAKE_QUANT $c" ;;
    esac
  done
fi

"${REPO_DIR}/scripts/setup.sh" >&2
MODEL="$("${REPO_DIR}/scripts/fetch_model.sh" | tail -n 1)"
LLAMA_BIN="$("${REPO_DIR}/scripts/build_llama.sh" | tail -n 1)"
for tool in llama-perplexity llama-quantize; do
  [ -x "${LLAMA_BIN}/${tool}" ] || die "${LLAMA_BIN}/${tool} missing (scripts/build_llama.sh builds it)"
done
mkdir -p "$WORK"
QUANTIZE="${LOWBIT_QUANTIZE:-}"
if [ -z "$QUANTIZE" ]; then
  log "building lowbit-quantize"
  cmake -S "$REPO_DIR" -B "${WORK}/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF \
        -DLOWBIT_BUILD_EXAMPLES=ON >/dev/null
  cmake --build "${WORK}/build" --target lowbit-quantize -j "$JOBS" >/dev/null
  QUANTIZE="${WORK}/build/examples/quantize/lowbit-quantize"
fi

TEXT="${WORK}/text.txt"
cat /usr/share/common-licenses/GPL-2 /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/LGPL-2.1 \
    /usr/share/common-licenses/GFDL-1.3 > "$TEXT"

# A configuration whose log is complete is not run again (delete build-accuracy/ to start over).
complete() { [ -f "$1" ] && grep -q "Final estimate\|Mean    KLD" "$1"; }

perplexity() {  # perplexity MODEL LOG [extra args]
  local model="$1" logf="$2"; shift 2
  if complete "$logf"; then log "reusing $logf"; return 0; fi
  "${LLAMA_BIN}/llama-perplexity" -m "$model" -f "$TEXT" -c "$CTX" -t "$THREADS" -b "$CTX" "$@" >"$logf" 2>&1 \
    || { tail -n 20 "$logf" >&2; die "llama-perplexity failed on $model"; }
}

BASE="${WORK}/base_f32.gguf"
log "baseline: F32"
if ! complete "${WORK}/base.ppl.log" || [ ! -f "${WORK}/base.kld" ]; then
  rm -f "${WORK}/base.ppl.log"
  "$QUANTIZE" --threads "$THREADS" "$MODEL" "$BASE" F32 >"${WORK}/base.quantize.log" 2>&1 \
    || die "lowbit-quantize F32 failed"
fi
perplexity "$BASE" "${WORK}/base.ppl.log" --kl-divergence-base "${WORK}/base.kld"

RESULTS="${WORK}/results.tsv"
: > "$RESULTS"
evaluate() {  # evaluate NAME QUANTIZER FILE BITS_SOURCE
  local name="$1" who="$2" file="$3"
  log "evaluating $name ($who)"
  perplexity "$file" "${WORK}/${name}.${who}.ppl.log" --kl-divergence-base "${WORK}/base.kld" --kl-divergence
  printf '%s\t%s\t%s\t%s\n' "$name" "$who" "$file" "${WORK}/${name}.${who}.ppl.log" >> "$RESULTS"
}

for t in $GGUF_TYPES; do
  lb="${WORK}/lowbit_${t}.gguf" ll="${WORK}/llama_${t}.gguf"
  if ! complete "${WORK}/${t}.lowbit.ppl.log"; then
    "$QUANTIZE" --threads "$THREADS" "$MODEL" "$lb" "$t" >"${WORK}/${t}.lowbit.quantize.log" 2>&1 \
      || { tail -n 5 "${WORK}/${t}.lowbit.quantize.log" >&2; die "lowbit-quantize $t failed"; }
  fi
  evaluate "$t" lowbit "$lb"
  llama_log="${WORK}/${t}.llama.cpp.ppl.log"
  if ! complete "$llama_log"; then
    if ! "${LLAMA_BIN}/llama-quantize" --allow-requantize "$MODEL" "$ll" "$t" "$THREADS" \
         >"${WORK}/${t}.llama.quantize.log" 2>&1; then
      log "llama-quantize has no $t for this model: $(tail -n 1 "${WORK}/${t}.llama.quantize.log")"
      printf '%s\t%s\t%s\t%s\n' "$t" llama.cpp - - >> "$RESULTS"
      continue
    fi
    # Same tensors (types and bytes) as lowbit's file: the evaluation would repeat the same numbers.
    if python3 "${SCRIPT_DIR}/accuracy_table.py" --same-tensors "$lb" "$ll"; then
      log "$t: llama-quantize wrote the same tensors as lowbit-quantize"
      cp "${WORK}/${t}.lowbit.ppl.log" "$llama_log"
      touch "${llama_log}.same"
    fi
  fi
  evaluate "$t" llama.cpp "$ll"
done
for f in $FAKE_QUANT; do
  if ! complete "${WORK}/${f}.lowbit.ppl.log"; then
    "$QUANTIZE" --threads "$THREADS" --fake-quant "$f" "$MODEL" "${WORK}/fake_${f}.gguf" F32 \
      >"${WORK}/${f}.lowbit.quantize.log" 2>&1 \
      || { tail -n 5 "${WORK}/${f}.lowbit.quantize.log" >&2; die "lowbit-quantize --fake-quant $f failed"; }
  fi
  evaluate "$f" lowbit "${WORK}/fake_${f}.gguf"
done

python3 "${SCRIPT_DIR}/accuracy_table.py" --base-log "${WORK}/base.ppl.log" --base "$BASE" --model "$MODEL" \
  --results "$RESULTS" --work "$WORK" --threads "$THREADS" --ctx "$CTX" | tee "$OUT"
