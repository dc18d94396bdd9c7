// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <vector>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Reference GEMM for every format: each row of W is decoded exactly to f32 and dotted with the
/// unquantized f32 activations in double precision. Threads split N. The oracle of every test.
template <format F>
struct gemm_kernel<F, backend::reference> {
  using weight_type = weight_view<F>;

  static weight_type prepare(weight_view<F> w, threads) { return w; }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace&) {
    constexpr std::size_t tile = 16;
    parallel_for(t, w.rows, tile, [&](std::size_t n_begin, std::size_t n_end) {
      std::vector<float> w_rows(tile * w.cols);
      float acc[tile];
      for (std::size_t n0 = n_begin; n0 < n_end; n0 += tile) {
        const std::size_t count = std::min(tile, n_end - n0);
        for (std::size_t j = 0; j < count; ++j) {
          for (std::size_t b = 0; b < w.blocks_per_row(); ++b) {
            F::dequantize_block(w.row(n0 + j)[b], w_rows.data() + j * w.cols + b * F::block_size);
          }
        }
        for (std::size_t i = 0; i < x.rows; ++i) {
          for (std::size_t j = 0; j < count; ++j) {
            double sum = 0.0;
            const float* wr = w_rows.data() + j * w.cols;
            for (std::size_t k = 0; k < x.cols; ++k) sum += static_cast<double>(x.row(i)[k]) * wr[k];
            acc[j] = static_cast<float>(sum);
          }
          e(y.row(i), acc, n0, count);
        }
      }
    });
  }
};

}  // namespace lowbit
