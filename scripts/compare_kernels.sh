#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Proves that a change to the kernels changed no output bit on this x86 machine: builds
# tests/tools/kernel_fingerprint.cpp (this tree's copy) against OLD_DIR/include and against ./include,
# each for -march=native and -march=haswell (the AVX2 paths), runs the four programs and diffs old
# against new per march. Prints `identical: N cases` per march, or the differing lines (old `<`,
# new `>`), and exits 1 on any difference (2 on a build failure).
# Flags as the test build's (lowbit_project_options): -ffp-contract=off, -fopenmp, warnings; -O2.
# Build outputs under build-compare/; a program is rebuilt only when its include tree, the source or
# the flags changed.
# Usage: scripts/compare_kernels.sh [OLD_DIR] [--filter STR] [--runs R]
#   OLD_DIR   a checkout of the code before the change (default /work/lowbit-old, e.g. made with
#             `git worktree add /work/lowbit-old <commit>`)
#   --filter  only the cases whose name contains STR
#   --runs    run each program R times (default 1) and require the same output every time
# Environment: CXX (default g++), JOBS (default 1: builds one at a time; >1: all four at once),
#   NICE (default "nice -n 10"), MARCHES (default "native haswell").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

old_dir=/work/lowbit-old
filter=''
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) filter="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare_kernels.sh: unknown argument $1" >&2; exit 2 ;;
    *) old_dir="$1"; shift ;;
  esac
done
[ -d "$old_dir/include/lowbit" ] || { echo "compare_kernels.sh: $old_dir/include/lowbit not found" >&2; exit 2; }
old_dir="$(cd "$old_dir" && pwd)"

CXX="${CXX:-g++}"
JOBS="${JOBS:-1}"
NICE="${NICE:-nice -n 10}"
MARCHES="${MARCHES:-native haswell}"
src=tests/tools/kernel_fingerprint.cpp
out=build-compare
mkdir -p "$out"
# -Wno-uninitialized: GCC 12's false positive inside its own avx512fintrin.h (as the benchmarks note).
common_flags=(-std=c++20 -O2 -fopenmp -ffp-contract=off -Wall -Wextra -Wno-maybe-uninitialized -Wno-uninitialized)

# build NAME INCLUDE_ROOT MARCH: $out/NAME/kernel_fingerprint, unless up to date.
build() {
  local name="$1" root="$2" march="$3" dir="$out/$1"
  local bin="$dir/kernel_fingerprint"
  local flags=("${common_flags[@]}" "-march=$march" "-I$root/include")
  mkdir -p "$dir"
  local stamp="$CXX ${flags[*]} $(realpath "$src")"
  if [ -x "$bin" ] && [ "$(cat "$dir/flags" 2>/dev/null)" = "$stamp" ] &&
     [ -z "$(find "$root/include" "$src" -newer "$bin" -print -quit)" ]; then
    echo "[compare] $name: up to date" >&2
    return 0
  fi
  echo "[compare] building $name (-march=$march, $root/include)" >&2
  local t0=$SECONDS
  if ! $NICE "$CXX" "${flags[@]}" "$src" -o "$bin.tmp" 2> "$dir/build.log"; then
    echo "[compare] build of $name failed:" >&2
    grep -E "error" "$dir/build.log" | head -20 >&2
    return 1
  fi
  mv "$bin.tmp" "$bin"
  echo "$stamp" > "$dir/flags"
  echo "[compare] built $name in $((SECONDS - t0)) s" >&2
}

pids=()
for march in $MARCHES; do
  for side in old new; do
    root="$old_dir"
    [ "$side" = new ] && root="$PWD"
    if [ "$JOBS" -gt 1 ]; then
      build "$side-$march" "$root" "$march" & pids+=($!)
    else
      build "$side-$march" "$root" "$march" || exit 2
    fi
  done
done
for p in "${pids[@]}"; do wait "$p" || exit 2; done

status=0
for march in $MARCHES; do
  for side in old new; do
    dir="$out/$side-$march"
    t0=$SECONDS
    "$dir/kernel_fingerprint" $filter > "$dir/fingerprint.txt"
    for ((r = 2; r <= runs; ++r)); do
      "$dir/kernel_fingerprint" $filter > "$dir/fingerprint.run$r.txt"
      if ! cmp -s "$dir/fingerprint.txt" "$dir/fingerprint.run$r.txt"; then
        echo "[compare] $side-$march: run $r differs from run 1 (not deterministic):" >&2
        diff "$dir/fingerprint.txt" "$dir/fingerprint.run$r.txt" | head -20
        status=1
      fi
    done
    echo "[compare] ran $side-$march ($runs run(s), $((SECONDS - t0)) s)" >&2
  done
  old_txt="$out/old-$march/fingerprint.txt" new_txt="$out/new-$march/fingerprint.txt"
  if cmp -s "$old_txt" "$new_txt"; then
    echo "$march: identical: $(wc -l < "$new_txt") cases"
  else
    echo "$march: DIFFERENT: $(diff "$old_txt" "$new_txt" | grep -c '^[<>]') differing lines (< old, > new):"
    diff "$old_txt" "$new_txt" || true
    status=1
  fi
done
exit "$status"
