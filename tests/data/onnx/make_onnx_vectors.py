#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Writes tests/data/onnx/vectors.{json,bin}: the ONNX QuantizeLinear, DequantizeLinear and
DynamicQuantizeLinear test vectors, flattened so that the C++ test needs neither protobuf nor onnx.

Sources, each case tagged with the one it comes from:
  * "libonnx-testdata": Debian's libonnx-testdata package (ONNX 1.12, opsets 10..13), the node test
    directories /usr/share/libonnx-testdata/data/node/test_*quantizelinear*;
  * "onnx-wheel": the node test directories onnx/backend/test/data/node/test_*quantizelinear* inside
    the onnx wheel from PyPI (1.20.1; 1.23.2 no longer ships them; they cover axis, blocked,
    int16, int4/uint4, int2/uint2, float8, float4), read straight from the .whl zip;
  * "onnx-reference": extra cases computed here by onnx.reference.ReferenceEvaluator (the onnx
    package's Python reference implementation) for what the shipped vectors do not cover: the fnuz
    float8 types, saturate=0, NaN/Inf/-0/ties, ragged blocks, f16/bf16 inputs, negative axes.

Each case: op, source, version, opset, attributes (axis, block_size, saturate, precision as in
model.onnx; absent attributes are absent), inputs and outputs in node order (null for an omitted
optional input), each {dtype, dtype_id (TensorProto.DataType), shape, offset, size} into vectors.bin.
Data is raw little endian as ONNX stores it: int4/uint4/float4e2m1 two per byte (element 2i in the low
nibble), int2/uint2 four per byte (element 4i in bits 0-1), float8 one byte, f16/bf16 two bytes.

Usage:
  apt-get install -y libonnx-testdata
  pip download onnx==1.20.1 --no-deps -d /tmp/onnxwheels
  pip install onnx  # any recent version, for the reader and onnx.reference (1.23.2 made the files)
  python3 tests/data/onnx/make_onnx_vectors.py --wheel /tmp/onnxwheels/onnx-1.20.1-*.whl
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import zipfile

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_DIR = "/usr/share/libonnx-testdata/data/node"
PATTERN = re.compile(r"^test_(de|dynamic)?quantizelinear")

DTYPE_NAMES = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.UINT8: "uint8",
    TensorProto.INT8: "int8",
    TensorProto.UINT16: "uint16",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.FLOAT8E4M3FN: "float8e4m3fn",
    TensorProto.FLOAT8E4M3FNUZ: "float8e4m3fnuz",
    TensorProto.FLOAT8E5M2: "float8e5m2",
    TensorProto.FLOAT8E5M2FNUZ: "float8e5m2fnuz",
    TensorProto.UINT4: "uint4",
    TensorProto.INT4: "int4",
    TensorProto.FLOAT4E2M1: "float4e2m1",
    TensorProto.UINT2: "uint2",
    TensorProto.INT2: "int2",
}
SUB_BYTE_BITS = {TensorProto.UINT4: 4, TensorProto.INT4: 4, TensorProto.FLOAT4E2M1: 4, TensorProto.UINT2: 2, TensorProto.INT2: 2}


