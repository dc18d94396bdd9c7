// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SIMD kernels of the GGUF codebook i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), the OCP
// MX formats, NVFP4 and F16 against the reference backend and against an exact oracle on the same
// quantized activations, on odd shapes with every epilogue; pack -> unpack identity; bad input.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "format_lists.hpp"
#include "gemm_check.hpp"
#include "lowbit/backend/simd/gemm_f16.hpp"
#include "lowbit/backend/simd/gemm_iq_codebook.hpp"
#include "lowbit/backend/simd/gemm_mx.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "shard.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using lowbit::matrix_view;
namespace ggml = lowbit::ggml;
namespace mx = lowbit::mx;
// The catalogue's codebook i-quants, then OCP MX, F16 and NVIDIA NVFP4.
// This program's share of them (tests/support/shard.hpp: tests/CMakeLists.txt builds it in shards).
using codebook_formats = lowbit_test::shard_t<decltype(std::tuple_cat(
    lowbit_test::tuple_of_t<lowbit::gguf_codebook_formats>{},
    std::tuple<mx::mxint8, mx::mxfp4, mx::mxfp6_e2m3, mx::mxfp6_e3m2, mx::mxfp8_e4m3, mx::mxfp8_e5m2, lowbit::f16,
               mx::nvfp4>{}))>;

// Formats whose SIMD kernel quantizes the activations to 8 bits (integer dot); the others decode
// the weights to f32 and multiply the f32 activations.
template <class F>
constexpr bool q8_path = !std::is_same_v<F, mx::mxfp6_e3m2> && !std::is_same_v<F, mx::mxfp8_e4m3> &&
                         !std::is_same_v<F, mx::mxfp8_e5m2> && !std::is_same_v<F, lowbit::f16>;
template <class F>
constexpr bool is_mx = requires(typename F::block b) {
  b.e;
};

using lowbit_test::epi;
using lowbit_test::random_floats;

// Random bytes in every code, sign and scale field (every grid index, sign pattern and scale
// code), with the fp16 super-scale kept finite.
template <class F>
std::vector<typename F::block> random_blocks(std::size_t count, unsigned seed) {
  return lowbit_test::random_blocks<F>(count, seed, [](auto& b, std::mt19937& rng, auto& scale) {
    if constexpr (std::is_same_v<F, ggml::iq1_m>) {
      // The super-scale lives in the top nibbles of the four scale words: keep it finite.
      const std::uint16_t d = lowbit::f32_to_fp16(scale(rng));
      for (int w = 0; w < 4; ++w) {
        b.scales[2 * w + 1] = static_cast<std::uint8_t>((b.scales[2 * w + 1] & 0x0f) | (((d >> (4 * w)) & 0xf) << 4));
      }
    }
    if constexpr (is_mx<F>) b.e = static_cast<std::uint8_t>(112 + rng() % 24);  // 2^-15 .. 2^8
    if constexpr (std::is_same_v<F, mx::mxfp8_e4m3>) {
      for (auto& c : b.qs) c = (c & 0x7f) == 0x7f ? c ^ 1 : c;  // no NaN codes
    }
    if constexpr (std::is_same_v<F, mx::mxfp8_e5m2>) {
      for (auto& c : b.qs) c = (c & 0x7c) == 0x7c ? c & 0xbf : c;  // no inf / NaN codes
    }
    if constexpr (std::is_same_v<F, mx::nvfp4>) b.s = static_cast<std::uint8_t>(rng() % 0x7f);  // finite, >= 0
    if constexpr (std::is_same_v<F, lowbit::f16>) {
      if ((b.bits & 0x7c00) == 0x7c00) b.bits &= 0xbfff;  // no inf / NaN
    }
  });
}

