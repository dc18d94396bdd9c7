// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Exact ties of x / d in the 8-bit encoders: the activation quantizers (reference and SIMD, Q8_0 /
// Q8_1 blocks of 32 and Q8_K super-blocks of 256) round ties to even like ggml's x86 path
// (_mm256_cvtps_epi32), the Q8_0 / Q8_1 weight encoders round them away from zero like ggml's
// reference (roundf). Random rows almost never hold a tie, so a swapped rounding mode passes the
// other tests: these rows are all ties.
#include <cstdint>
#include <cstring>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/formats/ggml/q8_1.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace {

// Block b of 32: element 0 = +-127, so that d = max|x| / 127 = 1 and x * (127 / max|x|) = x
// exactly; element j >= 1 = +-(j - 1 + 0.5), a tie between j - 1 and j. `tie(j)` is the magnitude.
std::vector<float> tie_row(std::size_t k) {
  std::vector<float> x(k);
  for (std::size_t e = 0; e < k; ++e) {
    const std::size_t j = e % 32;
    const float sign = (e / 32 + j) % 2 == 0 ? 1.0f : -1.0f;
    x[e] = j == 0 ? 127.0f * sign : (static_cast<float>(j - 1) + 0.5f) * sign;
  }
  return x;
}

// The code of x[e] under ties to even / away from zero, written out (not through a rounding call).
int code_even(float v) {
  const int k = static_cast<int>(v < 0 ? -v : v);  // |v| = k + 0.5
  const int mag = v == static_cast<float>(static_cast<int>(v)) ? k : (k % 2 == 0 ? k : k + 1);
  return v < 0 ? -mag : mag;
}
int code_away(float v) {
  const int k = static_cast<int>(v < 0 ? -v : v);
  const int mag = v == static_cast<float>(static_cast<int>(v)) ? k : k + 1;
  return v < 0 ? -mag : mag;
}

void require_codes(const std::int8_t* qs, const float* x, std::size_t n, int (*want)(float)) {
  for (std::size_t e = 0; e < n; ++e) {
    CAPTURE(e, x[e]);
    REQUIRE(int{qs[e]} == want(x[e]));
  }
}

}  // namespace

TEST_CASE("activation_q8: exact ties round to even (reference and simd, blocks of 32)", "[quant][activation][ties]") {
  const std::size_t m = 3, k = 96;
  std::vector<float> x;
  for (std::size_t i = 0; i < m; ++i) {
    auto row = tie_row(k);
    if (i == 1)
      for (auto& v : row) v = -v;
    x.insert(x.end(), row.begin(), row.end());
  }
  const auto xv = lowbit::matrix_view<const float>(x.data(), m, k);
  lowbit::activation_q8 ref, simd;
  lowbit::quantize_activations_reference(xv, ref);
  lowbit::simd_detail::quantize_activations<xsimd::default_arch>(xv, simd);
  for (const auto* q : {&ref, &simd}) {
    require_codes(q->qs.data(), x.data(), m * k, code_even);
    for (std::size_t b = 0; b < m * k / 32; ++b) {
      CAPTURE(b);
      REQUIRE(q->d[b] == 1.0f);
      int sum = 0;
      for (std::size_t j = 0; j < 32; ++j) sum += code_even(x[32 * b + j]);
      REQUIRE(q->sum[b] == sum);
      REQUIRE(q->s[b] == lowbit::fp16_to_f32(lowbit::f32_to_fp16(static_cast<float>(sum))));
    }
  }
}

TEST_CASE("activation_q8: exact ties round to even in the K-quant super-blocks", "[quant][activation][ties]") {
  const std::size_t m = 2, k = 512;
  auto x = tie_row(k);
  const auto second = tie_row(k);
  for (float v : second) x.push_back(-v);
  lowbit::activation_q8 q;
  lowbit::simd_detail::quantize_activations_k<xsimd::default_arch>(lowbit::matrix_view<const float>(x.data(), m, k), q);
  require_codes(q.qs.data(), x.data(), m * k, code_even);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t b = 0; b < k / 256; ++b) REQUIRE(q.row_d(i)[b] == 1.0f);
}

TEST_CASE("ggml: Q8_0 and Q8_1 encode exact ties away from zero", "[ggml][q8_0][q8_1][ties]") {
  const auto x = tie_row(64);
  for (std::size_t b = 0; b < 2; ++b) {
    const float* src = x.data() + 32 * b;
    lowbit::ggml::q8_0::block q0;
    lowbit::ggml::q8_0::quantize_block(src, q0);
    REQUIRE(lowbit::fp16_to_f32(q0.d) == 1.0f);
    require_codes(q0.qs, src, 32, code_away);
    lowbit::ggml::q8_1::block q1;
    lowbit::ggml::q8_1::quantize_block(src, q1);
    REQUIRE(lowbit::fp16_to_f32(q1.d) == 1.0f);
    require_codes(q1.qs, src, 32, code_away);
    int sum = 0;
    for (std::size_t j = 0; j < 32; ++j) sum += code_away(src[j]);
    REQUIRE(lowbit::fp16_to_f32(q1.s) == lowbit::fp16_to_f32(lowbit::f32_to_fp16(static_cast<float>(sum))));
  }
}
