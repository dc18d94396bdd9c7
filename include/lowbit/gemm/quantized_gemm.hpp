// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

namespace lowbit {

/// y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ) for a parametric-format W on the reference backend.
///
/// Each row of W is dequantized exactly as `quantized_matrix::dequantize_row` does (f32) and dotted
/// with the f32 activations in double precision: the result equals the f32 GEMM of the dequantized
/// matrix up to the final rounding. Threads split N. This overload of `gemm` is chosen for every
/// `quantized_matrix<Q>`; formats of `lowbit::format` kind (GGUF, OCP MX, NVFP4) go through the
/// `gemm_kernel` of gemm/reference.hpp instead. (Design: the parametric granularities per_tensor,
/// per_channel and per_block<R, C> share scales across rows or whole rows, which no fixed-size
/// `lowbit::format` block can express, so quantized_matrix keeps its own reference kernel.)
/// Shapes: x (M, K), y (M, N), row-major, strides allowed, no overlap (except an
/// `epilogue::accumulate` y, read and written in place).
/// throws lowbit::error{errc::shape_mismatch} if x.cols != K, y.rows != M or y.cols != N.
/// Allocation: 16 * K floats per thread.
template <backend_policy B, quant_format Q, epilogue::stage E = epilogue::store>
void gemm(matrix_view<const float> x, const quantized_matrix<Q>& w, matrix_view<float> y, threads t = {},
          const E& e = {}, gemm_workspace* = nullptr) {
  static_assert(std::is_same_v<B, backend::reference>,
                "lowbit: quantized_matrix<quant<...>> has a GEMM on backend::reference only; see "
                "docs/formats/parametric.md");
  check(x.cols == w.cols(), errc::shape_mismatch, [&] {
    return "gemm: x has K = " + std::to_string(x.cols) + " columns, W has K = " + std::to_string(w.cols());
  });
  check(y.rows == x.rows, errc::shape_mismatch,
        [&] { return "gemm: y has " + std::to_string(y.rows) + " rows, x has M = " + std::to_string(x.rows); });
  check(y.cols == w.rows(), errc::shape_mismatch,
        [&] { return "gemm: y has " + std::to_string(y.cols) + " columns, W has N = " + std::to_string(w.rows()); });
  constexpr std::size_t tile = 16;
  parallel_for(t, w.rows(), tile, [&](std::size_t n_begin, std::size_t n_end) {
    std::vector<float> w_rows(tile * w.cols());
    float acc[tile];
    for (std::size_t n0 = n_begin; n0 < n_end; n0 += tile) {
      const std::size_t count = std::min(tile, n_end - n0);
      for (std::size_t j = 0; j < count; ++j) w.dequantize_row_unchecked(n0 + j, w_rows.data() + j * w.cols());
      for (std::size_t i = 0; i < x.rows; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
          double sum = 0.0;
          const float* wr = w_rows.data() + j * w.cols();
          for (std::size_t k = 0; k < x.cols; ++k) sum += static_cast<double>(x.row(i)[k]) * wr[k];
          acc[j] = static_cast<float>(sum);
        }
        e(y.row(i), acc, n0, count);
      }
    }
  });
}

/// y(N) = epilogue(W(N, K) · x(K)) for a parametric-format W on the reference backend (M = 1).
template <backend_policy B, quant_format Q, epilogue::stage E = epilogue::store>
void gemv(const float* x, const quantized_matrix<Q>& w, float* y, threads t = {}, const E& e = {},
          gemm_workspace* ws = nullptr) {
  gemm<B>(matrix_view<const float>(x, 1, w.cols()), w, matrix_view<float>(y, 1, w.rows()), t, e, ws);
}

}  // namespace lowbit
