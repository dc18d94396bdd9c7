// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/quant/dequantize.hpp"
#include "lowbit/quant/quantize.hpp"
#include "lowbit/quant/quantized_matrix.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// An owning W(N, K) in a block format F (a GGUF type, F32/F16/BF16, OCP MX): the file layout,
/// N rows of K / F::block_size blocks, rows one after another, exactly what a GGUF tensor holds.
/// The owning twin of `weight_view<F>`, as `quantized_matrix<Q>` is for the parametric formats, so
/// that both families go the same way: `quantize<F>(w)` -> matrix -> `view()` / `dequantize` /
/// `dequantize_row` -> `prepare_weight<B>` -> `gemm<B>` (or `graph::linear<B>`).
/// Source: the format's block definition (docs/formats.md).
template <format F>
class block_matrix {
 public:
  using format_type = F;

  /// An all-zero-bytes matrix of shape (rows, cols).
  /// throws lowbit::error{errc::shape_mismatch} if rows or cols is 0 or cols is not a multiple of
  /// F::block_size.
  block_matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {
    check(rows > 0 && cols > 0 && cols % F::block_size == 0, errc::shape_mismatch, [&] {
      return std::string(F::name) + " matrix: shape " + std::to_string(rows) + " x " + std::to_string(cols) +
             " is empty or K is not a multiple of the block size " + std::to_string(F::block_size);
    });
    blocks_.resize(rows * (cols / F::block_size));
  }

  std::size_t rows() const noexcept { return rows_; }  ///< N
  std::size_t cols() const noexcept { return cols_; }  ///< K
  /// The blocks, N * K / block_size of them, row-major.
  std::span<typename F::block> blocks() noexcept { return blocks_; }
  std::span<const typename F::block> blocks() const noexcept { return blocks_; }
  /// The bytes as a GGUF tensor stores them (N * K / block_size * block_bytes).
  std::span<const std::byte> bytes() const noexcept { return std::as_bytes(std::span(blocks_)); }
  /// A non-owning view (valid while this matrix lives and is not resized).
  weight_view<F> view() const noexcept { return {blocks_.data(), rows_, cols_}; }

 private:
  std::size_t rows_, cols_;
  std::vector<typename F::block> blocks_;
};

/// Quantizes W(N, K) (row-major f32, strides allowed) into the block format F, row by row, as
/// ggml's `ggml_quantize_chunk` does (`quantize_rows<F>`: byte for byte what llama-quantize writes;
/// with `importance`, K weights per column, the importance-weighted encoder).
/// throws lowbit::error{errc::shape_mismatch} for an empty shape or K not a multiple of the block
/// size; {errc::invalid_argument} for NaN/Inf in w (naming the element); the errors of quantize_rows.
/// Allocation: the result and one contiguous copy of w when it is strided.
template <quantizable_format F>
requires(!quant_format<F>) block_matrix<F> quantize(matrix_view<const float> w, std::span<const float> importance = {},
                                                    threads t = {}) {
  block_matrix<F> out(w.rows, w.cols);
  std::vector<float> dense;
  std::span<const float> x;
  if (w.row_stride == w.cols) {
    x = std::span<const float>(w.data, w.rows * w.cols);
  } else {
    dense.resize(w.rows * w.cols);
    for (std::size_t n = 0; n < w.rows; ++n) std::copy_n(w.row(n), w.cols, dense.data() + n * w.cols);
    x = dense;
  }
  quantize_rows<F>(x, w.cols, std::as_writable_bytes(out.blocks()), importance, t);
  return out;
}

/// Writes the dequantized W(N, K) of `w` to `out` (row-major f32, strides allowed), exactly.
/// throws lowbit::error{errc::shape_mismatch} if out is not N x K.
template <format F>
void dequantize(const block_matrix<F>& w, matrix_view<float> out) {
  check(out.rows == w.rows() && out.cols == w.cols(), errc::shape_mismatch, [&] {
    return "dequantize: out is " + std::to_string(out.rows) + " x " + std::to_string(out.cols) + ", W is " +
           std::to_string(w.rows()) + " x " + std::to_string(w.cols());
  });
  const auto v = w.view();
  for (std::size_t n = 0; n < w.rows(); ++n) dequantize_row(v, n, std::span<float>(out.row(n), w.cols()));
}

/// The dequantized W(N, K) of `w` as a dense row-major vector of N * K floats.
template <format F>
std::vector<float> dequantize(const block_matrix<F>& w) {
  std::vector<float> out(w.rows() * w.cols());
  dequantize(w, matrix_view<float>(out.data(), w.rows(), w.cols()));
  return out;
}

/// Decodes row n of `w` into `dst` (K floats).
/// throws lowbit::error{errc::out_of_range} if n >= N; {errc::shape_mismatch} if dst.size() != K.
template <format F>
void dequantize_row(const block_matrix<F>& w, std::size_t n, std::span<float> dst) {
  dequantize_row(w.view(), n, dst);
}

/// Decodes row n of a parametric `w` into `dst` (K floats): the same call as for block formats.
/// throws lowbit::error{errc::out_of_range} if n >= N; {errc::shape_mismatch} if dst.size() != K.
template <quant_format Q>
void dequantize_row(const quantized_matrix<Q>& w, std::size_t n, std::span<float> dst) {
  w.dequantize_row(n, dst);
}

}  // namespace lowbit
