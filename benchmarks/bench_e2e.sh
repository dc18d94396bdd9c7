#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# End-to-end benchmark: SmolLM2-135M-Instruct Q4_1, lowbit vs llama.cpp, CPU.
#
#   benchmarks/bench_e2e.sh [--threads "1 2"] [--reps 3] [--pp 128] [--tg 64]
#                           [--lowbit-bin PATH] [--no-build]
#
# 1. fetches the model and builds llama.cpp (scripts/fetch_model.sh,
#    scripts/build_llama.sh; cached in $LOWBIT_CACHE),
# 2. builds lowbit's CLI in build-bench/ (Release, examples on, tests off),
# 3. for each thread count runs
#      llama-bench -m MODEL -p PP -n TG -t T -r REPS -o json
#      lowbit-llm --model MODEL --threads T --bench --bench-pp PP --bench-tg TG
#    (REPS times; the CLI must print the two lines "pp PP <tok/s>" and
#    "tg TG <tok/s>"), plus one tg-only run of each under /usr/bin/time -v
#    for the peak resident set size,
# 4. prints a markdown table on stdout (progress goes to stderr).
#
# --lowbit-bin PATH uses that binary instead of building one (e.g. a stub to
# test this script); --no-build uses an existing build-bench/ binary.
# Exit status: 0 on success, 3 if the table is complete for llama.cpp but the
# lowbit columns could not be measured (binary missing, failed, bad output),
# 1 on other errors.
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit), LOWBIT_JOBS (default 2)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
JOBS="${LOWBIT_JOBS:-2}"

THREADS="1 2"
REPS=3
PP=128
TG=64
LOWBIT_BIN=""
DO_BUILD=1

log() { echo "[bench_e2e] $*" >&2; }
die() { echo "[bench_e2e] ERROR: $*" >&2; exit 1; }
usage() { awk 'NR >= 5 && /^#/ { sub(/^# ?/, ""); print; next } NR >= 5 { exit }' "${BASH_SOURCE[0]}" >&2; exit "${1:-1}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --threads) THREADS="${2:?}"; shift 2 ;;
        --reps) REPS="${2:?}"; shift 2 ;;
        --pp) PP="${2:?}"; shift 2 ;;
        --tg) TG="${2:?}"; shift 2 ;;
        --lowbit-bin) LOWBIT_BIN="${2:?}"; DO_BUILD=0; shift 2 ;;
        --no-build) DO_BUILD=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 1 ;;
    esac
done
for v in $THREADS "$REPS" "$PP" "$TG"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "expected a positive integer, got '$v'"
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

MODEL="$("${REPO_DIR}/scripts/fetch_model.sh" | tail -n 1)"
LLAMA_BIN_DIR="$("${REPO_DIR}/scripts/build_llama.sh" | tail -n 1)"
LLAMA_BENCH="${LLAMA_BIN_DIR}/llama-bench"
[ -f "$MODEL" ] || die "model not found: $MODEL"
[ -x "$LLAMA_BENCH" ] || die "llama-bench not found: $LLAMA_BENCH"

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

# run_lowbit T PP TG OUTFILE -> writes "pp_ts tg_ts" to OUTFILE; returns !=0 on failure
run_lowbit() {
    local t="$1" pp="$2" tg="$3" out="$4" err="$TMP/lowbit.err"
    if ! "$LOWBIT_BIN" --model "$MODEL" --threads "$t" --bench \
            --bench-pp "$pp" --bench-tg "$tg" >"$TMP/lowbit.out" 2>"$err"; then
        log "lowbit-llm failed (threads=$t): $(tail -n 5 "$err")"
        return 1
    fi
    python3 - "$TMP/lowbit.out" "$pp" "$tg" >"$out" <<'EOF' || { log "lowbit output: $(head -c 500 "$TMP/lowbit.out")"; return 1; }
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
EOF
}

mean_sd() {  # numbers on stdin -> "mean sd"
    python3 -c 'import statistics as s,sys; v=[float(x) for x in sys.stdin.read().split()]; print(s.mean(v), s.stdev(v) if len(v)>1 else 0.0)'
}

LOAD_START="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l > 0.5 * n) }'; then
    log "WARNING: load average is ${LOAD_START} on $(nproc) cores: other processes will skew the numbers"
fi

ROWS="$TMP/rows.tsv"   # test threads llama_ts llama_sd lowbit_ts lowbit_sd llama_rss lowbit_rss
: >"$ROWS"

