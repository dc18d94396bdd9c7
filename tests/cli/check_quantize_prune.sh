#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# lowbit-quantize --prune on tests/data/gguf/small.gguf (one projection weight, blk.0.attn_k.weight,
# 192 x 576 Q4_1): the written files are read back by a small GGUF reader (Python standard library
# only) and checked: the 2:4 pattern along K after Q8_0, 50 % per row with the largest |w| kept
# (F32 output, exact), Wanda's choice following the importance matrix, tensors that must not be
# pruned left as they were, and the errors for bad input.
# Usage: check_quantize_prune.sh LOWBIT_QUANTIZE SMALL_GGUF
set -uo pipefail
tool="$1" small="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0 passed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAILED: $1"; }

run_tool() {  # name, args...: the tool must succeed
  local name="$1"; shift
  if "$tool" --threads 2 "$@" >"$work/$name.log" 2>&1; then ok "$name runs"; else fail "$name: $(tail -n 3 "$work/$name.log")"; fi
}

expect_error() {  # name, expected message fragment, args...
  local name="$1" fragment="$2" out rc; shift 2
  out="$("$tool" "$@" 2>&1)"; rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$fragment" <<<"$out"; then ok "$name"; else fail "$name: exit $rc, want '$fragment', got: $(head -n 2 <<<"$out")"; fi
}

# Importance matrices (llama.cpp's legacy format: entries of name, ncall, values; mean = values / ncall).
python3 - "$work" <<'EOF'
import struct, sys
def write(path, entries):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, vals in entries:
            b = name.encode()
            f.write(struct.pack("<i", len(b)) + b + struct.pack("<ii", 1, len(vals)))
            f.write(struct.pack("<%df" % len(vals), *vals))
# Column 4g + 3 of every group of 4 has a huge activation: Wanda must keep it.
write(sys.argv[1] + "/imatrix.dat", [("blk.0.attn_k.weight", [1e8 if j % 4 == 3 else 1.0 for j in range(576)])])
write(sys.argv[1] + "/other.dat", [("blk.0.attn_q.weight", [1.0] * 576)])
EOF

run_tool plain_f32 "$small" "$work/plain.gguf" F32
run_tool nm_q8 --prune 2:4 "$small" "$work/nm_q8.gguf" Q8_0
run_tool nm_q8_f32 "$work/nm_q8.gguf" "$work/nm_q8_decoded.gguf" F32
run_tool half_f32 --prune 50% --method magnitude "$small" "$work/half.gguf" F32
run_tool wanda_f32 --prune 2:4 --method wanda --imatrix "$work/imatrix.dat" "$small" "$work/wanda.gguf" F32
run_tool iq4nl --prune 0.5 "$small" "$work/iq4nl.gguf" IQ4_NL

python3 - "$work" <<'EOF'
import struct, sys
work = sys.argv[1]

