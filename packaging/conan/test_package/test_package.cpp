// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Quantizes W(N, K) to Q8_0, runs y = x · Wᵀ on the reference backend and checks y exactly: every
// 32-element block of W and x holds 127 as its largest magnitude, so both scales are 1 and the
// codes are the values themselves.
#include <cstdio>
#include <vector>

#include "lowbit/lowbit.hpp"

int main() {
  constexpr std::size_t m = 2, n = 4, k = 64;
  std::vector<float> w(n * k), x(m * k);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < k; ++c) w[r * k + c] = c % 32 == 0 ? 127.0f : float(int((r + c) % 7) - 3);
  }
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t c = 0; c < k; ++c) x[r * k + c] = c % 32 == 0 ? 127.0f : float(int((r + 2 * c) % 5) - 2);
  }
  const auto q = lowbit::quantize<lowbit::ggml::q8_0>(lowbit::matrix_view<const float>(w.data(), n, k));
  const auto prepared = lowbit::prepare_weight<lowbit::backend::reference>(q);
  std::vector<float> y(m * n);
  lowbit::gemm<lowbit::backend::reference>(lowbit::matrix_view<const float>(x.data(), m, k), prepared,
                                           lowbit::matrix_view<float>(y.data(), m, n));
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float expected = 0.0f;
      for (std::size_t c = 0; c < k; ++c) expected += x[i * k + c] * w[j * k + c];
      if (y[i * n + j] != expected) {
        std::printf("y(%zu, %zu) = %g, expected %g\n", i, j, y[i * n + j], expected);
        return 1;
      }
    }
  }
  std::printf("lowbit %d.%d.%d: Q8_0 gemm y(0, 0) = %g, ok\n", LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR,
              LOWBIT_VERSION_PATCH, y[0]);
  return 0;
}
