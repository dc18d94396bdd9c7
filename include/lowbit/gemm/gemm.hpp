// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <string>
#include <type_traits>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// The weights of format F in the layout backend B's kernel reads.
template <backend_policy B, format F>
using prepared_weight_t = typename gemm_kernel<F, B>::weight_type;

/// Converts W(N, K) from its file layout into backend B's layout, once (at load). For the
/// reference backend this is the view itself; SIMD backends repack into panels (an owning copy).
template <backend_policy B, format F>
prepared_weight_t<B, F> prepare_weight(weight_view<F> w, threads t = {}) {
  return gemm_kernel<F, B>::prepare(w, t);
}

/// Prepares an owning block matrix (`quantize<F>`'s result) for backend B: the same as its view.
template <backend_policy B, format F>
prepared_weight_t<B, F> prepare_weight(const block_matrix<F>& w, threads t = {}) {
  return gemm_kernel<F, B>::prepare(w.view(), t);
}

/// y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ) on backend B.
///
/// `w` is what `prepare_weight<B>` returned; `x` and `y` are row-major f32 (strides allowed) and
/// must not overlap, except that an `epilogue::accumulate` y is read and written in place.
/// Formats with integer dot products quantize x per row on the fly (activation_q8), as llama.cpp does.
/// throws lowbit::error{errc::shape_mismatch} naming both extents if x.cols != K, y.rows != M or
/// y.cols != N; {errc::invalid_argument} if x holds NaN/Inf where the kernel quantizes it.
/// Allocation: none once `ws` has grown to the largest shape used.
template <backend_policy B, class W, epilogue::stage E = epilogue::store>
void gemm(matrix_view<const float> x, const W& w, matrix_view<float> y, threads t = {}, const E& e = {},
          gemm_workspace* ws = nullptr) {
  using kernel = gemm_kernel<typename W::format_type, B>;
  constexpr bool prepared_for_b = std::is_convertible_v<const W&, const typename kernel::weight_type&>;
  static_assert(prepared_for_b,
                "lowbit: gemm<B>: these weights were prepared for another backend (or not prepared): pass what "
                "prepare_weight<B>(...) returned for the same backend B as gemm<B>");
  if constexpr (prepared_for_b) {
    check(x.cols == w.cols, errc::shape_mismatch, [&] {
      return "gemm: x has K = " + std::to_string(x.cols) + " columns, W has K = " + std::to_string(w.cols);
    });
    check(y.rows == x.rows, errc::shape_mismatch,
          [&] { return "gemm: y has " + std::to_string(y.rows) + " rows, x has M = " + std::to_string(x.rows); });
    check(y.cols == w.rows, errc::shape_mismatch,
          [&] { return "gemm: y has " + std::to_string(y.cols) + " columns, W has N = " + std::to_string(w.rows); });
    if (ws == nullptr) {
      gemm_workspace local;
      kernel::run(x, w, y, t, e, local);
    } else {
      kernel::run(x, w, y, t, e, *ws);
    }
  }
}

/// y(N) = epilogue(W(N, K) · x(K)): gemm with M = 1 (decode).
template <backend_policy B, class W, epilogue::stage E = epilogue::store>
void gemv(const float* x, const W& w, float* y, threads t = {}, const E& e = {}, gemm_workspace* ws = nullptr) {
  gemm<B>(matrix_view<const float>(x, 1, w.cols), w, matrix_view<float>(y, 1, w.rows), t, e, ws);
}

}  // namespace lowbit
