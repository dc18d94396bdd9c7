// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "gemm_check.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "rounding_bound.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using lowbit::matrix_view;

using lowbit_test::epi;
using lowbit_test::quantize_matrix;
using lowbit_test::random_floats;

// Independent oracle for integer-dot formats: decode W and the quantized activations exactly, then
// sum in double. Per output: y (exact on the quantized activations), magnitude (Σ of the absolute
// element terms |d_w q_w d_x q_x|, a block's offset part -8 d_w or minimum m_w counted apart: what
// the f32 roundings scale with, rounding_bound.hpp), act_bound (Σ |w| |x - x̂|, the activation
// quantization's bound: |x - d q| <= d / 2 with d = max|x| / 127, plus the fp16 rounding of d).
struct q8_oracle_result {
  std::vector<double> y, magnitude, act_bound;
};

template <class F>
q8_oracle_result oracle_q8(const std::vector<float>& x, std::size_t m, std::size_t k,
                           const std::vector<typename F::block>& w, std::size_t n) {
  lowbit::activation_q8 xq;
  lowbit::quantize_activations_reference(matrix_view<const float>(x.data(), m, k), xq);
  q8_oracle_result o{std::vector<double>(m * n), std::vector<double>(m * n), std::vector<double>(m * n)};
  std::vector<float> wr(k);
  const std::size_t nb = k / 32;
  std::vector<double> act_err(m * nb);  // per activation block
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t b = 0; b < nb; ++b) {
      float amax = 0.0f;
      for (std::size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[i * k + b * 32 + j]));
      act_err[i * nb + b] = amax * (1.0 / 254.0 + 1.0 / 2048.0) * (1 + 1e-6);
    }
  }
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t b = 0; b < nb; ++b) F::dequantize_block(w[r * nb + b], wr.data() + b * 32);
    for (std::size_t i = 0; i < m; ++i) {
      double sum = 0.0, magnitude = 0.0, act = 0.0;
      const std::int8_t* qx = xq.row_qs(i);
      for (std::size_t b = 0; b < nb; ++b) {
        const double dx = xq.row_d(i)[b];
        for (std::size_t j = 0; j < 32; ++j) act += std::abs(double(wr[b * 32 + j])) * act_err[i * nb + b];
        if constexpr (std::is_same_v<F, lowbit::ggml::q4_0>) {
          // Q4_0 · Q8_0: d_w d_x Σ (q_w - 8) q_x.
          const auto& blk = w[r * nb + b];
          const double dd = double(lowbit::fp16_to_f32(blk.d)) * dx;
          long dot = 0;
          for (std::size_t j = 0; j < 32; ++j) {
            const int q = j < 16 ? (blk.qs[j] & 15) : (blk.qs[j - 16] >> 4);
            dot += static_cast<long>(q - 8) * qx[b * 32 + j];
            magnitude += std::abs(dd) * (q + 8) * std::abs(qx[b * 32 + j]);
          }
          sum += dd * dot;
        } else if constexpr (std::is_same_v<F, lowbit::ggml::q4_1>) {
          // Q4_1 · Q8_1: d_w d_x Σ q_w q_x + m_w s_x, with s_x the fp16-rounded stored product.
          const auto& blk = w[r * nb + b];
          const double dd = double(lowbit::fp16_to_f32(blk.d)) * dx;
          const double ms = double(lowbit::fp16_to_f32(blk.m)) * xq.row_s(i)[b];
          long dot = 0;
          for (std::size_t j = 0; j < 32; ++j) {
            const int q = j < 16 ? (blk.qs[j] & 15) : (blk.qs[j - 16] >> 4);
            dot += static_cast<long>(q) * qx[b * 32 + j];
            magnitude += std::abs(dd) * q * std::abs(qx[b * 32 + j]);
          }
          sum += dd * dot + ms;
          magnitude += std::abs(ms);
        } else {
          for (std::size_t j = 0; j < 32; ++j) {
            const double t = double(wr[b * 32 + j]) * dx * qx[b * 32 + j];
            sum += t;
            magnitude += std::abs(t);
          }
        }
      }
      o.y[i * n + r] = sum;
      o.magnitude[i * n + r] = magnitude;
      o.act_bound[i * n + r] = act;
    }
  }
  return o;
}

