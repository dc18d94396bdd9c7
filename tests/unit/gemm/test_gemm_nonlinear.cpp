// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SIMD kernels of the non-linear and ternary GGUF formats (IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0,
// TQ2_0) against the reference backend and against an exact oracle on the same quantized
// activations, on odd shapes with every epilogue; pack -> unpack identity; bad input.
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "format_lists.hpp"
#include "gemm_check.hpp"
#include "lowbit/backend/simd/gemm_fp4.hpp"
#include "lowbit/backend/simd/gemm_iq4.hpp"
#include "lowbit/backend/simd/gemm_tq.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/gemm.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using lowbit::matrix_view;
namespace ggml = lowbit::ggml;
using nonlinear_formats = lowbit_test::tuple_of_t<lowbit::gguf_nonlinear_formats>;

using lowbit_test::epi;
using lowbit_test::quantize_matrix;
using lowbit_test::random_floats;

// Random bytes in every code and scale field (TQ2_0's unused code 3, NVFP4 scale bytes with bit 7
// or 0x7f, MXFP4's subnormal exponents), with the fp16 scales and E8M0 exponents kept finite.
template <class F>
std::vector<typename F::block> random_blocks(std::size_t count, unsigned seed) {
  return lowbit_test::random_blocks<F>(count, seed, [](auto& b, std::mt19937& rng, auto&) {
    if constexpr (std::is_same_v<F, ggml::mxfp4>) b.e = static_cast<std::uint8_t>(rng() % 136);
  });
}

// SIMD (epilogue `which`, y starting at 0.5) against the exact oracle of the integer-dot path and
// the reference backend (store): lowbit_test::require_q8_close.
template <class F>
void check_against_reference(const std::vector<typename F::block>& blocks, std::size_t m, std::size_t n, std::size_t k,
                             int threads, epi which) {
  CAPTURE(F::name, m, n, k, threads, static_cast<int>(which));
  const auto x = random_floats(m * k, 99 + static_cast<unsigned>(m + k));
  const auto bias = random_floats(n, 7);
  std::vector<float> y_ref(m * n), y_simd(m * n, 0.5f);
  lowbit_test::run_with_reference<simd, true>(lowbit::weight_view<F>{blocks.data(), n, k}, x, y_simd, y_ref,
                                              {.threads = threads}, which, bias.data());
  const auto oracle = lowbit_test::make_q8_oracle<F>(x, m, k, blocks, n);
  for (std::size_t i = 0; i < m * n; ++i) {
    CAPTURE(i);
    const double added = lowbit_test::added_by(which, bias, i);
    lowbit_test::require_q8_close(double(y_simd[i]) - added, added, y_ref[i], oracle, i, k);
  }
}

template <class F>
std::size_t block_k() {
  return F::block_size < 32 ? 32 : F::block_size;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("gemm: nonlinear simd == reference on odd shapes, every epilogue", "[gemm][simd][nonlinear]",
                        nonlinear_formats) {
  using F = TestType;
  for (std::size_t k : {block_k<F>(), 3 * block_k<F>()}) {
    for (std::size_t n : {1, 15, 17, 33}) {
      const auto blocks = quantize_matrix<F>(random_floats(n * k, 1234 + static_cast<unsigned>(n * 7 + k)));
      for (std::size_t m : {1, 3, 17}) {
        for (epi e : {epi::store, epi::bias_add, epi::accumulate}) check_against_reference<F>(blocks, m, n, k, 1, e);
      }
    }
  }
  const std::size_t k = 6 * block_k<F>(), n = 70;
  check_against_reference<F>(quantize_matrix<F>(random_floats(n * k, 5)), 65, n, k, 2, epi::store);
}

TEMPLATE_LIST_TEST_CASE("gemm: nonlinear simd == reference on random bytes in every field", "[gemm][simd][nonlinear]",
                        nonlinear_formats) {
  using F = TestType;
  const std::size_t k = 2 * block_k<F>();
  for (std::size_t n : {1, 17, 33}) {
    const auto blocks = random_blocks<F>(n * k / F::block_size, 40 + static_cast<unsigned>(n));
    for (std::size_t m : {1, 9}) check_against_reference<F>(blocks, m, n, k, 1, epi::store);
  }
}

TEMPLATE_LIST_TEST_CASE("gemm: nonlinear threads give bit-identical results", "[gemm][simd][threads][nonlinear]",
                        nonlinear_formats) {
  using F = TestType;
  const std::size_t m = 9, n = 100, k = 2 * block_k<F>();
  lowbit_test::require_thread_invariance<simd, F>(quantize_matrix<F>(random_floats(n * k, 5)), m, n, k, 2);
}

TEMPLATE_LIST_TEST_CASE("gemm: nonlinear pack then unpack restores the file bytes", "[gemm][pack][nonlinear]",
                        nonlinear_formats) {
  using F = TestType;
  for (std::size_t n : {1, 16, 17, 40}) {
    const std::size_t k = 3 * block_k<F>();
    const auto w = random_blocks<F>(n * k / F::block_size, 11 + static_cast<unsigned>(n));
    const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k}, lowbit::threads{2});
    REQUIRE(packed.bytes.size() == packed.panels() * 16 * (k / F::block_size) * F::block_bytes);
    std::vector<typename F::block> back(w.size());
    lowbit::simd_detail::unpack_blocks<F>(packed, back);
    REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
  }
  // The named entry points are the same transform.
  const std::size_t n = 5, k = 256;
  const auto w = random_blocks<F>(n * k / F::block_size, 3);
  std::vector<typename F::block> back(w.size());
  if constexpr (std::is_same_v<F, ggml::iq4_nl>) lowbit::unpack_iq4_nl(lowbit::pack_iq4_nl({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq4_xs>) lowbit::unpack_iq4_xs(lowbit::pack_iq4_xs({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::mxfp4>) lowbit::unpack_mxfp4(lowbit::pack_mxfp4({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::nvfp4>) lowbit::unpack_nvfp4(lowbit::pack_nvfp4({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::tq2_0>) lowbit::unpack_tq2_0(lowbit::pack_tq2_0({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::tq1_0>) lowbit::unpack_tq1_0(lowbit::pack_tq1_0({w.data(), n, k}), back);
  REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
}

TEMPLATE_LIST_TEST_CASE("gemm: nonlinear bad shapes and inputs throw lowbit::error", "[gemm][errors][nonlinear]",
                        nonlinear_formats) {
  using F = TestType;
  const std::size_t n = 4, k = block_k<F>();
  const auto w = random_blocks<F>(2 * n * k / F::block_size, 31);
  // K not a multiple of the block size (a hand-made view; make_weight_view would refuse it).
  if constexpr (F::block_size > 32) {
    REQUIRE_THROWS_WITH(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k + 32}),
                        Catch::Contains("not a multiple of the block size"));
  }
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k});
  std::vector<typename F::block> small(n * k / F::block_size - 1);
  REQUIRE_THROWS_AS(lowbit::simd_detail::unpack_blocks<F>(packed, small), lowbit::error);
  std::vector<float> x(2 * 2 * k, 1.0f), y(2 * n);
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, 2 * k), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("W has K = " + std::to_string(k)));
  x[k - 1] = std::nanf("");
  try {
    lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n));
    FAIL("NaN activation accepted");
  } catch (const lowbit::error& e) {
    REQUIRE(e.code() == lowbit::errc::invalid_argument);
    REQUIRE_THAT(e.what(), Catch::Contains("NaN or infinity"));
  }
}
