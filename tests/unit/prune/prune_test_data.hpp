// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Data and oracles shared by the prune tests: seeded normal weights and activations, N:M-pruned
// weights, and the dense reference GEMM of lowbit on f32 weights.

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "lowbit/formats/float.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"

namespace prune_test {

/// n samples of N(0, scale²) from a seeded mt19937.
inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// A random (rows, cols) weight pruned to N:M by magnitude.
inline std::vector<float> nm_weight(std::size_t rows, std::size_t cols, lowbit::prune::nm_pattern p,
                                    std::uint32_t seed) {
  auto w = random_floats(rows * cols, seed);
  const lowbit::matrix_view<float> v(w.data(), rows, cols);
  lowbit::prune::apply_mask(v, lowbit::prune::magnitude_nm_mask(v, p));
  return w;
}

/// y(M, N) = x(M, K) · w(N, K)ᵀ by lowbit's dense reference GEMM (f32 weights).
inline std::vector<float> dense_reference(const std::vector<float>& x, const std::vector<float>& w, std::size_t m,
                                          std::size_t n, std::size_t k) {
  std::vector<float> y(m * n);
  const lowbit::weight_view<lowbit::f32> view{reinterpret_cast<const lowbit::f32::block*>(w.data()), n, k};
  lowbit::gemm<lowbit::backend::reference>(lowbit::matrix_view<const float>(x.data(), m, k),
                                           lowbit::prepare_weight<lowbit::backend::reference>(view),
                                           lowbit::matrix_view<float>(y.data(), m, n));
  return y;
}

}  // namespace prune_test
