#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# End-to-end benchmark on CPU: lowbit vs llama.cpp vs ik_llama.cpp, on every real model.
#
#   benchmarks/bench_e2e.sh [--models "smollm2 qwen2 gemma3"] [--threads "1 2"] [--reps 3]
#                           [--pp 128] [--tg 64] [--lowbit-bin PATH] [--no-build]
#                           [--ik-build DIR] [--bw-mib 2048]
#
# Models (scripts/fetch_model.sh NAME): smollm2 (SmolLM2-135M-Instruct Q4_1), qwen2
# (Qwen2.5-Coder-0.5B-Instruct), gemma3 (Gemma 3 270M Q4_K_M).
# 1. fetches the models and builds llama.cpp (scripts/fetch_model.sh, scripts/build_llama.sh;
#    cached in $LOWBIT_CACHE),
# 2. builds lowbit's CLI in build-bench/ (Release, examples on, tests off),
# 3. for each model and thread count runs
#      llama-bench -m MODEL -p PP -n TG -t T -r REPS -o json           (llama.cpp)
#      llama-bench ... and llama-bench ... -rtr 1                       (ik_llama.cpp, if --ik-build;
#                                                                        the better of the two per test)
#      lowbit-llm --model MODEL --threads T --bench --bench-pp PP --bench-tg TG
#    (REPS times; the CLI must print the two lines "pp PP <tok/s>" and
#    "tg TG <tok/s>"), plus one tg-only run of each under /usr/bin/time -v
#    for the peak resident set size,
# 4. when qwen2 is among the models: builds a STREAM-like read loop (cc -O3 -march=native
#    -fopenmp, a --bw-mib MiB buffer, default 2048, far beyond any L3) and measures the DRAM read
#    bandwidth at each thread count before and after the benchmarks (the larger is used), then
#    reports the tg decode bandwidth fraction = weight bytes per token x tok/s / DRAM read bandwidth.
#    Weight bytes per token: the bytes of every tensor of the GGUF file (quantized weights, f32
#    norms and biases), without token_embd when the file has its own output.weight (token_embd is
#    then only gathered, one row per token); when output is tied to token_embd, token_embd counts.
#    The KV cache and activations are not counted (small at tg depth 0..TG).
# 5. prints one markdown table on stdout (progress goes to stderr).
#
# --ik-build DIR: ik_llama.cpp's build directory (DIR/bin/llama-bench) or bin directory, made by
# benchmarks/build_ik_llama.sh ($LOWBIT_CACHE/build-ik-llama); skipped (n/a) when absent.
# --lowbit-bin PATH uses that binary instead of building one (e.g. a stub to
# test this script); --no-build uses an existing build-bench/ binary.
# Exit status: 0 on success, 3 if the table is complete for the peers but some lowbit
# cells could not be measured (binary missing, failed, bad output, model not supported), 1 on
# other errors.
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit), LOWBIT_JOBS (default 2)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
JOBS="${LOWBIT_JOBS:-2}"

MODELS="smollm2 qwen2 gemma3"
THREADS="1 2"
REPS=3
PP=128
TG=64
LOWBIT_BIN=""
DO_BUILD=1
IK_BUILD=""
BW_MIB=2048

log() { echo "[bench_e2e] $*" >&2; }
die() { echo "[bench_e2e] ERROR: $*" >&2; exit 1; }
usage() { awk 'NR >= 5 && /^#/ { sub(/^# ?/, ""); print; next } NR >= 5 { exit }' "${BASH_SOURCE[0]}" >&2; exit "${1:-1}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --models) MODELS="${2:?}"; shift 2 ;;
        --threads) THREADS="${2:?}"; shift 2 ;;
        --reps) REPS="${2:?}"; shift 2 ;;
        --pp) PP="${2:?}"; shift 2 ;;
        --tg) TG="${2:?}"; shift 2 ;;
        --lowbit-bin) LOWBIT_BIN="${2:?}"; DO_BUILD=0; shift 2 ;;
        --no-build) DO_BUILD=0; shift ;;
        --ik-build) IK_BUILD="${2:?}"; shift 2 ;;
        --bw-mib) BW_MIB="${2:?}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 1 ;;
    esac