// The float kernels' bound (see check_float_kernel below): exact double sum of x̂ w (x̂ = x for F32,
// bf16(x) for BF16), |y - exact| <= 2 γ_K Σ|x̂ w| + 2 u |exact|; against the reference (f32 x) BF16
// adds 2^-8 Σ|x w|.
template <class F>
void check_float_simd(const std::vector<float>& x, std::size_t m, std::size_t k,
                      const std::vector<typename F::block>& blocks, std::size_t n, const std::vector<float>& y_simd,
                      const std::vector<float>& y_ref) {
  constexpr bool is_bf16 = std::is_same_v<F, lowbit::bf16>;
  const double u = lowbit_test::unit_roundoff, gamma = lowbit_test::gamma_n(k);
  std::vector<float> w(k);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < k; ++j) F::dequantize_block(blocks[r * k + j], &w[j]);
    for (std::size_t i = 0; i < m; ++i) {
      double exact = 0.0, magnitude = 0.0, x_magnitude = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const float xr = x[i * k + j];
        const double xh = is_bf16 ? lowbit::bf16_to_f32(lowbit::f32_to_bf16(xr)) : xr;
        exact += xh * w[j];
        magnitude += std::abs(xh * w[j]);
        x_magnitude += std::abs(double(xr) * w[j]);
      }
      const double got = y_simd[i * n + r], tol = 2 * gamma * magnitude + 2 * u * std::abs(exact) + 1e-30;
      CAPTURE(i, r, got, exact, tol);
      REQUIRE(std::abs(got - exact) <= tol);
      const double ref_tol = tol + (is_bf16 ? std::ldexp(x_magnitude, -8) : 0.0) + 2 * u * std::abs(y_ref[i * n + r]);
      REQUIRE(std::abs(got - y_ref[i * n + r]) <= ref_tol);
    }
  }
}

