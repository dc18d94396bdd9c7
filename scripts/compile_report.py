#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Compile-time report: every translation unit of a build (from its .ninja_log) against the budget,
and two user-side measurements made here, one compile at a time, at -O2:
  - the umbrella header include/lowbit/lowbit.hpp in an empty TU (budget 4 s),
  - a user's TU that runs one format's SIMD GEMM, tests/compile_time/one_format_gemm.cpp (budget 6 s).
Budgets: every test TU <= 30 s. The ninja log's times are wall times of the build as it ran (with
-j N, N compiles share the cores), so the report also prints the build's parallelism.

Usage: scripts/compile_report.py BUILD_DIR [--cxx g++] [--out FILE] [--strict]
Prints a Markdown report; --strict exits 1 when a budget is missed (CI runs without it: timings on
a shared 2-core machine vary by tens of percent).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_TU_BUDGET_S = 30.0
UMBRELLA_BUDGET_S = 4.0
ONE_FORMAT_BUDGET_S = 6.0


def ninja_entries(build_dir):
    """(seconds, output) per object file of the last build recorded in BUILD_DIR/.ninja_log."""
    path = os.path.join(build_dir, ".ninja_log")
    latest = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            start, end, _mtime, out, _hash = line.rstrip("\n").split("\t")
            if out.endswith(".o"):
                latest[out] = (int(end) - int(start)) / 1000.0
    return sorted(((s, o) for o, s in latest.items()), reverse=True)


def time_compile(cxx, flags, source):
    """Wall seconds of one compile of `source` (best of two, to skip a cold page cache)."""
    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            t0 = time.monotonic()
            subprocess.run([cxx, *flags, "-c", source, "-o", os.path.join(tmp, "tu.o")], check=True)
            dt = time.monotonic() - t0
            best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    ap.add_argument("--out")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()

    lines = []
    missed = []
    flags = ["-std=c++20", "-O2", "-march=native", "-fopenmp", "-I", os.path.join(ROOT, "include")]
    lines.append(f"Compile-time report ({args.cxx}, -O2 -march=native; {os.cpu_count()} cores; "
                 f"load average {os.getloadavg()[0]:.2f})\n")
    lines.append("| user-side translation unit | seconds | budget |")
    lines.append("|---|---:|---:|")
    umbrella = os.path.join(ROOT, "include", "lowbit", "lowbit.hpp")
    if os.path.exists(umbrella):
        with tempfile.NamedTemporaryFile("w", suffix=".cpp", delete=False) as f:
            f.write('#include "lowbit/lowbit.hpp"\n')
            empty_tu = f.name
        try:
            s = time_compile(args.cxx, flags, empty_tu)
        finally:
            os.unlink(empty_tu)
        lines.append(f"| `#include <lowbit/lowbit.hpp>` in an empty TU | {s:.1f} | {UMBRELLA_BUDGET_S:.0f} |")
        if s > UMBRELLA_BUDGET_S:
            missed.append(f"umbrella header: {s:.1f} s > {UMBRELLA_BUDGET_S:.0f} s")
    else:
        lines.append("| `lowbit/lowbit.hpp` (not present) | - | 4 |")
    one = os.path.join(ROOT, "tests", "compile_time", "one_format_gemm.cpp")
    s = time_compile(args.cxx, flags, one)
    lines.append(f"| one format's SIMD GEMM (tests/compile_time/one_format_gemm.cpp) | {s:.1f} | {ONE_FORMAT_BUDGET_S:.0f} |")
    if s > ONE_FORMAT_BUDGET_S:
        missed.append(f"one-format SIMD GEMM TU: {s:.1f} s > {ONE_FORMAT_BUDGET_S:.0f} s")

    entries = ninja_entries(args.build_dir)
    total = sum(s for s, _ in entries)
    lines.append("")
    lines.append(f"Build `{args.build_dir}`: {len(entries)} objects, {total:.0f} s of compile wall time summed "
                 "(the ninja log's per-edge times, with the build's own parallelism).\n")
    lines.append("| object | seconds | over the 30 s test budget |")
    lines.append("|---|---:|---|")
    for s, out in entries[:25]:
        over = s > TEST_TU_BUDGET_S and "/tests/" in "/" + out
        lines.append(f"| {out} | {s:.1f} | {'yes' if over else ''} |")
        if over:
            missed.append(f"{out}: {s:.1f} s > {TEST_TU_BUDGET_S:.0f} s")
    for s, out in entries[25:]:
        if s > TEST_TU_BUDGET_S and "/tests/" in "/" + out:
            missed.append(f"{out}: {s:.1f} s > {TEST_TU_BUDGET_S:.0f} s")
    lines.append("")
    lines.append("Over budget: " + ("; ".join(missed) if missed else "none"))
    report = "\n".join(lines) + "\n"
    sys.stdout.write(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
