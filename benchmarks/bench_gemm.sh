#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# GEMM/GEMV of lowbit against its peers on the same shapes, in one run, with the machine's limits
# measured in that run. Builds bench_gemm (Google Benchmark) and, when benchmarks/build_peers.sh
# exists, the ggml / OpenBLAS / oneDNN peer programs; prints a markdown table with time, GFLOP/s,
# weight GB/s, % of the measured limit (read bandwidth for M <= 8; otherwise the VNNI peak for the
# integer formats, the FMA peak for F32, the vdpbf16ps peak for BF16) and speed-ups lowbit / peer
# (>1: lowbit is faster): ggml for the GGUF formats, F32 against oneDNN f32 and OpenBLAS sgemm/sgemv,
# BF16 against oneDNN bf16 x bf16 -> f32. Also writes the raw results under build-bench-gemm/.
# Usage: benchmarks/bench_gemm.sh [--filter REGEX] [--min-time SECONDS] [--no-peers] [--peer-args ARGS]
#   --peer-args: extra arguments for every peer program, e.g. "--shapes 1x4096x4096 --threads 1" to
#   measure only the shapes and thread counts that --filter selects for lowbit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

filter='.'
min_time=0.3
peers=1
peer_args=''
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) filter="$2"; shift 2 ;;
    --min-time) min_time="$2"; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --peer-args) peer_args="$2"; shift 2 ;;
    *) echo "bench_gemm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
out=build-bench-gemm
cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=OFF \
      -DLOWBIT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$out" --target bench_gemm -j "$(nproc)" >/dev/null

echo "[bench_gemm] limits and lowbit kernels" >&2
"$out/benchmarks/bench_gemm" --benchmark_filter="BM_limit|$filter" --benchmark_min_time="$min_time" \
  --benchmark_format=json > "$out/bench_gemm.json"

# Whether --filter selects lowbit's benchmarks of format $1 (the whole filter, or the name as a word in it).
selected() {
  [ "$filter" = "." ] && return 0
  [[ "$filter" =~ (^|[^A-Z0-9_])$1([^A-Z0-9_]|$) ]]
}

: > "$out/peers.csv"
if [ "$peers" -eq 1 ] && [ -x benchmarks/build_peers.sh ]; then
  peer_dir="$(benchmarks/build_peers.sh | tail -n 1)"
  for peer in "$peer_dir"/peer_*; do
    [ -x "$peer" ] || continue
    echo "[bench_gemm] $(basename "$peer")" >&2
    extra=()
    case "$(basename "$peer")" in
      # oneDNN u8s8 is the peer of lowbit's int8 per-channel format (INT8_PC).
      peer_blas_dnnl)
        wanted=""
        for f in F32 BF16 INT8_PC; do
          if selected "$f"; then wanted="${wanted:+$wanted,}${f/INT8_PC/U8S8}"; fi
        done
        [ -n "$wanted" ] || continue
        extra=(--formats "$wanted") ;;
      # Only the ggml types whose lowbit benchmark names match --filter.
      peer_ggml)
        wanted=""
        for f in Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K Q2_K Q3_K IQ4_NL TQ2_0; do
          if selected "$f"; then wanted="${wanted:+$wanted,}$f"; fi
        done
        [ -n "$wanted" ] || continue
        extra=(--formats "$wanted") ;;
    esac
    "$peer" --min-time "$min_time" "${extra[@]}" $peer_args >> "$out/peers.csv" || echo "[bench_gemm] $(basename "$peer") failed" >&2
  done
fi

python3 - "$out/bench_gemm.json" "$out/peers.csv" "$filter" <<'PY'
import csv, json, re, sys
results = json.load(open(sys.argv[1]))
limits, ours = {}, []
for b in results["benchmarks"]:
    name = b["name"]
    m = re.match(r"BM_limit_(\w+)/threads:(\d+)", name)
    if m:
        limits[(m.group(1), int(m.group(2)))] = b.get("GB/s", b.get("GOP/s"))
        continue
    m = re.match(r"BM_gemm<(\w+),simd>/(\d+)/(\d+)/(\d+)/threads:(\d+)/(hot|cold)", name)
    if m:
        fmt, M, N, K, T, w = m.group(1), *map(int, m.groups()[1:5]), m.group(6)
        ours.append(dict(format=fmt, M=M, N=N, K=K, T=T, weights=w, seconds=b["real_time"] * 1e-6,
                         gflops=b["GFLOP/s"], gbs=b["weight_GB/s"]))
