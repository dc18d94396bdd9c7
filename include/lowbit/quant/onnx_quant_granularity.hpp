// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/quant/onnx_tensor.hpp"

namespace lowbit::onnx {

/// How the scale (and zero point) of an ONNX quantization operator spreads over its data tensor.
enum class granularity {
  per_tensor,  ///< one scale: scalar, or a 1-D tensor of one element
  per_axis,    ///< a 1-D scale of length D[axis]
  blocked,     ///< scale shape = data shape except S[axis] = ceil(D[axis] / block_size)
};

/// The resolved granularity: the data tensor seen as (outer, axis_dim, inner) around the axis, and
/// how many consecutive axis positions share one scale.
///
/// Element (o, k, j) of the data, flat index `(o * axis_dim + k) * inner + j`, uses the scale at
/// `param_index(o, k, j)`: 0 per tensor, k per axis, `(o * ceil(axis_dim / block_size) + k /
/// block_size) * inner + j` blocked (the last block may be shorter, as in ONNX).
struct quant_granularity {
  granularity kind = granularity::per_tensor;
  std::size_t outer = 1;       ///< product of the dimensions before the axis
  std::size_t axis_dim = 1;    ///< D[axis]
  std::size_t inner = 1;       ///< product of the dimensions after the axis
  std::size_t block_size = 1;  ///< axis positions per scale (1 per axis; D[axis] per tensor)
  std::size_t params = 1;      ///< number of scales

  /// The scale / zero point index of data element (o, k, j).
  [[nodiscard]] constexpr std::size_t param_index(std::size_t o, std::size_t k, std::size_t j) const noexcept {
    switch (kind) {
      case granularity::per_tensor:
        return 0;
      case granularity::per_axis:
        return k;
      case granularity::blocked:
        break;
    }
    const std::size_t blocks = (axis_dim + block_size - 1) / block_size;
    return (o * blocks + k / block_size) * inner + j;
  }
};

/// Resolves the granularity of `scale_shape` over `data_shape` as ONNX QuantizeLinear /
/// DequantizeLinear (opset 21+) define it, and checks the zero point's shape.
///
/// Rules: `block_size == 0`: a scale with one element and rank <= 1 is per tensor (axis unused);
/// a 1-D scale is per axis and must have D[axis] elements. `block_size > 0`: blocked; the scale has
/// the data's rank, the data's extents except on the axis, and ceil(D[axis] / block_size) there
/// (ONNX's accepted range `[ceil(D/S), ceil(D/(S-1)) - 1]` for block_size). `axis` may be negative
/// (counted from the back) and must lie in [-r, r-1] when it is used. The zero point, when given,
/// has the scale's shape (a scalar and a one-element 1-D tensor count as the same shape, as in
/// ONNX's own test vectors).
///
/// throws lowbit::error{errc::out_of_range} for an axis outside [-r, r-1],
/// {errc::invalid_argument} for a negative block_size, {errc::shape_mismatch} for a scale or zero
/// point shape that fits none of the rules.
/// Source: ONNX operator docs, QuantizeLinear-21/25 and DequantizeLinear-21/25 (onnx/defs/
/// quantization/defs.cc), and onnx/reference/ops/_quant_utils.py `reshape_input`.
inline quant_granularity resolve_granularity(std::span<const std::size_t> data_shape,
                                             std::span<const std::size_t> scale_shape,
                                             std::optional<std::span<const std::size_t>> zero_point_shape,
                                             std::int64_t axis, std::int64_t block_size, std::string_view op) {
  const auto where = [&] { return std::string(op) + ": "; };
  const auto rank = static_cast<std::int64_t>(data_shape.size());
  check(block_size >= 0, errc::invalid_argument,
        [&] { return where() + "block_size " + std::to_string(block_size) + " is negative"; });
  const std::size_t n_scale = element_count(scale_shape);
  if (zero_point_shape) {
    const auto& zs = *zero_point_shape;
    const bool both_single = n_scale == 1 && element_count(zs) == 1 && scale_shape.size() <= 1 && zs.size() <= 1;
    const bool same = zs.size() == scale_shape.size() && std::equal(zs.begin(), zs.end(), scale_shape.begin());
    check(both_single || same, errc::shape_mismatch, [&] {
      return where() + "zero point shape " + shape_string(zs) + " differs from the scale shape " +
             shape_string(scale_shape);
    });
  }
  quant_granularity g;
  g.outer = element_count(data_shape);
  if (block_size == 0 && n_scale == 1 && scale_shape.size() <= 1) {
    g.axis_dim = 1;
    g.inner = 1;
    g.block_size = 1;
    return g;  // per tensor: every element uses scale 0; (outer, 1, 1) walks the data in order
  }
  check(axis >= -rank && axis < rank, errc::out_of_range, [&] {
    return where() + "axis " + std::to_string(axis) + " is outside [" + std::to_string(-rank) + ", " +
           std::to_string(rank - 1) + "] for data of shape " + shape_string(data_shape);
  });
  const auto a = static_cast<std::size_t>(axis < 0 ? axis + rank : axis);
  g.outer = element_count(data_shape.first(a));
  g.axis_dim = data_shape[a];
  g.inner = element_count(data_shape.subspan(a + 1));
  if (block_size == 0) {
    check(scale_shape.size() == 1 && scale_shape[0] == g.axis_dim, errc::shape_mismatch, [&] {
      return where() + "a per-axis scale must be 1-D with " + std::to_string(g.axis_dim) + " elements (axis " +
             std::to_string(a) + " of data shape " + shape_string(data_shape) + "), got shape " +
             shape_string(scale_shape) + " (set block_size for blocked quantization)";
    });
    g.kind = granularity::per_axis;
    g.block_size = 1;
    g.params = g.axis_dim;
    return g;
  }
  const auto b = static_cast<std::size_t>(block_size);
  const std::size_t blocks = (g.axis_dim + b - 1) / b;
  bool fits = scale_shape.size() == data_shape.size();
  for (std::size_t d = 0; fits && d < data_shape.size(); ++d) {
    fits = scale_shape[d] == (d == a ? blocks : data_shape[d]);
  }
  check(fits, errc::shape_mismatch, [&] {
    return where() + "a blocked scale for data shape " + shape_string(data_shape) + ", axis " + std::to_string(a) +
           " and block_size " + std::to_string(b) + " must have the data's shape with ceil(" +
           std::to_string(g.axis_dim) + " / " + std::to_string(b) + ") = " + std::to_string(blocks) +
           " on the axis, got " + shape_string(scale_shape);
  });
  g.kind = granularity::blocked;
  g.block_size = b;
  g.params = n_scale;
  return g;
}

}  // namespace lowbit::onnx