template <class F>
void check_simd_against_references(std::size_t m, std::size_t n, std::size_t k, int threads) {
  CAPTURE(F::name, m, n, k, threads);
  const auto w_real = random_floats(n * k, 1234 + static_cast<unsigned>(n * 7 + k));
  const auto x = random_floats(m * k, 99 + static_cast<unsigned>(m));
  const auto blocks = quantize_matrix<F>(w_real);
  std::vector<float> y_ref(m * n), y_simd(m * n, -1.0f);
  lowbit_test::run_with_reference<simd>(lowbit::weight_view<F>{blocks.data(), n, k}, x, y_simd, y_ref,
                                        {.threads = threads});

  if constexpr (std::is_same_v<F, lowbit::f32> || std::is_same_v<F, lowbit::bf16>) {
    check_float_simd<F>(x, m, k, blocks, n, y_simd, y_ref);
  } else {
    const auto o = oracle_q8<F>(x, m, k, blocks, n);
    // Tight: same quantized inputs, only the f32 roundings differ: γ_{K/32+8} Σ|terms|
    // (rounding_bound.hpp); a relative error of 6e-5 in a scale exceeds it.
    // Against unquantized activations: the activation quantization bound on top.
    const double gamma = lowbit_test::gamma_n(lowbit_test::block_dot_roundings(k));
    for (std::size_t i = 0; i < m * n; ++i) {
      const double got = y_simd[i], tol = gamma * o.magnitude[i] + 1e-30;
      CAPTURE(i, got, o.y[i], tol);
      REQUIRE(std::abs(got - o.y[i]) <= tol);
      REQUIRE(std::abs(got - y_ref[i]) <= o.act_bound[i] + tol + 2 * lowbit_test::unit_roundoff * std::abs(y_ref[i]));
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: simd == reference on odd shapes", "[gemm][simd]", lowbit::ggml::q4_0, lowbit::ggml::q4_1,
                   lowbit::ggml::q8_0, lowbit::f32, lowbit::bf16) {
  for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
    for (std::size_t n : {1, 15, 16, 17, 33}) {
      for (std::size_t k : {32, 96, 576}) check_simd_against_references<TestType>(m, n, k, 1);
    }
  }
  check_simd_against_references<TestType>(65, 70, 1536, 2);
  check_simd_against_references<TestType>(1, 576, 1536, 2);
}

// The 4- and 5-bit codes of a Q4_1 / Q5_1 block, element e (ggml's layout).
int ggml_code(const lowbit::ggml::q4_1::block& b, std::size_t e) {
  return e < 16 ? (b.qs[e] & 15) : (b.qs[e - 16] >> 4);
}
int ggml_code(const lowbit::ggml::q5_1::block& b, std::size_t e) {
  const int low = e < 16 ? (b.qs[e] & 15) : (b.qs[e - 16] >> 4);
  return low | (((b.qh[e / 8] >> (e % 8)) & 1) << 4);
}

// ggml_vec_dot_q4_1_q8_1 / ggml_vec_dot_q5_1_q8_1 on x86 (ggml-cpu arch/x86/quants.c), restated
// with scalars: per block, the products of codes 4j..4j+3 summed as one int per j (j = 0..7), each
// accumulated in its own f32 lane as fma(d_w * d_x, float(sum_j), lane_j); the minimum term fma'd
// into its own f32 sum; the lanes reduced as hsum_float_8:
// ((l4 + l0) + (l6 + l2)) + ((l5 + l1) + (l7 + l3)), then + mins.
template <class Block>
float ggml_min_dot(const Block* w, const lowbit::activation_q8& xq, std::size_t i, std::size_t nb) {
  float lane[8] = {}, mins = 0.0f;
  for (std::size_t b = 0; b < nb; ++b) {
    const float dd = lowbit::fp16_to_f32(w[b].d) * xq.row_d(i)[b];
    mins = std::fma(lowbit::fp16_to_f32(w[b].m), xq.row_s(i)[b], mins);
    for (std::size_t j = 0; j < 8; ++j) {
      int sum = 0;
      for (std::size_t e = 4 * j; e < 4 * j + 4; ++e) sum += ggml_code(w[b], e) * xq.row_qs(i)[b * 32 + e];
      lane[j] = std::fma(dd, static_cast<float>(sum), lane[j]);
    }
  }
  return (((lane[4] + lane[0]) + (lane[6] + lane[2])) + ((lane[5] + lane[1]) + (lane[7] + lane[3]))) + mins;
}

TEMPLATE_TEST_CASE("gemm: Q4_1 / Q5_1 simd is bit-identical to ggml's x86 dot product with Q8_1", "[gemm][simd][ggml]",
                   lowbit::ggml::q4_1, lowbit::ggml::q5_1) {
  for (std::size_t m : {1, 2, 3, 5, 8, 9, 17}) {
    for (std::size_t n : {1, 15, 17, 33}) {
      for (std::size_t k : {32, 96, 576}) {
        CAPTURE(m, n, k);
        const auto w = quantize_matrix<TestType>(random_floats(n * k, 77 + unsigned(n + k)));
        auto x = random_floats(m * k, 78 + unsigned(m), 3.0f);
        x[0] = 40.0f;  // an outlier: a coarse activation step in its block
        const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<TestType>{w.data(), n, k});
        std::vector<float> y(m * n);
        lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y.data(), m, n),
                           lowbit::threads{2});
        lowbit::activation_q8 xq;
        lowbit::quantize_activations_reference(matrix_view<const float>(x.data(), m, k), xq);
        for (std::size_t i = 0; i < m; ++i) {
          for (std::size_t r = 0; r < n; ++r) {
            const float want = ggml_min_dot(w.data() + r * (k / 32), xq, i, k / 32);
            CAPTURE(i, r);
            REQUIRE(std::memcmp(&y[i * n + r], &want, sizeof want) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("gemm: f32 simd handles K off SIMD width", "[gemm][simd][f32]") {
  for (std::size_t k : {1, 7, 17, 33, 577}) check_simd_against_references<lowbit::f32>(3, 5, k, 2);
}

TEMPLATE_TEST_CASE("gemm: threads give bit-identical results", "[gemm][simd][threads]", lowbit::ggml::q4_0,
                   lowbit::ggml::q4_1, lowbit::ggml::q8_0, lowbit::f32, lowbit::bf16) {
  // K = 512 + 32 and M = 9 take the K-blocked path of the float kernels as well.
  const std::size_t m = 9, n = 100, k = 544;
  lowbit_test::require_thread_invariance<simd, TestType>(quantize_matrix<TestType>(random_floats(n * k, 5)), m, n, k,
                                                         2);
}

TEST_CASE("gemm: pack then unpack restores the file bytes", "[gemm][pack]") {
  for (std::size_t n : {1, 16, 17, 40}) {
    const std::size_t k = 96;
    const auto w4 = quantize_matrix<lowbit::ggml::q4_1>(random_floats(n * k, 11));
    auto p4 = lowbit::pack_q4_1({w4.data(), n, k});
    std::vector<lowbit::ggml::q4_1::block> back4(w4.size());
    lowbit::unpack_q4_1(p4, back4);
    REQUIRE(std::memcmp(back4.data(), w4.data(), w4.size() * sizeof(w4[0])) == 0);
    const auto w40 = quantize_matrix<lowbit::ggml::q4_0>(random_floats(n * k, 13));
    auto p40 = lowbit::pack_q4_0({w40.data(), n, k});
    std::vector<lowbit::ggml::q4_0::block> back40(w40.size());
    lowbit::unpack_q4_0(p40, back40);
    REQUIRE(std::memcmp(back40.data(), w40.data(), w40.size() * sizeof(w40[0])) == 0);
    const auto w8 = quantize_matrix<lowbit::ggml::q8_0>(random_floats(n * k, 12));
    auto p8 = lowbit::pack_q8_0({w8.data(), n, k});
    std::vector<lowbit::ggml::q8_0::block> back8(w8.size());
    lowbit::unpack_q8_0(p8, back8);
    REQUIRE(std::memcmp(back8.data(), w8.data(), w8.size() * sizeof(w8[0])) == 0);
  }
}

TEST_CASE("gemm: epilogues bias_add and accumulate", "[gemm][epilogue]") {
  const std::size_t m = 3, n = 20, k = 64;
  const auto w = quantize_matrix<lowbit::ggml::q4_1>(random_floats(n * k, 21));
  const auto x = random_floats(m * k, 22);
  const auto bias = random_floats(n, 23);
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<lowbit::ggml::q4_1>{w.data(), n, k});
  const auto xv = matrix_view<const float>(x.data(), m, k);
  std::vector<float> plain(m * n), biased(m * n), accumulated(m * n, 2.0f);
  lowbit::gemm<simd>(xv, packed, matrix_view<float>(plain.data(), m, n));
  lowbit::gemm<simd>(xv, packed, matrix_view<float>(biased.data(), m, n), {}, lowbit::epilogue::bias_add{bias.data()});
  lowbit::gemm<simd>(xv, packed, matrix_view<float>(accumulated.data(), m, n), {}, lowbit::epilogue::accumulate{});
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      REQUIRE(biased[i * n + j] == plain[i * n + j] + bias[j]);
      REQUIRE(accumulated[i * n + j] == plain[i * n + j] + 2.0f);
    }
  }
}

TEST_CASE("gemm: bad shapes and inputs throw lowbit::error naming the problem", "[gemm][errors]") {
  const std::size_t n = 4, k = 64;
  const auto w = quantize_matrix<lowbit::ggml::q8_0>(random_floats(n * k, 31));
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<lowbit::ggml::q8_0>{w.data(), n, k});
  std::vector<float> x(2 * 96, 1.0f), y(2 * n);
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, 96), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("x has K = 96") && Catch::Contains("W has K = 64"));
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, 64), packed, matrix_view<float>(y.data(), 1, n)),
      Catch::Contains("y has 1 rows"));
  x[5] = std::nanf("");
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, 64), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("NaN or infinity"));
  const std::vector<std::byte> bytes(34 * 3);
  REQUIRE_THROWS_WITH(lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, 2, 48),
                      Catch::Contains("not a multiple of the block size"));
  REQUIRE_THROWS_WITH(lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, 2, 32),
                      Catch::Contains("expected 68 bytes, got 102"));
}