done
for v in $THREADS "$REPS" "$PP" "$TG" "$BW_MIB"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "expected a positive integer, got '$v'"
done
for m in $MODELS; do
    case "$m" in smollm2|qwen2|gemma3) ;; *) die "unknown model '$m' (smollm2, qwen2, gemma3)" ;; esac
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# --- prerequisites ---------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time via apt (for peak RSS)"
    as_root apt-get update
    as_root apt-get install -y time
fi
command -v python3 >/dev/null 2>&1 || { as_root apt-get update; as_root apt-get install -y python3; }

declare -A MODEL_PATH
for m in $MODELS; do
    MODEL_PATH[$m]="$("${REPO_DIR}/scripts/fetch_model.sh" "$m" | tail -n 1)"
    [ -f "${MODEL_PATH[$m]}" ] || die "model not found: ${MODEL_PATH[$m]}"
done
LLAMA_BIN_DIR="$("${REPO_DIR}/scripts/build_llama.sh" | tail -n 1)"
LLAMA_BENCH="${LLAMA_BIN_DIR}/llama-bench"
[ -x "$LLAMA_BENCH" ] || die "llama-bench not found: $LLAMA_BENCH"

IK_BENCH=""
if [ -n "$IK_BUILD" ]; then
    for c in "${IK_BUILD}/bin/llama-bench" "${IK_BUILD}/llama-bench"; do
        if [ -x "$c" ]; then IK_BENCH="$c"; break; fi
    done
    [ -n "$IK_BENCH" ] || log "WARNING: no llama-bench under --ik-build ${IK_BUILD}: ik_llama.cpp columns will be n/a"
fi

# --- lowbit CLI ------------------------------------------------------------
LOWBIT_PROBLEMS=()
if [ -z "$LOWBIT_BIN" ]; then
    LOWBIT_BIN="${REPO_DIR}/build-bench/examples/llm/lowbit-llm"
    if [ "$DO_BUILD" -eq 1 ]; then
        log "building lowbit-llm in build-bench/ (-j${JOBS})"
        if ! (cd "$REPO_DIR" &&
              cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release \
                    -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=ON >&2 &&
              cmake --build build-bench --target lowbit-llm -j"${JOBS}" >&2); then
            log "WARNING: building lowbit-llm FAILED (see above)"
            LOWBIT_PROBLEMS+=("build of lowbit-llm failed")
        fi
    fi
fi
if [ ! -x "$LOWBIT_BIN" ]; then
    log "WARNING: lowbit binary MISSING: $LOWBIT_BIN -- lowbit columns will be n/a"
    LOWBIT_PROBLEMS+=("binary missing: $LOWBIT_BIN")
    LOWBIT_BIN=""
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# peak RSS in KiB from a `/usr/bin/time -v` report, or empty
rss_kib() { awk -F': *' '/Maximum resident set size/ {print $2}' "$1"; }

# run_lowbit MODEL T PP TG OUTFILE -> writes "pp_ts tg_ts" to OUTFILE; returns !=0 on failure
run_lowbit() {
    local model="$1" t="$2" pp="$3" tg="$4" out="$5" err="$TMP/lowbit.err"
    if ! "$LOWBIT_BIN" --model "$model" --threads "$t" --bench \
            --bench-pp "$pp" --bench-tg "$tg" >"$TMP/lowbit.out" 2>"$err"; then
        log "lowbit-llm failed ($(basename "$model"), threads=$t): $(tail -n 5 "$err")"
        return 1
    fi
    python3 - "$TMP/lowbit.out" "$pp" "$tg" >"$out" <<'PY' || { log "lowbit output: $(head -c 500 "$TMP/lowbit.out")"; return 1; }
import math, re, sys
path, pp, tg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
num = r"([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)"
got = {}
for line in open(path, encoding="utf-8", errors="replace"):
    m = re.fullmatch(r"\s*(pp|tg)\s+([0-9]+)\s+" + num + r"\s*", line)
    if m:
        got[(m.group(1), int(m.group(2)))] = float(m.group(3))
want = [("pp", pp), ("tg", tg)] if pp > 0 else [("tg", tg)]
missing = [f"{k} {n}" for k, n in want if (k, n) not in got]
if missing:
    sys.exit(f"[bench_e2e] lowbit output lacks line(s): {', '.join(missing)} <tokens_per_second>")
vals = [got[k] for k in want]
if not all(math.isfinite(v) and v > 0 for v in vals):
    sys.exit("[bench_e2e] lowbit reported a non-positive or non-finite speed")
print(" ".join(repr(v) for v in vals))
PY
}

