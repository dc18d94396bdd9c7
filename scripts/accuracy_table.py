#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Builds the accuracy table from the logs scripts/accuracy_table.sh leaves (see that script)."""
import argparse
import os
import re

import gguf

NUM = r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"


def parse_log(path):
    text = open(path, errors="replace").read()
    out = {}
    m = re.search(r"Mean PPL\(Q\)\s*:\s*" + NUM + r"\s*±\s*" + NUM, text) or \
        re.search(r"Final estimate: PPL = " + NUM + r" \+/- " + NUM, text)
    if m:
        out["ppl"], out["ppl_err"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"Mean\s+KLD:\s*" + NUM + r"\s*±\s*" + NUM, text)
    if m:
        out["kld"], out["kld_err"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"Same top p:\s*" + NUM, text)
    if m:
        out["same_top"] = float(m.group(1))
    m = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+)", text) or \
        re.search(r"over (\d+) chunks, n_ctx=(\d+)", text)
    if m:
        out["chunks"], out["n_ctx"] = int(m.group(1)), int(m.group(2))
    return out


def weight_bits(path):
    """Bits per weight over the 2-D tensors of a GGUF file, and the types used (count per type)."""
    r = gguf.GGUFReader(path)
    bits = n = 0
    types = {}
    for t in r.tensors:
        if len(t.shape) < 2:
            continue
        bits += int(t.n_bytes) * 8
        n += int(t.n_elements)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return bits / n, types


def fake_quant_info(log):
    m = re.search(r"bits_per_weight=" + NUM + r" packed_bytes=(\d+)", open(log, errors="replace").read())
    return (float(m.group(1)), int(m.group(2))) if m else (float("nan"), 0)


def same_tensors(a, b):
    """True when two GGUF files hold the same tensors (names, types, shapes, data bytes)."""
    ta = {t.name: t for t in gguf.GGUFReader(a).tensors}
    tb = {t.name: t for t in gguf.GGUFReader(b).tensors}
    if ta.keys() != tb.keys():
        return False
    for name, x in ta.items():
        y = tb[name]
        if x.tensor_type != y.tensor_type or list(x.shape) != list(y.shape) or bytes(x.data) != bytes(y.data):
            return False
    return True


def main():
    import sys
    if len(sys.argv) == 4 and sys.argv[1] == "--same-tensors":
        sys.exit(0 if same_tensors(sys.argv[2], sys.argv[3]) else 1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-log", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--threads", required=True)
    ap.add_argument("--ctx", required=True)
    args = ap.parse_args()
    base = parse_log(args.base_log)
    rows = []
    for line in open(args.results):
        name, who, path, log = line.rstrip("\n").split("\t")
        if path == "-":
            rows.append((name, who, None, None, None, {}, "llama-quantize has no such type"))
            continue
        res = parse_log(log)
        if name[0].isupper():
            bpw, types = weight_bits(path)
            size = os.path.getsize(path)
            note = ", ".join(f"{k}×{v}" for k, v in sorted(types.items()))
        else:
            bpw, size = fake_quant_info(os.path.join(args.work, f"{name}.lowbit.quantize.log"))
            note = "stored decoded as F32 for evaluation; size = the packed format"
        if who == "llama.cpp" and os.path.exists(log + ".same"):
            note += "; tensors byte-identical to lowbit's file (figures shared)"
        rows.append((name, who, size, bpw, path, res, note))
    chunks = base.get("chunks", "?")
    print(f"Baseline (f32, decoded from the Q4_1 file): PPL {base.get('ppl', float('nan')):.4f} ± "
          f"{base.get('ppl_err', float('nan')):.4f}; {chunks} chunks of {args.ctx} tokens; llama-perplexity, "
          f"{args.threads} threads.")
    print()
    print("| format | quantizer | file MiB | bits/weight (2-D tensors) | PPL | mean KL vs f32 | same top token | tensor types |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name, who, size, bpw, path, res, note in rows:
        if path is None:
            print(f"| {name} | {who} | — | — | — | — | — | {note} |")
            continue
        ppl = f"{res['ppl']:.4f} ± {res['ppl_err']:.4f}" if "ppl" in res else "?"
        kld = f"{res['kld']:.5f} ± {res['kld_err']:.5f}" if "kld" in res else "?"
        top = f"{res['same_top']:.2f} %" if "same_top" in res else "?"
        print(f"| {name} | {who} | {size / 2**20:.1f} | {bpw:.3f} | {ppl} | {kld} | {top} | {note} |")


if __name__ == "__main__":
    main()