// SIMD (epilogue `which`, y starting at 0.5) against the reference backend (store) and, for the
// integer-dot kernels, the exact oracle on the same quantized activations
// (lowbit_test::require_q8_close). The float kernels (q8_path false) take any K: their oracle
// bounds come from a zero-padded copy of x.
template <class F>
void check_against_reference(const std::vector<typename F::block>& blocks, std::size_t m, std::size_t n, std::size_t k,
                             int threads, epi which) {
  CAPTURE(F::name, m, n, k, threads, static_cast<int>(which));
  const auto x = random_floats(m * k, 99 + static_cast<unsigned>(m + k));
  const auto bias = random_floats(n, 7);
  std::vector<float> y_ref(m * n), y_simd(m * n, 0.5f);
  lowbit_test::run_with_reference<simd, true>(lowbit::weight_view<F>{blocks.data(), n, k}, x, y_simd, y_ref,
                                              {.threads = threads}, which, bias.data());
  const auto oracle = lowbit_test::make_q8_oracle<F>(x, m, k, blocks, n, !q8_path<F>);
  for (std::size_t i = 0; i < m * n; ++i) {
    CAPTURE(i);
    const double added = lowbit_test::added_by(which, bias, i);
    const double got = double(y_simd[i]) - added;
    if constexpr (!q8_path<F>) {
      // f32 decode (exact) and f32 FMA chains of at most K + 2 roundings against the double sum.
      const double rounding = 6e-8 * (double(k) + 8) * oracle.bound_f32[i] + 1e-6 * std::abs(added) + 1e-30;
      REQUIRE(std::abs(got - double(y_ref[i])) <= rounding + 1e-7 * std::abs(y_ref[i]));
    } else {
      lowbit_test::require_q8_close(got, added, y_ref[i], oracle, i, k);
    }
  }
}

template <class F>
std::size_t block_k() {
  return F::block_size < 32 ? 32 : F::block_size;
}

// K values: one block and several (F16: odd K too).
template <class F>
std::vector<std::size_t> k_values() {
  if constexpr (F::block_size == 1) return {1, 7, 33, 300};
  return {block_k<F>(), 3 * block_k<F>()};
}

