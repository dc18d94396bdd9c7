#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Checks lowbit-quantize against llama.cpp's llama-quantize on SmolLM2-135M-Instruct (Q4_1, so
# llama-quantize runs with --allow-requantize). For every quantization type:
#   1. both tools quantize the model (same thread count);
#   2. gguf-py (GGUFReader) reads lowbit's file: every KV pair and tensor;
#   3. the two files are compared tensor by tensor (names, shapes, GGML types, bytes); the number of
#      byte-identical tensors is printed, and whether the whole files are identical;
#   4. llama.cpp (libllama through the ctypes bindings, as scripts/make_references.py does) answers
#      the same greedy chat prompt from both files; the answers must be the same token for token.
# A type fails on: a tool error, a file gguf-py cannot read, a tensor whose name, shape or type
# differs, or a greedy answer that differs. Q8_0, Q4_0 and Q5_1 must work; other types that this
# build of lowbit-quantize cannot make yet (it says "does not have") are reported as skipped; a type
# that lowbit-quantize refuses (an IQ1/IQ2 type without --imatrix, Q1_0 on rows no fallback fits)
# passes only when llama-quantize refuses it too.
#
# Then the same for the types of LOWBIT_IMATRIX_TYPES with an importance matrix (--imatrix on both
# tools): a GGUF imatrix made up by this script from the model's weight names (deterministic
# pseudo-random sums and counts, written with gguf-py in llama-imatrix's layout), since building and
# running llama-imatrix is not needed to check that both tools use the same file in the same way.
#
# Usage: scripts/check_quantize.sh [TYPE ...]   (default: every file type the tool knows)
# Env: LOWBIT_CACHE (llama.cpp and the model), LOWBIT_QTOOL_BUILD (lowbit build dir, default
#      build-qtool), LOWBIT_CHECK_DIR (where the .gguf files go, default a temp dir that is removed),
#      LOWBIT_THREADS (default 2), LOWBIT_PROMPT, LOWBIT_N_PREDICT (default 48),
#      LOWBIT_IMATRIX_TYPES (default "Q4_0 Q5_0 Q4_K_M IQ4_XS IQ3_XXS IQ2_XXS IQ1_S"; "" for none).
set -euo pipefail

LOG_TAG=check_quantize
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
REPO_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
LLAMA_SRC="${CACHE}/llama/llama_cpp_python-0.3.36"
BUILD_DIR="${LOWBIT_QTOOL_BUILD:-${REPO_DIR}/build-qtool}"
THREADS="${LOWBIT_THREADS:-2}"
PROMPT="${LOWBIT_PROMPT:-What is the capital of France?}"
N_PREDICT="${LOWBIT_N_PREDICT:-48}"
REQUIRED=(Q8_0 Q4_0 Q5_1)
read -r -a IMATRIX_TYPES <<<"${LOWBIT_IMATRIX_TYPES-Q4_0 Q5_0 Q4_K_M IQ4_XS IQ3_XXS IQ2_XXS IQ1_S}"

MODEL="$("${SCRIPT_DIR}/fetch_model.sh" | tail -n 1)"
BIN_DIR="$("${SCRIPT_DIR}/build_llama.sh" | tail -n 1)"
[ -f "$MODEL" ] || die "fetch_model.sh did not give a model path"
[ -x "${BIN_DIR}/llama-quantize" ] || die "build_llama.sh did not build llama-quantize in $BIN_DIR"
[ -f "${BIN_DIR}/libllama.so" ] || die "build_llama.sh did not build libllama.so in $BIN_DIR"
python3 -c 'import gguf, numpy, typing_extensions' >/dev/null 2>&1 \
    || die "python3 needs gguf (gguf-py), numpy and typing_extensions"

log "building lowbit-quantize in $BUILD_DIR"
if [ ! -f "${BUILD_DIR}/build.ninja" ]; then
    cmake -S "$REPO_DIR" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_EXAMPLES=ON >&2
fi
cmake --build "$BUILD_DIR" --target lowbit-quantize -j"${LOWBIT_JOBS:-2}" >&2
TOOL="${BUILD_DIR}/examples/quantize/lowbit-quantize"
[ -x "$TOOL" ] || die "no $TOOL after the build"

if [ "$#" -gt 0 ]; then
    TYPES=("$@")
else
    # Every file type the tool knows (the "TYPE:" line of its --help).
    read -r -a TYPES <<<"$("$TOOL" --help | sed -n 's/^TYPE: //p')"
fi

if [ -n "${LOWBIT_CHECK_DIR:-}" ]; then
    WORK="$LOWBIT_CHECK_DIR"
    mkdir -p "$WORK"
else
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
fi

# compare.py OURS LLAMA: gguf-py reads OURS; per-tensor comparison; greedy answers from both.
cat >"${WORK}/compare.py" <<'PY'
import sys
from pathlib import Path

import numpy as np
import gguf

