// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp8.hpp"
#include "lowbit/quant/fp8_fnuz.hpp"
#include "lowbit/quant/onnx_quant_granularity.hpp"
#include "lowbit/quant/onnx_tensor.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::onnx {

/// `v` rounded to the nearest integer, ties to even, independent of the floating-point environment
/// (numpy's `rint` under the default mode). +-inf stay +-inf; NaN stays NaN.
inline float round_half_to_even(float v) noexcept {
  const float t = std::trunc(v);
  const float frac = std::fabs(v - t);  // exact: v and t share sign and binade or t is 0
  if (frac > 0.5f || (frac == 0.5f && std::fmod(t, 2.0f) != 0.0f)) return t + std::copysign(1.0f, v);
  return t;
}

/// The attributes of ONNX QuantizeLinear (opset 10 to 25), by name.
struct quantize_linear_attributes {
  std::int64_t axis = 1;        ///< the quantization axis (per-axis and blocked); negative counts from the back
  bool saturate = true;         ///< float 8 outputs only: clamp overflow to +-max (true) or give NaN/inf (false)
  std::int64_t block_size = 0;  ///< > 0 for blocked quantization (opset 21)
  /// The type the division `x / y_scale` is computed in (opset 23 `precision`); by default the type
  /// of `y_scale`, as the operator documentation says. float32, float16 or bfloat16.
  std::optional<data_type> precision = std::nullopt;
};