namespace {

// The float kernels (F32, BF16) against an oracle that sums in double: y_exact(i, n) = Σ_k x̂(i,k) w(n,k),
// with x̂ = x for F32 and x̂ = bf16(x) (round to nearest even) for BF16, the operands the kernel
// multiplies. A recursive f32 sum of K exact products is within γ_K Σ|x̂ w| of y_exact, γ_K = K u /
// (1 - K u), u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5);
// the bound holds for any association order (the kernels sum K blocks and, for M <= 2, even and odd
// k apart), and an epilogue adds one more rounding of |y|. Against the reference (f32 x), BF16 adds
// the rounding of x: |x - x̂| <= 2^-8 |x| (unit roundoff of 8 significant bits).
template <class F>
void check_float_kernel(std::size_t m, std::size_t n, std::size_t k, int threads, epi which,
                        const std::vector<float>& bias) {
  CAPTURE(F::name, m, n, k, threads, static_cast<int>(which));
  const auto w_real = random_floats(n * k, 4321 + static_cast<unsigned>(n * 13 + k));
  const auto x = random_floats(m * k, 77 + static_cast<unsigned>(m * 3 + k));
  const auto blocks = quantize_matrix<F>(w_real);

  // y starts as a residual (the accumulate epilogue reads it) and as garbage for the others.
  const auto residual = random_floats(m * n, 6);
  std::vector<float> y_simd(residual), y_ref(residual);
  lowbit_test::run_with_reference<simd>(lowbit::weight_view<F>{blocks.data(), n, k}, x, y_simd, y_ref,
                                        {.threads = threads, .reference_threads = lowbit::threads{1}}, which,
                                        bias.data());

  constexpr bool is_bf16 = std::is_same_v<F, lowbit::bf16>;
  const double u = std::ldexp(1.0, -24), gamma = k * u / (1 - k * u);
  std::vector<float> w(k);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < k; ++j) F::dequantize_block(blocks[r * k + j], &w[j]);
    for (std::size_t i = 0; i < m; ++i) {
      double exact = 0.0, magnitude = 0.0, x_magnitude = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const float xr = x[i * k + j];
        const double xh = is_bf16 ? lowbit::bf16_to_f32(lowbit::f32_to_bf16(xr)) : xr;
        exact += xh * w[j];
        magnitude += std::abs(xh * w[j]);
        x_magnitude += std::abs(double(xr) * w[j]);
      }
      double expected = exact;
      if (which == epi::bias_add) expected += bias[r];
      if (which == epi::accumulate) expected += residual[i * n + r];
      const double got = y_simd[i * n + r], tol = 2 * gamma * magnitude + 2 * u * std::abs(expected) + 1e-30;
      CAPTURE(i, r, got, expected, tol);
      REQUIRE(std::abs(got - expected) <= tol);
      // And against the reference backend (f32 x, double sums), through the same epilogue.
      const double ref_tol = tol + (is_bf16 ? std::ldexp(x_magnitude, -8) : 0.0) + 2 * u * std::abs(y_ref[i * n + r]);
      REQUIRE(std::abs(got - y_ref[i * n + r]) <= ref_tol);
    }
  }
}

