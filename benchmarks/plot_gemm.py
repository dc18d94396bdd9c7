#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Plots the GEMM/GEMV benchmark of one run as % of the limits measured in that run.

Reads the files benchmarks/bench_gemm.sh leaves in its build directory (bench_gemm.json: Google
Benchmark's JSON with the BM_limit_* and BM_gemm<FORMAT,simd>/M/N/K/threads:T/(hot|cold) cases;
peers.csv: impl,format,M,N,K,threads,weights,seconds) and writes a PNG with two panels:
  decode:  M = 1, N x K = 4096x4096, cold weights: weight GB/s as % of the measured read bandwidth;
  prefill: M = 512 (or the largest M measured), N x K = 4096x4096: GOP/s as % of the measured
           VNNI peak (integer-dot formats), FMA peak (F32) or BF16-dot peak (BF16),
one bar per format for lowbit and, where it was measured, for ggml (same type) and the best of
oneDNN/OpenBLAS (F32, BF16, int8), at the thread count given (default 1).

Usage: python3 benchmarks/plot_gemm.py [--dir build-bench-gemm] [--threads 1] [--out docs/gemm_limits.png]
Needs matplotlib (pip install matplotlib).
"""
import argparse
import csv
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SHAPE = (4096, 4096)


def load(dirname):
    results = json.load(open(f"{dirname}/bench_gemm.json"))
    limits, ours = {}, {}
    for b in results["benchmarks"]:
        name = b["name"]
        m = re.match(r"BM_limit_(\w+)/threads:(\d+)", name)
        if m:
            limits[(m.group(1), int(m.group(2)))] = b.get("GB/s", b.get("GOP/s"))
            continue
        m = re.match(r"BM_gemm<(\w+),simd>/(\d+)/(\d+)/(\d+)/threads:(\d+)/(hot|cold)", name)
        if m:
            fmt, M, N, K, T, w = m.group(1), *map(int, m.groups()[1:5]), m.group(6)
            ours[(fmt, M, N, K, T, w)] = b["real_time"] * 1e-6
    peers = {}
    try:
        for row in csv.reader(open(f"{dirname}/peers.csv")):
            if len(row) != 8 or row[0] == "impl":
                continue
            impl, fmt, M, N, K, T, w, sec = row
            peers[(impl, fmt, int(M), int(N), int(K), int(T), w)] = float(sec)
    except FileNotFoundError:
        pass
    # The read limit: the read loop, or the fastest cold GEMV of any implementation where higher
    # (as benchmarks/bench_gemm.sh prints it).
    for (fmt, M, N, K, T, w), sec in list(ours.items()) + [(k[1:], v) for k, v in peers.items()]:
        if w != "cold" or ("memory_read", T) not in limits:
            continue
        gbs = weight_bytes(fmt, N, K) / sec / 1e9
        if gbs == gbs and gbs > limits[("memory_read", T)]:
            limits[("memory_read", T)] = gbs
    return limits, ours, peers


def weight_bytes(fmt, n, k):
    bits = {"Q4_0": 4.5, "Q4_1": 5.0, "Q5_0": 5.5, "Q5_1": 6.0, "Q8_0": 8.5, "Q2_K": 2.625, "Q3_K": 3.4375,
            "Q4_K": 4.5, "Q5_K": 5.5, "Q6_K": 6.5625, "IQ4_NL": 4.5, "TQ2_0": 2.0625, "F32": 32, "BF16": 16,
            "F16": 16, "INT8_PC": 8.0, "INT4_G32": 4.75, "NF4_G64": 4.25, "FP8_E4M3_PC": 8.0, "IQ4_XS": 4.25,
            "MXFP4": 4.25, "NVFP4": 4.5, "TQ1_0": 1.6875, "U8S8": 8.0}
    return n * k * bits.get(fmt, float("nan")) / 8


def peak_for(fmt):
    return {"F32": "fma_peak", "BF16": "bf16_peak", "NF4_G64": "fma_peak", "FP8_E4M3_PC": "fma_peak"}.get(fmt, "vnni_peak")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="build-bench-gemm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="docs/gemm_limits.png")
    args = ap.parse_args()
    limits, ours, peers = load(args.dir)
    T = args.threads
    N, K = SHAPE
    formats = sorted({k[0] for k in ours if k[2:4] == SHAPE and k[4] == T})
    prefill_m = max([k[1] for k in ours if k[2:4] == SHAPE and k[4] == T] or [512])

    def pct(impl, fmt, M, w):
        peer_fmt = {"INT8_PC": "U8S8"}.get(fmt, fmt) if impl == "onednn" else fmt
        sec = ours.get((fmt, M, N, K, T, w)) if impl == "lowbit" else peers.get((impl, peer_fmt, M, N, K, T, w))
        if sec is None:
            return None
        if M <= 8:
            bw = limits.get(("memory_read", T))
            return 100 * weight_bytes(fmt, N, K) / sec / 1e9 / bw if bw else None
        peak = limits.get((peak_for(fmt), T))
        return 100 * 2 * M * N * K / sec / 1e9 / peak if peak else None

    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.9 * len(formats) + 3), 8))
    for ax, (title, M, w) in zip(axes, [(f"decode GEMV 1x{N}x{K}, cold weights: % of measured read bandwidth", 1,
                                         "cold"),
                                        (f"prefill GEMM {prefill_m}x{N}x{K}: % of measured dot-product peak",
                                         prefill_m, "hot")]):
        impls = ["lowbit", "ggml", "onednn", "openblas"]
        width = 0.8 / len(impls)
        for i, impl in enumerate(impls):
            xs, ys = [], []
            for j, fmt in enumerate(formats):
                v = pct(impl, fmt, M, w)
                if v is not None:
                    xs.append(j + (i - (len(impls) - 1) / 2) * width)
                    ys.append(v)
            if ys:
                ax.bar(xs, ys, width, label=impl)
        ax.set_xticks(range(len(formats)))
        ax.set_xticklabels(formats, rotation=30)
        ax.set_ylabel("% of limit")
        ax.set_title(title + f" ({T} thread{'s' if T > 1 else ''})")
        ax.axhline(100, color="gray", linewidth=0.5)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
