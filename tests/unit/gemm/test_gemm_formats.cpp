// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SIMD kernels of Q5_0, Q5_1 and the K-quants (Q2_K .. Q6_K) against the reference backend on
// odd shapes and every epilogue, the pack -> unpack identity of their bit-plane panels, and their
// errors. Built twice: natively (AVX-512 VNNI here) and for haswell (the AVX2 path).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "format_lists.hpp"
#include "gemm_check.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q2_k.hpp"
#include "lowbit/formats/ggml/q3_k.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/formats/ggml/q5_k.hpp"
#include "lowbit/formats/ggml/q6_k.hpp"
#include "lowbit/formats/ggml/q8_k.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "rounding_bound.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using lowbit::matrix_view;
namespace ggml = lowbit::ggml;

template <class F>
inline constexpr bool is_k_quant_v = F::block_size == 256;

using lowbit_test::dequantize_matrix;
using lowbit_test::epi;
using lowbit_test::quantize_matrix;
using lowbit_test::random_floats;

// The K-quant activations from the scalar reference encoder, ggml's quantize_row_q8_K_ref
// (ggml::q8_k), in the kernels' sign convention: ggml makes the element of largest magnitude code
// -127, so where that element is positive its d < 0 and its codes are negated; the kernels keep d > 0.
// Negating both is exact (round to nearest even is symmetric). Fills qs, d (row_d(i)[b] of
// super-block b) and the group sums as the SIMD quantizer stores them (activation_q8 doc).
lowbit::activation_q8 reference_q8_k(const std::vector<float>& x, std::size_t m, std::size_t k) {
  lowbit::activation_q8 out;
  out.resize(m, k);
  const std::size_t nb32 = k / 32;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t b = 0; b < k / 256; ++b) {
      ggml::q8_k::block blk;
      ggml::q8_k::quantize_block(x.data() + i * k + 256 * b, blk);
      const int sign = blk.d < 0 ? -1 : 1;
      for (std::size_t e = 0; e < 256; ++e) out.qs[i * k + 256 * b + e] = static_cast<std::int8_t>(sign * blk.qs[e]);
      out.d[i * nb32 + b] = sign * blk.d;
      for (std::size_t t = 0; t < 8; ++t) {
        const auto lo = static_cast<std::uint32_t>(static_cast<std::uint16_t>(sign * blk.bsums[2 * t]));
        const auto hi = static_cast<std::uint32_t>(static_cast<std::uint16_t>(sign * blk.bsums[2 * t + 1]));
        out.sum[i * nb32 + 8 * b + t] = static_cast<std::int32_t>(lo | (hi << 16));
      }
    }
  }
  return out;
}

/// The activations as the kernel of F sees them, from the scalar reference quantizers (not the
/// SIMD one under test, which must equal them bit for bit): x̂ = d q per element (decoded in
/// double), the bound e_k on |x_k - x̂_k| the activation quantization guarantees, and for Q5_1 the
/// stored s.
struct quantized_x {
  std::vector<double> xhat;   // (M, K)
  std::vector<double> bound;  // (M, K)
  lowbit::activation_q8 q;
};

