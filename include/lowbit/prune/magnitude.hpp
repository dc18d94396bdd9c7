// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/score_mask.hpp"

namespace lowbit::prune {

namespace detail {
// |w| as a dense (N, K) score matrix.
inline std::vector<float> abs_scores(matrix_view<const float> w) {
  std::vector<float> s(w.rows * w.cols);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t k = 0; k < w.cols; ++k) s[n * w.cols + k] = std::fabs(w.row(n)[k]);
  }
  return s;
}
}  // namespace detail

/// Unstructured magnitude pruning: the mask that prunes the weights of smallest |w|, per row or per
/// tensor (`mask_from_scores` on |w|, with its count and tie rules).
///
/// w: (N, K) row-major f32, strides allowed. Result: (N, K).
/// throws lowbit::error{errc::invalid_argument} if sparsity is not in [0, 1] or w holds NaN/Inf
/// (naming the element). Allocation: the mask and O(N * K) scratch.
/// Source: Han et al. 2015, "Learning both Weights and Connections" (arXiv:1506.02626).
inline mask magnitude_mask(matrix_view<const float> w, double sparsity, prune_scope scope = prune_scope::per_tensor) {
  detail::check_finite(w, "prune::magnitude_mask");
  const auto s = detail::abs_scores(w);
  return mask_from_scores(matrix_view<const float>(s.data(), w.rows, w.cols), sparsity, scope);
}

/// Global magnitude pruning across tensors: the round(sparsity * total) smallest |w| of all the
/// tensors together are pruned (`mask_from_scores_global` on |w|, ties by tensor then row-major index).
///
/// ws[t]: (N_t, K_t) row-major f32, strides allowed; result[t]: (N_t, K_t).
/// throws lowbit::error{errc::invalid_argument} if sparsity is not in [0, 1] or a weight is NaN/Inf.
/// Source: Han et al. 2015 (arXiv:1506.02626); torch.nn.utils.prune.global_unstructured.
inline std::vector<mask> magnitude_mask_global(std::span<const matrix_view<const float>> ws, double sparsity) {
  std::vector<std::vector<float>> scores;
  std::vector<matrix_view<const float>> views;
  scores.reserve(ws.size());
  for (const auto& w : ws) {
    detail::check_finite(w, "prune::magnitude_mask_global");
    scores.push_back(detail::abs_scores(w));
    views.emplace_back(scores.back().data(), w.rows, w.cols);
  }
  return mask_from_scores_global(views, sparsity);
}

}  // namespace lowbit::prune
