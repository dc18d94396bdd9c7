// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// README.md's pruning and GPTQ snippet, compiled and run (test_user_guide.cpp checks that the
// README's ```cpp block appears here verbatim): a weight pruned to 2:4, stored sparse with int8
// per-channel values and multiplied by the SIMD kernel that skips the pruned weights; a layer
// GPTQ-quantized to int4 with groups of 128 and run on the reference backend.

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "catch.hpp"
#include "docs_support.hpp"
#include "lowbit/backend/simd/gemm_nm_sparse.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/prune/gptq.hpp"
#include "lowbit/prune/hessian.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"

using namespace lowbit_docs_test;

TEST_CASE("docs: README pruning to 2:4 and GPTQ int4 g128", "[docs][prune]") {
  const std::size_t n = 48, k = 256, t = 64;
  std::vector<float> weights = sine_weights(n, k);
  std::vector<float> calibration(t * k);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (float& v : calibration) v = normal(rng);
  std::vector<float> out(t * n), out_gptq(t * n);
  lowbit::matrix_view<float> y(out.data(), t, n), y2(out_gptq.data(), t, n);

  // clang-format off
namespace prune = lowbit::prune;
// W(N, K) row-major f32 (out x in features); X(T, K): the layer's inputs on calibration text.
lowbit::matrix_view<float> w(weights.data(), n, k);
lowbit::matrix_view<const float> x(calibration.data(), t, k);

// GPTQ: int4, groups of 128, asymmetric, columns in order of decreasing Hessian diagonal.
prune::hessian h(k);
h.add(x);                                    // H = 2 XᵀX / T, batches can be streamed
using int4_g128 = lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<128>,
                                lowbit::asymmetric>;
const auto q = prune::gptq<int4_g128>(w, h, {.act_order = true});
lowbit::gemm<lowbit::backend::reference>(x, q.quantized, y2);   // a quantized_matrix<int4_g128>

// 2:4 by magnitude (prune::wanda_nm_mask weighs |W| by the inputs' column norms), stored sparse
// with int8 per-channel values; the GEMM skips the pruned weights.
prune::apply_mask(w, prune::magnitude_nm_mask(w, {.n = 2, .m = 4}));
using sparse_int8 = prune::nm_sparse_matrix<prune::nm_int8_per_channel, prune::nm_sparse<2, 4>>;
const auto packed = sparse_int8::pack(w);
prune::gemm_nm_simd<xsimd::default_arch>(x, packed, y);
  // clang-format on

  // The 2:4 pattern holds, and the sparse GEMM equals the dense product with the unpacked weights
  // within the rounding of the int8 activations (normwise; the kernel's exactness is tested in
  // tests/unit/prune/test_nm_sparse_simd.cpp).
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t g = 0; g < k / 4; ++g) {
      int nz = 0;
      for (std::size_t p = 0; p < 4; ++p) nz += weights[r * k + g * 4 + p] != 0.0f ? 1 : 0;
      REQUIRE(nz <= 2);
    }
  }
  const std::vector<float> unpacked = packed.unpack();
  const auto dense = dense_gemm(calibration, unpacked, t, n, k);
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    diff += (out[i] - dense[i]) * (out[i] - dense[i]);
    norm += dense[i] * dense[i];
  }
  CHECK(std::sqrt(diff / norm) < 0.01);
  // GPTQ's product is close to the original layer's.
  const auto original = dense_gemm(calibration, sine_weights(n, k), t, n, k);
  double err = 0.0, ref = 0.0;
  for (std::size_t i = 0; i < out_gptq.size(); ++i) {
    err += (out_gptq[i] - original[i]) * (out_gptq[i] - original[i]);
    ref += original[i] * original[i];
  }
  CHECK(std::sqrt(err / ref) < 0.05);
}
