// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// GEMM of a quantized_matrix on a backend that has no kernel for it. Bad: a user backend; good
// twin: backend::reference.
#include <string_view>
#include <vector>

#include "lowbit/gemm/quantized_gemm.hpp"

struct other_backend {
  static constexpr std::string_view name = "other";
};
#ifdef LOWBIT_COMPILE_FAIL_BAD
using backend = other_backend;
#else
using backend = lowbit::backend::reference;
#endif

int main() {
  using q = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f32, lowbit::per_group<32>>;
  const lowbit::quantized_matrix<q> w(2, 32);
  std::vector<float> x(32), y(2);
  lowbit::gemm<backend>(lowbit::matrix_view<const float>(x.data(), 1, 32), w,
                        lowbit::matrix_view<float>(y.data(), 1, 2));
  return 0;
}