def raw_bytes(array: np.ndarray, dtype_id: int) -> bytes:
    """ONNX's storage of `array` (dtype `dtype_id`): little endian, sub-byte types packed low bits first."""
    flat = np.ascontiguousarray(array).reshape(-1)
    bits = SUB_BYTE_BITS.get(dtype_id)
    if bits is None:
        return flat.astype(flat.dtype.newbyteorder("<")).tobytes()
    codes = flat.view(np.uint8) if flat.dtype.itemsize == 1 else flat.astype(np.int64).astype(np.uint8)
    codes = codes.astype(np.uint8) & ((1 << bits) - 1)
    per_byte = 8 // bits
    padded = np.zeros(-(-codes.size // per_byte) * per_byte, dtype=np.uint8)
    padded[: codes.size] = codes
    padded = padded.reshape(-1, per_byte)
    out = np.zeros(padded.shape[0], dtype=np.uint8)
    for k in range(per_byte):
        out |= padded[:, k] << (bits * k)
    return out.tobytes()


class Writer:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.cases: list[dict] = []

    def tensor(self, array: np.ndarray | None, dtype_id: int | None) -> dict | None:
        if array is None:
            return None
        data = raw_bytes(array, dtype_id)
        while len(self.blob) % 8:
            self.blob.append(0)
        ref = {
            "dtype": DTYPE_NAMES[dtype_id],
            "dtype_id": int(dtype_id),
            "shape": [int(d) for d in array.shape],
            "offset": len(self.blob),
            "size": len(data),
        }
        self.blob += data
        return ref


def tensor_from_pb(data: bytes) -> tuple[np.ndarray, int]:
    t = TensorProto()
    t.ParseFromString(data)
    array = numpy_helper.to_array(t)
    if t.data_type in SUB_BYTE_BITS and len(t.int32_data) and not t.raw_data:
        # Cross-check our packing with the bytes ONNX stored (one packed byte per int32_data entry).
        assert raw_bytes(array, t.data_type) == bytes(v & 0xFF for v in t.int32_data), "sub-byte packing"
    if t.raw_data:
        assert raw_bytes(array, t.data_type) == t.raw_data, "raw_data round trip"
    return array, t.data_type


def attributes_of(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        if a.name in ("axis", "block_size", "saturate", "precision", "output_dtype"):
            out[a.name] = int(helper.get_attribute_value(a))
    return out


def add_node_case(w: Writer, name: str, model_bytes: bytes, files: dict[str, bytes], source: str, version: str) -> None:
    model = onnx.load_model_from_string(model_bytes)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    expanded = name.endswith("_expanded")
    if expanded:
        op = "DynamicQuantizeLinear"
        attrs = {}
        n_inputs = 1
        node_inputs = [i.name for i in model.graph.input]
    else:
        (node,) = model.graph.node
        op = node.op_type
        attrs = attributes_of(node)
        node_inputs = list(node.input)
        n_inputs = len(node_inputs)
    graph_inputs = [i.name for i in model.graph.input]
    sets = sorted({k.split("/")[0] for k in files})
    for s in sets:
        given = {}
        for idx, gname in enumerate(graph_inputs):
            given[gname] = tensor_from_pb(files[f"{s}/input_{idx}.pb"])
        inputs = []
        for k in range(n_inputs):
            nm = node_inputs[k]
            inputs.append(w.tensor(*given[nm]) if nm else None)
        outputs = []
        k = 0
        while f"{s}/output_{k}.pb" in files:
            outputs.append(w.tensor(*tensor_from_pb(files[f"{s}/output_{k}.pb"])))
            k += 1
        case_name = name if len(sets) == 1 else f"{name}/{s}"
        w.cases.append(
            {"name": case_name, "op": op, "source": source, "version": version, "opset": opset,
             "attributes": attrs, "inputs": inputs, "outputs": outputs}
        )


def add_directory_cases(w: Writer, root: str, source: str, version: str) -> None:
    for d in sorted(glob.glob(os.path.join(root, "test_*"))):
        name = os.path.basename(d)
        if not PATTERN.match(name):
            continue
        files = {}
        for f in glob.glob(os.path.join(d, "test_data_set_*", "*.pb")):
            files[os.path.relpath(f, d)] = open(f, "rb").read()
        add_node_case(w, name, open(os.path.join(d, "model.onnx"), "rb").read(), files, source, version)


def add_wheel_cases(w: Writer, wheel: str, source: str, version: str) -> None:
    prefix = "onnx/backend/test/data/node/"
    with zipfile.ZipFile(wheel) as z:
        by_case: dict[str, dict[str, bytes]] = {}
        for entry in z.namelist():
            if not entry.startswith(prefix):
                continue
            rest = entry[len(prefix):]
            case, _, path = rest.partition("/")
            if PATTERN.match(case) and path:
                by_case.setdefault(case, {})[path] = z.read(entry)
        for case in sorted(by_case):
            files = by_case[case]
            model = files.pop("model.onnx")
            add_node_case(w, case, model, files, source, version)


# ---------------------------------------------------------------------------------------------
# Extra cases from onnx.reference.

NP_OF = {
    TensorProto.FLOAT: np.float32,
    TensorProto.FLOAT16: np.float16,
    TensorProto.BFLOAT16: ml_dtypes.bfloat16,
    TensorProto.UINT8: np.uint8,
    TensorProto.INT8: np.int8,
    TensorProto.UINT16: np.uint16,
    TensorProto.INT16: np.int16,
    TensorProto.INT32: np.int32,
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
    TensorProto.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
    TensorProto.UINT4: ml_dtypes.uint4,
    TensorProto.INT4: ml_dtypes.int4,
    TensorProto.FLOAT4E2M1: ml_dtypes.float4_e2m1fn,
    TensorProto.UINT2: ml_dtypes.uint2,
    TensorProto.INT2: ml_dtypes.int2,
}


def add_reference_case(w: Writer, name: str, op: str, opset: int, inputs: list, attrs: dict, out_types: list[int]) -> None:
    """inputs: list of (array, dtype_id) or None; runs `op` through ReferenceEvaluator at `opset`."""
    in_names = [f"i{k}" if t is not None else "" for k, t in enumerate(inputs)]
    while in_names and in_names[-1] == "":
        in_names.pop()
    out_names = [f"o{k}" for k in range(len(out_types))]
    node = helper.make_node(op, in_names, out_names, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, t[1], list(t[0].shape)) for n, t in zip(in_names, inputs) if n]
    graph_outputs = [helper.make_tensor_value_info(n, t, None) for n, t in zip(out_names, out_types)]
    graph = helper.make_graph([node], name, graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {n: t[0] for n, t in zip(in_names, inputs) if n}
    results = ReferenceEvaluator(model).run(None, feeds)
    outputs = []
    for r, t in zip(results, out_types):
        r = np.asarray(r)
        assert r.dtype == np.dtype(NP_OF[t]), (name, r.dtype, t)
        outputs.append(w.tensor(r, t))
    w.cases.append(
        {"name": name, "op": op, "source": "onnx-reference", "version": onnx.__version__, "opset": opset,
         "attributes": {k: int(v) for k, v in attrs.items()},
         "inputs": [w.tensor(*t) if t is not None else None for t in inputs], "outputs": outputs}
    )


def f32(values) -> tuple[np.ndarray, int]:
    return np.array(values, dtype=np.float32), TensorProto.FLOAT


def typed(values, dtype_id: int) -> tuple[np.ndarray, int]:
    """`values` as an array of `dtype_id`; floats go through float32 (round to nearest even)."""
    source = np.array(values, dtype=np.float32) if dtype_id in (TensorProto.FLOAT16, TensorProto.BFLOAT16) else np.array(values)
    return source.astype(NP_OF[dtype_id]), dtype_id


def all_codes(dtype_id: int) -> tuple[np.ndarray, int]:
    return np.arange(256, dtype=np.uint8).view(NP_OF[dtype_id]), dtype_id


def add_reference_cases(w: Writer) -> None:
    rng = np.random.default_rng(20261122)
    special = [0.0, -0.0, 1.0, -1.0, 0.4375, 3.0e-3, -1.0e-9, 1.0e-30, 100.0, -300.0, 239.0, 241.0, 247.9, 248.0,
               449.0, 464.0, 465.0, 480.0, 57344.0, 61439.0, 61440.0, 1.0e6, -1.0e6, np.inf, -np.inf, np.nan,
               -np.nan, 1.0625, 1.1875, 0.0048828125, 0.0146484375]
    spread = (rng.standard_normal(200) * np.exp2(rng.integers(-18, 18, 200))).astype(np.float32)
    xs = np.concatenate([np.array(special, dtype=np.float32), spread])
    # Float8 quantization: every type, both saturate modes; scale 0.5 doubles x (exactly).
    for t in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E5M2FNUZ):
        zp = (np.zeros(1, dtype=NP_OF[t]), t)
        for sat in (1, 0):
            add_reference_case(w, f"ref_quantize_{DTYPE_NAMES[t]}_saturate{sat}", "QuantizeLinear", 21,
                               [(xs, TensorProto.FLOAT), f32(0.5), zp], {"saturate": sat}, [t])
        # Every code decoded (NaN codes included), with a scalar scale.
        add_reference_case(w, f"ref_dequantize_{DTYPE_NAMES[t]}_all_codes", "DequantizeLinear", 21,
                           [all_codes(t), f32(0.25)], {}, [TensorProto.FLOAT])
    # A dense sweep for rounding: +-(1 + m/64) * 2^e, m < 64, e in [-20, 17]: ties, sticky bits,
    # subnormals and the overflow thresholds of all four float 8 types (scale 1: q = x exactly).
    sweep = np.array([sgn * (1 + m / 64) * 2.0**e for sgn in (1, -1) for e in range(-20, 18) for m in range(64)],
                     dtype=np.float32)
    for t in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E5M2FNUZ):
        for sat in (1, 0):
            add_reference_case(w, f"ref_quantize_{DTYPE_NAMES[t]}_sweep_saturate{sat}", "QuantizeLinear", 21,
                               [(sweep, TensorProto.FLOAT), f32(1.0), (np.zeros(1, dtype=NP_OF[t]), t)],
                               {"saturate": sat}, [t])
    # Float8 with f16 and bf16 scales and inputs, per axis.
    for st in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        x = typed(rng.standard_normal((4, 6)) * 40, st)
        s = typed([0.5, 0.125, 3.0, 0.3], st)
        add_reference_case(w, f"ref_quantize_float8e4m3fn_axis0_{DTYPE_NAMES[st]}", "QuantizeLinear", 21,
                           [x, s, (np.zeros(4, ml_dtypes.float8_e4m3fn), TensorProto.FLOAT8E4M3FN)], {"axis": 0},
                           [TensorProto.FLOAT8E4M3FN])
        add_reference_case(w, f"ref_dequantize_float8e5m2fnuz_axis0_{DTYPE_NAMES[st]}", "DequantizeLinear", 21,
                           [((np.arange(24, dtype=np.uint8) * 10).reshape(4, 6).view(ml_dtypes.float8_e5m2fnuz),
                             TensorProto.FLOAT8E5M2FNUZ), s], {"axis": 0}, [st])
    # Integer quantization: ties to even, saturation. (Not past the int32 range nor infinities: the
    # reference casts rint(x / scale) to int32 before it clips, which is undefined there.)
    ties = f32([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 0.49999997, -0.50000006, 1e9, -1e9, 2.1e9, -2.1e9,
                126.5, 127.5, -128.5, 254.5, 255.5, 32766.5, 32767.5, -32768.5, 65534.5, 65535.5])
    for t in (TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16, TensorProto.INT4,
              TensorProto.UINT4, TensorProto.INT2, TensorProto.UINT2):
        add_reference_case(w, f"ref_quantize_{DTYPE_NAMES[t]}_ties_saturation", "QuantizeLinear", 21,
                           [ties, f32(1.0), typed(1 if t not in (TensorProto.INT2,) else -1, t)], {}, [t])
    # f16 and bf16 inputs with matching scales: the division rounds to the input type first.
    for st in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        x = typed(rng.standard_normal((3, 5, 4)) * 50, st)
        s = typed([0.37, 0.11, 1.3, 0.0071, 2.9], st)
        add_reference_case(w, f"ref_quantize_int8_axis1_{DTYPE_NAMES[st]}", "QuantizeLinear", 21,
                           [x, s, typed([0, 1, -3, 7, -128], TensorProto.INT8)], {"axis": 1}, [TensorProto.INT8])
        add_reference_case(w, f"ref_dequantize_int16_axis1_{DTYPE_NAMES[st]}", "DequantizeLinear", 21,
                           [typed(rng.integers(-32768, 32768, (3, 5, 4)), TensorProto.INT16), s,
                            typed([5, -7, 0, 32767, -32768], TensorProto.INT16)], {"axis": 1}, [st])
    # Mixed input / scale types where the operator docs and the reference agree (the division is in
    # float32), the opset 23 `precision` attribute, and DequantizeLinear's `output_dtype`.
    for xt in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        add_reference_case(w, f"ref_quantize_uint8_{DTYPE_NAMES[xt]}_x_float32_scale", "QuantizeLinear", 21,
                           [typed(rng.standard_normal(40) * 30, xt), f32(0.1517), typed(100, TensorProto.UINT8)], {},
                           [TensorProto.UINT8])
    for pt in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        add_reference_case(w, f"ref_quantize_int16_precision_{DTYPE_NAMES[pt]}", "QuantizeLinear", 23,
                           [f32(rng.standard_normal(40) * 3000), f32(0.3711), typed(-5, TensorProto.INT16)],
                           {"precision": pt}, [TensorProto.INT16])
        add_reference_case(w, f"ref_dequantize_uint16_output_{DTYPE_NAMES[pt]}", "DequantizeLinear", 23,
                           [typed(rng.integers(0, 65536, 40), TensorProto.UINT16), f32(0.0123457),
                            typed(31000, TensorProto.UINT16)], {"output_dtype": pt}, [pt])
    # Blocked, ragged last block (D = 7, block 3 -> 3 blocks), negative axis, int4 and uint16.
    x = f32(rng.standard_normal((2, 3, 7)) * 9)
    s = f32(np.abs(rng.standard_normal((2, 3, 3))) + 0.25)
    add_reference_case(w, "ref_quantize_int4_blocked_ragged_axis_m1", "QuantizeLinear", 21,
                       [x, s, typed(rng.integers(-8, 8, (2, 3, 3)), TensorProto.INT4)], {"axis": -1, "block_size": 3},
                       [TensorProto.INT4])
    add_reference_case(w, "ref_dequantize_uint4_blocked_ragged_axis_m1", "DequantizeLinear", 21,
                       [typed(rng.integers(0, 16, (2, 3, 7)), TensorProto.UINT4), s,
                        typed(rng.integers(0, 16, (2, 3, 3)), TensorProto.UINT4)], {"axis": -1, "block_size": 3},
                       [TensorProto.FLOAT])
    x = f32(rng.standard_normal((5, 2, 3)) * 3000)
    s = f32(np.abs(rng.standard_normal((3, 2, 3))) + 0.5)
    add_reference_case(w, "ref_quantize_uint16_blocked_axis0", "QuantizeLinear", 21,
                       [x, s, typed(rng.integers(0, 65536, (3, 2, 3)), TensorProto.UINT16)], {"axis": 0, "block_size": 2},
                       [TensorProto.UINT16])
    add_reference_case(w, "ref_dequantize_int32", "DequantizeLinear", 21,
                       [typed([0, 1, -1, 16777217, -2147483648, 2147483647, 123456789], TensorProto.INT32), f32(0.3)],
                       {}, [TensorProto.FLOAT])
    add_reference_case(w, "ref_quantize_int2_axis_m2", "QuantizeLinear", 21,
                       [f32(rng.standard_normal((3, 4, 2)) * 2), f32([0.5, 1.0, 2.0, 0.7]), typed([0, 1, -1, -2], TensorProto.INT2)],
                       {"axis": -2}, [TensorProto.INT2])
    # Float4 E2M1: ties, -0 (turned +0 by the zero point), saturation at 6.
    x4 = f32([0.0, -0.0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 5.9, 7.0, 1e9, -0.25, -2.5, -5.0, -1e9, np.inf, -np.inf])
    add_reference_case(w, "ref_quantize_float4e2m1_zero_point", "QuantizeLinear", 23,
                       [x4, f32(1.0), (np.zeros(1, ml_dtypes.float4_e2m1fn), TensorProto.FLOAT4E2M1)], {},
                       [TensorProto.FLOAT4E2M1])
    add_reference_case(w, "ref_quantize_float4e2m1_no_zero_point", "QuantizeLinear", 23,
                       [x4, f32(1.0)], {"output_dtype": TensorProto.FLOAT4E2M1}, [TensorProto.FLOAT4E2M1])
    add_reference_case(w, "ref_dequantize_float4e2m1_all_codes", "DequantizeLinear", 23,
                       [(np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn), TensorProto.FLOAT4E2M1), f32(1.5)],
                       {}, [TensorProto.FLOAT])
    # DynamicQuantizeLinear on wider data: mixed signs, all positive, all negative, all zero, ties.
    dyn = {
        "mixed": (rng.standard_normal(500) * 7).astype(np.float32),
        "positive": (np.abs(rng.standard_normal((10, 10))) * 0.01).astype(np.float32),
        "negative": (-np.abs(rng.standard_normal(64)) * 1e5).astype(np.float32),
        "zeros": np.zeros(9, dtype=np.float32),
        "ties": np.array([-2.0, 2.0, 0.5 * 4.0 / 255.0, 1.5 * 4.0 / 255.0, -0.5 * 4.0 / 255.0], dtype=np.float32),
    }
    for label, x in dyn.items():
        add_reference_case(w, f"ref_dynamicquantizelinear_{label}", "DynamicQuantizeLinear", 11,
                           [(x, TensorProto.FLOAT)], {}, [TensorProto.UINT8, TensorProto.FLOAT, TensorProto.UINT8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", required=True, help="an onnx wheel that ships backend/test/data/node (1.20.1)")
    ap.add_argument("--debian-dir", default=DEBIAN_DIR)
    args = ap.parse_args()
    w = Writer()
    deb_version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libonnx-testdata"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    add_directory_cases(w, args.debian_dir, "libonnx-testdata", deb_version)
    wheel_version = re.search(r"onnx-([0-9.]+)-", os.path.basename(args.wheel)).group(1)
    add_wheel_cases(w, args.wheel, "onnx-wheel", wheel_version)
    add_reference_cases(w)
    wheel_sha = hashlib.sha256(open(args.wheel, "rb").read()).hexdigest()
    index = {
        "generator": "tests/data/onnx/make_onnx_vectors.py",
        "sources": {
            "libonnx-testdata": f"Debian package libonnx-testdata {deb_version}, {args.debian_dir}",
            "onnx-wheel": f"{os.path.basename(args.wheel)} (sha256 {wheel_sha}), onnx/backend/test/data/node",
            "onnx-reference": f"onnx {onnx.__version__} onnx.reference.ReferenceEvaluator, numpy {np.__version__}, "
                              f"ml_dtypes {ml_dtypes.__version__}",
        },
        "bin_size": len(w.blob),
        "cases": w.cases,
    }
    with open(os.path.join(HERE, "vectors.bin"), "wb") as f:
        f.write(bytes(w.blob))
    with open(os.path.join(HERE, "vectors.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"{len(w.cases)} cases, {len(w.blob)} bytes")


if __name__ == "__main__":
    main()
