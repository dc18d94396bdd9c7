#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Mutation audit of the kernel tests (issue 12, item 0): puts each realistic bug of
# tests/mutations/mutations.tsv into the headers, one at a time, rebuilds only the test programs
# listed for it, runs them, and restores the header. Two columns:
#   before  a git worktree at REF with REF's own tests            (default /tmp/mut-before)
#   after   a git worktree at REF with this tree's tests/ copied in (default /tmp/mut-after)
# Both use REF's headers, so the columns differ only by the tests. The headers of this tree are never
# touched: every patch is applied inside a worktree and reverted there with `git checkout --`
# (also on exit or interrupt). A mutation is "caught" when one of its programs fails; a program that
# does not exist in a column (a test added later) is skipped there.
#
# Usage: scripts/mutation_audit.sh [--ref REF] [--before DIR] [--after DIR] [--only before|after]
#                                  [--arch x86_64|aarch64] [--out FILE.md] [--jobs N] [--results DIR]
# --arch aarch64 builds the columns with the AArch64 cross toolchain (cmake/toolchains/
# aarch64-linux-gnu.cmake, scripts/setup_arm.sh; DIR/build-aarch64, the Armv8.0-A baseline) and runs
# the programs under qemu-aarch64 -cpu max; its verdicts are the columns "before-aarch64" /
# "after-aarch64" (give it its own --after / --before DIR to run beside a native audit).
# --results keeps the verdicts and logs in DIR (a column run with --only lands there and the table
# shows every column found in it).
# Builds with `nice -n 10 ninja -jN` (N = 1 by default) in DIR/build (configured on first use:
# Release, LOWBIT_NATIVE=ON, tests on). Prints the table (a column per verdict file in the results
# directory); --out also writes it (markdown).
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
ref=HEAD
before=/tmp/mut-before
after=/tmp/mut-after
only=""
out=""
results_dir=""
jobs=1
arch=x86_64
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ref) ref=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --results) results_dir=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    -h|--help) sed -n '4,20p' "$0"; exit 0 ;;
    *) echo "mutation_audit.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

ref=$(git -C "$root" rev-parse --verify "$ref^{commit}")
case "$arch" in
  x86_64) build_name=build; suffix=""; runner=() ;;
  aarch64)
    build_name=build-aarch64; suffix="-aarch64"
    runner=(qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu -E
            LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib:/usr/lib/aarch64-linux-gnu) ;;
  *) echo "mutation_audit.sh: --arch x86_64 or aarch64, not $arch" >&2; exit 2 ;;
esac
list="$root/tests/mutations/mutations.tsv"
results_dir=${results_dir:-$(mktemp -d /tmp/mutation_audit.XXXXXX)}
mkdir -p "$results_dir"
applied_dir=""
applied_files=()

