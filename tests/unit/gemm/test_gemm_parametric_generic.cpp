// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The generic SIMD kernel of the parametric formats (backend/simd/gemm_parametric_generic.hpp):
// every code type decoded exactly (every raw code, every column position of a chunk), and GEMM /
// GEMV of ~27 quant<...> configurations covering every code, scale type and granularity against
// the reference backend on odd shapes, every epilogue, 1 and 2 threads, NaN/Inf activations; for
// the native arch (AVX-512 here). The AVX2 path runs in the AVX2-only build of this file
// (lowbit_gemm_test_gemm_parametric_generic_avx2, tests/CMakeLists.txt): one arch per program
// keeps the compile time down. The GGUF types Q8_1 and Q8_K, served by the same kernel
// (backend/simd/gemm_q8_1_q8_k.hpp), are tested here too.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/simd/gemm_parametric.hpp"
#include "lowbit/backend/simd/gemm_q8_1_q8_k.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "shard.hpp"

namespace {

using lowbit::matrix_view;
using native = lowbit::backend::simd<>;
using namespace lowbit;  // the quant<...> spellings below

std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

bool same_value(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_decoded(const std::vector<float>& y, const std::vector<float>& expected, std::size_t t) {
  for (std::size_t n = 0; n < y.size(); ++n) {
    CAPTURE(t, n, y[n], expected[n]);
    REQUIRE(same_value(y[n], expected[n]));
  }
}

// Every raw code of Q's code at the first 4 columns (every position of a chunk, where G >= 4):
// W(2^bits, K) with code n at (n, t), raw 0 elsewhere (finite), every scale 1 and zero point 0,
// x = e_t, so y(n) = Code::decode(n) exactly (NaN where it is NaN). K: the first multiple of the
// group size >= 4.
template <class B, class Q>
void check_decode() {
  using code = typename Q::code_type;
  constexpr std::size_t codes = std::size_t{1} << Q::bits;
  constexpr std::size_t g = Q::group_size == 0 ? 4 : Q::group_size;
  constexpr std::size_t k = (4 + g - 1) / g * g;
  for (std::size_t t = 0; t < 4; ++t) {
    quantized_matrix<Q> w(codes, k);
    for (auto& s : w.scales()) s = Q::scale_type::encode_up(1.0);
    for (std::size_t n = 0; n < codes; ++n) w.set_code(n, t, static_cast<std::uint8_t>(n));
    const auto packed = prepare_weight<B>(w);
    std::vector<float> x(k, 0.0f), y(codes), expected(codes);
    x[t] = 1.0f;
    gemv<B>(x.data(), packed, y.data());
    for (std::size_t n = 0; n < codes; ++n) expected[n] = code::decode(static_cast<std::uint8_t>(n));
    check_decoded(y, expected, t);
  }
}

// A W(N, K) of random codes, scales and zero points (every code value; quantize<Q> would cost
// compile time for no extra coverage). E4M3 NaN and E5M2 Inf/NaN codes are left out here.
template <class Q>
quantized_matrix<Q> random_weight(std::size_t n, std::size_t k, unsigned seed) {
  quantized_matrix<Q> w(n, k);
  std::mt19937 rng(seed);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < k; ++c) {
      auto raw = static_cast<std::uint8_t>(rng() & ((1u << Q::bits) - 1u));
      if (!std::isfinite(Q::code_type::decode(raw))) raw = 0;
      w.set_code(r, c, raw);
    }
  }
  for (auto& s : w.scales()) s = Q::scale_type::encode_up(std::ldexp(1.0 + 0.01 * (rng() % 100), -int(rng() % 8)));
  if constexpr (Q::has_zero_point) {
    using code = typename Q::code_type;
    for (auto& z : w.zero_points()) z = code::min_int + static_cast<int>(rng() % (code::max_int - code::min_int + 1));
  }
  return w;
}

template <class Q>
std::vector<std::size_t> k_values() {
  constexpr std::size_t g = Q::group_size;
  if constexpr (g == 0) {
    return {1, 7, 131};  // per_tensor, per_channel: K off every chunk boundary
  } else if constexpr (g < 16) {
    return {g, 3 * g, 5 * g};
  } else {
    return {g, 3 * g};
  }
}

// N rounded up to whole blocks of rows (per_block<R, C>).
template <class Q>
std::size_t n_value(std::size_t n) {
  constexpr std::size_t r = Q::block_rows > 1 ? Q::block_rows : 1;
  return (n + r - 1) / r * r;
}

