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

/// The attributes of ONNX DequantizeLinear (opset 10 to 25), by name. The output type
/// (`output_dtype`, default the scale's type) is the type of the `y` argument.
struct dequantize_linear_attributes {
  std::int64_t axis = 1;        ///< the quantization axis (per-axis and blocked); negative counts from the back
  std::int64_t block_size = 0;  ///< > 0 for blocked quantization (opset 21)
};

/// The value of element `i` of a float 8 or float 4 tensor (exact; NaN codes give NaN).
/// Precondition: `is_float8(type) || type == data_type::float4e2m1`.
inline float load_minifloat(std::span<const std::byte> data, data_type type, std::size_t i) noexcept {
  const std::uint8_t code = load_code(data, type, i);
  switch (type) {
    case data_type::float8e4m3fn:
      return fp8_e4m3_to_f32(code);
    case data_type::float8e5m2:
      return fp8_e5m2_to_f32(code);
    case data_type::float8e4m3fnuz:
      return fp8_e4m3fnuz_to_f32(code);
    case data_type::float8e5m2fnuz:
      return fp8_e5m2fnuz_to_f32(code);
    default:
      return fp4_e2m1_to_f32(code);
  }
}

/// ONNX DequantizeLinear: `y = (x - x_zero_point) * x_scale`, elementwise.
///
/// Formula, per element with its scale s and zero point z (granularity as `quantize_linear`):
/// `y = round_Y(float32(x - z) * s)`: the difference and the product are float32 operations (the
/// difference is exact for every type but int32, whose x is first rounded to float32), rounded once
/// more to y's type when y is float16 or bfloat16 (as the reference implementation does: it
/// multiplies in float32 and casts). Float 8 and float 4 x are decoded exactly (NaN codes give NaN;
/// e4m3fnuz / e5m2fnuz 0x80 gives a negative-signed NaN, as ml_dtypes does); their zero point must
/// be 0 and int32's zero point must be 0 (ONNX: "there's no zero point" for int32).
/// Shapes: `y.shape == x.shape`; x_scale and x_zero_point per tensor, per axis or blocked, see
/// `resolve_granularity`. Types: x uint8, int8, uint16, int16, int32, uint4, int4, uint2, int2,
/// float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) or float4e2m1; x_scale and y float32, float16 or
/// bfloat16 (y's type is ONNX's `output_dtype`, whose default is x_scale's type); a given zero point
/// has x's type. Layout: see `tensor_view`. Units: x_scale is real units per code step.
///
/// throws lowbit::error: {errc::unsupported} for other types (float8e8m0 scales, float6 inputs);
/// {errc::type_mismatch} for a zero point of another type than x; {errc::shape_mismatch} for data
/// sizes that do not match type and shape, y's shape != x's shape, or scale / zero point shapes
/// that fit no granularity; {errc::out_of_range} for an axis outside [-r, r-1];
/// {errc::invalid_argument} for a NaN or infinite scale, or a non-zero zero point where it must be 0.
/// Zero and negative scales are accepted (the product is well defined). On error `y` is unwritten.
/// Allocation: two vectors of one entry per scale. `y` must not overlap the inputs.
/// Source: ONNX operator docs DequantizeLinear-10/13/19/21/23/25 (onnx/defs/quantization/defs.cc)
/// and the reference implementation onnx/reference/ops/op_dequantize_linear.py (onnx 1.23).
inline void dequantize_linear(const tensor_view& x, const tensor_view& x_scale, std::optional<tensor_view> x_zero_point,
                              const tensor_span& y, const dequantize_linear_attributes& attributes = {}) {
  constexpr std::string_view op = "DequantizeLinear";
  const auto where = [] { return std::string("DequantizeLinear: "); };
  const bool minifloat_x = is_float8(x.type) || x.type == data_type::float4e2m1;
  check(is_integer(x.type) || minifloat_x, errc::unsupported,
        [&] { return where() + "x of type " + to_string(x.type) + " is not supported"; });
  check(is_wide_float(x_scale.type), errc::unsupported, [&] {
    return where() + "x_scale of type " + to_string(x_scale.type) + " is not supported (float32, float16, bfloat16)";
  });
  check(is_wide_float(y.type), errc::unsupported, [&] {
    return where() + "output type " + to_string(y.type) + " is not supported (float32, float16, bfloat16)";
  });
  if (x_zero_point) {
    check(x_zero_point->type == x.type, errc::type_mismatch, [&] {
      return where() + "x_zero_point has type " + to_string(x_zero_point->type) + " but x has type " +
             to_string(x.type);
    });
  }
  check_storage(x, op, "x");
  check_storage(x_scale, op, "x_scale");
  if (x_zero_point) check_storage(*x_zero_point, op, "x_zero_point");
  check_storage(y.view(), op, "y");
  check(y.shape.size() == x.shape.size() && std::equal(y.shape.begin(), y.shape.end(), x.shape.begin()),
        errc::shape_mismatch,
        [&] { return where() + "y has shape " + shape_string(y.shape) + ", x has shape " + shape_string(x.shape); });
  const quant_granularity g = resolve_granularity(
      x.shape, x_scale.shape,
      x_zero_point ? std::optional<std::span<const std::size_t>>(x_zero_point->shape) : std::nullopt, attributes.axis,
      attributes.block_size, op);

  std::vector<float> scales(g.params);
  std::vector<float> zero_points(g.params, 0.0f);
  for (std::size_t p = 0; p < g.params; ++p) {
    scales[p] = load_wide_float(x_scale.data, x_scale.type, p);
    check(std::isfinite(scales[p]), errc::invalid_argument,
          [&] { return where() + "x_scale[" + std::to_string(p) + "] is not finite"; });
    if (!x_zero_point) continue;
    if (minifloat_x) {
      const float z = load_minifloat(x_zero_point->data, x.type, p);
      check(z == 0.0f, errc::invalid_argument, [&] {
        return where() + "x_zero_point[" + std::to_string(p) + "] of type " + to_string(x.type) + " must be 0";
      });
    } else {
      const std::int64_t z = load_integer(x_zero_point->data, x.type, p);
      check(x.type != data_type::int32 || z == 0, errc::invalid_argument, [&] {
        return where() + "x_zero_point[" + std::to_string(p) + "] of type int32 must be 0, got " + std::to_string(z);
      });
      zero_points[p] = static_cast<float>(z);  // exact: at most 16 bits
    }
  }

  for (std::size_t o = 0; o < g.outer; ++o) {
    for (std::size_t k = 0; k < g.axis_dim; ++k) {
      for (std::size_t j = 0; j < g.inner; ++j) {
        const std::size_t i = (o * g.axis_dim + k) * g.inner + j;
        const std::size_t p = g.param_index(o, k, j);
        const float dx = minifloat_x ? load_minifloat(x.data, x.type, i)
                                     : static_cast<float>(load_integer(x.data, x.type, i)) - zero_points[p];
        store_wide_float(y.data, y.type, i, dx * scales[p]);
      }
    }
  }
}

}  // namespace lowbit::onnx

LOWBIT_EXACT_FP_END
