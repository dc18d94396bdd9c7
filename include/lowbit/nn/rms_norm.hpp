// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/simd.hpp"

namespace lowbit::nn {

namespace detail {

inline void check_rms_norm_args(std::span<const float> x, std::span<const float> weight, std::span<float> y,
                                std::size_t rows, std::size_t dim, float eps) {
  check_extent("rms_norm", "x", x.size(), rows * dim, "rows * dim");
  check_extent("rms_norm", "weight", weight.size(), dim, "dim");
  check_extent("rms_norm", "y", y.size(), rows * dim, "rows * dim");
  check(eps >= 0.0f, errc::invalid_argument, "rms_norm: eps must be >= 0 and not NaN");
}

}  // namespace detail

/// Root-mean-square layer normalisation with a learned gain, row by row.
///
/// `y[r, j] = x[r, j] * s_r * weight[j]`, with `s_r = 1 / sqrt(mean_j(x[r, j]^2) + eps)`.
///
/// Shapes (row-major, contiguous): `x: (rows, dim)`, `weight: (dim)`, `y: (rows, dim)`.
/// Units: `y` has the units of `weight`; `eps` has the units of x^2 (1e-5 for SmolLM2).
/// ggml's arithmetic, so that results are bit-identical to llama.cpp's CPU backend: the f32 squares
/// are summed in double, in index order; `s_r = 1.0f / sqrtf(float(sum / dim) + eps)` and
/// `y = (x * s_r) * weight`, both products rounded to f32.
///
/// throws lowbit::error{errc::shape_mismatch} if x or y does not hold rows * dim elements or
/// weight does not hold dim; errc::invalid_argument if eps < 0 or NaN or t.count < 1.
///
/// No allocation. `y` may be `x` (in place); any other overlap is undefined. Rows are split over
/// `t` threads when there are enough of them.
///
/// Source: Zhang & Sennrich, "Root Mean Square Layer Normalization", arXiv:1910.07467; as
/// llama.cpp runs it (ggml-cpu ops.cpp, ggml_compute_forward_rms_norm_f32, followed by the mul).
inline void rms_norm(std::span<const float> x, std::span<const float> weight, std::span<float> y, std::size_t rows,
                     std::size_t dim, float eps, threads t = {}) {
  detail::check_rms_norm_args(x, weight, y, rows, dim, eps);
  if (dim == 0) return;
  const std::size_t grain = std::max<std::size_t>(1, 16384 / dim);
  parallel_for(t, rows, grain, [&](std::size_t begin, std::size_t end) {
    constexpr std::size_t w = detail::batch_width;
    for (std::size_t r = begin; r < end; ++r) {
      const float* xr = x.data() + r * dim;
      float* yr = y.data() + r * dim;
      double sum = 0.0;  // in order: a bit-exact match of ggml's loop (the row's cost is the weight GEMM's, not this)
      for (std::size_t j = 0; j < dim; ++j) sum += static_cast<double>(xr[j] * xr[j]);
      const float mean = static_cast<float>(sum / static_cast<double>(dim));
      const float s = 1.0f / std::sqrt(mean + eps);
      const detail::batch_f32 sb(s);
      std::size_t j = 0;
      for (; j + w <= dim; j += w) {
        const auto v =
            detail::batch_f32::load_unaligned(xr + j) * sb * detail::batch_f32::load_unaligned(weight.data() + j);
        v.store_unaligned(yr + j);
      }
      for (; j < dim; ++j) yr[j] = xr[j] * s * weight[j];
    }
  });
}

namespace reference {

/// Scalar twin of `lowbit::nn::rms_norm` (the same recipe written without SIMD): the sum of the f32
/// squares is accumulated in double, `s = 1.0f / sqrtf(float(sum / dim) + eps)`, `y = (x * s) * weight`.
///
/// Same shapes, errors and aliasing rules as `lowbit::nn::rms_norm`; single-threaded.
inline void rms_norm(std::span<const float> x, std::span<const float> weight, std::span<float> y, std::size_t rows,
                     std::size_t dim, float eps) {
  detail::check_rms_norm_args(x, weight, y, rows, dim, eps);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * dim;
    float* yr = y.data() + r * dim;
    double sum = 0.0;
    for (std::size_t j = 0; j < dim; ++j) sum += static_cast<double>(xr[j] * xr[j]);
    const float mean = static_cast<float>(sum / static_cast<double>(dim));
    const float s = 1.0f / std::sqrt(mean + eps);
    for (std::size_t j = 0; j < dim; ++j) yr[j] = xr[j] * s * weight[j];
  }
}

}  // namespace reference

}  // namespace lowbit::nn