// |y - y_ref| <= 2 K eps Σ_k |x w| (+ one rounding of the epilogue's add, + tiny): both sides use
// the same f32 weights (bit for bit); the kernel sums in f32 in its own order, the reference in
// double (rounded once).
float tolerance(const float* x, const float* w, std::size_t k, float y_ref) {
  double abs_dot = 0.0;
  for (std::size_t j = 0; j < k; ++j) abs_dot += std::fabs(static_cast<double>(x[j]) * w[j]);
  return static_cast<float>(2.0 * static_cast<double>(k) * 0x1p-24 * abs_dot + 0x1p-23 * std::fabs(y_ref) + 1e-30);
}

// |y - y_ref| <= tolerance for y(m, n) of x(m, k) and the dequantized wd(n, k), and y == y2 (two
// threads split the panels: the same sums). Not a template: the checks are compiled once.
void check_close(const std::vector<float>& y, const std::vector<float>& y2, const std::vector<float>& y_ref,
                 const std::vector<float>& x, const std::vector<float>& wd, std::size_t m, std::size_t n,
                 std::size_t k) {
  CAPTURE(k, n, m);
  REQUIRE(y == y2);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const float tol = tolerance(x.data() + i * k, wd.data() + j * k, k, y_ref[i * n + j]);
      CAPTURE(i, j, y[i * n + j], y_ref[i * n + j], tol);
      REQUIRE(std::fabs(y[i * n + j] - y_ref[i * n + j]) <= tol);
    }
  }
}

// y = epilogue(x · Wᵀ) for the simd backend B (1 and 2 threads) and the reference, for W(n, k)
// of format Q and a random x(m, k), compared by check_close.
template <class B, class Q, class E>
void check_shape(const quantized_matrix<Q>& qm, const prepared_quantized_t<B, Q>& packed, const std::vector<float>& wd,
                 std::size_t m, const E& e) {
  const std::size_t n = qm.rows(), k = qm.cols();
  const auto x = random_floats(m * k, static_cast<unsigned>(m + 3 * n + 5 * k), 2.0f);
  const matrix_view<const float> xv(x.data(), m, k);
  std::vector<float> y_ref = random_floats(m * n, 98), y = y_ref, y2 = y_ref;  // the residual
  gemm<backend::reference>(xv, qm, matrix_view<float>(y_ref.data(), m, n), threads{1}, e);
  gemm<B>(xv, packed, matrix_view<float>(y.data(), m, n), threads{1}, e);
  gemm<B>(xv, packed, matrix_view<float>(y2.data(), m, n), threads{2}, e);
  check_close(y, y2, y_ref, x, wd, m, n, k);
}

// Every shape of k_values<Q>() x N {1, 15, 17, 33} (rounded up to blocks) x M {1, 3, 5, 17} with
// the store epilogue; gemv == gemm with M = 1.
template <class B, class Q>
void run_against_reference() {
  for (std::size_t k : k_values<Q>()) {
    for (std::size_t n0 : {1, 15, 17, 33}) {
      const std::size_t n = n_value<Q>(n0);
      const auto qm = random_weight<Q>(n, k, static_cast<unsigned>(7 * n + k));
      const auto packed = prepare_weight<B>(qm, threads{2});
      const auto wd = dequantize(qm);
      for (std::size_t m : {1, 3, 5, 17}) check_shape<B>(qm, packed, wd, m, epilogue::store{});
      const auto x1 = random_floats(k, 5);
      std::vector<float> g1(n), g2(n);
      gemv<B>(x1.data(), packed, g1.data());
      gemm<B>(matrix_view<const float>(x1.data(), 1, k), packed, matrix_view<float>(g2.data(), 1, n));
      CHECK(g1 == g2);
    }
  }
}

// The bias and residual epilogues (their code is the same for every format: one per decode kind).
template <class B, class Q>
void run_epilogues() {
  const std::size_t n = n_value<Q>(33), k = k_values<Q>().back();
  const auto qm = random_weight<Q>(n, k, 11);
  const auto packed = prepare_weight<B>(qm);
  const auto wd = dequantize(qm);
  const auto bias = random_floats(n, 99);
  for (std::size_t m : {1, 5, 17}) {
    check_shape<B>(qm, packed, wd, m, epilogue::bias_add{bias.data()});
    check_shape<B>(qm, packed, wd, m, epilogue::accumulate{});
  }
}

void check_same_non_finite(const std::vector<float>& y, const std::vector<float>& y_ref) {
  for (std::size_t e = 0; e < y.size(); ++e) {
    CAPTURE(e, y[e], y_ref[e]);
    REQUIRE(std::isnan(y[e]) == std::isnan(y_ref[e]));
    if (std::isinf(y_ref[e])) REQUIRE(y[e] == y_ref[e]);
  }
}

