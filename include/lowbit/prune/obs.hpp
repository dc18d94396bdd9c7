// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/prune/detail/dense_linalg.hpp"
#include "lowbit/prune/hessian.hpp"

namespace lowbit::prune {

/// Options of the second-order (OBS) sweep shared by `sparsegpt` and `gptq`; designated initializers.
struct obs_options {
  /// Dampening: `percdamp * mean(diag(H))` is added to H's diagonal before inversion (GPTQ's 0.01).
  double percdamp = 0.01;
  /// Lazy-batch width B: updates inside a batch of B columns are applied at once, the rest of the
  /// matrix is updated once per batch (GPTQ's "lazy batch"). Any B >= 1 gives the same result up to
  /// rounding; B = 1 is the plain column-by-column sweep.
  std::size_t lazy_batch = 128;
};

/// The factor the OBS sweep runs on: U, upper triangular with `U^T U = H_d^-1`, where H_d is the
/// layer Hessian with dead inputs fixed and dampening added, its rows and columns in processing order.
///
/// u: (K, K) row-major double; u[j][j]^2 is the [H_F^-1]_jj of OBS for the not-yet-processed set F
/// = {j, ..., K-1}, and row j of U divided by u[j][j] is the OBS update of eliminating column j.
/// dead: the input features with H_ii = 0 (never active in the calibration data), original indices.
struct hessian_inverse {
  std::size_t k = 0;
  std::vector<double> u;
  std::vector<std::size_t> dead;
};

/// Builds the sweep's factor from `h` (double throughout, for stability):
/// 1. dead inputs (H_ii == 0) get H_ii = 1 (their weights are zeroed by the solvers, as GPTQ does);
/// 2. H is permuted to processing order (order[j] = original column processed j-th; empty = identity);
/// 3. `percdamp * mean(diag(H))` is added to the diagonal;
/// 4. H^-1 through the Cholesky factor of H, then U = the upper Cholesky factor of H^-1.
/// throws lowbit::error{errc::invalid_argument} if h has no tokens, percdamp is negative or not
/// finite, order is not a permutation of 0..K-1, or the damped H is not positive definite (naming the
/// pivot). Allocation: O(K^2) doubles; time O(K^3).
/// Source: GPTQ (arXiv:2210.17323), Algorithm 1 and the reference implementation's preprocessing.
inline hessian_inverse inverse_factor(const hessian& h, double percdamp, std::span<const std::size_t> order = {}) {
  const char* what = "prune::inverse_factor";
  check(std::isfinite(percdamp) && percdamp >= 0.0, errc::invalid_argument,
        [&] { return std::string(what) + ": percdamp " + std::to_string(percdamp) + " is negative or not finite"; });
  const std::size_t k = h.cols();
  auto hm = h.matrix();
  hessian_inverse out;
  out.k = k;
  for (std::size_t i = 0; i < k; ++i) {
    if (hm[i * k + i] == 0.0) {
      hm[i * k + i] = 1.0;
      out.dead.push_back(i);
    }
  }
  if (!order.empty()) {
    check(order.size() == k, errc::invalid_argument, [&] {
      return std::string(what) + ": order has " + std::to_string(order.size()) +
             " entries for K = " + std::to_string(k);
    });
    std::vector<char> seen(k, 0);
    for (const std::size_t c : order) {
      check(c < k && !seen[c], errc::invalid_argument, [&] {
        return std::string(what) + ": order is not a permutation of 0..K-1 (entry " + std::to_string(c) + ")";
      });
      seen[c] = 1;
    }
    std::vector<double> p(k * k);
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t j = 0; j < k; ++j) p[i * k + j] = hm[order[i] * k + order[j]];
    }
    hm.swap(p);
  }
  double mean_diag = 0.0;
  for (std::size_t i = 0; i < k; ++i) mean_diag += hm[i * k + i];
  mean_diag /= static_cast<double>(std::max<std::size_t>(k, 1));
  for (std::size_t i = 0; i < k; ++i) hm[i * k + i] += percdamp * mean_diag;
  out.u = detail::upper_cholesky_of_inverse(std::move(hm), k, what);
  return out;
}

namespace detail {

// The column-by-column OBS sweep with lazy batches, over W(N, K) in processing order (double,
// row-major) and U from inverse_factor in the same order. For each column j in turn:
//   q = target(n, j, w(n, j)) for every row n (the value the column is fixed to: 0 or w for a mask,
//   a dequantized code for a quantizer), err = (w - q) / U_jj, w(n, c) -= err * U_jc for c > j.
// Within a batch [b0, b1) the update is applied at once to the batch's columns; the columns >= b1
// receive the batch's errors together when the batch ends (one rank-(b1-b0) update).
// hooks.group_end(j): 0 if no group starts at j, else one past the last processing position of the
// group starting at j; before hooks.begin_group(j, w) is called the pending updates are applied to
// every column the group spans, so the group sees its current (fully updated) weights.
template <class Hooks>
void obs_sweep(std::vector<double>& w, std::size_t n_rows, std::size_t k, const std::vector<double>& u,
               std::size_t lazy_batch, Hooks& hooks) {
  std::vector<double> err(n_rows * k, 0.0);
  const std::size_t width = std::max<std::size_t>(lazy_batch, 1);
  std::size_t b0 = 0;
  std::size_t b1 = std::min(width, k);
  // Applies the errors of columns [b0, j) to the columns >= b1 (those outside the batch).
  const auto flush = [&](std::size_t j) {
    for (std::size_t n = 0; n < n_rows; ++n) {
      double* wr = w.data() + n * k;
      for (std::size_t i = b0; i < j; ++i) {
        const double e = err[n * k + i];
        if (e == 0.0) continue;
        const double* ur = u.data() + i * k;
        for (std::size_t c = b1; c < k; ++c) wr[c] -= e * ur[c];
      }
    }
  };
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t g_end = hooks.group_end(j);
    if (j == b1 || g_end > b1) {
      flush(j);
      b0 = j;
      b1 = std::min(j + width, k);
    }
    if (g_end != 0) hooks.begin_group(j, static_cast<const std::vector<double>&>(w));
    const double d = u[j * k + j];
    const double* ur = u.data() + j * k;
    for (std::size_t n = 0; n < n_rows; ++n) {
      double* wr = w.data() + n * k;
      const double q = hooks.target(n, j, wr[j]);
      const double e = (wr[j] - q) / d;
      wr[j] = q;
      err[n * k + j] = e;
      if (e == 0.0) continue;
      for (std::size_t c = j + 1; c < b1; ++c) wr[c] -= e * ur[c];
    }
  }
}

}  // namespace detail

}  // namespace lowbit::prune
