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
#include "lowbit/backend/simd/gemm_f16.hpp"
#include "lowbit/backend/simd/gemm_iq_codebook.hpp"
#include "lowbit/backend/simd/gemm_mx.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using lowbit::matrix_view;
namespace ggml = lowbit::ggml;
namespace mx = lowbit::mx;
using codebook_formats = std::tuple<ggml::iq1_s, ggml::iq1_m, ggml::iq2_xxs, ggml::iq2_xs, ggml::iq2_s, ggml::iq3_xxs,
                                    ggml::iq3_s, mx::mxint8, mx::mxfp4, mx::mxfp6_e2m3, mx::mxfp6_e3m2, mx::mxfp8_e4m3,
                                    mx::mxfp8_e5m2, lowbit::f16, mx::nvfp4>;

// Formats whose SIMD kernel quantizes the activations to 8 bits (integer dot); the others decode
// the weights to f32 and multiply the f32 activations.
template <class F>
constexpr bool q8_path = !std::is_same_v<F, mx::mxfp6_e3m2> && !std::is_same_v<F, mx::mxfp8_e4m3> &&
                         !std::is_same_v<F, mx::mxfp8_e5m2> && !std::is_same_v<F, lowbit::f16>;
template <class F>
constexpr bool is_mx = requires(typename F::block b) {
  b.e;
};

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Random bytes in every code, sign and scale field (every grid index, sign pattern and scale
// code), with the fp16 super-scale kept finite.
template <class F>
std::vector<typename F::block> random_blocks(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<typename F::block> blocks(count);
  auto* bytes = reinterpret_cast<std::uint8_t*>(blocks.data());
  for (std::size_t i = 0; i < count * sizeof(typename F::block); ++i) bytes[i] = static_cast<std::uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (auto& b : blocks) {
    if constexpr (requires { b.d = std::uint16_t{}; }) b.d = lowbit::f32_to_fp16(scale(rng));
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
  }
  return blocks;
}

// The exact result of the integer-dot path: W decoded exactly, x replaced by its 8-bit codes times
// their block scale, summed in double. `bound` is Σ |terms|, for the f32 rounding allowance, and
// `step` Σ_k |w_k| (d_x/2 + 2^-11 (|x_k| + d_x/2)): how far the activation quantization (code
// rounding and the fp16 block scale) can move the result from the unquantized reference.
template <class F>
void oracle(const std::vector<float>& x, std::size_t m, std::size_t k, const std::vector<typename F::block>& w,
            std::size_t n, std::vector<double>& y, std::vector<double>& bound, std::vector<double>& step,
            std::vector<double>& bound_f32) {
  lowbit::activation_q8 xq;
  std::vector<float> padded;  // the float kernels take any K: quantize a zero-padded copy only for the bounds
  if constexpr (!q8_path<F>) {
    const std::size_t kp = (k + 31) / 32 * 32;
    padded.assign(m * kp, 0.0f);
    for (std::size_t i = 0; i < m; ++i) std::copy(x.begin() + i * k, x.begin() + (i + 1) * k, padded.begin() + i * kp);
    lowbit::quantize_activations_reference(matrix_view<const float>(padded.data(), m, kp), xq);
  } else {
    lowbit::quantize_activations_reference(matrix_view<const float>(x.data(), m, k), xq);
  }
  y.assign(m * n, 0.0);
  bound.assign(m * n, 0.0);
  step.assign(m * n, 0.0);
  bound_f32.assign(m * n, 0.0);
  std::vector<float> wr(k);
  const std::size_t nb = k / F::block_size;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t b = 0; b < nb; ++b) F::dequantize_block(w[r * nb + b], wr.data() + b * F::block_size);
    for (std::size_t i = 0; i < m; ++i) {
      double sum = 0.0, abs_sum = 0.0, moved = 0.0, abs_f32 = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const double dx = xq.row_d(i)[j / 32];
        const double term = double(wr[j]) * dx * xq.row_qs(i)[j];
        sum += term;
        abs_f32 += std::abs(double(wr[j]) * x[i * k + j]);
        abs_sum += std::abs(term);
        moved += std::abs(double(wr[j])) * (dx / 2 + std::ldexp(std::abs(x[i * k + j]) + dx / 2, -11));
      }
      y[i * n + r] = sum;
      bound[i * n + r] = abs_sum;
      step[i * n + r] = moved;
      bound_f32[i * n + r] = abs_f32;
    }
  }
}

