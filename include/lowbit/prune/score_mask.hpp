// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"
#include "lowbit/prune/mask.hpp"

namespace lowbit::prune {

/// Which elements compete when the lowest scores are pruned.
enum class prune_scope {
  per_row,     ///< each output row n of W(N, K) loses the same share of its K weights (Wanda's choice)
  per_tensor,  ///< the N * K elements compete together
};

/// The mask that prunes the lowest scores: per row (each row loses round(sparsity * K) of its K
/// elements) or per tensor (round(sparsity * N * K) of all elements).
///
/// scores: (N, K) row-major f32, strides allowed; any finite values (magnitude |w|, Wanda |w| x ||x||).
/// Count: round(sparsity * count), halves rounded up. Ties: among equal scores the element with the
/// lower row-major index (n * K + k) is pruned first, so the mask depends on the values only.
/// throws lowbit::error{errc::invalid_argument} if sparsity is not in [0, 1] or a score is NaN or
/// infinite (naming the element). Allocation: the mask and O(N * K) scratch.
inline mask mask_from_scores(matrix_view<const float> scores, double sparsity, prune_scope scope) {
  const char* what = "prune::mask_from_scores";
  detail::check_finite(scores, what, "score");
  mask m(scores.rows, scores.cols);
  if (scope == prune_scope::per_row) {
    const std::size_t k = detail::pruned_count_for(sparsity, scores.cols, what);
    std::vector<double> row(scores.cols);
    for (std::size_t n = 0; n < scores.rows; ++n) {
      for (std::size_t j = 0; j < scores.cols; ++j) row[j] = scores.row(n)[j];
      for (const std::size_t j : detail::lowest_k(row, k)) m.data()[n * scores.cols + j] = 0;
    }
  } else {
    const std::size_t k = detail::pruned_count_for(sparsity, scores.rows * scores.cols, what);
    std::vector<double> all(scores.rows * scores.cols);
    for (std::size_t n = 0; n < scores.rows; ++n) {
      for (std::size_t j = 0; j < scores.cols; ++j) all[n * scores.cols + j] = scores.row(n)[j];
    }
    for (const std::size_t i : detail::lowest_k(all, k)) m.data()[i] = 0;
  }
  return m;
}

/// Global pruning across several tensors: the lowest round(sparsity * total) scores of all of them
/// together are pruned, so each tensor ends at its own sparsity.
///
/// scores[t]: (N_t, K_t) row-major f32, strides allowed; result[t] has the shape of scores[t].
/// Ties: the lower tensor index first, then the lower row-major index within the tensor.
/// throws lowbit::error{errc::invalid_argument} if sparsity is not in [0, 1] or a score is NaN or
/// infinite (naming the tensor and the element). Allocation: the masks and O(total) scratch.
/// Source: global magnitude pruning as in Han et al. 2015 (arXiv:1506.02626) and
/// torch.nn.utils.prune.global_unstructured.
inline std::vector<mask> mask_from_scores_global(std::span<const matrix_view<const float>> scores, double sparsity) {
  std::vector<mask> masks;
  std::vector<std::size_t> offsets;
  std::size_t total = 0;
  for (std::size_t t = 0; t < scores.size(); ++t) {
    const std::string what = "prune::mask_from_scores_global: tensor " + std::to_string(t);
    detail::check_finite(scores[t], what.c_str(), "score");
    masks.emplace_back(scores[t].rows, scores[t].cols);
    offsets.push_back(total);
    total += scores[t].rows * scores[t].cols;
  }
  const std::size_t k = detail::pruned_count_for(sparsity, total, "prune::mask_from_scores_global");
  std::vector<double> all(total);
  for (std::size_t t = 0; t < scores.size(); ++t) {
    for (std::size_t n = 0; n < scores[t].rows; ++n) {
      for (std::size_t j = 0; j < scores[t].cols; ++j) all[offsets[t] + n * scores[t].cols + j] = scores[t].row(n)[j];
    }
  }
  for (const std::size_t i : detail::lowest_k(all, k)) {
    std::size_t t = scores.size() - 1;
    while (offsets[t] > i) --t;  // the tensor holding flat index i (empty tensors are skipped)
    masks[t].data()[i - offsets[t]] = 0;
  }
  return masks;
}

}  // namespace lowbit::prune