for T in $THREADS; do
    # --- llama.cpp throughput
    log "llama-bench: pp${PP} tg${TG}, threads=${T}, reps=${REPS}"
    "$LLAMA_BENCH" -m "$MODEL" -p "$PP" -n "$TG" -t "$T" -r "$REPS" -o json \
        >"$TMP/llama.json" 2>"$TMP/llama.err" \
        || die "llama-bench failed: $(tail -n 20 "$TMP/llama.err")"
    read -r L_PP L_PP_SD L_TG L_TG_SD < <(python3 - "$TMP/llama.json" "$PP" "$TG" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
pp, tg = int(sys.argv[2]), int(sys.argv[3])
def find(np_, ng):
    for r in rows:
        if r["n_prompt"] == np_ and r["n_gen"] == ng and r.get("n_depth", 0) == 0:
            return r["avg_ts"], r["stddev_ts"]
    sys.exit(f"llama-bench json lacks pp{np_}/tg{ng}")
print(*find(pp, 0), *find(0, tg))
EOF
    )
    [ -n "${L_TG_SD:-}" ] || die "could not parse llama-bench output: $(head -c 1000 "$TMP/llama.json")"

    # --- llama.cpp peak RSS (tg-only run)
    /usr/bin/time -v "$LLAMA_BENCH" -m "$MODEL" -p 0 -n "$TG" -t "$T" -r 1 -o json \
        >/dev/null 2>"$TMP/llama.time" || die "llama-bench (RSS run) failed: $(tail -n 20 "$TMP/llama.time")"
    L_RSS="$(rss_kib "$TMP/llama.time")"

    # --- lowbit
    B_PP="" B_PP_SD="" B_TG="" B_TG_SD="" B_RSS=""
    if [ -n "$LOWBIT_BIN" ]; then
        log "lowbit-llm: pp${PP} tg${TG}, threads=${T}, reps=${REPS}"
        : >"$TMP/lowbit.pp"; : >"$TMP/lowbit.tg"; ok=1
        for ((r = 0; r < REPS; r++)); do
            if run_lowbit "$T" "$PP" "$TG" "$TMP/lowbit.res"; then
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
                LOWBIT_PROBLEMS+=("RSS run failed (threads=$T)")
            fi
        else
            LOWBIT_PROBLEMS+=("benchmark run failed or printed unexpected output (threads=$T)")
        fi
    fi

    printf 'pp%s\t%s\t%s\t%s\t%s\t%s\t\t\n' "$PP" "$T" "$L_PP" "$L_PP_SD" "$B_PP" "$B_PP_SD" >>"$ROWS"
    printf 'tg%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TG" "$T" "$L_TG" "$L_TG_SD" "$B_TG" "$B_TG_SD" \
        "$L_RSS" "$B_RSS" >>"$ROWS"
done

# --- table -----------------------------------------------------------------
LLAMA_COMMIT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("build_commit","?"))' "$TMP/llama.json")"
CPU_NAME="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "SmolLM2-135M-Instruct Q4_1, ${CPU_NAME:-unknown CPU} ($(nproc) cores visible), llama.cpp ${LLAMA_COMMIT}, ${REPS} reps (mean ± sd); peak RSS from a tg${TG}-only run; 1-min load average ${LOAD_START} before, $(cut -d' ' -f1 /proc/loadavg) after"
echo
python3 - "$ROWS" <<'EOF'
import sys
def f(x, nd=1):
    return f"{float(x):.{nd}f}" if x else "n/a"
print("| test | threads | llama.cpp t/s | lowbit t/s | lowbit/llama.cpp | llama.cpp peak RSS (MiB) | lowbit peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for line in open(sys.argv[1]):
    test, t, lts, lsd, bts, bsd, lrss, brss = line.rstrip("\n").split("\t")
    ratio = f"{float(bts) / float(lts):.2f}" if bts and lts else "n/a"
    l = f"{f(lts)} ± {f(lsd)}"
    b = f"{f(bts)} ± {f(bsd)}" if bts else "n/a"
    rl = f(float(lrss) / 1024) if lrss else ("" if test.startswith("pp") else "n/a")
    rb = f(float(brss) / 1024) if brss else ("" if test.startswith("pp") else "n/a")
    print(f"| {test} | {t} | {l} | {b} | {ratio} | {rl} | {rb} |")
EOF

if [ "${#LOWBIT_PROBLEMS[@]}" -gt 0 ]; then
    echo
    for p in "${LOWBIT_PROBLEMS[@]}"; do echo "lowbit: $p"; done
    log "WARNING: lowbit could not be fully measured (exit status 3)"
    exit 3
fi
