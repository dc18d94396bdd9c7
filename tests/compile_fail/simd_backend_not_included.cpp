// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A SIMD GEMM with only the backend's tag header included. Bad: lowbit/backend/simd/tag.hpp; good
// twin: lowbit/backend/simd.hpp (every SIMD kernel).
#include <cstddef>
#include <vector>

#ifdef LOWBIT_COMPILE_FAIL_BAD
#include "lowbit/backend/simd/tag.hpp"
#else
#include "lowbit/backend/simd.hpp"
#endif
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/gemm/gemm.hpp"

int main() {
  using simd = lowbit::backend::simd<>;
  std::vector<std::byte> bytes(2 * sizeof(lowbit::ggml::q4_0::block));
  const auto w = lowbit::make_weight_view<lowbit::ggml::q4_0>(bytes, 2, 32);
  const auto packed = lowbit::prepare_weight<simd>(w);
  std::vector<float> x(32), y(2);
  lowbit::gemv<simd>(x.data(), packed, y.data());
  return 0;
}