template <class F>
void check_float_kernel_all_epilogues(std::size_t m, std::size_t n, std::size_t k, int threads) {
  const auto bias = random_floats(n, 5);
  for (epi which : lowbit_test::every_epilogue) check_float_kernel<F>(m, n, k, threads, which, bias);
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: f32/bf16 packed simd == reference on odd shapes, every epilogue", "[gemm][simd][float]",
                   lowbit::f32, lowbit::bf16) {
  // M: decode, a tail of the 8- (AVX-512) or 6-row (AVX2) tile, row chunks + tails; K: one, odd,
  // one past the f32 K block (256), several blocks of both (256 / 512) with a tail.
  for (std::size_t m : {1, 3, 17, 133}) {
    for (std::size_t n : {1, 7, 33}) {
      for (std::size_t k : {1, 31, 257, 1000}) check_float_kernel_all_epilogues<TestType>(m, n, k, m == 17 ? 2 : 1);
    }
  }
  // N = 4096 + 3: many 256-column chunks split over two threads, a 3-column tail panel.
  check_float_kernel_all_epilogues<TestType>(3, 4099, 257, 2);
  check_float_kernel<TestType>(17, 4099, 1000, 2, epi::store, {});
}

TEMPLATE_TEST_CASE("gemm: f32/bf16 pack then unpack restores the file values", "[gemm][pack][float]", lowbit::f32,
                   lowbit::bf16) {
  for (std::size_t n : {1, 31, 32, 70}) {
    for (std::size_t k : {1, 31, 257}) {
      CAPTURE(n, k);
      const auto w = quantize_matrix<TestType>(random_floats(n * k, 41));
      const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<TestType>{w.data(), n, k});
      REQUIRE(packed.rows == n);
      REQUIRE(packed.cols == k);
      std::vector<typename TestType::block> back(w.size());
      lowbit::unpack_float_panels(packed, std::span(back));
      REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
      // Padding (missing rows of the last panel, the odd k of BF16) is zero.
      const auto* all = packed.panel(0);
      const std::byte zeros[sizeof(all[0])] = {};
      std::size_t nonzero = 0;
      for (std::size_t e = 0; e < packed.panels() * 32 * packed.padded_cols(); ++e) {
        nonzero += std::memcmp(&all[e], zeros, sizeof(zeros)) != 0;
      }
      std::size_t nonzero_file = 0;
      for (const auto& b : w) nonzero_file += std::memcmp(&b, zeros, sizeof(zeros)) != 0;
      REQUIRE(nonzero == nonzero_file);
    }
  }
  std::vector<typename TestType::block> wrong(5);
  const auto w = quantize_matrix<TestType>(random_floats(2 * 3, 42));
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<TestType>{w.data(), 2, 3});
  REQUIRE_THROWS_WITH(lowbit::unpack_float_panels(packed, std::span(wrong)), Catch::Contains("holds 5 elements"));
}

