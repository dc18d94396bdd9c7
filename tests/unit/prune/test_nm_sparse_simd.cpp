// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of the SIMD 2:4 sparse x dense kernels (lowbit/backend/simd/gemm_nm_sparse.hpp) for int8 value
// formats, on every x86 ISA this build and CPU can run (AVX-512 VBMI + VNNI, AVX2): bit-identical to
// the dense reference GEMM where the arithmetic is exact (integer-valued data, unit scales), and to
// the integer reference / the dense Q8_0 GEMM on the masked matrix within the f32 rounding of the
// final combination elsewhere, on odd shapes (M = 1, 3, 17; N not a multiple of 8; K = 32).

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/simd/gemm_nm_sparse.hpp"
#include "lowbit/backend/simd/gemm_q8_0.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"
#include "prune_test_data.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;
using layout24 = prune::nm_sparse<2, 4>;

/// Integers in [-127, 127] with 127 or -127 in every block of 32 (so every Q8 scale is exactly 1).
std::vector<float> unit_scale_integers(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = static_cast<float>(dist(rng));
  for (std::size_t i = 0; i < v.size(); i += 32) v[i + seed % 32] = (i / 32) % 2 ? 127.0f : -127.0f;
  return v;
}

std::vector<float> prune24(std::vector<float> w, std::size_t rows, std::size_t cols) {
  const matrix_view<float> v(w.data(), rows, cols);
  prune::apply_mask(v, prune::magnitude_nm_mask(v, {.n = 2, .m = 4}));
  return w;
}

/// True when this CPU runs the AVX-512 kernel as compiled: VNNI, BW, VL (and VBMI where the build
/// uses it: the ISA layer's 2:4 gather takes `vpermi2b` then, else `vpshufb`).
bool cpu_has_avx512_kernel() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl")
#if defined(__AVX512VBMI__)
         && __builtin_cpu_supports("avx512vbmi")
#endif
      ;
#else
  return false;
#endif
}

/// Runs `body<Arch>()` for each ISA compiled in and supported by this CPU; returns how many ran:
/// AVX-512 (VNNI) and AVX2 on x86, NEON on AArch64, else the baseline ISA layer (default_arch).
template <class Body>
int for_each_arch(Body&& body) {
  int ran = 0;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  if (cpu_has_avx512_kernel()) {
    body.template operator()<xsimd::avx512bw>();
    ++ran;
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  if (xsimd::available_architectures().fma3_avx2) {
    body.template operator()<xsimd::fma3<xsimd::avx2>>();
    ++ran;
  }
#elif defined(__aarch64__) && defined(__ARM_NEON)
  body.template operator()<xsimd::neon64>();
  ++ran;
#else
  body.template operator()<xsimd::default_arch>();
  ++ran;
#endif
  return ran;
}

const std::size_t m_sizes[] = {1, 3, 17};
const std::size_t n_sizes[] = {1, 5, 19};
const std::size_t k_sizes[] = {32, 64, 96, 160, 256};

}  // namespace

TEMPLATE_TEST_CASE("nm_sparse simd: 2:4 int8 == dense reference exactly on integer data", "[prune][nm_sparse][simd]",
                   prune::nm_int8_per_channel, prune::nm_q8_0) {
  const int ran = for_each_arch([]<class Arch>() {
    for (std::size_t k : k_sizes) {
      for (std::size_t n : n_sizes) {
        // Every weight row holds +-127 after pruning (set at a kept column), so its scale is exactly 1.
        auto w = prune24(unit_scale_integers(n, k, static_cast<std::uint32_t>(k + n)), n, k);
        for (std::size_t r = 0; r < n; ++r)
          for (std::size_t b = 0; b < k / 32; ++b) {
            w[r * k + b * 32] = 127.0f;
            w[r * k + b * 32 + 1] = 0.0f;  // keeps the first group at most 2:4
            w[r * k + b * 32 + 2] = 0.0f;
          }
        const auto s = prune::nm_sparse_matrix<TestType, layout24>::pack(matrix_view<const float>(w.data(), n, k));
        for (std::size_t m : m_sizes) {
          const auto x = unit_scale_integers(m, k, static_cast<std::uint32_t>(m + 7));
          const auto expect = dense_reference(x, w, m, n, k);
          for (int threads : {1, 2}) {
            std::vector<float> y(m * n, -1.0f);
            prune::gemm_nm_simd<Arch>(matrix_view<const float>(x.data(), m, k), s, matrix_view<float>(y.data(), m, n),
                                      lowbit::threads{threads});
            for (std::size_t i = 0; i < y.size(); ++i) {
              INFO("Arch " << Arch::name() << " m " << m << " n " << n << " k " << k << " i " << i);
              REQUIRE(std::bit_cast<std::uint32_t>(y[i]) == std::bit_cast<std::uint32_t>(expect[i]));
            }
          }
        }
      }
    }
  });
  if (ran == 0) WARN("no SIMD ISA of this build runs on this CPU");
}