mean_sd() {  # numbers on stdin -> "mean sd"
    python3 -c 'import statistics as s,sys; v=[float(x) for x in sys.stdin.read().split()]; print(s.mean(v), s.stdev(v) if len(v)>1 else 0.0)'
}

# parse_bench JSON -> "pp_ts pp_sd tg_ts tg_sd" (llama-bench -o json of llama.cpp or ik_llama.cpp)
parse_bench() {
    python3 - "$1" "$PP" "$TG" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
pp, tg = int(sys.argv[2]), int(sys.argv[3])
def find(np_, ng):
    for r in rows:
        if r["n_prompt"] == np_ and r["n_gen"] == ng and r.get("n_depth", 0) == 0:
            return r["avg_ts"], r["stddev_ts"]
    sys.exit(f"llama-bench json lacks pp{np_}/tg{ng}")
print(*find(pp, 0), *find(0, tg))
PY
}

# --- DRAM read bandwidth (only needed for qwen2's decode fraction) ---------
BW_TOOL=""
BW_BEFORE="" BW_AFTER=""
measure_bw() {  # -> "T:GB/s T:GB/s ..."
    local t out=""
    for t in $THREADS; do
        out+="${t}:$(OMP_NUM_THREADS="$t" OMP_PROC_BIND=spread "$BW_TOOL" "$BW_MIB" "$t") "
    done
    echo "$out"
}
if [[ " $MODELS " == *" qwen2 "* ]]; then
    avail_mib=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
    if [ "$BW_MIB" -gt $((avail_mib / 4)) ]; then
        BW_MIB=$((avail_mib / 4))
        log "note: read-bandwidth buffer limited to ${BW_MIB} MiB (a quarter of the available memory)"
    fi
    cat >"$TMP/read_bw.c" <<'C'
