// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"

namespace lowbit::prune {

/// A pruning mask: one byte per element of a W(N, K), 1 = keep, 0 = prune.
///
/// Shape (rows, cols) = (N, K), the shape of the weight it masks (out_features x in_features),
/// row-major, dense. `apply_mask` zeroes the pruned weights; the mask itself holds no values.
/// lowbit writes only 0 and 1; a non-zero byte written through `data()` reads as kept.
/// Allocation: rows * cols bytes.
class mask {
 public:
  /// An empty (0 x 0) mask.
  mask() = default;
  /// A rows x cols mask with every element kept (`keep = true`) or pruned.
  mask(std::size_t rows, std::size_t cols, bool keep = true)
      : rows_(rows), cols_(cols), keep_(rows * cols, keep ? std::uint8_t{1} : std::uint8_t{0}) {}

  std::size_t rows() const noexcept { return rows_; }  ///< N
  std::size_t cols() const noexcept { return cols_; }  ///< K
  std::size_t size() const noexcept { return keep_.size(); }

  /// Whether element (n, k) is kept (unchecked: n < rows(), k < cols()).
  bool operator()(std::size_t n, std::size_t k) const noexcept { return keep_[n * cols_ + k] != 0; }
  /// Whether element (n, k) is kept. throws lowbit::error{errc::out_of_range} outside the mask.
  bool kept(std::size_t n, std::size_t k) const {
    check_index(n, k);
    return (*this)(n, k);
  }
  /// Keeps (true) or prunes (false) element (n, k). throws lowbit::error{errc::out_of_range}.
  void set(std::size_t n, std::size_t k, bool keep) {
    check_index(n, k);
    keep_[n * cols_ + k] = keep ? 1 : 0;
  }

  /// The bytes (0 or 1), row-major (rows, cols).
  std::span<const std::uint8_t> data() const noexcept { return keep_; }
  std::span<std::uint8_t> data() noexcept { return keep_; }

  /// Number of kept elements.
  std::size_t kept_count() const noexcept {
    std::size_t c = 0;
    for (const auto b : keep_) c += b != 0 ? 1 : 0;
    return c;
  }
  /// Number of pruned elements.
  std::size_t pruned_count() const noexcept { return size() - kept_count(); }
  /// Fraction of pruned elements, in [0, 1]; 0 for an empty mask.
  double sparsity() const noexcept {
    return size() == 0 ? 0.0 : static_cast<double>(pruned_count()) / static_cast<double>(size());
  }

  friend bool operator==(const mask&, const mask&) = default;

 private:
  void check_index(std::size_t n, std::size_t k) const {
    check(n < rows_ && k < cols_, errc::out_of_range, [&] {
      return "prune::mask: element (" + std::to_string(n) + ", " + std::to_string(k) + ") of a " +
             std::to_string(rows_) + " x " + std::to_string(cols_) + " mask";
    });
  }

  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<std::uint8_t> keep_;
};

/// Zeroes the pruned weights: `w(n, k) = 0` where `m(n, k)` is 0; kept weights are unchanged.
///
/// w: (N, K) row-major f32, strides allowed; m: (N, K).
/// throws lowbit::error{errc::shape_mismatch} if the shapes differ. In place; no allocation.
inline void apply_mask(matrix_view<float> w, const mask& m) {
  check(w.rows == m.rows() && w.cols == m.cols(), errc::shape_mismatch, [&] {
    return "prune::apply_mask: weight is " + std::to_string(w.rows) + " x " + std::to_string(w.cols) + ", mask is " +
           std::to_string(m.rows()) + " x " + std::to_string(m.cols());
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    float* row = w.row(n);
    for (std::size_t k = 0; k < w.cols; ++k) {
      if (!m(n, k)) row[k] = 0.0f;
    }
  }
}

/// The sparsity a weight has reached: the fraction of its elements that are exactly zero
/// (+0 or -0), in [0, 1]; 0 for an empty matrix.
///
/// w: (N, K) row-major f32, strides allowed. A NaN counts as non-zero. No allocation.
inline double tensor_sparsity(matrix_view<const float> w) noexcept {
  if (w.rows * w.cols == 0) return 0.0;
  std::size_t zeros = 0;
  for (std::size_t n = 0; n < w.rows; ++n) {
    const float* row = w.row(n);
    for (std::size_t k = 0; k < w.cols; ++k) zeros += row[k] == 0.0f ? 1 : 0;
  }
  return static_cast<double>(zeros) / static_cast<double>(w.rows * w.cols);
}

}  // namespace lowbit::prune