peers = {}
for row in csv.reader(open(sys.argv[2])):
    if len(row) != 8 or row[0] == "impl":
        continue
    impl, fmt, M, N, K, T, w, sec = row
    peers[(impl, fmt, int(M), int(N), int(K), int(T), w)] = float(sec)
# The read limit: the read loop's figure, or the fastest cold GEMV of any implementation in this run
# where that is higher (a read loop can understate the bandwidth; issue 5 asks to check it against the
# best GEMV any peer reaches). A peer reads the same weight bytes as lowbit's case of its format and shape.
best_read = {}
for r in ours:
    if r["weights"] != "cold":
        continue
    weight_bytes = r["gbs"] * 1e9 * r["seconds"]
    cands = [(r["gbs"], "lowbit " + r["format"])]
    for impl in ("ggml", "onednn", "openblas"):
        pf = {"INT8_PC": "U8S8"}.get(r["format"], r["format"]) if impl == "onednn" else r["format"]
        sec = peers.get((impl, pf, r["M"], r["N"], r["K"], r["T"], "cold"))
        if sec:
            cands.append((weight_bytes / sec * 1e-9, impl + " " + pf))
    for gbs, who in cands:
        key = r["T"]
        if gbs > best_read.get(key, (0, ""))[0]:
            best_read[key] = (gbs, f"{who} {r['M']}x{r['N']}x{r['K']}")
read_loop = {k[1]: v for k, v in limits.items() if k[0] == "memory_read"}
for t, (gbs, who) in sorted(best_read.items()):
    if t in read_loop and gbs > read_loop[t]:
        limits[("memory_read", t)] = gbs
print("Read limit used for % (GEMV, M <= 8): " + "; ".join(
    f"{t} thread{'s' if t > 1 else ''}: {max(read_loop.get(t, 0), best_read.get(t, (0,))[0]):.1f} GB/s "
    f"(read loop {read_loop.get(t, float('nan')):.1f}, fastest cold GEMV {best_read.get(t, (float('nan'), '-'))[0]:.1f}: "
    f"{best_read.get(t, (0, '-'))[1]})" for t in sorted(set(read_loop) | set(best_read))))
print("Limits measured in this run: " + ", ".join(
    f"{k[0]} {v:.1f} {'GB/s' if k[0] == 'memory_read' else 'GOP/s'} ({k[1]} thread{'s' if k[1] > 1 else ''})"
    for k, v in sorted(limits.items())))
print()
print("| format | M x N x K | threads | weights | lowbit µs | GFLOP/s | weight GB/s | % of limit | ggml µs | lowbit/ggml "
      "| oneDNN µs | lowbit/oneDNN | OpenBLAS µs | lowbit/OpenBLAS |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
peak_of = {"F32": "fma_peak", "F16": "fma_peak", "BF16": "bf16_peak", "NF4_G64": "fma_peak", "FP8_E4M3_PC": "fma_peak"}
def pair(sec, ours):
    return f"{sec * 1e6:.0f} | {sec / ours:.2f}" if sec else "— | —"
for r in ours:
    if r["M"] <= 8:
        limit = limits.get(("memory_read", r["T"]))
        pct = 100 * r["gbs"] / limit if limit else float("nan")
    else:
        limit = limits.get((peak_of.get(r["format"], "vnni_peak"), r["T"]))
        pct = 100 * r["gflops"] / limit if limit else float("nan")
    key = (r["format"], r["M"], r["N"], r["K"], r["T"], r["weights"])
    g = peers.get(("ggml",) + key)
    dnnl_format = {"F32": "F32", "BF16": "BF16", "INT8_PC": "U8S8"}.get(r["format"])
    dnnl = peers.get(("onednn", dnnl_format) + key[1:]) if dnnl_format else None
    blas = peers.get(("openblas",) + key) if r["format"] == "F32" else None
    print(f"| {r['format']} | {r['M']}x{r['N']}x{r['K']} | {r['T']} | {r['weights']} | {r['seconds'] * 1e6:.0f} | "
          f"{r['gflops']:.1f} | {r['gbs']:.1f} | {pct:.0f}% | {pair(g, r['seconds'])} | {pair(dnnl, r['seconds'])} | "
          f"{pair(blas, r['seconds'])} |")
PY

# The plot of % of limit per format (docs/gemm_limits.png when copied there), if matplotlib is present.
if python3 -c "import matplotlib" 2>/dev/null; then
  for t in 1 2; do
    python3 benchmarks/plot_gemm.py --dir "$out" --threads "$t" --out "$out/gemm_limits_${t}t.png" >&2 || true
  done
fi
