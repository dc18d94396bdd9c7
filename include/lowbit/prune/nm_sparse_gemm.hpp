// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace lowbit::prune {

namespace detail {
template <class Values, class Layout>
void check_nm_gemm_shapes(std::size_t x_rows, std::size_t x_cols, const nm_sparse_matrix<Values, Layout>& w,
                          matrix_view<float> y, const char* what) {
  check(x_cols == w.cols() && y.rows == x_rows && y.cols == w.rows(), errc::shape_mismatch, [&] {
    return std::string(what) + ": x is " + std::to_string(x_rows) + " x " + std::to_string(x_cols) + ", W is " +
           std::to_string(w.rows()) + " x " + std::to_string(w.cols()) + " (N x K), y is " + std::to_string(y.rows) +
           " x " + std::to_string(y.cols) + "; need x (M, K), y (M, N)";
  });
}

/// Row r's dense columns of its kept values, (K * N / M).
template <class Values, class Layout>
void kept_columns(const nm_sparse_matrix<Values, Layout>& w, std::size_t r, std::vector<std::uint32_t>& cols) {
  cols.resize(w.kept_cols());
  for (std::size_t j = 0; j < w.kept_cols(); ++j) cols[j] = static_cast<std::uint32_t>(w.column(r, j));
}

/// Weight scale of row r for the activation block b of 32 dense columns (integer value formats).
template <class Values, class Layout>
float nm_block_scale(const nm_sparse_matrix<Values, Layout>& w, std::size_t r, std::size_t b) noexcept {
  if constexpr (std::is_same_v<Values, nm_q8_0>) {
    return fp16_to_f32(w.scales(r)[b]);
  } else {
    return w.scales(r)[0];
  }
}
}  // namespace detail

/// Reference sparse x dense GEMM: `y(m, n) = sum over the kept j of row n of x(m, k_j) * w(n, k_j)`,
/// that is y = x · unpack(W)ᵀ skipping the pruned weights.
///
/// x: (M, K) f32 row-major (strides allowed); W: (N, K) in the N:M sparse layout; y: (M, N) f32.
/// Each product is taken in double and summed in double in increasing k, then rounded to f32 once, so
/// y equals the dense reference GEMM (gemm/reference.hpp) on `W.unpack()` bit for bit.
/// Threads split N. throws lowbit::error{errc::shape_mismatch} unless x is (M, K) and y is (M, N).
/// Allocation: K * N / M column indices per thread. y must not alias x.
template <class Values, class Layout>
void gemm_nm_reference(matrix_view<const float> x, const nm_sparse_matrix<Values, Layout>& w, matrix_view<float> y,
                       threads t = {}) {
  detail::check_nm_gemm_shapes(x.rows, x.cols, w, y, "prune::gemm_nm_reference");
  parallel_for(t, w.rows(), 8, [&](std::size_t n_begin, std::size_t n_end) {
    std::vector<std::uint32_t> cols;
    std::vector<double> vals(w.kept_cols());
    for (std::size_t n = n_begin; n < n_end; ++n) {
      detail::kept_columns(w, n, cols);
      for (std::size_t j = 0; j < w.kept_cols(); ++j)
        vals[j] = static_cast<double>(Values::dequantize(w.codes(n)[j], w.scales(n), cols[j]));
      for (std::size_t i = 0; i < x.rows; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < w.kept_cols(); ++j) sum += static_cast<double>(x.row(i)[cols[j]]) * vals[j];
        y.row(i)[n] = static_cast<float>(sum);
      }
    }
  });
}