restore() {
  if [[ -n "$applied_dir" && ${#applied_files[@]} -gt 0 ]]; then
    git -C "$applied_dir" checkout -q -- "${applied_files[@]}"
    echo "restored ${applied_files[*]} in $applied_dir" >&2
  fi
  applied_dir=""
  applied_files=()
}
trap restore EXIT
trap 'restore; exit 130' INT TERM

# The test programs run with this Catch2 filter: the model tests need the model file (not kernels).
catch_filter='~[model]'

# A worktree at REF; for "after", this tree's tests/ copied over REF's.
setup_tree() {
  local dir=$1 column=$2
  if [[ ! -e "$dir/.git" ]]; then
    git -C "$root" worktree add --detach "$dir" "$ref" >&2
  fi
  git -C "$dir" checkout -q --detach "$ref"
  git -C "$dir" checkout -q -- include  # pristine headers
  if [[ "$column" == after ]]; then
    rm -rf "$dir/tests" && cp -a "$root/tests" "$dir/tests"
  else
    git -C "$dir" checkout -q -- tests
    git -C "$dir" clean -q -fd -- tests
  fi
  if [[ ! -f "$dir/$build_name/build.ninja" ]]; then
    local flags=(-DLOWBIT_NATIVE=ON)
    [[ "$arch" == aarch64 ]] && flags=(-DLOWBIT_NATIVE=OFF
                                      -DCMAKE_TOOLCHAIN_FILE="$dir/cmake/toolchains/aarch64-linux-gnu.cmake")
    nice -n 10 cmake -S "$dir" -B "$dir/$build_name" -G Ninja -DCMAKE_BUILD_TYPE=Release "${flags[@]}" \
      -DLOWBIT_BUILD_TESTS=ON -DLOWBIT_BUILD_EXAMPLES=OFF -DLOWBIT_BUILD_BENCHMARKS=OFF >/dev/null
  else
    nice -n 10 cmake "$dir/$build_name" >/dev/null  # pick up added test files
  fi
}

# Runs every mutation in one column; writes "patch<TAB>verdict<TAB>programs that failed".
run_column() {
  local dir=$1 column=$2$suffix build="$1/$build_name"
  local result="$results_dir/$column.tsv"
  local all_targets
  all_targets=$(ninja -C "$build" -t targets all 2>/dev/null | sed -n 's/^\(lowbit_[a-z0-9_]*\): phony$/\1/p;s/^\(lowbit_[a-z0-9_]*\): .*/\1/p' | sort -u)
  : >"$result"
  # Baseline: every listed program must pass on the unmutated headers, or the verdicts mean nothing.
  local baseline=()
  for t in $(grep -v '^#' "$list" | cut -f2 | tr ' ' '\n' | sort -u); do
    grep -qx "$t" <<<"$all_targets" && baseline+=("$t")
  done
  nice -n 10 ninja -C "$build" -j"$jobs" "${baseline[@]}" >"$results_dir/$column.baseline.build.log" 2>&1
  for t in "${baseline[@]}"; do
    if ! timeout 600 ${runner[@]+"${runner[@]}"} "$build/tests/$t" "$catch_filter" >"$results_dir/$column.baseline.$t.log" 2>&1; then
      echo "mutation_audit.sh: $t fails on the unmutated headers ($column); see $results_dir/$column.baseline.$t.log" >&2
      exit 1
    fi
  done
  echo "[$column] baseline: ${baseline[*]} pass" >&2
  while IFS=$'\t' read -r patch targets _; do
    [[ -z "$patch" || "$patch" == \#* ]] && continue
    local files
    mapfile -t files < <(sed -n 's|^+++ b/\([^	]*\).*|\1|p' "$root/tests/mutations/$patch")
    patch -s --no-backup-if-mismatch -p1 -d "$dir" <"$root/tests/mutations/$patch"
    applied_dir=$dir
    applied_files=("${files[@]}")
    local present=() caught=() verdict
    for t in $targets; do
      grep -qx "$t" <<<"$all_targets" && present+=("$t")
    done
    if ! nice -n 10 ninja -C "$build" -j"$jobs" "${present[@]}" >"$results_dir/$column.$patch.build.log" 2>&1; then
      verdict="build failed"
    else
      for t in "${present[@]}"; do
        if ! timeout 600 ${runner[@]+"${runner[@]}"} "$build/tests/$t" -a "$catch_filter" >"$results_dir/$column.$patch.$t.log" 2>&1; then
          caught+=("${t#lowbit_}")
        fi
      done
      if [[ ${#caught[@]} -gt 0 ]]; then verdict="caught"; else verdict="missed"; fi
    fi
    restore
    printf '%s\t%s\t%s\t%s\n' "$patch" "$verdict" "${caught[*]:-}" "${present[*]/#lowbit_/}" >>"$result"
    echo "[$column] $patch: $verdict ${caught[*]:-}" >&2
  done <"$list"
  # The headers must be REF's again.
  git -C "$dir" diff --quiet -- include || { echo "mutation_audit.sh: $dir/include differs from $ref" >&2; exit 1; }
}

for column in before after; do
  [[ -n "$only" && "$only" != "$column" ]] && continue
  dir=$before
  [[ "$column" == after ]] && dir=$after
  setup_tree "$dir" "$column"
  run_column "$dir" "$column"
done

# The table.
cell() {  # column patch
  local f="$results_dir/$1.tsv"
  [[ -f "$f" ]] || { echo "not run"; return; }
  awk -F'\t' -v p="$2" '$1 == p { if ($2 == "caught") print "caught (" $3 ")"; else if ($2 == "missed") print "**missed** (ran " $4 ")"; else print $2 }' "$f"
}
columns=()
for c in before after before-aarch64 after-aarch64; do
  [[ -f "$results_dir/$c.tsv" ]] && columns+=("$c")
done
{
  head="| mutation | bug |"; rule="|---|---|"
  for c in "${columns[@]}"; do
    case "$c" in
      *-aarch64) head+=" caught ${c%-aarch64} (qemu-aarch64) |" ;;
      *) head+=" caught $c |" ;;
    esac
    rule+="---|"
  done
  echo "$head"; echo "$rule"
  while IFS=$'\t' read -r patch targets bug; do
    [[ -z "$patch" || "$patch" == \#* ]] && continue
    row="| ${patch%.patch} | $bug |"
    for c in "${columns[@]}"; do row+=" $(cell "$c" "$patch") |"; done
    echo "$row"
  done <"$list"
} | tee "$results_dir/table.md"
[[ -n "$out" ]] && cp "$results_dir/table.md" "$out"
echo "logs: $results_dir" >&2