/// ONNX QuantizeLinear: `y = saturate(round(x / y_scale) + y_zero_point)`, elementwise.
///
/// Formula, per element with its scale s and zero point z (granularity below):
/// - q = round_P(round_P(x) / round_P(s)), P = `precision` (default: y_scale's type); the quotient
///   is computed in float32 and rounded once to P (exact division for float32; for float16 and
///   bfloat16 the single rounding of a float32 quotient equals a correctly rounded P division);
/// - integer y (uint8, int8, uint16, int16, uint4, int4, uint2, int2): `clamp(rint(q) + z, lo, hi)`,
///   rint = round half to even, [lo, hi] the type's range (+-inf saturate);
/// - float 8 y (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz): q converted with round to nearest even and the
///   ONNX `saturate` rules (NaN stays NaN; overflow and +-inf give +-max when `saturate`, else NaN,
///   or +-inf for e5m2); the zero point must be 0 and is not added;
/// - float4e2m1 y: `q + z` (z must be 0; a -0 quotient becomes +0 when z is given, as in ONNX's
///   reference) converted with round to nearest even, saturating at +-6.
/// Shapes: `y.shape == x.shape`; y_scale and y_zero_point: a scalar or one element (per tensor), 1-D
/// of length D[axis] (per axis), or x's shape with ceil(D[axis] / block_size) on the axis (blocked,
/// the last block may be shorter); see `resolve_granularity`. The output type is `y.type` (ONNX:
/// the zero point's type, else `output_dtype`, else uint8); a given zero point must have that type.
/// Types: x and y_scale float32, float16 or bfloat16 (any combination). Layout: see `tensor_view`.
/// Units: y_scale is real units per code step.
///
/// throws lowbit::error: {errc::unsupported} for a type outside those lists (int32 x, float8e8m0
/// scales, float6 outputs); {errc::type_mismatch} for a zero point of another type than y;
/// {errc::shape_mismatch} for data sizes that do not match type and shape, y's shape != x's shape,
/// or scale / zero point shapes that fit no granularity; {errc::out_of_range} for an axis outside
/// [-r, r-1]; {errc::invalid_argument} for a scale that is zero, negative, NaN or inf (after
/// rounding to P), a non-zero float 8 / float 4 zero point, or an element whose quotient is NaN
/// when y has no NaN (integer and float 4 types). On error `y` may be partly written.
/// Allocation: three vectors of one entry per scale. `y` must not overlap x, y_scale, y_zero_point.
/// Source: ONNX operator docs QuantizeLinear-10/13/19/21/23/25 (onnx/defs/quantization/defs.cc),
/// the `Cast` float 8 saturation tables, and the reference implementation
/// onnx/reference/ops/op_quantize_linear.py (onnx 1.23); integer-only inference arXiv:1712.05877.
inline void quantize_linear(const tensor_view& x, const tensor_view& y_scale, std::optional<tensor_view> y_zero_point,
                            const tensor_span& y, const quantize_linear_attributes& attributes = {}) {
  constexpr std::string_view op = "QuantizeLinear";
  const auto where = [] { return std::string("QuantizeLinear: "); };
  check(is_wide_float(x.type), errc::unsupported,
        [&] { return where() + "x of type " + to_string(x.type) + " is not supported (float32, float16, bfloat16)"; });
  check(is_wide_float(y_scale.type), errc::unsupported, [&] {
    return where() + "y_scale of type " + to_string(y_scale.type) + " is not supported (float32, float16, bfloat16)";
  });
  const data_type precision = attributes.precision.value_or(y_scale.type);
  check(is_wide_float(precision), errc::unsupported, [&] {
    return where() + "precision " + to_string(precision) + " is not supported (float32, float16, bfloat16)";
  });
  const data_type out = y.type;
  check((is_integer(out) && out != data_type::int32) || is_float8(out) || out == data_type::float4e2m1,
        errc::unsupported, [&] { return where() + "output type " + to_string(out) + " is not supported"; });
  if (y_zero_point) {
    check(y_zero_point->type == out, errc::type_mismatch, [&] {
      return where() + "y_zero_point has type " + to_string(y_zero_point->type) + " but y has type " + to_string(out);
    });
  }
  check_storage(x, op, "x");
  check_storage(y_scale, op, "y_scale");
  if (y_zero_point) check_storage(*y_zero_point, op, "y_zero_point");
  check_storage(y.view(), op, "y");
  check(y.shape.size() == x.shape.size() && std::equal(y.shape.begin(), y.shape.end(), x.shape.begin()),
        errc::shape_mismatch,
        [&] { return where() + "y has shape " + shape_string(y.shape) + ", x has shape " + shape_string(x.shape); });
  const quant_granularity g = resolve_granularity(
      x.shape, y_scale.shape,
      y_zero_point ? std::optional<std::span<const std::size_t>>(y_zero_point->shape) : std::nullopt, attributes.axis,
      attributes.block_size, op);

  // Scales rounded to the division's precision, and zero points as integers (or as the float 4
  // value added in the reference), validated once.
  std::vector<float> scales(g.params);
  std::vector<std::int64_t> zero_points(g.params, 0);
  std::vector<float> float_zero_points(g.params, 0.0f);
  for (std::size_t p = 0; p < g.params; ++p) {
    scales[p] = round_to(precision, load_wide_float(y_scale.data, y_scale.type, p));
    check(std::isfinite(scales[p]) && scales[p] > 0.0f, errc::invalid_argument, [&] {
      return where() + "y_scale[" + std::to_string(p) + "] = " + std::to_string(scales[p]) + " (in " +
             to_string(precision) + ") must be finite and > 0";
    });
    if (!y_zero_point) continue;
    if (is_integer(out)) {
      zero_points[p] = load_integer(y_zero_point->data, out, p);
    } else {
      const std::uint8_t code = load_code(y_zero_point->data, out, p);
      float value = 0.0f;
      switch (out) {
        case data_type::float8e4m3fn:
          value = fp8_e4m3_to_f32(code);
          break;
        case data_type::float8e5m2:
          value = fp8_e5m2_to_f32(code);
          break;
        case data_type::float8e4m3fnuz:
          value = fp8_e4m3fnuz_to_f32(code);
          break;
        case data_type::float8e5m2fnuz:
          value = fp8_e5m2fnuz_to_f32(code);
          break;
        default:
          value = fp4_e2m1_to_f32(code);
          break;
      }
      check(value == 0.0f, errc::invalid_argument, [&] {
        return where() + "y_zero_point[" + std::to_string(p) + "] of type " + to_string(out) + " must be 0, got code " +
               std::to_string(code);
      });
      float_zero_points[p] = value;
    }
  }
  if (storage_bits(out) < 8) std::fill(y.data.begin(), y.data.end(), std::byte{0});

  const auto for_each = [&](auto&& encode) {
    for (std::size_t o = 0; o < g.outer; ++o) {
      for (std::size_t k = 0; k < g.axis_dim; ++k) {
        for (std::size_t j = 0; j < g.inner; ++j) {
          const std::size_t i = (o * g.axis_dim + k) * g.inner + j;
          const std::size_t p = g.param_index(o, k, j);
          const float xv = round_to(precision, load_wide_float(x.data, x.type, i));
          encode(i, p, round_to(precision, xv / scales[p]));
        }
      }
    }
  };
  const bool saturate = attributes.saturate;
  switch (out) {
    case data_type::float8e4m3fn:
      for_each(
          [&](std::size_t i, std::size_t, float q) { store_code(y.data, out, i, fp8_e4m3_from_f32(q, saturate)); });
      return;
    case data_type::float8e5m2:
      for_each(
          [&](std::size_t i, std::size_t, float q) { store_code(y.data, out, i, fp8_e5m2_from_f32(q, saturate)); });
      return;
    case data_type::float8e4m3fnuz:
      for_each(
          [&](std::size_t i, std::size_t, float q) { store_code(y.data, out, i, fp8_e4m3fnuz_from_f32(q, saturate)); });
      return;
    case data_type::float8e5m2fnuz:
      for_each(
          [&](std::size_t i, std::size_t, float q) { store_code(y.data, out, i, fp8_e5m2fnuz_from_f32(q, saturate)); });
      return;
    case data_type::float4e2m1: {
      const bool add_zero = y_zero_point.has_value();
      for_each([&](std::size_t i, std::size_t p, float q) {
        check(!std::isnan(q), errc::invalid_argument,
              [&] { return where() + "x[" + std::to_string(i) + "] / y_scale is NaN, which float4e2m1 cannot hold"; });
        store_code(y.data, out, i, fp4_e2m1_from_f32(add_zero ? q + float_zero_points[p] : q));
      });
      return;
    }
    default:
      break;
  }
  const integer_range range = range_of(out);
  const auto lo = static_cast<double>(range.lo);
  const auto hi = static_cast<double>(range.hi);
  for_each([&](std::size_t i, std::size_t p, float q) {
    check(!std::isnan(q), errc::invalid_argument, [&] {
      return where() + "x[" + std::to_string(i) + "] / y_scale is NaN, which " + to_string(out) + " cannot hold";
    });
    // rint(q) is an integer-valued float (or +-inf); adding the zero point in double is exact.
    const double v =
        std::clamp(static_cast<double>(round_half_to_even(q)) + static_cast<double>(zero_points[p]), lo, hi);
    store_integer(y.data, out, i, static_cast<std::int64_t>(v));
  });
}

}  // namespace lowbit::onnx

LOWBIT_EXACT_FP_END