TEMPLATE_TEST_CASE("nm_sparse simd: 2:4 int8 == integer reference on random data", "[prune][nm_sparse][simd]",
                   prune::nm_int8_per_channel, prune::nm_q8_0) {
  const int ran = for_each_arch([]<class Arch>() {
    for (std::size_t k : k_sizes) {
      for (std::size_t n : n_sizes) {
        const auto w = prune24(random_floats(n * k, static_cast<std::uint32_t>(3 * k + n)), n, k);
        const auto s = prune::nm_sparse_matrix<TestType, layout24>::pack(matrix_view<const float>(w.data(), n, k));
        for (std::size_t m : m_sizes) {
          const auto x = random_floats(m * k, static_cast<std::uint32_t>(m + 11));
          lowbit::activation_q8 xq;
          lowbit::quantize_activations_reference(matrix_view<const float>(x.data(), m, k), xq);
          std::vector<float> expect(m * n), y(m * n), y1(m * n);
          prune::gemm_nm_q8_reference(xq, s, matrix_view<float>(expect.data(), m, n));
          // The bound on the f32 combination: a few ulps of sum |x| |w| (the int32 sums are exact).
          std::vector<float> ax(x.size()), aw = s.unpack();
          for (std::size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
          for (auto& v : aw) v = std::fabs(v);
          const auto mag = dense_reference(ax, aw, m, n, k);
          prune::gemm_nm_simd<Arch>(matrix_view<const float>(x.data(), m, k), s, matrix_view<float>(y.data(), m, n),
                                    lowbit::threads{2});
          prune::gemv_nm_simd<Arch>(x.data(), s, y1.data());  // row 0 only
          for (std::size_t i = 0; i < y.size(); ++i) {
            INFO("Arch " << Arch::name() << " m " << m << " n " << n << " k " << k << " i " << i);
            REQUIRE(std::fabs(y[i] - expect[i]) <= 2e-6f * (mag[i] + 1.0f));
          }
          for (std::size_t i = 0; i < n; ++i)
            REQUIRE(std::bit_cast<std::uint32_t>(y1[i]) == std::bit_cast<std::uint32_t>(y[i]));
        }
      }
    }
  });
  if (ran == 0) WARN("no SIMD ISA of this build runs on this CPU");
}

TEST_CASE("nm_sparse simd: 2:4 Q8_0 == dense Q8_0 SIMD GEMM on the masked matrix", "[prune][nm_sparse][simd][q8_0]") {
  using simd = lowbit::backend::simd<>;
  const std::size_t m = 17, n = 19, k = 160;
  const auto w = prune24(random_floats(n * k, 50), n, k);
  const auto s = prune::nm_sparse_matrix<prune::nm_q8_0, layout24>::pack(matrix_view<const float>(w.data(), n, k));
  std::vector<lowbit::ggml::q8_0::block> dense(n * k / 32);
  for (std::size_t r = 0; r < n; ++r)
    lowbit::ggml::q8_0::quantize_row(w.data() + r * k, nullptr, k, dense.data() + r * k / 32);
  const auto x = random_floats(m * k, 51);
  std::vector<float> y(m * n), y_dense(m * n);
  const lowbit::weight_view<lowbit::ggml::q8_0> view{dense.data(), n, k};
  lowbit::gemm<simd>(matrix_view<const float>(x.data(), m, k), lowbit::prepare_weight<simd>(view),
                     matrix_view<float>(y_dense.data(), m, n));
  prune::gemm_nm_simd<simd::arch_type>(matrix_view<const float>(x.data(), m, k), s, matrix_view<float>(y.data(), m, n));
  for (std::size_t i = 0; i < y.size(); ++i)
    REQUIRE(std::fabs(y[i] - y_dense[i]) <= 1e-5f * (std::fabs(y_dense[i]) + 4.0f));
}

TEST_CASE("nm_sparse simd: shape errors", "[prune][nm_sparse][simd][errors]") {
  const std::vector<float> w(2 * 16, 0.0f);
  const auto s =
      prune::nm_sparse_matrix<prune::nm_int8_per_channel, layout24>::pack(matrix_view<const float>(w.data(), 2, 16));
  std::vector<float> x(16), y(2);
  // K = 16 is not a multiple of the activation block of 32.
  REQUIRE_THROWS_AS(prune::gemm_nm_simd<lowbit::backend::simd<>::arch_type>(matrix_view<const float>(x.data(), 1, 16),
                                                                            s, matrix_view<float>(y.data(), 1, 2)),
                    lowbit::error);
  REQUIRE_THROWS_AS(prune::gemm_nm_simd<lowbit::backend::simd<>::arch_type>(matrix_view<const float>(x.data(), 1, 16),
                                                                            s, matrix_view<float>(y.data(), 2, 1)),
                    lowbit::error);
}
