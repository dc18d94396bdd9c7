// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"
#include "lowbit/prune/magnitude.hpp"
#include "lowbit/prune/mask.hpp"

namespace lowbit::prune {

/// An N:M structured-sparsity pattern: in every group of M consecutive weights along K (k from g*M
/// to g*M + M - 1 in a row of W(N, K)), exactly N are kept and M - N pruned. 2:4 is `{.n = 2, .m = 4}`.
/// Valid when 0 < n < m. Source: Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks"
/// (arXiv:2104.08378).
struct nm_pattern {
  std::size_t n = 2;  ///< weights kept per group
  std::size_t m = 4;  ///< group length along K
};

namespace detail {
inline void check_nm(nm_pattern p, std::size_t k_dim, const char* what) {
  check(p.n > 0 && p.n < p.m, errc::invalid_argument, [&] {
    return std::string(what) + ": bad N:M pattern " + std::to_string(p.n) + ":" + std::to_string(p.m) +
           " (need 0 < N < M)";
  });
  check(k_dim % p.m == 0, errc::shape_mismatch, [&] {
    return std::string(what) + ": K = " + std::to_string(k_dim) + " is not a multiple of M = " + std::to_string(p.m) +
           " for the " + std::to_string(p.n) + ":" + std::to_string(p.m) + " pattern";
  });
}
}  // namespace detail

/// The N:M mask that keeps, in each group of M consecutive scores along K, the N largest.
///
/// scores: (N_out, K) row-major f32, strides allowed, finite. Result: (N_out, K).
/// K must be a multiple of M: a partial last group could not hold the pattern that N:M kernels and
/// packings read, so it is an error rather than a guessed rule.
/// Ties: among equal scores in a group the lower k is kept.
/// throws lowbit::error{errc::invalid_argument} for a pattern without 0 < N < M or a NaN/Inf score;
/// {errc::shape_mismatch} if K % M != 0. Allocation: the mask.
/// Source: arXiv:2104.08378 (2:4); Wanda (arXiv:2306.11695) and SparseGPT (arXiv:2301.00774) for N:M
/// by a score.
inline mask nm_mask_from_scores(matrix_view<const float> scores, nm_pattern p) {
  const char* what = "prune::nm_mask_from_scores";
  detail::check_nm(p, scores.cols, what);
  detail::check_finite(scores, what, "score");
  mask out(scores.rows, scores.cols);
  std::vector<double> group(p.m);
  for (std::size_t n = 0; n < scores.rows; ++n) {
    for (std::size_t g = 0; g < scores.cols; g += p.m) {
      // The N kept are the N lowest of -score in (value, k) order: the largest scores, lower k on ties.
      for (std::size_t j = 0; j < p.m; ++j) group[j] = -static_cast<double>(scores.row(n)[g + j]);
      for (std::size_t j = 0; j < p.m; ++j) out.data()[n * scores.cols + g + j] = 0;
      for (const std::size_t j : detail::lowest_k(group, p.n)) out.data()[n * scores.cols + g + j] = 1;
    }
  }
  return out;
}

/// N:M magnitude pruning: in each group of M consecutive weights along K, keep the N of largest |w|.
/// w: (N_out, K) row-major f32, strides allowed. Rules and errors as `nm_mask_from_scores`.
inline mask magnitude_nm_mask(matrix_view<const float> w, nm_pattern p) {
  detail::check_nm(p, w.cols, "prune::magnitude_nm_mask");
  detail::check_finite(w, "prune::magnitude_nm_mask");
  const auto s = detail::abs_scores(w);
  return nm_mask_from_scores(matrix_view<const float>(s.data(), w.rows, w.cols), p);
}

/// Whether `m` has the exact N:M pattern: K % M == 0 and every group of M along K keeps exactly N.
/// Never throws for a valid pattern; false for an invalid one (not 0 < N < M).
inline bool is_nm(const mask& m, nm_pattern p) noexcept {
  if (!(p.n > 0 && p.n < p.m) || m.cols() % p.m != 0) return false;
  for (std::size_t r = 0; r < m.rows(); ++r) {
    for (std::size_t g = 0; g < m.cols(); g += p.m) {
      std::size_t kept = 0;
      for (std::size_t j = 0; j < p.m; ++j) kept += m(r, g + j) ? 1 : 0;
      if (kept != p.n) return false;
    }
  }
  return true;
}

}  // namespace lowbit::prune
