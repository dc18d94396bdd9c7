// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"

namespace lowbit::prune {

/// A linear layer's input Hessian, accumulated from calibration activations batch by batch:
/// `H = 2 X^T X / T` over all T tokens seen (the Hessian of the layer's squared output error
/// ||X W^T - X Q^T||^2 / T with respect to one row of W).
///
/// Batches: X(T_b, K) row-major f32 (tokens x in_features, the `x` of y = x W^T), strides allowed.
/// Sums are kept in double (K x K, symmetric), so the order of batches changes the result only by
/// rounding. Allocation: K * K doubles.
/// Source: GPTQ, Frantar et al. 2022 (arXiv:2210.17323), section 3; SparseGPT, Frantar & Alistarh
/// 2023 (arXiv:2301.00774).
class hessian {
 public:
  /// An empty accumulator for K input features.
  explicit hessian(std::size_t k) : k_(k), sum_(k * k, 0.0) {}

  /// Adds the batch X(T_b, K): sum += X^T X, tokens += T_b.
  /// throws lowbit::error{errc::shape_mismatch} if its K differs; {errc::invalid_argument} for
  /// NaN/Inf (naming the element); nothing is added then.
  void add(matrix_view<const float> x) {
    check(x.cols == k_, errc::shape_mismatch, [&] {
      return "prune::hessian::add: batch has " + std::to_string(x.cols) +
             " columns, expected K = " + std::to_string(k_);
    });
    detail::check_finite(x, "prune::hessian::add", "activation");
    std::vector<double> row(k_);
    for (std::size_t t = 0; t < x.rows; ++t) {
      for (std::size_t j = 0; j < k_; ++j) row[j] = x.row(t)[j];
      for (std::size_t i = 0; i < k_; ++i) {
        const double xi = row[i];
        if (xi == 0.0) continue;
        double* s = sum_.data() + i * k_;
        for (std::size_t j = i; j < k_; ++j) s[j] += xi * row[j];  // upper triangle; mirrored on read
      }
    }
    tokens_ += x.rows;
  }

  std::size_t cols() const noexcept { return k_; }         ///< K
  std::size_t tokens() const noexcept { return tokens_; }  ///< T, rows added so far

  /// H = 2 X^T X / T, (K, K) row-major, symmetric.
  /// throws lowbit::error{errc::invalid_argument} if no token was added.
  std::vector<double> matrix() const {
    check(tokens_ > 0, errc::invalid_argument, "prune::hessian::matrix: no calibration tokens were added");
    std::vector<double> h(k_ * k_);
    const double f = 2.0 / static_cast<double>(tokens_);
    for (std::size_t i = 0; i < k_; ++i) {
      for (std::size_t j = i; j < k_; ++j) {
        h[i * k_ + j] = f * sum_[i * k_ + j];
        h[j * k_ + i] = h[i * k_ + j];
      }
    }
    return h;
  }

 private:
  std::size_t k_;
  std::vector<double> sum_;
  std::size_t tokens_ = 0;
};

}  // namespace lowbit::prune
