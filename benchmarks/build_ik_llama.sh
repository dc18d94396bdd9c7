#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Build ik_llama.cpp's llama-bench (the fastest CPU peer of benchmarks/bench_e2e.sh) into
# $LOWBIT_CACHE/build-ik-llama. Its code never enters this repository.
#
#   benchmarks/build_ik_llama.sh [SOURCE]
#
# SOURCE: a source tree (with CMakeLists.txt), or a (bare) git directory, e.g. the one that the
# search tool's `fetch github:ikawrakow/ik_llama.cpp` gives (default
# /work/.mirror/ikawrakow+ik_llama.cpp/repo). A git directory's HEAD tree is exported to
# $LOWBIT_CACHE/ik_llama-src-<commit> blob by blob; blobs missing from the snapshot (a few web
# UI files and vocabulary test models) are skipped, the build does not need them.
# Configured with -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DGGML_IQK_FA_ALL_QUANTS=OFF (the last skips
# most flash-attention instantiations); only the llama-bench target is built (~15+ minutes on two
# cores). Idempotent. Prints the directory of llama-bench as the last line of stdout.
#
# Env: LOWBIT_CACHE (default $HOME/.cache/lowbit), LOWBIT_JOBS (default 2), LOWBIT_NICE (default 15)
set -euo pipefail

LOG_TAG=build_ik_llama
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd)/common.sh"
JOBS="${LOWBIT_JOBS:-2}"
NICE="${LOWBIT_NICE:-15}"
SOURCE="${1:-/work/.mirror/ikawrakow+ik_llama.cpp/repo}"
BUILD_DIR="${CACHE}/build-ik-llama"
BIN_DIR="${BUILD_DIR}/bin"

if [ -x "${BIN_DIR}/llama-bench" ]; then
    log "ik_llama.cpp's llama-bench already built in $BUILD_DIR"
    echo "$BIN_DIR"
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"${CACHE}/build-ik-llama.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if [ -x "${BIN_DIR}/llama-bench" ]; then
        echo "$BIN_DIR"
        exit 0
    fi
fi

command -v cmake >/dev/null 2>&1 || die "cmake not found"
command -v ninja >/dev/null 2>&1 || die "ninja not found (apt-get install ninja-build)"

SOURCE_NOTE=""
if [ -f "${SOURCE}/CMakeLists.txt" ]; then
    SRC_DIR="$(cd "$SOURCE" && pwd)"
    SOURCE_NOTE="$(git -C "$SRC_DIR" rev-parse --short=9 HEAD 2>/dev/null || echo "source ${SRC_DIR}")"
elif git --git-dir="$SOURCE" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    commit="$(git --git-dir="$SOURCE" rev-parse HEAD)"
    SRC_DIR="${CACHE}/ik_llama-src-${commit:0:12}"
    SOURCE_NOTE="${commit:0:9}"
    if [ ! -f "${SRC_DIR}/.exported" ]; then
        log "exporting ${SOURCE} @ ${commit:0:12} to ${SRC_DIR}"
        rm -rf "$SRC_DIR"
        mkdir -p "$SRC_DIR"
        # Blob by blob (git archive stops at the first missing blob of a partial snapshot).
        python3 - "$SOURCE" "$SRC_DIR" <<'PY'
import os, subprocess, sys
git_dir, dest = sys.argv[1], sys.argv[2]
ls = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", "HEAD"],
                    check=True, capture_output=True).stdout
entries = []
for rec in ls.split(b"\0"):
    if not rec:
        continue
    meta, path = rec.split(b"\t", 1)
    mode, kind, sha = meta.split()
    if kind == b"blob":
        entries.append((mode.decode(), sha.decode(), path.decode()))
cat = subprocess.Popen(["git", "--git-dir", git_dir, "cat-file", "--batch"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
missing = []
for mode, sha, path in entries:
    cat.stdin.write(sha.encode() + b"\n")
    cat.stdin.flush()
    header = cat.stdout.readline().split()
    if len(header) < 2 or header[1] == b"missing":
        missing.append(path)
        continue
    size = int(header[2])
    data = cat.stdout.read(size)
    cat.stdout.read(1)  # the newline after the object
    out = os.path.join(dest, path)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if mode == "120000":
        os.symlink(data.decode(), out)
    else:
        with open(out, "wb") as f:
            f.write(data)
        if mode == "100755":
            os.chmod(out, 0o755)
cat.stdin.close()
cat.wait()
print(f"[build_ik_llama] exported {len(entries) - len(missing)} files; skipped {len(missing)} missing: "
      + ", ".join(missing), file=sys.stderr)
PY
        touch "${SRC_DIR}/.exported"
    fi
else
    die "'$SOURCE' is neither a source tree nor a git directory"
fi

# An exported tree has no .git, so llama-bench's build_commit says "unknown": bench_e2e.sh reads this.
mkdir -p "$BUILD_DIR"
echo "$SOURCE_NOTE" >"${BUILD_DIR}/lowbit_ik_commit.txt"
log "configuring ik_llama.cpp in $BUILD_DIR"
nice -n "$NICE" cmake -S "$SRC_DIR" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF \
    -DGGML_IQK_FA_ALL_QUANTS=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF >&2
log "building llama-bench (${JOBS} jobs, nice ${NICE})"
nice -n "$NICE" cmake --build "$BUILD_DIR" -j"$JOBS" --target llama-bench >&2
[ -x "${BIN_DIR}/llama-bench" ] || die "no ${BIN_DIR}/llama-bench after the build"
log "built ${BIN_DIR}/llama-bench"
echo "$BIN_DIR"
