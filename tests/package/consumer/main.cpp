// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A user's first program: quantize a small weight matrix to Q4_1 and run y = x · Wᵀ on both backends.
#include <cmath>
#include <cstdio>
#include <vector>

#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/version.hpp"

int main() {
  constexpr std::size_t n = 8, k = 64;
  std::vector<float> w(n * k), x(k);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.1f * static_cast<float>(i));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.2f * static_cast<float>(i));
  std::vector<lowbit::ggml::q4_1::block> blocks(n * k / 32);
  for (std::size_t b = 0; b < blocks.size(); ++b) lowbit::ggml::q4_1::quantize_block(w.data() + 32 * b, blocks[b]);
  const lowbit::weight_view<lowbit::ggml::q4_1> view{blocks.data(), n, k};
  std::vector<float> y_ref(n), y_simd(n);
  lowbit::gemv<lowbit::backend::reference>(x.data(), lowbit::prepare_weight<lowbit::backend::reference>(view),
                                           y_ref.data());
  lowbit::gemv<lowbit::backend::simd<>>(x.data(), lowbit::prepare_weight<lowbit::backend::simd<>>(view), y_simd.data());
  for (std::size_t j = 0; j < n; ++j) {
    if (std::abs(y_ref[j] - y_simd[j]) > 0.1f) {
      std::printf("mismatch at %zu: %f vs %f\n", j, y_ref[j], y_simd[j]);
      return 1;
    }
  }
  std::printf("lowbit consumer ok (lowbit %d.%d.%d)\n", LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR,
              LOWBIT_VERSION_PATCH);
  return 0;
}