// NaN and Inf activations propagate as in the reference: the same NaN lanes, the same infinities.
template <class B, class Q>
void check_non_finite_activations() {
  const std::size_t n = n_value<Q>(17), k = k_values<Q>().back(), m = 3;
  const auto qm = random_weight<Q>(n, k, 3);
  const auto packed = prepare_weight<B>(qm);
  auto x = random_floats(m * k, 4);
  x[1] = std::numeric_limits<float>::quiet_NaN();
  x[k + k / 2] = std::numeric_limits<float>::infinity();
  std::vector<float> y(m * n), y_ref(m * n);
  gemm<backend::reference>(matrix_view<const float>(x.data(), m, k), qm, matrix_view<float>(y_ref.data(), m, n));
  gemm<B>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y.data(), m, n));
  check_same_non_finite(y, y_ref);
}

// This program's share of the list (tests/support/shard.hpp: tests/CMakeLists.txt builds it in shards).
using formats = lowbit_test::shard_t<std::tuple<                           //
    quant<binary, scale_f32, per_channel>,                                 //
    quant<binary, scale_fp8_e4m3, per_block<2, 32>>,                       //
    quant<ternary, scale_f16, per_group<32>>,                              //
    quant<int_code<2, false>, scale_f16, per_group<16>, asymmetric>,       //
    quant<int_code<2, true>, scale_bf16, per_tensor>,                      //
    quant<int_code<3, false>, scale_f16, per_group<64>, asymmetric>,       //
    quant<int_code<3, true>, scale_f32, per_group<3>>,                     //
    quant<int_code<4, true>, scale_f32, per_group<6>, asymmetric>,         //
    quant<int_code<4, false>, scale_e8m0, per_block<2, 32>, asymmetric>,   //
    quant<int_code<5, true>, scale_f32, per_channel>,                      //
    quant<int_code<5, false>, scale_fp8_e4m3, per_group<48>, asymmetric>,  //
    quant<int_code<6, true>, scale_bf16, per_group<5>, asymmetric>,        //
    quant<int_code<6, false>, scale_f16, per_channel>,                     //
    quant<int_code<7, true>, scale_f16, per_group<128>>,                   //
    quant<int_code<7, false>, scale_f32, per_tensor, asymmetric>,          //
    quant<int_code<8, true>, scale_f16, per_group<32>>,                    //
    quant<int_code<8, false>, scale_f32, per_channel, asymmetric>,         //
    quant<nf4, scale_f32, per_group<32>>,                                  //
    quant<nf4, scale_bf16, per_channel>,                                   //
    quant<fp4_e2m1, scale_e8m0, per_group<32>>,                            //
    quant<fp4_e2m1, scale_fp8_e4m3, per_group<16>>,                        //
    quant<fp6_e2m3, scale_e8m0, per_group<32>>,                            //
    quant<fp6_e3m2, scale_f32, per_group<6>>,                              //
    quant<fp8_e4m3, scale_f16, per_group<64>>,                             //
    quant<fp8_e4m3, scale_f32, per_tensor>,                                //
    quant<fp8_e5m2, scale_bf16, per_channel>,                              //
    quant<fp8_e5m2, scale_e8m0, per_block<4, 16>>>>;

// One of each decode kind: integer, table, minifloat.
using kind_formats =
    lowbit_test::shard_t<std::tuple<quant<int_code<3, false>, scale_f16, per_group<64>, asymmetric>,
                                    quant<nf4, scale_bf16, per_channel>, quant<fp8_e4m3, scale_f32, per_tensor>>>;

// Random Q8_1 / Q8_K blocks: every code -128..127, scales of both signs (Q8_K's d is negative for a
// positive largest element), Q8_1's s random bits (the kernel never reads it), Q8_K's bsums the
// code sums.
[[maybe_unused]] void fill_block(ggml::q8_1::block& b, std::mt19937& rng) {
  for (auto& q : b.qs) q = static_cast<std::int8_t>(rng());
  b.d = f32_to_fp16((rng() & 1 ? -1.0f : 1.0f) * std::ldexp(1.0f + 0.01f * (rng() % 100), -int(rng() % 12)));
  b.s = static_cast<std::uint16_t>(rng());
}
[[maybe_unused]] void fill_block(ggml::q8_k::block& b, std::mt19937& rng) {
  for (auto& q : b.qs) q = static_cast<std::int8_t>(rng());
  b.d = (rng() & 1 ? -1.0f : 1.0f) * std::ldexp(1.0f + 0.001f * (rng() % 1000), -int(rng() % 12));
  for (std::size_t g = 0; g < 16; ++g) {
    int sum = 0;
    for (std::size_t e = 16 * g; e < 16 * g + 16; ++e) sum += b.qs[e];
    b.bsums[g] = static_cast<std::int16_t>(sum);
  }
}

