// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <concepts>
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

namespace detail {

/// The reference GEMM of a quantized_matrix (see `gemm` below); shapes already checked.
template <quant_format Q, epilogue::stage E>
void reference_quantized_gemm(matrix_view<const float> x, const quantized_matrix<Q>& w, matrix_view<float> y, threads t,
                              const E& e) {
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

template <class W>
concept prepared_quantized = quant_format<typename W::quant_type> && requires(const W& w) {
  { w.rows() } -> std::convertible_to<std::size_t>;
  { w.cols() } -> std::convertible_to<std::size_t>;
};

}  // namespace detail

/// The GEMM kernel of a parametric format `Q = quant<...>` (stored as `quantized_matrix<Q>`) on
/// backend `B`, the twin of `gemm_kernel` (gemm/kernel.hpp) for parametric formats. A
/// specialization provides
/// - `weight_type`: the weights in the layout the kernel reads, with `rows()`, `cols()` and
///   `quant_type`;
/// - `static weight_type prepare(const quantized_matrix<Q>&, threads)` (once, at load);
/// - `static void run(matrix_view<const float> x, const weight_type&, matrix_view<float> y,
///   threads, const Epilogue&, gemm_workspace&)` for y = epilogue(x · Wᵀ), shapes already checked.
/// backend::reference and backend::simd serve every Q (backend/simd/gemm_parametric.hpp: four
/// specialised kernels, and gemm_parametric_generic.hpp for all others, AVX2 or AVX-512). Other
/// backends fail to compile with the message below.
template <quant_format Q, backend_policy B>
struct quantized_gemm_kernel {
  static_assert(dependent_false<Q, B>,
                "lowbit: no quantized_gemm_kernel for this <quant<...>, backend>: quantized_matrix<quant<...>> "
                "has a GEMM on backend::reference and backend::simd (include backend/simd/gemm_parametric.hpp) "
                "only; see docs/formats/parametric.md and docs/support-matrix.md");
};

/// The reference kernel: reads quantized_matrix<Q> itself (prepare copies it).
///
/// Each row of W is dequantized exactly as `quantized_matrix::dequantize_row` does (f32) and dotted
/// with the f32 activations in double precision: the result equals the f32 GEMM of the dequantized
/// matrix up to the final rounding. Threads split N. (Design: the parametric granularities
/// per_tensor, per_channel and per_block<R, C> share scales across rows or whole rows, which no
/// fixed-size `lowbit::format` block can express, so quantized_matrix keeps its own kernels.)
/// Allocation: 16 * K floats per thread.
template <quant_format Q>
struct quantized_gemm_kernel<Q, backend::reference> {
  using weight_type = quantized_matrix<Q>;
  static weight_type prepare(const quantized_matrix<Q>& w, threads) { return w; }
  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace&) {
    detail::reference_quantized_gemm(x, w, y, t, e);
  }
};

/// The weights of parametric format Q in the layout backend B's kernel reads.
template <backend_policy B, quant_format Q>
using prepared_quantized_t = typename quantized_gemm_kernel<Q, B>::weight_type;

/// Converts a quantized_matrix<Q> into backend B's layout, once (at load): a copy for the
/// reference backend, packed panels for backend::simd (backend/simd/gemm_parametric.hpp).
template <backend_policy B, quant_format Q>
prepared_quantized_t<B, Q> prepare_weight(const quantized_matrix<Q>& w, threads t = {}) {
  return quantized_gemm_kernel<Q, B>::prepare(w, t);
}

/// y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ) for a parametric-format W on backend B.
///
/// `w` is a `quantized_matrix<Q>` (backend::reference) or what `prepare_weight<B>(quantized_matrix)`
/// returned (any backend with a `quantized_gemm_kernel<Q, B>`); passing another layout than the
/// kernel's `weight_type` fails to compile. Shapes: x (M, K), y (M, N), row-major, strides allowed,
/// no overlap (except an `epilogue::accumulate` y, read and written in place).
/// throws lowbit::error{errc::shape_mismatch} if x.cols != K, y.rows != M or y.cols != N; the
/// kernels may throw more (errc::invalid_argument for NaN/Inf activations where they quantize x).
/// Allocation: the reference kernel 16 * K floats per thread; others none once `ws` has grown.
template <backend_policy B, class W, epilogue::stage E = epilogue::store>
requires detail::prepared_quantized<W>
void gemm(matrix_view<const float> x, const W& w, matrix_view<float> y, threads t = {}, const E& e = {},
          gemm_workspace* ws = nullptr) {
  using kernel = quantized_gemm_kernel<typename W::quant_type, B>;
  static_assert(std::is_same_v<W, typename kernel::weight_type>,
                "lowbit: this backend's parametric GEMM reads other weights: pass prepare_weight<B>(quantized_matrix)");
  check(x.cols == w.cols(), errc::shape_mismatch, [&] {
    return "gemm: x has K = " + std::to_string(x.cols) + " columns, W has K = " + std::to_string(w.cols());
  });
  check(y.rows == x.rows, errc::shape_mismatch,
        [&] { return "gemm: y has " + std::to_string(y.rows) + " rows, x has M = " + std::to_string(x.rows); });
  check(y.cols == w.rows(), errc::shape_mismatch,
        [&] { return "gemm: y has " + std::to_string(y.cols) + " columns, W has N = " + std::to_string(w.rows()); });
  if (ws == nullptr) {
    gemm_workspace local;
    kernel::run(x, w, y, t, e, local);
  } else {
    kernel::run(x, w, y, t, e, *ws);
  }
}

/// y(N) = epilogue(W(N, K) · x(K)) for a parametric-format W on backend B (M = 1); see gemm.
template <backend_policy B, class W, epilogue::stage E = epilogue::store>
requires detail::prepared_quantized<W>
void gemv(const float* x, const W& w, float* y, threads t = {}, const E& e = {}, gemm_workspace* ws = nullptr) {
  gemm<B>(matrix_view<const float>(x, 1, w.cols()), w, matrix_view<float>(y, 1, w.rows()), t, e, ws);
}

}  // namespace lowbit
