// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"
#include "lowbit/quant/onnx_quantize_linear.hpp"
#include "lowbit/quant/onnx_tensor.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::onnx {

/// The scale and zero point DynamicQuantizeLinear chose (its outputs `y_scale` and `y_zero_point`).
struct dynamic_quantize_linear_result {
  float y_scale;              ///< real units per code step
  std::uint8_t y_zero_point;  ///< the uint8 code of real 0
};

/// ONNX DynamicQuantizeLinear: uint8 quantization of `x` with a scale and zero point computed
/// from its range, which is widened to include 0.
///
/// Formula (all float32, as the operator's reference implementation computes it):
/// `hi = max(0, max(x))`, `lo = min(0, min(x))`;
/// `y_scale = (hi == lo ? 1 : hi - lo) / 255`;
/// `y_zero_point = rint(clamp(0 - lo / y_scale, 0, 255))`;
/// `y = clamp(rint(x / y_scale) + y_zero_point, 0, 255)` (= `quantize_linear` with that scale and
/// zero point); rint rounds half to even. An empty x gives y_scale = 1/255, y_zero_point = 0.
/// Shapes: x and y hold element_count(shape) elements, row-major (the shape only checks sizes: the
/// operator is per tensor). Units: y_scale is real units per code step.
///
/// throws lowbit::error{errc::shape_mismatch} if x.size() or y.size() differs from
/// element_count(shape); {errc::invalid_argument} if an element of x is NaN or infinite, or the
/// range hi - lo overflows float32. Allocation: two one-element vectors (inside `quantize_linear`).
/// `y` must not overlap `x`.
/// Source: ONNX operator docs DynamicQuantizeLinear-11 (onnx/defs/quantization/defs.cc) and
/// onnx/reference/ops/op_dynamic_quantize_linear.py (onnx 1.23).
inline dynamic_quantize_linear_result dynamic_quantize_linear(std::span<const float> x,
                                                              std::span<const std::size_t> shape,
                                                              std::span<std::uint8_t> y) {
  const auto where = [] { return std::string("DynamicQuantizeLinear: "); };
  const std::size_t n = element_count(shape);
  check(x.size() == n && y.size() == n, errc::shape_mismatch, [&] {
    return where() + "shape " + shape_string(shape) + " has " + std::to_string(n) + " elements, x has " +
           std::to_string(x.size()) + ", y has " + std::to_string(y.size());
  });
  float hi = 0.0f;
  float lo = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    check(std::isfinite(x[i]), errc::invalid_argument,
          [&] { return where() + "x[" + std::to_string(i) + "] is not finite"; });
    hi = std::max(hi, x[i]);
    lo = std::min(lo, x[i]);
  }
  const float range = hi == lo ? 1.0f : hi - lo;
  check(std::isfinite(range), errc::invalid_argument, [&] {
    return where() + "the range of x, " + std::to_string(lo) + " to " + std::to_string(hi) + ", overflows";
  });
  const float scale = range / 255.0f;
  const float initial_zero_point = 0.0f - lo / scale;
  const auto zero_point = static_cast<std::uint8_t>(round_half_to_even(std::clamp(initial_zero_point, 0.0f, 255.0f)));

  const std::span<const std::size_t> scalar{};  // shape () of the scale and the zero point
  quantize_linear(make_tensor_view(x, shape), make_tensor_view(std::span<const float>(&scale, 1), scalar),
                  make_tensor_view(std::span<const std::uint8_t>(&zero_point, 1), scalar), make_tensor_span(y, shape));
  return {scale, zero_point};
}

}  // namespace lowbit::onnx

LOWBIT_EXACT_FP_END
