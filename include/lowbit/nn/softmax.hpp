// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/simd.hpp"

namespace lowbit::nn {

namespace detail {

/// y = softmax(x) over one row of n elements (y may equal x); f32 throughout.
inline void softmax_row(float* y, const float* x, std::size_t n) noexcept {
  if (n == 0) return;
  const float m = max_element(x, n);
  const float sum = exp_shifted_sum(y, x, m, n);
  scale(y, 1.0f / sum, y, n);
}

inline void check_softmax_args(std::span<const float> x, std::span<float> y, std::size_t rows, std::size_t cols) {
  check_extent("softmax", "x", x.size(), rows * cols, "rows * cols");
  check_extent("softmax", "y", y.size(), rows * cols, "rows * cols");
}

}  // namespace detail

/// Softmax over the last axis, with the row maximum subtracted for range.
///
/// `y[r, j] = exp(x[r, j] - m_r) / sum_k exp(x[r, k] - m_r)`, `m_r = max_k x[r, k]`.
///
/// Shapes (row-major, contiguous): `x: (rows, cols)`, `y: (rows, cols)`. Units: x are logits
/// (dimensionless); each y row sums to 1 (within f32 rounding). Computed in f32: exp by
/// `xsimd::exp`, the sum in f32 lanes, then one multiply by `1 / sum`. Entries of -infinity
/// (masked) give exactly 0. A row whose entries are all -infinity gives NaN, as the formula does.
///
/// throws lowbit::error{errc::shape_mismatch} if x or y does not hold rows * cols elements;
/// errc::invalid_argument if t.count < 1.
///
/// No allocation. `y` may be `x` (in place); any other overlap is undefined.
///
/// Source: the softmax of Bridle (1990); max subtraction as in ggml-cpu ops.cpp
/// (ggml_compute_forward_soft_max_f32).
inline void softmax(std::span<const float> x, std::span<float> y, std::size_t rows, std::size_t cols, threads t = {}) {
  detail::check_softmax_args(x, y, rows, cols);
  if (cols == 0) return;
  const std::size_t grain = std::max<std::size_t>(1, 16384 / cols);
  parallel_for(t, rows, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) detail::softmax_row(y.data() + r * cols, x.data() + r * cols, cols);
  });
}

namespace reference {

/// Scalar twin of `lowbit::nn::softmax`: `std::exp` per element, the sum accumulated in double
/// (as ggml's ggml_vec_soft_max_f32 does), then `y = e * float(1 / sum)`.
///
/// Same shapes, errors and aliasing rules as `lowbit::nn::softmax`; single-threaded.
inline void softmax(std::span<const float> x, std::span<float> y, std::size_t rows, std::size_t cols) {
  detail::check_softmax_args(x, y, rows, cols);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    float* yr = y.data() + r * cols;
    float m = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < cols; ++j) m = std::max(m, xr[j]);
    double sum = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
      yr[j] = std::exp(xr[j] - m);
      sum += static_cast<double>(yr[j]);
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (std::size_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

}  // namespace reference

}  // namespace lowbit::nn
