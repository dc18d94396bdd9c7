// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"

// Small dense linear algebra in double for the second-order solvers (prune/hessian.hpp): the
// Cholesky factor of a symmetric positive-definite K x K matrix, the inverse from it, and the upper
// Cholesky factor of that inverse. Matrices are dense row-major std::vector<double> of n * n.
// O(n^3) plain loops: K is a layer's in_features (hundreds to a few thousand).

namespace lowbit::prune::detail {

// In place: the lower factor L of a = L L^T (the strict upper triangle is zeroed; only the lower
// triangle of a is read). Right-looking: after column j is scaled, the trailing lower triangle
// takes the rank-1 update a[i][c] -= L[i][j] * L[c][j], a contiguous loop over c.
// throws lowbit::error{errc::invalid_argument} naming the pivot if a is not positive definite.
inline void cholesky_lower(std::vector<double>& a, std::size_t n, const char* what) {
  std::vector<double> col(n);
  for (std::size_t j = 0; j < n; ++j) {
    const double d = a[j * n + j];
    check(d > 0.0 && std::isfinite(d), errc::invalid_argument, [&] {
      return std::string(what) + ": matrix is not positive definite (Cholesky pivot " + std::to_string(j) + " = " +
             std::to_string(d) + "); raise the dampening";
    });
    const double ljj = std::sqrt(d);
    a[j * n + j] = ljj;
    for (std::size_t i = j + 1; i < n; ++i) {
      a[i * n + j] /= ljj;
      col[i] = a[i * n + j];
    }
    for (std::size_t i = j + 1; i < n; ++i) {
      const double f = col[i];
      double* row = a.data() + i * n;
      for (std::size_t c = j + 1; c <= i; ++c) row[c] -= f * col[c];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) a[i * n + j] = 0.0;
  }
}

// The inverse X of a lower-triangular l with a non-zero diagonal (lower triangular), row by row:
// X[i, :] = (e_i - sum_{p < i} L[i, p] X[p, :]) / L[i, i]; every inner loop runs along a row.
inline std::vector<double> invert_lower(const std::vector<double>& l, std::size_t n) {
  std::vector<double> inv(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    double* xi = inv.data() + i * n;
    for (std::size_t p = 0; p < i; ++p) {
      const double f = l[i * n + p];
      if (f == 0.0) continue;
      const double* xp = inv.data() + p * n;
      for (std::size_t c = 0; c <= p; ++c) xi[c] -= f * xp[c];
    }
    xi[i] += 1.0;
    const double d = l[i * n + i];
    for (std::size_t c = 0; c <= i; ++c) xi[c] /= d;
  }
  return inv;
}

// A^-1 from the lower Cholesky factor L of A: A^-1 = L^-T L^-1 = sum over rows p of L^-1 of the
// outer product of row p with itself (symmetric; rows run contiguously).
inline std::vector<double> inverse_from_cholesky(const std::vector<double>& l, std::size_t n) {
  const auto li = invert_lower(l, n);
  std::vector<double> out(n * n, 0.0);
  for (std::size_t p = 0; p < n; ++p) {
    const double* r = li.data() + p * n;
    for (std::size_t i = 0; i <= p; ++i) {
      const double f = r[i];
      double* oi = out.data() + i * n;
      for (std::size_t j = 0; j <= i; ++j) oi[j] += f * r[j];  // lower triangle
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) out[j * n + i] = out[i * n + j];
  }
  return out;
}

// The upper Cholesky factor U of A^-1 (A^-1 = U^T U) for a symmetric positive-definite A, the
// matrix GPTQ and SparseGPT sweep with: row j of U is the OBS update of eliminating column j.
inline std::vector<double> upper_cholesky_of_inverse(std::vector<double> a, std::size_t n, const char* what) {
  cholesky_lower(a, n, what);
  auto inv = inverse_from_cholesky(a, n);
  cholesky_lower(inv, n, what);  // inv = L2 L2^T, so U = L2^T
  std::vector<double> u(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) u[i * n + j] = inv[j * n + i];
  }
  return u;
}

}  // namespace lowbit::prune::detail