ours_path, llama_path, scripts_dir, llama_src, lib_dir, prompt, n_predict, threads = sys.argv[1:9]
sys.path.insert(0, scripts_dir)
import make_references as mr  # noqa: E402  (Llama wrapper and ChatML prompt)

failures = []

# 2. gguf-py reads every KV pair and tensor of our file.
ours = gguf.GGUFReader(ours_path)
llama = gguf.GGUFReader(llama_path)
for name, field in ours.fields.items():
    field.contents()  # decodes the value; raises on a malformed field
ours_t = {t.name: t for t in ours.tensors}
llama_t = {t.name: t for t in llama.tensors}
kv_ours = [k for k in ours.fields if not k.startswith("GGUF.")]
kv_llama = [k for k in llama.fields if not k.startswith("GGUF.")]
if kv_ours != kv_llama:
    failures.append(f"metadata keys differ: {sorted(set(kv_ours) ^ set(kv_llama))} / order")
for k in kv_ours:
    if k in llama.fields and ours.fields[k].contents() != llama.fields[k].contents():
        failures.append(f"metadata {k}: {ours.fields[k].contents()!r} != {llama.fields[k].contents()!r}")
file_type = ours.fields["general.file_type"].contents()

# 3. Tensor by tensor.
if list(ours_t) != list(llama_t):
    if set(ours_t) != set(llama_t):
        failures.append(f"tensor names differ: {sorted(set(ours_t) ^ set(llama_t))}")
    else:
        print("  note: same tensors in a different order")
identical = 0
type_diff = 0
mismatched = []
for name, a in ours_t.items():
    b = llama_t.get(name)
    if b is None:
        continue
    if a.tensor_type != b.tensor_type or list(a.shape) != list(b.shape):
        type_diff += 1
        failures.append(f"tensor {name}: {a.tensor_type.name} {list(a.shape)} != llama {b.tensor_type.name} {list(b.shape)}")
        continue
    if bytes(a.data.tobytes()) == bytes(b.data.tobytes()):
        identical += 1
    else:
        mismatched.append(name)
types = {}
for t in ours.tensors:
    types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
same_file = Path(ours_path).read_bytes() == Path(llama_path).read_bytes()
print(f"  gguf-py read {len(ours.fields)} fields, {len(ours_t)} tensors; general.file_type = {file_type}")
print(f"  tensor types: " + ", ".join(f"{k} x{v}" for k, v in sorted(types.items())))
print(f"  byte-identical tensors: {identical}/{len(ours_t)}; type/shape mismatches: {type_diff}; "
      f"whole file identical: {'yes' if same_file else 'no'}")
if mismatched:
    print(f"  tensors whose bytes differ: {', '.join(mismatched[:8])}{' ...' if len(mismatched) > 8 else ''}")

# 4. Greedy answers from both files, token for token.
C, _, _ = mr.import_bindings(Path(llama_src), Path(lib_dir))
answers = {}
for label, path in (("llama-quantize", llama_path), ("lowbit-quantize", ours_path)):
    m = mr.Llama(C, Path(path), n_threads=int(threads), n_ctx=512, n_batch=512)
    ids = m.tokenize(mr.chat_prompt(prompt), add_special=False, parse_special=True)
    out, stopped, _ = m.greedy(ids, int(n_predict))
    answers[label] = (out, m.detokenize(out).decode("utf-8", errors="replace"))
    m.close()
a, b = answers["llama-quantize"], answers["lowbit-quantize"]
same = a[0] == b[0]
print(f"  greedy ({len(b[0])} tokens) {'identical' if same else 'DIFFERENT'}: {b[1]!r}")
if not same:
    n = next((i for i, (x, y) in enumerate(zip(a[0], b[0])) if x != y), min(len(a[0]), len(b[0])))
    failures.append(f"greedy answers differ from token {n}: llama-quantize's file says {a[1]!r}")
for f in failures[:20]:
    print("  FAIL: " + f)
print(f"RESULT identical={identical} total={len(ours_t)} file_identical={int(same_file)} greedy_same={int(same)}")
sys.exit(1 if failures else 0)
PY

# make_imatrix.py MODEL OUT: a GGUF importance matrix in llama-imatrix's layout for every 2-D weight.
cat >"${WORK}/make_imatrix.py" <<'PY'
import sys
import numpy as np
import gguf

