// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>

#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// y(i, n0..n0+4) = x(i,:) · W(n0..n0+4,:) with xsimd batches over K and a scalar tail.
template <class Arch, int NR>
inline void f32_dot_rows(const float* x, const f32::block* const* w_rows, std::size_t k, float* out) noexcept {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  batch acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = batch(0.0f);
  std::size_t j = 0;
  for (; j + lanes <= k; j += lanes) {
    const batch xv = batch::load_unaligned(x + j);
    for (int r = 0; r < NR; ++r) {
      acc[r] = xsimd::fma(xv, batch::load_unaligned(reinterpret_cast<const float*>(w_rows[r]) + j), acc[r]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    float sum = reduce_add(acc[r]);
    const float* wr = reinterpret_cast<const float*>(w_rows[r]);
    for (std::size_t t = j; t < k; ++t) sum += x[t] * wr[t];
    out[r] = sum;
  }
}

}  // namespace simd_detail

/// F32 GEMM on the SIMD backend: W(N, K) in its file layout, xsimd FMA over K, rows of W in tiles
/// of 4 sharing each load of x, threads split N, fused epilogue.
template <class Arch>
struct gemm_kernel<f32, backend::simd<Arch>> {
  using weight_type = weight_view<f32>;

  static weight_type prepare(weight_view<f32> w, threads) { return w; }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace&) {
    constexpr std::size_t tile = 4;
    parallel_for(t, w.rows, tile, [&](std::size_t n_begin, std::size_t n_end) {
      float acc[tile];
      for (std::size_t i = 0; i < x.rows; ++i) {
        for (std::size_t n0 = n_begin; n0 < n_end; n0 += tile) {
          const std::size_t count = std::min(tile, n_end - n0);
          if (count == tile) {
            const f32::block* rows[tile] = {w.row(n0), w.row(n0 + 1), w.row(n0 + 2), w.row(n0 + 3)};
            simd_detail::f32_dot_rows<Arch, 4>(x.row(i), rows, x.cols, acc);
          } else {
            for (std::size_t r = 0; r < count; ++r) {
              const f32::block* row[1] = {w.row(n0 + r)};
              simd_detail::f32_dot_rows<Arch, 1>(x.row(i), row, x.cols, acc + r);
            }
          }
          e(y.row(i), acc, n0, count);
        }
      }
    });
  }
};

}  // namespace lowbit