template <class F>
quantized_x quantize_x(const std::vector<float>& x, std::size_t m, std::size_t k) {
  quantized_x out;
  const auto xv = matrix_view<const float>(x.data(), m, k);
  const std::size_t group = is_k_quant_v<F> ? 256 : 32;
  lowbit::activation_q8 simd_q;
  if constexpr (is_k_quant_v<F>) {
    out.q = reference_q8_k(x, m, k);
    lowbit::simd_detail::quantize_activations_k<xsimd::default_arch>(xv, simd_q);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t b = 0; b < k / 256; ++b) REQUIRE(simd_q.row_d(i)[b] == out.q.row_d(i)[b]);
    }
    REQUIRE(simd_q.sum == out.q.sum);
  } else {
    lowbit::quantize_activations_reference(xv, out.q);
    lowbit::simd_detail::quantize_activations<xsimd::default_arch>(xv, simd_q);
    REQUIRE(simd_q.d == out.q.d);
    REQUIRE(simd_q.s == out.q.s);
    REQUIRE(simd_q.sum == out.q.sum);
  }
  REQUIRE(simd_q.qs == out.q.qs);
  out.xhat.resize(m * k);
  out.bound.resize(m * k);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t b = 0; b < k / group; ++b) {
      float amax = 0.0f;
      for (std::size_t j = 0; j < group; ++j) amax = std::max(amax, std::fabs(x[i * k + b * group + j]));
      const double d = out.q.row_d(i)[b];
      // K-quants: unrounded d = amax / 127, |x - d q| <= d / 2 (Q8_K's bound). Q5_x: d rounded to
      // fp16 (relative error <= 2^-11) times |q| <= 127 adds amax * 2^-11.
      const double e = is_k_quant_v<F> ? amax / 254.0 * (1 + 1e-6) : amax * (1.0 / 254.0 + 1.0 / 2048.0) * (1 + 1e-6);
      for (std::size_t j = 0; j < group; ++j) {
        const std::size_t at = i * k + b * group + j;
        out.xhat[at] = d * out.q.row_qs(i)[b * group + j];
        out.bound[at] = e;
        REQUIRE(std::abs(out.xhat[at] - x[at]) <= e);
      }
    }
  }
  return out;
}

// A block with every code field zeroed: its decode is the offset part of each element (-16 d for
// Q5_0, m for Q5_1, -dmin m_j for Q2_K/Q4_K/Q5_K, -4 d s_j for Q3_K, -32 d s_j for Q6_K), which a
// kernel may apply apart from the integer dot of the codes.
template <class B>
B zero_codes(B b) {
  if constexpr (requires { b.qs; }) std::memset(b.qs, 0, sizeof b.qs);
  if constexpr (requires { b.qh; }) std::memset(b.qh, 0, sizeof b.qh);
  if constexpr (requires { b.ql; }) std::memset(b.ql, 0, sizeof b.ql);
  if constexpr (requires { b.hmask; }) std::memset(b.hmask, 0, sizeof b.hmask);
  return b;
}

/// SIMD vs (1) an oracle on the same quantized activations (exact integer dots, only f32 rounding
/// differs: γ_{K/32+8} Σ(|w - w0| + |w0|)|x̂|, w0 the offset part, rounding_bound.hpp) and (2) the
/// reference backend on the f32 activations, within Σ_k |w_k| e_k (the activation quantization
/// bound) plus the f32 rounding allowance.
template <class F>
void check_against_reference(const std::vector<typename F::block>& blocks, std::size_t m, std::size_t n, std::size_t k,
                             int threads, epi which) {
  CAPTURE(F::name, m, n, k, threads, static_cast<int>(which));
  const auto x = random_floats(m * k, 99 + static_cast<unsigned>(m), 0.5f);
  const auto bias = random_floats(n, 7);
  const auto wd = dequantize_matrix<F>(blocks);
  std::vector<typename F::block> zeroed(blocks.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) zeroed[b] = zero_codes(blocks[b]);
  const auto w0 = dequantize_matrix<F>(zeroed);
  const float y0 = which == epi::accumulate ? 0.25f : -1.0f;
  std::vector<float> y_ref(m * n, y0), y_simd(m * n, y0);
  lowbit_test::run_with_reference<simd>(lowbit::weight_view<F>{blocks.data(), n, k}, x, y_simd, y_ref,
                                        {.threads = threads, .reference_threads = lowbit::threads{1}}, which,
                                        bias.data());

  const auto xq = quantize_x<F>(x, m, k);
  const double gamma = lowbit_test::gamma_n(lowbit_test::block_dot_roundings(k)), u = lowbit_test::unit_roundoff;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t r = 0; r < n; ++r) {
      CAPTURE(i, r);
      double oracle = 0.0, magnitude = 0.0, bound = 0.0;
      for (std::size_t c = 0; c < k; ++c) {
        const double w = wd[r * k + c], off = w0[r * k + c], xh = xq.xhat[i * k + c];
        oracle += w * xh;
        magnitude += (std::abs(w - off) + std::abs(off)) * std::abs(xh);
        bound += std::abs(w) * xq.bound[i * k + c];
      }
      if constexpr (std::is_same_v<F, ggml::q5_1>) {
        // Q5_1 · Q8_1 uses m s_x with s_x = fp16(Σ q_x d_x): replace m Σ x̂ by m s_x.
        for (std::size_t b = 0; b < k / 32; ++b) {
          const double mw = lowbit::fp16_to_f32(blocks[r * (k / 32) + b].m);
          double xsum = 0.0;
          for (std::size_t j = 0; j < 32; ++j) xsum += xq.xhat[i * k + b * 32 + j];
          oracle += mw * (xq.q.row_s(i)[b] - xsum);
          magnitude += std::abs(mw) * std::abs(xq.q.row_s(i)[b] - xsum);
          bound += std::abs(mw) * std::abs(xq.q.row_s(i)[b] - xsum);
        }
      }
      double expected = oracle;
      if (which == epi::bias_add) expected += bias[r];
      if (which == epi::accumulate) expected += y0;
      const double got = y_simd[i * n + r], tol = gamma * magnitude + 2 * u * std::abs(expected) + 1e-30;
      CAPTURE(got, expected, tol);
      REQUIRE(std::abs(got - expected) <= tol);
      REQUIRE(std::abs(got - y_ref[i * n + r]) <= bound + tol + 2 * u * std::abs(y_ref[i * n + r]));
    }
  }
}