TEST_CASE("gemm: f32/bf16 simd with bad thread counts and shapes throw lowbit::error", "[gemm][errors][float]") {
  const std::size_t n = 5, k = 40;
  const auto w = quantize_matrix<lowbit::bf16>(random_floats(n * k, 51));
  const auto packed = lowbit::prepare_weight<simd>(lowbit::weight_view<lowbit::bf16>{w.data(), n, k});
  std::vector<float> x(2 * k, 1.0f), y(2 * n);
  REQUIRE_THROWS_WITH(lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed,
                                         matrix_view<float>(y.data(), 2, n), lowbit::threads{0}),
                      Catch::Contains("thread count"));
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k - 1), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("x has K = 39"));
  const auto wf = quantize_matrix<lowbit::f32>(random_floats(n * k, 52));
  const auto packed_f = lowbit::prepare_weight<simd>(lowbit::weight_view<lowbit::f32>{wf.data(), n, k});
  REQUIRE_THROWS_WITH(lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed_f,
                                         matrix_view<float>(y.data(), 2, n - 1), lowbit::threads{-1}),
                      Catch::Contains("y has 4 columns"));
  REQUIRE_THROWS_WITH(lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed_f,
                                         matrix_view<float>(y.data(), 2, n), lowbit::threads{-1}),
                      Catch::Contains("thread count"));
}
