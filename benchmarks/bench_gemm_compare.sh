#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Speed of the SIMD GEMM kernels before and after a change, in one run: builds bench_gemm (as
# benchmarks/bench_gemm.sh does: Release, benchmarks only) from OLD_DIR into OLD_DIR/build-bench-gemm
# and from this tree into build-bench-gemm, then runs every selected benchmark case with the old and
# the new program one after the other (interleaved case by case, which one goes first alternating
# from case to case and round to round, so that drift of the machine's clock or load falls on both),
# each run with --benchmark_repetitions, and prints a markdown table: format, shape, threads,
# weights (hot / cold), old ms, new ms, new/old speed ratio = old_time / new_time (> 1: the new code
# is faster; the refactor's target is >= 0.97). Per side, the fastest repetition of all rounds is
# kept. Run it on a quiet machine: the default selection is 150 cases, about 20-30 minutes (each run
# also quantizes its 4096 x 4096 weight). Raw JSON results under build-bench-gemm/compare/.
# Default cases: every format's decode 1x4096x4096 (hot and cold) and prefill 128x4096x4096, 1 and 2 threads.
# Usage: benchmarks/bench_gemm_compare.sh OLD_DIR [--formats F1,F2,...] [--filter REGEX] [--min-time S]
#          [--repetitions R] [--rounds R] [--build-only | --no-build]
#   --formats   only these formats (names as in BM_gemm<FORMAT,simd>: Q4_0, Q4_K, INT8_PC, ...)
#   --filter    a Google Benchmark regex replacing the default selection
#   --min-time  --benchmark_min_time of each run (default 0.5)
#   --repetitions  --benchmark_repetitions of each run (default 3)
#   --rounds    runs (processes) per case and side (default 1)
#   --build-only  build both programs and stop
#   --no-build    use the programs as they are (built by an earlier run)
# Environment: JOBS (build parallelism, default 1), NICE (default "nice -n 10" for the builds only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -ge 1 ] || { sed -n '15,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
old_dir="$1"; shift
formats='[A-Z0-9_]+'
filter=''
min_time=0.5
rounds=1
repetitions=3
build_only=0
no_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --formats) formats="($(echo "$2" | tr ',' '|'))"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --min-time) min_time="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --repetitions) repetitions="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    *) echo "bench_gemm_compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$old_dir/benchmarks/CMakeLists.txt" ] || { echo "bench_gemm_compare.sh: $old_dir is not a lowbit tree" >&2; exit 2; }
old_dir="$(cd "$old_dir" && pwd)"
[ -n "$filter" ] || filter="^BM_gemm<${formats},simd>/(1|128)/4096/4096/threads:[12]/(hot|cold)(/real_time)?\$"
JOBS="${JOBS:-1}"
NICE="${NICE:-nice -n 10}"

build() {  # build SOURCE_DIR BUILD_DIR
  local t0=$SECONDS
  $NICE cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF \
        -DLOWBIT_BUILD_EXAMPLES=OFF -DLOWBIT_BUILD_BENCHMARKS=ON >/dev/null
  $NICE cmake --build "$2" --target bench_gemm -j "$JOBS" >/dev/null
  echo "[bench_compare] $2/benchmarks/bench_gemm ready ($((SECONDS - t0)) s)" >&2
}
if [ "$no_build" -eq 0 ]; then
  build "$old_dir" "$old_dir/build-bench-gemm"
  build "$PWD" build-bench-gemm
fi
[ "$build_only" -eq 0 ] || exit 0

old_bin="$old_dir/build-bench-gemm/benchmarks/bench_gemm"
new_bin="build-bench-gemm/benchmarks/bench_gemm"
raw=build-bench-gemm/compare
rm -rf "$raw"
mkdir -p "$raw"

mapfile -t cases < <("$new_bin" --benchmark_list_tests=true --benchmark_filter="$filter")
[ "${#cases[@]}" -gt 0 ] || { echo "bench_gemm_compare.sh: no benchmark matches $filter" >&2; exit 2; }
echo "[bench_compare] ${#cases[@]} cases x $rounds rounds x (old, new), $repetitions repetitions of min time $min_time s" >&2
t_start=$SECONDS
i=0
for c in "${cases[@]}"; do
  i=$((i + 1))
  # Regex of exactly this case (escape the metacharacters its name holds).
  re="^$(printf '%s' "$c" | sed 's/[][().*+?^$|\\]/\\&/g')\$"
  for ((r = 1; r <= rounds; ++r)); do
    order="old new"
    [ $(((r + i) % 2)) -eq 1 ] && order="new old"
    for side in $order; do
      bin="$old_bin"
      [ "$side" = new ] && bin="$new_bin"
      "$bin" --benchmark_filter="$re" --benchmark_min_time="$min_time" --benchmark_repetitions="$repetitions" \
        --benchmark_report_aggregates_only=false --benchmark_format=json \
        > "$raw/$i.$side.$r.json" 2> "$raw/$i.$side.$r.err" || echo "[bench_compare] $side failed on $c" >&2
    done
  done
  echo "[bench_compare] $i/${#cases[@]} $c" >&2
done
echo "[bench_compare] measured in $((SECONDS - t_start)) s" >&2

python3 - "$raw" <<'PY'
import glob, json, os, re, sys
raw = sys.argv[1]
best = {}  # (name, side) -> fastest real time (ms)
order = []
for path in sorted(glob.glob(os.path.join(raw, "*.json")), key=lambda p: int(os.path.basename(p).split(".")[0])):
    side = os.path.basename(path).split(".")[1]
    try:
        data = json.load(open(path))
    except (json.JSONDecodeError, OSError):
        continue
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "us")]
        t = b["real_time"] * scale
        name = b["name"]
        if name not in order:
            order.append(name)
        best[(name, side)] = min(best.get((name, side), float("inf")), t)
print("| format | M x N x K | threads | weights | old ms | new ms | new/old speed (old/new time) |")
print("|---|---|---:|---|---:|---:|---:|")
slow = 0
for name in order:
    m = re.match(r"BM_gemm<(\w+),simd>/(\d+)/(\d+)/(\d+)/threads:(\d+)/(hot|cold)", name)
    fmt, M, N, K, T, w = (m.groups() if m else (name, "?", "?", "?", "?", "?"))
    o, n = best.get((name, "old")), best.get((name, "new"))
    ratio = o / n if o and n else None
    flag = " **<0.97**" if ratio is not None and ratio < 0.97 else ""
    slow += bool(flag)
    print(f"| {fmt} | {M}x{N}x{K} | {T} | {w} | {o:.3f} | {n:.3f} | {ratio:.3f}{flag} |" if ratio else
          f"| {fmt} | {M}x{N}x{K} | {T} | {w} | {o if o else '—'} | {n if n else '—'} | — |")
print(f"\n{len(order)} cases; {slow} below 0.97.")
PY