template <class F>
void check_against_reference(std::size_t m, std::size_t n, std::size_t k, int threads, epi which) {
  const auto w_real = random_floats(n * k, 1234 + static_cast<unsigned>(n * 7 + k));
  check_against_reference<F>(quantize_matrix<F>(w_real), m, n, k, threads, which);
}

template <class F>
void check_odd_shapes() {
  const std::size_t blk = F::block_size;
  for (std::size_t m : {1, 3, 17}) {
    for (std::size_t n : {1, 15, 17, 33}) {
      for (std::size_t k : {blk, 3 * blk}) {
        check_against_reference<F>(m, n, k, 1, epi::store);
        check_against_reference<F>(m, n, k, 2, epi::bias_add);
        check_against_reference<F>(m, n, k, 1, epi::accumulate);
      }
    }
  }
  // Every tile size 1..8 of run_panel, and more rows than one 64-row block, with 2 threads.
  for (std::size_t m = 2; m <= 9; ++m) check_against_reference<F>(m, 16, 2 * blk, 1, epi::store);
  check_against_reference<F>(70, 40, 2 * blk, 2, epi::store);
}

template <class F>
auto pack(lowbit::weight_view<F> w) {
  return lowbit::prepare_weight<simd>(w);
}

template <class F, class Packed>
void unpack(const Packed& p, std::span<typename F::block> out) {
  if constexpr (std::is_same_v<F, ggml::q5_0>) lowbit::unpack_q5_0(p, out);
  if constexpr (std::is_same_v<F, ggml::q5_1>) lowbit::unpack_q5_1(p, out);
  if constexpr (std::is_same_v<F, ggml::q2_k>) lowbit::unpack_q2_k(p, out);
  if constexpr (std::is_same_v<F, ggml::q3_k>) lowbit::unpack_q3_k(p, out);
  if constexpr (std::is_same_v<F, ggml::q4_k>) lowbit::unpack_q4_k(p, out);
  if constexpr (std::is_same_v<F, ggml::q5_k>) lowbit::unpack_q5_k(p, out);
  if constexpr (std::is_same_v<F, ggml::q6_k>) lowbit::unpack_q6_k(p, out);
}

}  // namespace

// Q5_0, Q5_1 and the catalogue's K-quants.
using q5_k_quant_formats = lowbit_test::tuple_of_t<
    lowbit::format_list_cat_t<lowbit::format_list<ggml::q5_0, ggml::q5_1>, lowbit::gguf_k_quant_formats>>;

TEMPLATE_LIST_TEST_CASE("gemm: q5/k-quant simd == reference on odd shapes, every epilogue", "[gemm][simd][formats]",
                        q5_k_quant_formats) {
  check_odd_shapes<TestType>();
}

