// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"

// The per-element weights of ggml's importance-weighted quantizers for the 32-element formats
// (Q4_0, Q4_1, Q5_0, Q5_1); the scale searches they feed are those of k_quant_search.hpp
// (symmetric_scale_search = ggml `make_qx_quants`, affine_scale_search = `make_qkx3_quants`).
// Source: `quantize_row_q4_0_impl` .. `quantize_row_q5_1_impl` in ggml/src/ggml-quants.c
// (llama.cpp vendored by llama-cpp-python 0.3.36).

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail::imatrix_fit {

/// The row statistic of ggml's legacy imatrix quantizers: `sigma2 = sum(x[j]^2) / n`, summed in
/// element order in f32.
inline float row_sigma2(const float* x, std::size_t n) noexcept {
  float sum_x2 = 0.0f;
  for (std::size_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

/// Per-element weights of one 32-element block: `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`.
inline void block_weights(const float* x, const float* importance, float sigma2, float* w) noexcept {
  for (std::size_t j = 0; j < 32; ++j) w[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

}  // namespace lowbit::ggml::detail::imatrix_fit

LOWBIT_EXACT_FP_END
