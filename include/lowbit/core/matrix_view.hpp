// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <string>

#include "lowbit/core/error.hpp"

namespace lowbit {

/// A non-owning row-major matrix of `T`: element (i, j) is `data[i * row_stride + j]`.
///
/// Shape (rows, cols), `row_stride >= cols` in elements. Construction checks the stride.
template <class T>
struct matrix_view {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t row_stride = 0;

  constexpr matrix_view() = default;
  /// throws lowbit::error{errc::invalid_argument} if row_stride < cols or data is null with rows*cols > 0.
  constexpr matrix_view(T* d, std::size_t r, std::size_t c, std::size_t stride)
      : data(d), rows(r), cols(c), row_stride(stride) {
    check(stride >= c, errc::invalid_argument,
          [&] { return "matrix_view: row_stride " + std::to_string(stride) + " < cols " + std::to_string(c); });
    check(d != nullptr || r * c == 0, errc::invalid_argument, "matrix_view: null data for a non-empty matrix");
  }
  /// A dense view (row_stride == cols).
  constexpr matrix_view(T* d, std::size_t r, std::size_t c) : matrix_view(d, r, c, c) {}

  /// Views of const elements convert implicitly.
  template <class U>
  requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>) constexpr matrix_view(matrix_view<U> other) noexcept
      : data(other.data), rows(other.rows), cols(other.cols), row_stride(other.row_stride) {}

  /// Pointer to the first element of row i (unchecked).
  constexpr T* row(std::size_t i) const noexcept { return data + i * row_stride; }
};

}  // namespace lowbit