TEMPLATE_LIST_TEST_CASE("gemm: q5/k-quant simd == reference on random bytes in every field", "[gemm][simd][formats]",
                        q5_k_quant_formats) {
  // Not only what the quantizer writes: random codes, sub-block scales and minimums (every bit
  // pattern of the packed 6-bit scale fields), with the fp16 d / dmin / m kept finite.
  using F = TestType;
  const std::size_t blk = F::block_size;
  for (std::size_t n : {1, 17, 33}) {
    const auto blocks = lowbit_test::random_blocks<F>(n * 2, 60 + static_cast<unsigned>(n),
                                                      [](auto& b, std::mt19937& rng, auto& scale) {
                                                        if constexpr (requires { b.dmin; })
                                                          b.dmin = lowbit::f32_to_fp16(scale(rng));
                                                        if constexpr (requires { b.m; })
                                                          b.m = lowbit::f32_to_fp16(scale(rng));
                                                      });
    for (std::size_t m : {1, 3, 9}) check_against_reference<F>(blocks, m, n, 2 * blk, 1, epi::store);
    check_against_reference<F>(blocks, 17, n, 2 * blk, 2, epi::bias_add);
  }
}

TEMPLATE_LIST_TEST_CASE("gemm: q5/k-quant bit-plane pack then unpack restores the file bytes", "[gemm][pack][formats]",
                        q5_k_quant_formats) {
  for (std::size_t n : {1, 16, 17, 40}) {
    const std::size_t k = 2 * TestType::block_size;
    // Random bytes, not only what the quantizer writes: every bit of a block must survive.
    std::vector<typename TestType::block> w(n * k / TestType::block_size);
    std::mt19937 rng(static_cast<unsigned>(n));
    auto* bytes = reinterpret_cast<unsigned char*>(w.data());
    for (std::size_t j = 0; j < w.size() * sizeof(w[0]); ++j) bytes[j] = static_cast<unsigned char>(rng());
    const auto packed = pack<TestType>({w.data(), n, k});
    REQUIRE(packed.panels() * packed.blocks_per_row() * decltype(packed)::block_stride ==
            (n + 15) / 16 * 16 * (k / TestType::block_size) * TestType::block_bytes);
    std::vector<typename TestType::block> back(w.size());
    unpack<TestType>(packed, std::span<typename TestType::block>(back));
    REQUIRE(std::memcmp(back.data(), w.data(), w.size() * sizeof(w[0])) == 0);
    std::vector<typename TestType::block> wrong(w.size() + 1);
    REQUIRE_THROWS_AS(unpack<TestType>(packed, std::span<typename TestType::block>(wrong)), lowbit::error);
  }
}

TEMPLATE_LIST_TEST_CASE("gemm: q5/k-quant threads give bit-identical results", "[gemm][simd][threads][formats]",
                        q5_k_quant_formats) {
  const std::size_t m = 9, n = 100, k = 512;
  lowbit_test::require_thread_invariance<simd, TestType>(quantize_matrix<TestType>(random_floats(n * k, 5)), m, n, k);
}

TEMPLATE_LIST_TEST_CASE("gemm: q5/k-quant NaN or infinity in x throws naming the columns", "[gemm][errors][formats]",
                        q5_k_quant_formats) {
  const std::size_t n = 3, k = TestType::block_size;
  const auto w = quantize_matrix<TestType>(random_floats(n * k, 31));
  const auto packed = pack<TestType>({w.data(), n, k});
  std::vector<float> x(2 * k, 1.0f), y(2 * n);
  x[k + 5] = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_WITH(
      lowbit::gemm<simd>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n)),
      Catch::Contains("activation row 1") && Catch::Contains("NaN or infinity"));
}