template <class Packed, class F>
void unpack_any(const Packed& packed, std::vector<typename F::block>& out) {
  if constexpr (std::is_same_v<F, lowbit::f16>) {
    lowbit::unpack_f16(packed, out);
  } else if constexpr (std::is_same_v<F, mx::nvfp4>) {
    lowbit::unpack_mx_nvfp4(packed, out);
  } else {
    lowbit::simd_detail::unpack_blocks<F>(packed, out);
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("gemm: codebook simd == reference on odd shapes, every epilogue", "[gemm][simd][codebook]",
                        codebook_formats) {
  using F = TestType;
  for (std::size_t k : k_values<F>()) {
    for (std::size_t n : {1, 15, 17, 33}) {
      const auto blocks = random_blocks<F>(n * k / F::block_size, 1234 + static_cast<unsigned>(n * 7 + k));
      for (std::size_t m : {1, 3, 17}) {
        for (epi e : {epi::store, epi::bias_add, epi::accumulate}) check_against_reference<F>(blocks, m, n, k, 1, e);
      }
    }
  }
  const std::size_t k = 2 * block_k<F>(), n = 70;
  check_against_reference<F>(random_blocks<F>(n * k / F::block_size, 5), 65, n, k, 2, epi::store);
}

TEMPLATE_LIST_TEST_CASE("gemm: MX and F16 simd == reference on encoded weights", "[gemm][simd][codebook]",
                        codebook_formats) {
  using F = TestType;
  const std::size_t n = 17, k = block_k<F>();
  const auto w = random_floats(n * k, 21);
  std::vector<typename F::block> blocks(n * k / F::block_size);
  // The i-quant encoders (grid searches, tested in tests/unit/formats) are left out to keep this
  // file's compile time small: random bytes above reach every grid entry and sign pattern.
  if constexpr (!requires { F::quantize_row(w.data(), nullptr, w.size(), blocks.data()); }) {
    for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
    for (std::size_t m : {1, 3}) check_against_reference<F>(blocks, m, n, k, 1, epi::store);
  }
}

TEMPLATE_LIST_TEST_CASE("gemm: codebook threads give bit-identical results", "[gemm][simd][threads][codebook]",
                        codebook_formats) {
  using F = TestType;
  const std::size_t m = 9, n = 100, k = 2 * block_k<F>();
  lowbit_test::require_thread_invariance<simd, F>(random_blocks<F>(n * k / F::block_size, 5), m, n, k, 2);
}

TEMPLATE_LIST_TEST_CASE("gemm: codebook pack then unpack restores the file bytes", "[gemm][pack][codebook]",
                        codebook_formats) {
  using F = TestType;
  for (std::size_t n : {1, 16, 17, 40}) {
    const std::size_t k = 3 * block_k<F>();
    const auto w = random_blocks<F>(n * k / F::block_size, 11 + static_cast<unsigned>(n));
    const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k}, lowbit::threads{2});
    REQUIRE(packed.bytes.size() == packed.panels() * packed.nr * (k / F::block_size) * F::block_bytes);
    std::vector<typename F::block> back(w.size());
    unpack_any<std::decay_t<decltype(packed)>, F>(packed, back);
    REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
  }
  // The named entry points are the same transform.
  const std::size_t n = 5, k = 256;
  const auto w = random_blocks<F>(n * k / F::block_size, 3);
  std::vector<typename F::block> back(w.size());
  if constexpr (std::is_same_v<F, ggml::iq1_m>) lowbit::unpack_iq1_m(lowbit::pack_iq1_m({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq1_s>) lowbit::unpack_iq1_s(lowbit::pack_iq1_s({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq2_xxs>) lowbit::unpack_iq2_xxs(lowbit::pack_iq2_xxs({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq2_xs>) lowbit::unpack_iq2_xs(lowbit::pack_iq2_xs({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq2_s>) lowbit::unpack_iq2_s(lowbit::pack_iq2_s({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq3_xxs>) lowbit::unpack_iq3_xxs(lowbit::pack_iq3_xxs({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, ggml::iq3_s>) lowbit::unpack_iq3_s(lowbit::pack_iq3_s({w.data(), n, k}), back);
  if constexpr (is_mx<F>) lowbit::unpack_mx<F>(lowbit::pack_mx<F>({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, lowbit::f16>) lowbit::unpack_f16(lowbit::pack_f16({w.data(), n, k}), back);
  if constexpr (std::is_same_v<F, mx::nvfp4>) lowbit::unpack_mx_nvfp4(lowbit::pack_mx_nvfp4({w.data(), n, k}), back);
  REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
}

TEMPLATE_LIST_TEST_CASE("gemm: codebook bad shapes and inputs throw lowbit::error", "[gemm][errors][codebook]",
                        codebook_formats) {
  using F = TestType;
  const std::size_t n = 4, k = block_k<F>();
  const auto w = random_blocks<F>(2 * n * k / F::block_size, 31);
  // K not a multiple of the block size (a hand-made view; make_weight_view would refuse it).
  if constexpr (F::block_size > 32) {
    REQUIRE_THROWS_WITH(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k + 32}),
                        Catch::Contains("not a multiple of the block size"));
  }
  if constexpr (std::is_same_v<F, mx::nvfp4>) {
    REQUIRE_THROWS_WITH(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, 48}),
                        Catch::Contains("not a multiple of 32"));
  }
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k});
  std::vector<typename F::block> small(n * k / F::block_size - 1);
  REQUIRE_THROWS_AS((unpack_any<std::decay_t<decltype(packed)>, F>(packed, small)), lowbit::error);
  std::vector<float> x(2 * 2 * k, 1.0f), y(2 * n);
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, 2 * k), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("W has K = " + std::to_string(k)));
  x[k - 1] = std::nanf("");
  if constexpr (!q8_path<F>) {
    // The float kernels take any activations: NaN propagates to the outputs of its row.
    lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n));
    for (std::size_t j = 0; j < n; ++j) REQUIRE(std::isnan(y[j]));
    return;
  }
  try {
    lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n));
    FAIL("NaN activation accepted");
  } catch (const lowbit::error& e) {
    REQUIRE(e.code() == lowbit::errc::invalid_argument);
    REQUIRE_THAT(e.what(), Catch::Contains("NaN or infinity"));
  }
}

TEMPLATE_LIST_TEST_CASE("gemm: MX NaN scale (E8M0 0xff) gives NaN like the reference", "[gemm][simd][mx]",
                        codebook_formats) {
  using F = TestType;
  if constexpr (is_mx<F>) {
    const std::size_t m = 2, n = 3, k = 64;
    auto w = random_blocks<F>(n * k / 32, 8);
    w[2].e = 0xff;  // row 1, second block
    const auto x = random_floats(m * k, 9);
    const auto view = lowbit::weight_view<F>{w.data(), n, k};
    std::vector<float> y(m * n), y_ref(m * n);
    lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), lowbit::prepare_weight<simd>(view),
                       matrix_view<float>(y.data(), m, n));
    lowbit::gemm<lowbit::backend::reference>(matrix_view<const float>(x.data(), m, k),
                                             lowbit::prepare_weight<lowbit::backend::reference>(view),
                                             matrix_view<float>(y_ref.data(), m, n));
    for (std::size_t i = 0; i < m * n; ++i) REQUIRE(std::isnan(y[i]) == std::isnan(y_ref[i]));
    REQUIRE(std::isnan(y[1]));
  }
}
