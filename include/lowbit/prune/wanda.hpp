// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/score_mask.hpp"

namespace lowbit::prune {

/// The L2 norm of each input feature over calibration activations, accumulated batch by batch:
/// `norm[j] = sqrt(sum over all tokens t of X(t, j)^2)`, the ||X_j||_2 of Wanda.
///
/// Batches: X(T, K) row-major f32 (tokens x in_features, the `x` of y = x W^T), strides allowed;
/// any number of batches, each with the same K. Sums are kept in double.
/// Source: Sun et al. 2023, "A Simple and Effective Pruning Approach for LLMs" (Wanda, arXiv:2306.11695).
class input_norms {
 public:
  /// An accumulator for K input features.
  explicit input_norms(std::size_t k) : sum_sq_(k, 0.0) {}

  /// Adds a batch X(T, K). throws lowbit::error{errc::shape_mismatch} if its K differs;
  /// {errc::invalid_argument} if it holds NaN/Inf (naming the element); nothing is added then.
  void add(matrix_view<const float> x) {
    check(x.cols == sum_sq_.size(), errc::shape_mismatch, [&] {
      return "prune::input_norms::add: batch has " + std::to_string(x.cols) +
             " columns, expected K = " + std::to_string(sum_sq_.size());
    });
    detail::check_finite(x, "prune::input_norms::add", "activation");
    for (std::size_t t = 0; t < x.rows; ++t) {
      for (std::size_t j = 0; j < x.cols; ++j) {
        const double v = x.row(t)[j];
        sum_sq_[j] += v * v;
      }
    }
    tokens_ += x.rows;
  }

  std::size_t cols() const noexcept { return sum_sq_.size(); }  ///< K
  std::size_t tokens() const noexcept { return tokens_; }       ///< rows added so far
  /// ||X_j||_2 for j < K, as f32.
  std::vector<float> norms() const {
    std::vector<float> out(sum_sq_.size());
    for (std::size_t j = 0; j < out.size(); ++j) out[j] = static_cast<float>(std::sqrt(sum_sq_[j]));
    return out;
  }

 private:
  std::vector<double> sum_sq_;
  std::size_t tokens_ = 0;
};

/// Wanda scores: `S(n, k) = |W(n, k)| * norm[k]` with norm = ||X_k||_2 (`input_norms::norms()`).
///
/// w: (N, K) row-major f32, strides allowed; norm: K values >= 0. Result: (N, K) dense row-major f32
/// (product rounded from double). A common positive factor on the norms (e.g. a mean over samples, as
/// the reference code keeps) changes no mask.
/// throws lowbit::error{errc::shape_mismatch} if norm.size() != K; {errc::invalid_argument} for
/// NaN/Inf in w or a negative or non-finite norm. Source: Wanda, arXiv:2306.11695, eq. 1.
inline std::vector<float> wanda_scores(matrix_view<const float> w, std::span<const float> norm) {
  const char* what = "prune::wanda_scores";
  check(norm.size() == w.cols, errc::shape_mismatch, [&] {
    return std::string(what) + ": " + std::to_string(norm.size()) + " input norms for K = " + std::to_string(w.cols);
  });
  for (std::size_t k = 0; k < norm.size(); ++k) {
    check(std::isfinite(norm[k]) && norm[k] >= 0.0f, errc::invalid_argument,
          [&] { return std::string(what) + ": input norm " + std::to_string(k) + " is negative or not finite"; });
  }
  detail::check_finite(w, what);
  std::vector<float> s(w.rows * w.cols);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t k = 0; k < w.cols; ++k) {
      s[n * w.cols + k] = static_cast<float>(std::fabs(static_cast<double>(w.row(n)[k])) * norm[k]);
    }
  }
  return s;
}

/// Wanda unstructured pruning: each output row n loses its round(sparsity * K) lowest Wanda scores,
/// the per-output comparison group of the paper (ties as `mask_from_scores`).
/// w: (N, K); norm: K values (`input_norms::norms()`). Errors as `wanda_scores` and `mask_from_scores`.
/// Source: Wanda, arXiv:2306.11695, section 3 ("per output").
inline mask wanda_mask(matrix_view<const float> w, std::span<const float> norm, double sparsity) {
  const auto s = wanda_scores(w, norm);
  return mask_from_scores(matrix_view<const float>(s.data(), w.rows, w.cols), sparsity, prune_scope::per_row);
}

/// Wanda N:M pruning: in each group of M consecutive weights along K, keep the N largest Wanda scores.
/// w: (N, K); norm: K values. Errors as `wanda_scores` and `nm_mask_from_scores` (K % M != 0 is an error).
/// Source: Wanda, arXiv:2306.11695, section 3 (structured N:M).
inline mask wanda_nm_mask(matrix_view<const float> w, std::span<const float> norm, nm_pattern p) {
  detail::check_nm(p, w.cols, "prune::wanda_nm_mask");
  const auto s = wanda_scores(w, norm);
  return nm_mask_from_scores(matrix_view<const float>(s.data(), w.rows, w.cols), p);
}

}  // namespace lowbit::prune