/* STREAM-like read bandwidth: sum a large buffer of 64-bit words with T OpenMP threads, each thread
   reading its own first-touched slice; best of 10 passes, GB/s = bytes / time / 1e9. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], 0, 10) : 2048;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
  uint64_t* a = aligned_alloc(64, n * sizeof(uint64_t));
  if (!a) return 1;
  omp_set_num_threads(threads);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) a[i] = i * 0x9E3779B97F4A7C15ull;
  double best = 1e30;
  uint64_t total = 0;
  for (int pass = 0; pass < 10; ++pass) {
    double t0 = omp_get_wtime();
    uint64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (size_t i = 0; i < n; ++i) s += a[i];
    double dt = omp_get_wtime() - t0;
    total += s;
    if (dt < best) best = dt;
  }
  printf("%.2f\n", (double)(n * sizeof(uint64_t)) / best / 1e9);
  fprintf(stderr, "checksum %llu\n", (unsigned long long)total);
  free(a);
  return 0;
}
C
    BW_TOOL="$TMP/read_bw"
    if cc -O3 -march=native -fopenmp "$TMP/read_bw.c" -o "$BW_TOOL" 2>"$TMP/read_bw.err"; then
        log "DRAM read bandwidth (${BW_MIB} MiB buffer), before the benchmarks"
        BW_BEFORE="$(measure_bw 2>/dev/null)"
        log "  ${BW_BEFORE}"
    else
        log "WARNING: could not build the read-bandwidth loop: $(tail -n 3 "$TMP/read_bw.err")"
        BW_TOOL=""
    fi
fi

LOAD_START="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l > 0.5 * n) }'; then
    log "WARNING: load average is ${LOAD_START} on $(nproc) cores: other processes will skew the numbers"
fi

# model test threads llama_ts llama_sd ik_ts ik_sd ik_variant lowbit_ts lowbit_sd llama_rss ik_rss lowbit_rss
ROWS="$TMP/rows.tsv"
: >"$ROWS"
LLAMA_COMMIT="?"
IK_COMMIT=""

for M in $MODELS; do
    MODEL="${MODEL_PATH[$M]}"
    for T in $THREADS; do
        # --- llama.cpp throughput and peak RSS (tg-only run)
        log "[$M] llama.cpp llama-bench: pp${PP} tg${TG}, threads=${T}, reps=${REPS}"
        "$LLAMA_BENCH" -m "$MODEL" -p "$PP" -n "$TG" -t "$T" -r "$REPS" -o json \
            >"$TMP/llama.json" 2>"$TMP/llama.err" \
            || die "llama-bench failed: $(tail -n 20 "$TMP/llama.err")"
        read -r L_PP L_PP_SD L_TG L_TG_SD < <(parse_bench "$TMP/llama.json")
        [ -n "${L_TG_SD:-}" ] || die "could not parse llama-bench output: $(head -c 1000 "$TMP/llama.json")"
        LLAMA_COMMIT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("build_commit","?"))' "$TMP/llama.json")"
        /usr/bin/time -v "$LLAMA_BENCH" -m "$MODEL" -p 0 -n "$TG" -t "$T" -r 1 -o json \
            >/dev/null 2>"$TMP/llama.time" || die "llama-bench (RSS run) failed: $(tail -n 20 "$TMP/llama.time")"
        L_RSS="$(rss_kib "$TMP/llama.time")"

        # --- ik_llama.cpp: without and with run-time repacking; the better per test
        K_PP="" K_PP_SD="" K_TG="" K_TG_SD="" K_PP_V="" K_TG_V="" K_RSS=""
        if [ -n "$IK_BENCH" ]; then
            for rtr in 0 1; do
                log "[$M] ik_llama.cpp llama-bench -rtr ${rtr}: pp${PP} tg${TG}, threads=${T}, reps=${REPS}"
                if "$IK_BENCH" -m "$MODEL" -p "$PP" -n "$TG" -t "$T" -r "$REPS" -rtr "$rtr" -o json \
                        >"$TMP/ik${rtr}.json" 2>"$TMP/ik${rtr}.err" &&
                   read -r a b c d < <(parse_bench "$TMP/ik${rtr}.json") && [ -n "${d:-}" ]; then
                    IK_COMMIT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("build_commit","?"))' "$TMP/ik${rtr}.json")"
                    # an exported source tree has no git: benchmarks/build_ik_llama.sh notes the commit
                    if [ "$IK_COMMIT" = unknown ] && [ -f "$(dirname "$(dirname "$IK_BENCH")")/lowbit_ik_commit.txt" ]; then
                        IK_COMMIT="$(head -n 1 "$(dirname "$(dirname "$IK_BENCH")")/lowbit_ik_commit.txt")"
                    fi
                    if [ -z "$K_PP" ] || python3 -c "import sys; sys.exit(not $a > $K_PP)"; then
                        K_PP="$a" K_PP_SD="$b" K_PP_V="$rtr"
                    fi
                    if [ -z "$K_TG" ] || python3 -c "import sys; sys.exit(not $c > $K_TG)"; then
                        K_TG="$c" K_TG_SD="$d" K_TG_V="$rtr"
                    fi
                else
                    log "WARNING: ik_llama.cpp llama-bench -rtr ${rtr} failed on $M: $(tail -n 5 "$TMP/ik${rtr}.err")"
                fi
            done
            if [ -n "$K_TG" ] && /usr/bin/time -v "$IK_BENCH" -m "$MODEL" -p 0 -n "$TG" -t "$T" -r 1 \
                    -rtr "$K_TG_V" -o json >/dev/null 2>"$TMP/ik.time"; then
                K_RSS="$(rss_kib "$TMP/ik.time")"
            fi
        fi

        # --- lowbit
        B_PP="" B_PP_SD="" B_TG="" B_TG_SD="" B_RSS=""
        if [ -n "$LOWBIT_BIN" ]; then
            log "[$M] lowbit-llm: pp${PP} tg${TG}, threads=${T}, reps=${REPS}"
            : >"$TMP/lowbit.pp"; : >"$TMP/lowbit.tg"; ok=1
            for ((r = 0; r < REPS; r++)); do
                if run_lowbit "$MODEL" "$T" "$PP" "$TG" "$TMP/lowbit.res"; then
                    read -r a b <"$TMP/lowbit.res"
                    echo "$a" >>"$TMP/lowbit.pp"; echo "$b" >>"$TMP/lowbit.tg"
                else
                    ok=0; break
                fi
            done
            if [ "$ok" -eq 1 ]; then
                read -r B_PP B_PP_SD < <(mean_sd <"$TMP/lowbit.pp")
                read -r B_TG B_TG_SD < <(mean_sd <"$TMP/lowbit.tg")
                # peak RSS on a tg-only run (falls back to pp+tg if --bench-pp 0 is refused)
                if /usr/bin/time -v "$LOWBIT_BIN" --model "$MODEL" --threads "$T" --bench \
                        --bench-pp 0 --bench-tg "$TG" >/dev/null 2>"$TMP/lowbit.time"; then
                    B_RSS="$(rss_kib "$TMP/lowbit.time")"
                elif /usr/bin/time -v "$LOWBIT_BIN" --model "$MODEL" --threads "$T" --bench \
                        --bench-pp "$PP" --bench-tg "$TG" >/dev/null 2>"$TMP/lowbit.time"; then
                    B_RSS="$(rss_kib "$TMP/lowbit.time")"
                    log "note: lowbit refused --bench-pp 0; its RSS was measured on a pp${PP}+tg${TG} run"
                else
                    LOWBIT_PROBLEMS+=("RSS run failed ($M, threads=$T)")
                fi
            else
                LOWBIT_PROBLEMS+=("benchmark run failed or printed unexpected output ($M, threads=$T)")
            fi
        fi

        printf '%s\tpp%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\t\n' "$M" "$PP" "$T" "$L_PP" "$L_PP_SD" \
            "$K_PP" "$K_PP_SD" "$K_PP_V" "$B_PP" "$B_PP_SD" >>"$ROWS"
        printf '%s\ttg%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$M" "$TG" "$T" "$L_TG" "$L_TG_SD" \
            "$K_TG" "$K_TG_SD" "$K_TG_V" "$B_TG" "$B_TG_SD" "$L_RSS" "$K_RSS" "$B_RSS" >>"$ROWS"
    done
done

if [ -n "$BW_TOOL" ]; then
    log "DRAM read bandwidth, after the benchmarks"
    BW_AFTER="$(measure_bw 2>/dev/null)"
    log "  ${BW_AFTER}"
fi

# --- table -----------------------------------------------------------------
CPU_NAME="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "${CPU_NAME:-unknown CPU} ($(nproc) cores visible), llama.cpp ${LLAMA_COMMIT}$([ -n "$IK_COMMIT" ] && echo ", ik_llama.cpp ${IK_COMMIT} (better of -rtr 0 / -rtr 1 per cell, marked r when -rtr 1)"), ${REPS} reps (mean ± sd); peak RSS from a tg${TG}-only run; 1-min load average ${LOAD_START} before, $(cut -d' ' -f1 /proc/loadavg) after"
echo
QWEN_MODEL="${MODEL_PATH[qwen2]:-}"
python3 - "$ROWS" "$QWEN_MODEL" "$BW_BEFORE" "$BW_AFTER" "$TG" <<'PY'
import struct, sys

rows_path, qwen_model, bw_before, bw_after, tg = sys.argv[1:6]
names = {"smollm2": "SmolLM2-135M Q4_1", "qwen2": "Qwen2.5-Coder-0.5B", "gemma3": "Gemma-3-270M Q4_K_M"}

def f(x, nd=1):
    return f"{float(x):.{nd}f}" if x else "n/a"

def ratio(a, b):
    return f"{float(a) / float(b):.2f}" if a and b else "n/a"

def mib(kib):
    return f"{float(kib) / 1024:.0f}" if kib else "n/a"

rows = [line.rstrip("\n").split("\t") for line in open(rows_path)]
print("| model | test | threads | llama.cpp t/s | ik_llama.cpp t/s | lowbit t/s | lowbit/llama.cpp | lowbit/ik | "
      "peak RSS MiB (llama.cpp / ik / lowbit) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for m, test, t, lts, lsd, kts, ksd, kv, bts, bsd, lrss, krss, brss in rows:
    l = f"{f(lts)} ± {f(lsd)}"
    k = f"{f(kts)} ± {f(ksd)}{' r' if kv == '1' else ''}" if kts else "n/a"
    b = f"{f(bts)} ± {f(bsd)}" if bts else "n/a"
    rss = "" if test.startswith("pp") else f"{mib(lrss)} / {mib(krss)} / {mib(brss)}"
    print(f"| {names[m]} | {test} | {t} | {l} | {k} | {b} | {ratio(bts, lts)} | {ratio(bts, kts)} | {rss} |")

if not qwen_model:
    sys.exit(0)

# --- Qwen tg decode bandwidth fraction
# GGML type id -> (block bytes, block elements); a type not listed falls back to the offset gap.
TYPE_SIZE = {0: (4, 1), 1: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32),
             10: (84, 256), 11: (110, 256), 12: (144, 256), 13: (176, 256), 14: (210, 256),
             16: (66, 256), 17: (74, 256), 18: (98, 256), 19: (50, 256), 20: (18, 32), 21: (110, 256),
             22: (82, 256), 23: (136, 256), 29: (56, 256), 30: (2, 1), 34: (54, 256), 35: (66, 256),
             39: (17, 32)}

def gguf_tensors(path):
    """(name, bytes) of every tensor of a GGUF v2/v3 file."""
    with open(path, "rb") as fh:
        data = fh.read(32 << 20)  # the header and tensor infos fit in far less
        size = fh.seek(0, 2)
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v
    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        return s
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])
    magic, version = data[:4], struct.unpack_from("<I", data, 4)[0]
    assert magic == b"GGUF" and version in (2, 3), "not a GGUF v2/v3 file"
    pos = 8
    n_tensors, n_kv = take("Q"), take("Q")
    alignment = 32
    for _ in range(n_kv):
        key = string()
        v = value(take("I"))
        if key == "general.alignment":
            alignment = v
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        ttype, offset = take("I"), take("Q")
        infos.append((name, dims, ttype, offset))
    data_start = (pos + alignment - 1) // alignment * alignment
    ends = sorted(o for _, _, _, o in infos)[1:] + [size - data_start]
    gap = {o: e - o for o, e in zip(sorted(o for _, _, _, o in infos), ends)}
    out = []
    for name, dims, ttype, offset in infos:
        n = 1
        for d in dims:
            n *= d
        if ttype in TYPE_SIZE:
            bb, be = TYPE_SIZE[ttype]
            out.append((name, n // be * bb))
        else:
            out.append((name, gap[offset]))
    return out

tensors = dict(gguf_tensors(qwen_model))
total = sum(tensors.values())
tied = "output.weight" not in tensors
counted = total if tied else total - tensors["token_embd.weight"]
what = ("all tensors (output tied to token_embd, so token_embd is multiplied)" if tied else
        f"all tensors except token_embd.weight ({tensors['token_embd.weight'] / 1e6:.1f} MB, only gathered: "
        f"the file has its own output.weight, {tensors['output.weight'] / 1e6:.1f} MB, which is counted)")

def parse_bw(s):
    return {int(k): float(v) for k, v in (x.split(":") for x in s.split()) if v}

before, after = parse_bw(bw_before), parse_bw(bw_after)
print()
print(f"Qwen2.5-Coder-0.5B tg{tg} decode bandwidth fraction = weight bytes per token x tok/s / DRAM read "
      f"bandwidth. Weight bytes per token: {counted / 1e6:.1f} MB = {what}; KV cache and activations not "
      f"counted. DRAM read bandwidth (STREAM-like read loop, GB/s, before / after the benchmarks; the larger "
      f"is used): " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {before.get(t, 0):.1f} / {after.get(t, 0):.1f}"
                                for t in sorted(set(before) | set(after))))
print()
print("| threads | DRAM read GB/s | llama.cpp | ik_llama.cpp | lowbit |")
print("|---:|---:|---:|---:|---:|")
for m, test, t, lts, lsd, kts, ksd, kv, bts, bsd, *_ in rows:
    if m != "qwen2" or not test.startswith("tg"):
        continue
    bw = max(before.get(int(t), 0.0), after.get(int(t), 0.0))
    def frac(ts):
        if not ts or bw <= 0:
            return "n/a"
        gbs = counted * float(ts) / 1e9
        return f"{gbs / bw:.2f} ({gbs:.1f} GB/s)"
    print(f"| {t} | {bw:.1f} | {frac(lts)} | {frac(kts)} | {frac(bts)} |")
PY

if [ "${#LOWBIT_PROBLEMS[@]}" -gt 0 ]; then
    echo
    for p in "${LOWBIT_PROBLEMS[@]}"; do echo "lowbit: $p"; done
    log "WARNING: lowbit could not be fully measured (exit status 3)"
    exit 3
fi