// Scales that only the pack -> unpack identity sees: signalling and payload NaNs, -0, the
// smallest subnormal, -Inf.
[[maybe_unused]] void set_special_scale(ggml::q8_1::block& b, std::size_t i) {
  constexpr std::uint16_t bits[] = {0x7c01, 0xfe3f, 0x8000, 0x0001, 0xfc00};
  b.d = bits[i % 5];
}
[[maybe_unused]] void set_special_scale(ggml::q8_k::block& b, std::size_t i) {
  constexpr std::uint32_t bits[] = {0x7f800001, 0xffc12345, 0x80000000, 0x00000001, 0xff800000};
  b.d = std::bit_cast<float>(bits[i % 5]);
}

// GGUF 8-bit type F (Q8_1, Q8_K) on the simd backend against the reference, M {1, 3, 17} x
// N {1, 17, 33} x `ks`, 1 and 2 threads (check_close); then pack -> unpack restores the blocks byte
// for byte, special scales included.
template <class F>
void check_q8_blocks(std::initializer_list<std::size_t> ks) {
  std::mt19937 rng(17);
  for (std::size_t k : ks) {
    for (std::size_t n : {1, 17, 33}) {
      std::vector<typename F::block> blocks(n * k / F::block_size);
      for (auto& b : blocks) fill_block(b, rng);
      const weight_view<F> w{blocks.data(), n, k};
      const auto packed = prepare_weight<native>(w, threads{2});
      std::vector<float> wd(n * k);
      for (std::size_t b = 0; b < blocks.size(); ++b) F::dequantize_block(blocks[b], wd.data() + b * F::block_size);
      for (std::size_t m : {1, 3, 17}) {
        const auto x = random_floats(m * k, static_cast<unsigned>(m + 3 * n + 5 * k), 2.0f);
        const matrix_view<const float> xv(x.data(), m, k);
        std::vector<float> y_ref(m * n), y(m * n), y2(m * n);
        gemm<backend::reference>(xv, w, matrix_view<float>(y_ref.data(), m, n));
        gemm<native>(xv, packed, matrix_view<float>(y.data(), m, n), threads{1});
        gemm<native>(xv, packed, matrix_view<float>(y2.data(), m, n), threads{2});
        check_close(y, y2, y_ref, x, wd, m, n, k);
      }
      for (std::size_t b = 0; b < blocks.size(); b += 3) set_special_scale(blocks[b], b / 3);
      std::vector<typename F::block> back(blocks.size());
      if constexpr (std::is_same_v<F, ggml::q8_1>) {
        unpack_q8_1(pack_q8_1(w), back);
      } else {
        unpack_q8_k(pack_q8_k(w), back);
      }
      REQUIRE(std::memcmp(back.data(), blocks.data(), blocks.size() * sizeof(blocks[0])) == 0);
    }
  }
}

}  // namespace

#if LOWBIT_TEST_SHARD == 0
TEST_CASE("gemm: q8_1 simd == reference on odd shapes, pack -> unpack restores the blocks", "[gemm][q8_1][simd]") {
  check_q8_blocks<ggml::q8_1>({32, 64, 96});
}
#endif

#if LOWBIT_TEST_SHARD == LOWBIT_TEST_SHARDS - 1
TEST_CASE("gemm: q8_k simd == reference on odd shapes, pack -> unpack restores the blocks", "[gemm][q8_k][simd]") {
  check_q8_blocks<ggml::q8_k>({256, 512});
}
#endif

TEMPLATE_LIST_TEST_CASE("gemm: generic parametric simd decodes every raw code exactly", "[gemm][parametric][simd]",
                        formats) {
  check_decode<native, TestType>();
}

TEMPLATE_LIST_TEST_CASE("gemm: generic parametric simd == reference on odd shapes", "[gemm][parametric][simd]",
                        formats) {
  run_against_reference<native, TestType>();
}

TEMPLATE_LIST_TEST_CASE("gemm: generic parametric simd == reference, bias and residual epilogues",
                        "[gemm][parametric][simd]", kind_formats) {
  run_epilogues<native, TestType>();
}

TEMPLATE_LIST_TEST_CASE("gemm: generic parametric simd propagates NaN/Inf activations", "[gemm][parametric][simd]",
                        kind_formats) {
  check_non_finite_activations<native, TestType>();
}

#if LOWBIT_TEST_SHARD == 0
TEST_CASE("gemm: generic parametric simd rejects a zero point outside the code range", "[gemm][parametric][simd]") {
  quantized_matrix<quant<int_code<3, true>, scale_f32, per_channel, asymmetric>> w(2, 8);
  w.zero_points()[1] = 4;  // int3 codes are -4..3
  REQUIRE_THROWS_AS(prepare_weight<native>(w), error);
}
#endif