def read_gguf(path):
    """name -> (type, shape, bytes) for every tensor (GGUF v3; F32 data read as floats by the caller)."""
    d = open(path, "rb").read()
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, d, pos); pos += struct.calcsize("<" + fmt); return v[0]
    def string():
        nonlocal pos
        n = take("Q"); s = d[pos:pos + n].decode(); pos += n; return s
    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    def value(t):
        if t == 8: return string()
        if t == 9:
            et = take("I"); n = take("Q"); return [value(et) for _ in range(n)]
        return take(sizes[t])
    assert d[:4] == b"GGUF"; pos = 4
    take("I"); n_tensors = take("Q"); n_kv = take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string(); kv[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string(); nd = take("I"); shape = [take("Q") for _ in range(nd)]
        infos.append((name, shape, take("I"), take("Q")))
    align = kv.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    out = {}
    for i, (name, shape, t, off) in enumerate(infos):
        end = infos[i + 1][3] if i + 1 < len(infos) else len(d) - base
        out[name] = (t, shape, d[base + off:base + end])
    return out

def f32_rows(path, name):
    t, shape, b = read_gguf(path)[name]
    assert t == 0, f"{name} in {path} is type {t}, not F32"
    k, n = shape[0], shape[1]
    v = struct.unpack_from("<%df" % (k * n), b)
    return [v[r * k:(r + 1) * k] for r in range(n)]

failures = 0
def check(cond, what):
    global failures
    print(("ok: " if cond else "FAILED: ") + what)
    failures += 0 if cond else 1

W = "blk.0.attn_k.weight"
orig = f32_rows(f"{work}/plain.gguf", W)

# 2:4 after Q8_0: each group of 4 along K keeps at most 2 non-zeros (Q8_0 stores zero exactly), and
# the kept weights are the 2 of largest |w| of the group.
nm = f32_rows(f"{work}/nm_q8_decoded.gguf", W)
groups_ok = all(sum(1 for x in row[g:g + 4] if x != 0) <= 2 for row in nm for g in range(0, len(row), 4))
check(groups_ok, "2:4 pattern along K after Q8_0")
zeros = sum(1 for row in nm for x in row if x == 0) / (len(nm) * len(nm[0]))
check(0.5 <= zeros < 0.52, f"2:4 sparsity after Q8_0 is {zeros:.4f}")
def kept_are_largest(pruned_rows, ref_rows, group):
    for p, o in zip(pruned_rows, ref_rows):
        for g in range(0, len(o), group):
            kept = [abs(o[g + j]) for j in range(group) if p[g + j] != 0]
            gone = [abs(o[g + j]) for j in range(group) if p[g + j] == 0]
            if kept and gone and min(kept) < max(gone):
                return False
    return True
check(kept_are_largest(nm, orig, 4), "2:4 by magnitude keeps the 2 largest |w| of each group")
base_t = read_gguf(f"{work}/plain.gguf")
nm_t = read_gguf(f"{work}/nm_q8.gguf")
check(read_gguf(f"{work}/nm_q8_decoded.gguf")["token_embd.weight"][2] == base_t["token_embd.weight"][2],
      "token_embd.weight is not pruned")
check(nm_t["blk.0.attn_norm.weight"][2] == base_t["blk.0.attn_norm.weight"][2], "attn_norm.weight is not pruned")

# 50 % per row, F32 output: exactly 288 of 576 zeros per row, the largest |w| kept, the kept ones unchanged.
half = f32_rows(f"{work}/half.gguf", W)
check(all(sum(1 for x in row if x == 0) == 288 for row in half), "50% leaves 288 zeros in every row")
check(kept_are_largest(half, orig, len(orig[0])), "50% by magnitude keeps the largest |w| of each row")
check(all(p == o for pr, orr in zip(half, orig) for p, o in zip(pr, orr) if p != 0), "kept weights unchanged (F32)")

# Wanda 2:4 with an importance matrix that favours column 4g + 3: it is kept in every group.
wanda = f32_rows(f"{work}/wanda.gguf", W)
check(all(sum(1 for x in row[g:g + 4] if x != 0) <= 2 for row in wanda for g in range(0, len(row), 4)),
      "Wanda 2:4 pattern")
check(all(row[g + 3] == o[g + 3] for row, o in zip(wanda, orig) for g in range(0, len(row), 4)),
      "Wanda keeps the column of large activations")
check(wanda != nm, "Wanda's mask differs from magnitude's")
sys.exit(1 if failures else 0)
EOF
if [ $? -eq 0 ]; then ok "read-back checks"; else fail "read-back checks"; fi

if grep -q "sparsity after quantization to IQ4_NL" "$work/iq4nl.log" && grep -q "% after" "$work/iq4nl.log"; then
  ok "the log reports the sparsity after quantization"
else
  fail "no sparsity after quantization in the IQ4_NL log"
fi

expect_error "wanda without an imatrix" "--method wanda needs --imatrix" --prune 2:4 --method wanda "$small" "$work/x.gguf" Q8_0
expect_error "tensor missing from the imatrix" "no entry for tensor 'blk.0.attn_k.weight'" \
  --prune 2:4 --method wanda --imatrix "$work/other.dat" "$small" "$work/x.gguf" Q8_0
expect_error "bad spec" "is not N:M" --prune 2:x "$small" "$work/x.gguf" Q8_0
expect_error "N >= M" "0 < N < M" --prune 4:4 "$small" "$work/x.gguf" Q8_0
expect_error "sparsity 100%" "not a sparsity" --prune 100% "$small" "$work/x.gguf" Q8_0
expect_error "K not a multiple of M" "not a multiple of M = 7" --prune 3:7 "$small" "$work/x.gguf" Q8_0
expect_error "unknown method" "want magnitude or wanda" --prune 2:4 --method sparsegpt "$small" "$work/x.gguf" Q8_0
expect_error "method without prune" "--method needs --prune" --method wanda "$small" "$work/x.gguf" Q8_0

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