namespace {

// Code e of a Q5_K block and the (scale, minimum) codes of its sub-block j (ggml's layout).
int q5_k_code(const ggml::q5_k::block& b, std::size_t e) {
  const int low = (b.qs[32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 15;
  return low | (((b.qh[e % 32] >> (e / 32)) & 1) << 4);
}

// llama.cpp's CPU Q5_K x Q8_K order on x86, restated with scalars, per super-block b (sc_j, m_j
// the 6-bit codes of sub-block j, sums exact in int):
// - M < 8, ggml_vec_dot_q5_K_q8_K (arch/x86/quants.c): lane l = Σ_j sc_j Σ_{e<4} q[32j+4l+e] q_x,
//   lane_l = fma(d_x d_w, float(lane l), lane_l); summs = fma(-d_x dmin_w, float(Σ_j m_j Σ q_x), summs);
//   result ((l4 + l0) + (l6 + l2)) + ((l5 + l1) + (l7 + l3)) + summs;
// - M >= 8, the tiled K-quant GEMM (ggml-cpu/tiled): r = fma(-dmin_w, float(Σ_j m_j Σ q_x),
//   float(Σ_j sc_j Σ q q_x) * d_w), acc = fma(r, d_x, acc).
float ggml_q5_k_dot(const ggml::q5_k::block* w, const lowbit::activation_q8& xq, std::size_t i, std::size_t nb,
                    bool tiled) {
  float lane[8] = {}, summs = 0.0f, acc = 0.0f;
  for (std::size_t b = 0; b < nb; ++b) {
    const std::int8_t* qx = xq.row_qs(i) + 256 * b;
    const float dx = xq.row_d(i)[b], dw = lowbit::fp16_to_f32(w[b].d), dmw = lowbit::fp16_to_f32(w[b].dmin);
    int lanes[8] = {}, isum = 0, msum = 0;
    for (std::size_t j = 0; j < 8; ++j) {
      const auto c = ggml::detail::unpack_scale_min_k4(j, w[b].scales);
      int xsum = 0;
      for (std::size_t e = 32 * j; e < 32 * j + 32; ++e) {
        const int p = c.scale * q5_k_code(w[b], e) * qx[e];
        lanes[(e % 32) / 4] += p;
        isum += p;
        xsum += qx[e];
      }
      msum += c.min * xsum;
    }
    if (tiled) {
      acc = std::fma(std::fma(-dmw, static_cast<float>(msum), static_cast<float>(isum) * dw), dx, acc);
    } else {
      summs = std::fma(-dx * dmw, static_cast<float>(msum), summs);
      for (std::size_t l = 0; l < 8; ++l) lane[l] = std::fma(dx * dw, static_cast<float>(lanes[l]), lane[l]);
    }
  }
  if (tiled) return acc;
  return (((lane[4] + lane[0]) + (lane[6] + lane[2])) + ((lane[5] + lane[1]) + (lane[7] + lane[3]))) + summs;
}

}  // namespace

TEST_CASE("gemm: Q5_K simd is bit-identical to llama.cpp's CPU order", "[gemm][simd][ggml][formats]") {
  for (std::size_t m : {1, 2, 3, 7, 8, 9, 17}) {
    for (std::size_t n : {1, 17, 33}) {
      for (std::size_t k : {256, 768}) {
        CAPTURE(m, n, k);
        const auto w = quantize_matrix<ggml::q5_k>(random_floats(n * k, 91 + unsigned(n + k)));
        auto x = random_floats(m * k, 92 + unsigned(m), 3.0f);
        x[0] = 40.0f;  // an outlier: a coarse activation step in its super-block
        const auto packed = pack<ggml::q5_k>({w.data(), n, k});
        std::vector<float> y(m * n);
        lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), packed, matrix_view<float>(y.data(), m, n),
                           lowbit::threads{2});
        const auto xq = reference_q8_k(x, m, k);  // the scalar reference encoder, not the SIMD one
        for (std::size_t i = 0; i < m; ++i) {
          for (std::size_t r = 0; r < n; ++r) {
            const float want = ggml_q5_k_dot(w.data() + r * (k / 256), xq, i, k / 256, m >= 8);
            CAPTURE(i, r);
            REQUIRE(std::memcmp(&y[i * n + r], &want, sizeof want) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("gemm: k-quant activations need K % 256 == 0", "[gemm][errors][formats]") {
  std::vector<float> x(2 * 288, 1.0f);
  lowbit::activation_q8 out;
  REQUIRE_THROWS_WITH(
      lowbit::simd_detail::quantize_activations_k<xsimd::default_arch>(matrix_view<const float>(x.data(), 2, 288), out),
      Catch::Contains("K = 288") && Catch::Contains("256"));
}
