// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A user's translation unit that runs one format's SIMD GEMM (Q4_0): the compile-time budget's
// "small program" (scripts/compile_report.py times it at -O2 -march=native).
#include <cstdio>
#include <vector>

#include "lowbit/backend/simd/gemm_q4.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/quant/block_matrix.hpp"

int main() {
  constexpr std::size_t n = 64, k = 256;
  std::vector<float> w(n * k), x(k), y(n);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 17) - 8.0f;
  for (std::size_t i = 0; i < k; ++i) x[i] = static_cast<float>(i % 5) - 2.0f;
  const auto q = lowbit::quantize<lowbit::ggml::q4_0>(lowbit::matrix_view<const float>(w.data(), n, k));
  const auto packed = lowbit::prepare_weight<lowbit::backend::simd<>>(q);
  lowbit::gemv<lowbit::backend::simd<>>(x.data(), packed, y.data());
  std::printf("%g\n", static_cast<double>(y[0]));
  return 0;
}
