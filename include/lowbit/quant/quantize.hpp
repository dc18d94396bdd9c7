// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/parallel.hpp"

namespace lowbit {

/// A format whose encoder can weigh each element's squared error by an importance
/// (llama.cpp's "imatrix": per input column, the mean of x² over calibration activations).
///
/// `F::quantize_row(const float* x, const float* importance, std::size_t n, block* out)` encodes a
/// whole row (`n` a multiple of `block_size`), because the importance-weighted quantizers of the
/// GGUF types use statistics of the whole row (e.g. ggml's `sigma2 = sum(x²) / n`). `importance`
/// is null (then the result equals `quantize_block` on each block) or points to `n` weights >= 0.
template <class F>
concept importance_quantizable_format = quantizable_format<F> &&
    requires(const float* x, const float* importance, std::size_t n, typename F::block* out) {
  F::quantize_row(x, importance, n, out);
};

namespace detail {

template <class F>
void check_quantize_row_args(std::span<const float> x, std::size_t dst_bytes, std::span<const float> importance,
                             const char* what) {
  const auto where = [&] { return std::string(what) + "<" + std::string(F::name) + ">: "; };
  check(x.size() % F::block_size == 0, errc::shape_mismatch, [&] {
    return where() + std::to_string(x.size()) + " elements is not a multiple of the block size " +
           std::to_string(F::block_size);
  });
  check(dst_bytes == x.size() / F::block_size * F::block_bytes, errc::shape_mismatch, [&] {
    return where() + std::to_string(x.size()) + " elements need " +
           std::to_string(x.size() / F::block_size * F::block_bytes) + " bytes, the destination has " +
           std::to_string(dst_bytes);
  });
  check(importance.empty() || importance.size() == x.size(), errc::shape_mismatch, [&] {
    return where() + "importance has " + std::to_string(importance.size()) + " weights for " +
           std::to_string(x.size()) + " elements";
  });
  for (std::size_t j = 0; j < x.size(); ++j) {
    check(std::isfinite(x[j]), errc::invalid_argument,
          [&] { return where() + "element " + std::to_string(j) + " is not finite"; });
  }
  for (std::size_t j = 0; j < importance.size(); ++j) {
    check(std::isfinite(importance[j]) && importance[j] >= 0.0f, errc::invalid_argument,
          [&] { return where() + "importance " + std::to_string(j) + " is negative or not finite"; });
  }
}

}  // namespace detail

/// Quantizes one row: `x` (n floats) -> `dst` (n / block_size blocks of F, the file's bytes).
///
/// Without `importance` every block is encoded by `F::quantize_block` (for the GGUF types: what
/// ggml's `ggml_quantize_chunk` writes without an imatrix, i.e. what llama-quantize writes, byte for
/// byte; for most types that is ggml's `quantize_row_*_ref`, for IQ4_NL its searched variant). With `importance` (n weights, one per element; for a
/// weight matrix, the per-column importance repeated for each row) the encoder minimises the
/// importance-weighted squared error as `F::quantize_row` defines it.
///
/// throws lowbit::error{errc::shape_mismatch} if n is not a multiple of the block size, dst does
/// not hold exactly n / block_size blocks, or importance is neither empty nor n long;
/// {errc::invalid_argument} if an element is NaN or infinite, or a weight negative or not finite;
/// {errc::unsupported} if importance is given and F has no importance-weighted encoder.
/// `dst` may be unaligned; it is written only after every check passed.
template <quantizable_format F>
void quantize_row(std::span<const float> x, std::span<std::byte> dst, std::span<const float> importance = {}) {
  detail::check_quantize_row_args<F>(x, dst.size(), importance, "quantize_row");
  const std::size_t n_blocks = x.size() / F::block_size;
  if constexpr (importance_quantizable_format<F>) {
    std::vector<typename F::block> blocks(n_blocks);
    F::quantize_row(x.data(), importance.empty() ? nullptr : importance.data(), x.size(), blocks.data());
    if (n_blocks > 0) std::memcpy(dst.data(), blocks.data(), n_blocks * F::block_bytes);
  } else {
    check(importance.empty(), errc::unsupported,
          [&] { return "quantize_row<" + std::string(F::name) + ">: this format has no importance-weighted encoder"; });
    for (std::size_t b = 0; b < n_blocks; ++b) {
      typename F::block block;
      F::quantize_block(x.data() + b * F::block_size, block);
      std::memcpy(dst.data() + b * F::block_bytes, &block, F::block_bytes);
    }
  }
}

/// Quantizes a row-major matrix x(rows, cols) row by row into `dst` (rows * cols / block_size
/// blocks), with an optional per-column importance (cols weights, shared by every row). Threads
/// split the rows. Same rules and errors as `quantize_row`; nothing is written unless every row
/// passes the checks.
template <quantizable_format F>
void quantize_rows(std::span<const float> x, std::size_t cols, std::span<std::byte> dst,
                   std::span<const float> importance = {}, threads t = {}) {
  check(cols > 0 && x.size() % cols == 0, errc::shape_mismatch, [&] {
    return "quantize_rows<" + std::string(F::name) + ">: " + std::to_string(x.size()) +
           " elements are not whole rows of " + std::to_string(cols);
  });
  check(importance.empty() || importance.size() == cols, errc::shape_mismatch, [&] {
    return "quantize_rows<" + std::string(F::name) + ">: importance has " + std::to_string(importance.size()) +
           " weights for " + std::to_string(cols) + " columns";
  });
  const std::size_t rows = x.size() / cols;
  const std::size_t row_bytes = cols / F::block_size * F::block_bytes;
  check(cols % F::block_size == 0 && dst.size() == rows * row_bytes, errc::shape_mismatch, [&] {
    return "quantize_rows<" + std::string(F::name) + ">: " + std::to_string(rows) + " rows of " + std::to_string(cols) +
           " need a multiple-of-" + std::to_string(F::block_size) + " row and " + std::to_string(rows * row_bytes) +
           " bytes, the destination has " + std::to_string(dst.size());
  });
  for (std::size_t r = 0; r < rows; ++r) {
    detail::check_quantize_row_args<F>(x.subspan(r * cols, cols), row_bytes, importance, "quantize_rows");
  }
  parallel_for(t, rows, 1, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      quantize_row<F>(x.subspan(r * cols, cols), dst.subspan(r * row_bytes, row_bytes), importance);
    }
  });
}

}  // namespace lowbit