model, out = sys.argv[1:3]
r = gguf.GGUFReader(model)
w = gguf.GGUFWriter(out, arch="imatrix")
rng = np.random.default_rng(20261122)
chunks, chunk_size = 10, 512
w.add_array("imatrix.datasets", ["synthetic (lowbit check_quantize.sh)"])
w.add_uint32("imatrix.chunk_count", chunks)
w.add_uint32("imatrix.chunk_size", chunk_size)
n = 0
for t in r.tensors:
    if len(t.shape) < 2 or not t.name.endswith(".weight") or t.name.endswith("_norm.weight"):
        continue
    ne0 = int(t.shape[0])
    count = float(chunks * chunk_size)
    # mean squared activations in [0.01, 4), a few columns much larger (as real ones are)
    mean = rng.uniform(0.01, 1.0, ne0) ** 2 * 4.0
    mean[rng.integers(0, ne0, max(1, ne0 // 64))] *= 50.0
    w.add_tensor(t.name + ".in_sum2", (mean * count).astype(np.float32).reshape(1, ne0))
    w.add_tensor(t.name + ".counts", np.array([[count]], dtype=np.float32))
    n += 1
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"imatrix with {n} entries written to {out}")
PY

declare -A RESULT
ORDER=()
n_fail=0
# check_type KEY TYPE [extra tool arguments]: quantizes with both tools and compares.
check_type() {
    local key="$1" T="$2"
    shift 2
    ORDER+=("$key")
    log "=== $key ==="
    if ! "$TOOL" "$MODEL" "${WORK}/ours_${T}.gguf" "$T" --threads "$THREADS" "$@" >"${WORK}/ours_${key}.log" 2>&1; then
        if grep -q "does not have" "${WORK}/ours_${key}.log" && [[ ! " ${REQUIRED[*]} " =~ " ${key} " ]]; then
            RESULT[$key]="skipped: $(grep -m1 'does not have' "${WORK}/ours_${key}.log" | sed 's/^lowbit-quantize: //')"
        elif LD_LIBRARY_PATH="${BIN_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "${BIN_DIR}/llama-quantize" \
            --allow-requantize "$@" "$MODEL" "${WORK}/llama_${T}.gguf" "$T" "$THREADS" >"${WORK}/llama_${key}.log" 2>&1; then
            RESULT[$key]="FAIL: lowbit-quantize refuses what llama-quantize does: $(tail -n 1 "${WORK}/ours_${key}.log")"
            n_fail=$((n_fail + 1))
            rm -f "${WORK}/llama_${T}.gguf"
        elif [[ " ${REQUIRED[*]} " =~ " ${key} " ]]; then
            RESULT[$key]="FAIL: both tools refuse a required type"
            n_fail=$((n_fail + 1))
        else
            # Both refuse (e.g. an IQ1/IQ2 type without --imatrix, Q1_0 with 576-wide rows): that is agreement.
            RESULT[$key]="ok: both tools refuse it: $(tail -n 1 "${WORK}/ours_${key}.log" | sed 's/^lowbit-quantize: //') / llama-quantize: $(grep -m1 -iE 'error|exception|failed' "${WORK}/llama_${key}.log" | cut -c1-120)"
        fi
        echo "$key: ${RESULT[$key]}"
        return 0
    fi
    if ! LD_LIBRARY_PATH="${BIN_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "${BIN_DIR}/llama-quantize" \
        --allow-requantize "$@" "$MODEL" "${WORK}/llama_${T}.gguf" "$T" "$THREADS" >"${WORK}/llama_${key}.log" 2>&1; then
        RESULT[$key]="FAIL: llama-quantize: $(tail -n 1 "${WORK}/llama_${key}.log")"
        n_fail=$((n_fail + 1))
        echo "$key: ${RESULT[$key]}"
        return 0
    fi
    echo "$key:"
    if python3 "${WORK}/compare.py" "${WORK}/ours_${T}.gguf" "${WORK}/llama_${T}.gguf" "$SCRIPT_DIR" \
        "$LLAMA_SRC" "$BIN_DIR" "$PROMPT" "$N_PREDICT" "$THREADS" | tee "${WORK}/compare_${key}.log"; then
        RESULT[$key]="ok $(sed -n 's/^RESULT //p' "${WORK}/compare_${key}.log")"
    else
        RESULT[$key]="FAIL $(sed -n 's/^RESULT //p' "${WORK}/compare_${key}.log")"
        n_fail=$((n_fail + 1))
    fi
    rm -f "${WORK}/ours_${T}.gguf" "${WORK}/llama_${T}.gguf"
}

for T in "${TYPES[@]}"; do
    check_type "$T" "$T"
done
if [ "${#IMATRIX_TYPES[@]}" -gt 0 ]; then
    python3 "${WORK}/make_imatrix.py" "$MODEL" "${WORK}/imatrix.gguf" >&2
    for T in "${IMATRIX_TYPES[@]}"; do
        check_type "${T}+imatrix" "$T" --imatrix "${WORK}/imatrix.gguf"
    done
fi

echo
echo "summary (prompt: \"$PROMPT\", $N_PREDICT tokens at most, $THREADS threads):"
for key in "${ORDER[@]}"; do
    printf '  %-16s %s\n' "$key" "${RESULT[$key]}"
done
if [ "$n_fail" -gt 0 ]; then
    die "$n_fail type(s) failed"
fi
log "all checked types passed"
