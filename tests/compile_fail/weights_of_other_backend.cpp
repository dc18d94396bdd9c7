// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Weights prepared for one backend passed to another's GEMM. Bad: SIMD-packed panels to
// gemv<backend::reference>; good twin: gemv<backend::simd<>> with them.
#include <cstddef>
#include <vector>

#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/gemm/reference.hpp"

int main() {
  using simd = lowbit::backend::simd<>;
#ifdef LOWBIT_COMPILE_FAIL_BAD
  using run_on = lowbit::backend::reference;
#else
  using run_on = simd;
#endif
  std::vector<std::byte> bytes(2 * sizeof(lowbit::ggml::q4_0::block));
  const auto w = lowbit::make_weight_view<lowbit::ggml::q4_0>(bytes, 2, 32);
  const auto packed = lowbit::prepare_weight<simd>(w);
  std::vector<float> x(32), y(2);
  lowbit::gemv<run_on>(x.data(), packed, y.data());
  return 0;
}