enum class epi { store, bias_add, accumulate };

template <class F>
void check_against_reference(const std::vector<typename F::block>& blocks, std::size_t m, std::size_t n, std::size_t k,
                             int threads, epi which) {
  CAPTURE(F::name, m, n, k, threads, static_cast<int>(which));
  const auto x = random_floats(m * k, 99 + static_cast<unsigned>(m + k));
  const auto bias = random_floats(n, 7);
  const auto view = lowbit::weight_view<F>{blocks.data(), n, k};
  const auto xv = matrix_view<const float>(x.data(), m, k);

  std::vector<float> y_ref(m * n), y_simd(m * n, 0.5f);
  lowbit::gemm<lowbit::backend::reference>(xv, lowbit::prepare_weight<lowbit::backend::reference>(view),
                                           matrix_view<float>(y_ref.data(), m, n));
  const auto packed = lowbit::prepare_weight<simd>(view, lowbit::threads{threads});
  const auto yv = matrix_view<float>(y_simd.data(), m, n);
  switch (which) {
    case epi::store:
      lowbit::gemm<simd>(xv, packed, yv, lowbit::threads{threads});
      break;
    case epi::bias_add:
      lowbit::gemm<simd>(xv, packed, yv, lowbit::threads{threads}, lowbit::epilogue::bias_add{bias.data()});
      break;
    case epi::accumulate:
      lowbit::gemm<simd>(xv, packed, yv, lowbit::threads{threads}, lowbit::epilogue::accumulate{});
      break;
  }
  std::vector<double> y_q8, bound, step, bound_f32;
  oracle<F>(x, m, k, blocks, n, y_q8, bound, step, bound_f32);
  for (std::size_t i = 0; i < m * n; ++i) {
    CAPTURE(i);
    const double added = which == epi::bias_add ? bias[i % n] : which == epi::accumulate ? 0.5 : 0.0;
    const double got = double(y_simd[i]) - added;
    if constexpr (!q8_path<F>) {
      // f32 decode (exact) and f32 FMA chains of at most K + 2 roundings against the double sum.
      const double rounding = 6e-8 * (double(k) + 8) * bound_f32[i] + 1e-6 * std::abs(added) + 1e-30;
      REQUIRE(std::abs(got - double(y_ref[i])) <= rounding + 1e-7 * std::abs(y_ref[i]));
      continue;
    }
    // Same quantized inputs: only f32 rounding of the scaled block sums (<= K/32 + 2 roundings of
    // terms bounded by Σ |terms|) and of the epilogue's addition separates them.
    const double rounding = 4e-7 * (double(k) / 32 + 4) * bound[i] + 1e-6 * std::abs(added) + 1e-30;
    REQUIRE(std::abs(got - y_q8[i]) <= rounding);
    // Against unquantized x: the activation quantization moves the result by at most `step`.
    REQUIRE(std::abs(got - double(y_ref[i])) <= step[i] + rounding + 1e-6 * std::abs(y_ref[i]));
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
  const auto w = random_blocks<F>(n * k / F::block_size, 5);
  const auto x = random_floats(m * k, 6);
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<F>{w.data(), n, k}, lowbit::threads{2});
  std::vector<float> y1(m * n), y2(m * n);
  lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y1.data(), m, n),
                     lowbit::threads{1});
  lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y2.data(), m, n),
                     lowbit::threads{2});
  REQUIRE(y1 == y2);
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
