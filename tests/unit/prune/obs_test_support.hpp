// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The second-order solver's tests (SparseGPT, GPTQ) share these: correlated calibration
// activations, the layer Hessian written another way (dense, damped), a Gauss-Jordan inverse for
// the dense OBS oracles, the output error ||X Wᵀ - X Vᵀ||, and the "GPTQ beats round-to-nearest"
// check for any format.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "lowbit/prune/gptq.hpp"
#include "lowbit/prune/hessian.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/quantized_matrix.hpp"
#include "prune_test_data.hpp"

namespace prune_test {

/// Correlated activations X(T, K) = Z (I + 2 A) with a random mixing A, every 7th feature louder.
inline std::vector<float> correlated_x(std::size_t t, std::size_t k, std::uint32_t seed) {
  const auto z = random_floats(t * k, seed);
  const auto a = random_floats(k * k, seed + 1, 1.0f / std::sqrt(static_cast<float>(k)));
  std::vector<float> x(t * k, 0.0f);
  for (std::size_t r = 0; r < t; ++r) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = z[r * k + j];  // the identity part keeps Xᵀ X well conditioned
      for (std::size_t p = 0; p < k; ++p) s += 2.0 * z[r * k + p] * a[p * k + j];
      x[r * k + j] = static_cast<float>(s * (j % 7 == 0 ? 3.0 : 1.0));
    }
  }
  return x;
}

/// lowbit's streamed Hessian of X(T, K).
inline lowbit::prune::hessian make_hessian(const std::vector<float>& x, std::size_t t, std::size_t k) {
  lowbit::prune::hessian h(k);
  h.add(lowbit::matrix_view<const float>(x.data(), t, k));
  return h;
}

/// H = 2 Xᵀ X / T in double, dead inputs (H_ii = 0) set to 1, then percdamp * mean(diag H) added to
/// the diagonal: the damped Hessian written out, for the dense oracles.
inline std::vector<double> damped_hessian(const std::vector<float>& x, std::size_t t, std::size_t k, double percdamp) {
  std::vector<double> h(k * k, 0.0);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = 0;
      for (std::size_t r = 0; r < t; ++r) s += static_cast<double>(x[r * k + i]) * x[r * k + j];
      h[i * k + j] = 2.0 * s / static_cast<double>(t);
    }
  }
  double mean = 0;
  for (std::size_t i = 0; i < k; ++i) {
    if (h[i * k + i] == 0.0) h[i * k + i] = 1.0;
    mean += h[i * k + i];
  }
  mean /= static_cast<double>(k);
  for (std::size_t i = 0; i < k; ++i) h[i * k + i] += percdamp * mean;
  return h;
}

/// The inverse of a (n, n) matrix by Gauss-Jordan elimination with partial pivoting.
inline std::vector<double> gauss_jordan_inverse(std::vector<double> a, std::size_t n) {
  std::vector<double> inv(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < n; ++r) {
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    }
    for (std::size_t j = 0; j < n; ++j) {
      std::swap(a[c * n + j], a[p * n + j]);
      std::swap(inv[c * n + j], inv[p * n + j]);
    }
    const double d = a[c * n + c];
    for (std::size_t j = 0; j < n; ++j) {
      a[c * n + j] /= d;
      inv[c * n + j] /= d;
    }
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      for (std::size_t j = 0; j < n; ++j) {
        a[r * n + j] -= f * a[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/// ||X Wᵀ - X Vᵀ||_F for W, V (N, K) and X (T, K).
template <class A, class B>
double output_error(const std::vector<float>& x, std::size_t t, std::size_t k, const A& w, const B& v, std::size_t n) {
  double e = 0;
  for (std::size_t r = 0; r < t; ++r) {
    for (std::size_t o = 0; o < n; ++o) {
      double d = 0;
      for (std::size_t j = 0; j < k; ++j) {
        d +=
            static_cast<double>(x[r * k + j]) * (static_cast<double>(w[o * k + j]) - static_cast<double>(v[o * k + j]));
      }
      e += d * d;
    }
  }
  return std::sqrt(e);
}

/// Round-to-nearest in format F, dequantized.
template <class F>
std::vector<float> rtn(const std::vector<float>& w, std::size_t n, std::size_t k) {
  return lowbit::dequantize(lowbit::quantize<F>(lowbit::matrix_view<const float>(w.data(), n, k)));
}

/// GPTQ to format F (with and without act-order) on correlated inputs has a smaller output error
/// than round-to-nearest, and its storage dequantizes exactly to the returned values.
template <class F>
void check_beats_rtn(std::size_t n, std::size_t k, std::uint32_t seed) {
  const std::size_t t = 64;
  const auto x = correlated_x(t, k, seed);
  const auto w = random_floats(n * k, seed + 7, 0.5f);
  const auto h = make_hessian(x, t, k);
  const lowbit::matrix_view<const float> wv(w.data(), n, k);
  const auto base = output_error(x, t, k, w, rtn<F>(w, n, k), n);
  for (const bool act : {false, true}) {
    const auto r = lowbit::prune::gptq<F>(wv, h, {.act_order = act});
    CHECK(lowbit::dequantize(r.quantized) == r.dequantized);
    const auto e = output_error(x, t, k, w, r.dequantized, n);
    INFO("act_order " << act << ": gptq " << e << " vs rtn " << base);
    CHECK(e < base);
  }
}

}  // namespace prune_test
