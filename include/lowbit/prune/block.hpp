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
#include "lowbit/prune/mask.hpp"

namespace lowbit::prune {

/// The norm that ranks the blocks of `block_mask`.
enum class block_norm {
  l2,  ///< sqrt(sum of w^2) over the block (the default)
  l1,  ///< sum of |w| over the block
};

/// The shape of a 2-D pruning block: `rows` consecutive output rows x `cols` consecutive K columns.
struct block_shape {
  std::size_t rows = 1;
  std::size_t cols = 1;
};

/// 2-D block pruning: W(N, K) is cut into (N / b.rows) x (K / b.cols) blocks; the round(sparsity *
/// blocks) blocks of smallest norm (L2 by default, or L1, computed in double) are pruned whole.
///
/// w: (N, K) row-major f32, strides allowed. Result: (N, K), each block all kept or all pruned.
/// Ties: the block with the lower row-major block index is pruned first.
/// throws lowbit::error{errc::invalid_argument} for a zero block extent, a sparsity outside [0, 1]
/// or a NaN/Inf weight; {errc::shape_mismatch} if N % b.rows or K % b.cols is not 0 (a partial edge
/// block would be ranked by fewer weights, so it is refused). Allocation: the mask and one double per block.
/// Source: block pruning as in Narang et al. 2017, "Block-Sparse Recurrent Neural Networks" (arXiv:1711.02782).
inline mask block_mask(matrix_view<const float> w, block_shape b, double sparsity, block_norm norm = block_norm::l2) {
  const char* what = "prune::block_mask";
  check(b.rows > 0 && b.cols > 0, errc::invalid_argument, "prune::block_mask: block shape has a zero extent");
  check(w.rows % b.rows == 0 && w.cols % b.cols == 0, errc::shape_mismatch, [&] {
    return std::string(what) + ": weight " + std::to_string(w.rows) + " x " + std::to_string(w.cols) +
           " is not a whole number of " + std::to_string(b.rows) + " x " + std::to_string(b.cols) + " blocks";
  });
  detail::check_finite(w, what);
  const std::size_t br = w.rows / b.rows;
  const std::size_t bc = w.cols / b.cols;
  const std::size_t k = detail::pruned_count_for(sparsity, br * bc, what);
  std::vector<double> score(br * bc, 0.0);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t j = 0; j < w.cols; ++j) {
      const double v = w.row(n)[j];
      score[(n / b.rows) * bc + j / b.cols] += norm == block_norm::l2 ? v * v : std::fabs(v);
    }
  }
  // sqrt is monotone: ranking by the sum of squares ranks by the L2 norm.
  mask m(w.rows, w.cols);
  for (const std::size_t i : detail::lowest_k(score, k)) {
    const std::size_t r0 = (i / bc) * b.rows;
    const std::size_t c0 = (i % bc) * b.cols;
    for (std::size_t r = r0; r < r0 + b.rows; ++r) {
      for (std::size_t c = c0; c < c0 + b.cols; ++c) m.data()[r * w.cols + c] = 0;
    }
  }
  return m;
}

}  // namespace lowbit::prune