/// Reference of the integer path of the sparse kernels, for int8 value formats (`nm_int8_per_channel`,
/// `nm_q8_0`) and activations already quantized to Q8 blocks of 32 (`activation_q8`):
/// `y(m, n) = sum_b dw(n, b) * dx(m, b) * isum(m, n, b)`, `isum(m, n, b) = sum over the kept j of row
/// n in columns [32b, 32b + 32) of q_w(n, j) * q_x(m, k_j)` (an exact int32), dw the row's scale
/// (per channel) or the block's fp16 scale (Q8_0), dx the activation block's scale. Summed in double,
/// rounded to f32 once. isum equals the dense integer dot of the masked codes over the same block.
/// Shapes: xq (M, K), K % 32 == 0; W (N, K); y (M, N). Threads split N.
/// throws lowbit::error{errc::shape_mismatch} for disagreeing shapes.
template <class Values, class Layout>
requires(std::is_same_v<typename Values::code_type, std::int8_t>) void gemm_nm_q8_reference(
    const activation_q8& xq, const nm_sparse_matrix<Values, Layout>& w, matrix_view<float> y, threads t = {}) {
  detail::check_nm_gemm_shapes(xq.rows, xq.cols, w, y, "prune::gemm_nm_q8_reference");
  const std::size_t nb = xq.cols / activation_q8::block_size;
  parallel_for(t, w.rows(), 8, [&](std::size_t n_begin, std::size_t n_end) {
    std::vector<std::uint32_t> cols;
    std::vector<std::int32_t> isum(nb);
    for (std::size_t n = n_begin; n < n_end; ++n) {
      detail::kept_columns(w, n, cols);
      for (std::size_t i = 0; i < xq.rows; ++i) {
        for (auto& s : isum) s = 0;
        for (std::size_t j = 0; j < w.kept_cols(); ++j)
          isum[cols[j] / 32] += static_cast<std::int32_t>(w.codes(n)[j]) * xq.row_qs(i)[cols[j]];
        double sum = 0.0;
        for (std::size_t b = 0; b < nb; ++b)
          sum += static_cast<double>(detail::nm_block_scale(w, n, b)) * xq.row_d(i)[b] * isum[b];
        y.row(i)[n] = static_cast<float>(sum);
      }
    }
  });
}

namespace detail {
/// Runs `product(out)` (a sparse kernel writing y = x · Wᵀ) and then the epilogue: straight into y
/// for `epilogue::store`, otherwise into an (M, N) scratch (the workspace's, so a warm workspace
/// allocates nothing) whose rows the epilogue stores into y.
template <epilogue::stage E, class Product>
void run_with_epilogue(matrix_view<float> y, const E& e, gemm_workspace* ws, Product&& product) {
  if constexpr (std::is_same_v<E, epilogue::store>) {
    product(y);
  } else {
    std::vector<float> local;
    std::vector<float>& buffer = ws != nullptr ? ws->scratch : local;
    if (buffer.size() < y.rows * y.cols) buffer.resize(y.rows * y.cols);
    const matrix_view<float> acc(buffer.data(), y.rows, y.cols);
    product(acc);
    for (std::size_t i = 0; i < y.rows; ++i) e(y.row(i), acc.row(i), 0, y.cols);
  }
}
}  // namespace detail

/// `gemm<backend::reference>` on an N:M sparse weight: y(M, N) = epilogue(x(M, K) · Wᵀ), the product
/// by `gemm_nm_reference` (bit-identical to the dense reference GEMM on `w.unpack()`), then the
/// epilogue (bias, residual) per row. So a `graph::linear` layer takes an `nm_sparse_matrix` as its
/// weight. Shapes and errors as `gemm_nm_reference`. Allocation: an (M, N) scratch for epilogues
/// other than store (none once `ws` has grown).
template <backend_policy B, class Values, class Layout, epilogue::stage E = epilogue::store>
requires std::is_same_v<B, backend::reference>
void gemm(matrix_view<const float> x, const nm_sparse_matrix<Values, Layout>& w, matrix_view<float> y, threads t = {},
          const E& e = {}, gemm_workspace* ws = nullptr) {
  detail::run_with_epilogue(y, e, ws, [&](matrix_view<float> out) { gemm_nm_reference(x, w, out, t); });
}

}  // namespace lowbit::prune
