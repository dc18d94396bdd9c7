// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Rounding-error bounds for the GEMM tests (Higham, Accuracy and Stability of Numerical Algorithms,
// 2nd ed., lemma 3.1 and eq. 3.5): a value computed in f32 as a sum of terms t_j, each passing through
// at most c roundings (products, fmas, additions), is within γ_c Σ_j |t_j| of the exact sum, whatever
// the association order, with γ_c = c u / (1 - c u) and u = 2^-24.
//
// For the integer-dot formats (GGUF blocks of 32, K-quant super-blocks of 256) the integer sums are
// exact and the f32 operations see at most, per term: one product of the two block scales, one more
// scale (K-quant sub-block or super-block) product or fma, one combination with the minimum / offset
// term, one accumulation per block of 32 along K, four levels of the final lane tree and one
// epilogue add: c = K / 32 + 8 (block_dot_roundings). |t_j| is taken per element (|w_j x̂_j|, with
// a block's offset or minimum part counted apart, see the callers), which bounds every grouping of
// the terms into lanes and blocks the kernels use.
#include <cmath>
#include <cstddef>

namespace lowbit_test {

inline constexpr double unit_roundoff = 0x1p-24;

/// γ_c = c u / (1 - c u).
inline double gamma_n(std::size_t c) {
  const double cu = static_cast<double>(c) * unit_roundoff;
  return cu / (1.0 - cu);
}

/// The roundings per term of an integer-dot GEMM over K (see above).
inline std::size_t block_dot_roundings(std::size_t k) { return k / 32 + 8; }

}  // namespace lowbit_test
