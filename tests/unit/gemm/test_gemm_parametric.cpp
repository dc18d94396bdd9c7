// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SIMD kernels of the parametric formats int8_per_channel, int4_g32_asym, nf4_g64 and
// fp8_e4m3_per_channel (backend/simd/gemm_parametric.hpp) against the reference backend
// (gemm/quantized_gemm.hpp) on odd shapes and every epilogue, for the native arch (AVX-512 VNNI
// or NEON) and, on x86-64, xsimd::avx2 in the same program; the integer paths also bit for bit
// against a scalar model of their integer dot; the pack -> unpack identity; the errors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "gemm_check.hpp"
#include "lowbit/backend/simd/gemm_parametric.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "skip.hpp"

namespace {

using lowbit::matrix_view;
using native = lowbit::backend::simd<>;
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
using avx2 = lowbit::backend::simd<xsimd::avx2>;
#endif

using lowbit_test::epi;
using lowbit_test::random_floats;

template <class Q>
std::vector<std::size_t> k_values() {
  if constexpr (Q::group_size == 0) {
    return {1, 31, 257};
  } else if constexpr (Q::group_size == 32) {
    return {32, 96, 288};  // one group, several, K % 64 != 0
  } else {
    return {64, 192, 320};
  }
}

template <class B>
bool arch_available() {
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  if constexpr (std::is_same_v<B, avx2>) {
    return xsimd::available_architectures().avx2 != 0 && !lowbit_test::isa_hidden("avx2");
  }
#endif
  return true;  // the build's own target
}

// Bound on |simd - reference| for y(i, n): the activation rounding of the integer formats
// (|x - x̂| <= step / 2, plus the f16 rounding of ggml's block scale) and f32 summation.
template <class Q>
double tolerance(const float* x, const float* w, std::size_t k) {
  double abs_dot = 0.0, act = 0.0;
  for (std::size_t j = 0; j < k; ++j) abs_dot += std::fabs(static_cast<double>(x[j]) * w[j]);
  if constexpr (Q::code_type::is_integer) {
    const std::size_t block = std::is_same_v<Q, lowbit::int8_per_channel> ? k : 32;
    for (std::size_t b = 0; b < k; b += block) {
      double amax = 0.0;
      for (std::size_t j = b; j < b + block; ++j) amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
      const double err = 0.5 * amax / 127.0 + amax * 0x1p-10;
      for (std::size_t j = b; j < b + block; ++j) act += err * std::fabs(static_cast<double>(w[j]));
    }
  }
  return act + (static_cast<double>(k) + 4.0) * 0x1p-23 * abs_dot + 1e-30;
}

// The integer formats' result modelled in scalar code with the kernels' operation order: exact
// int32 dots, then the same f32 multiplies and FMAs; the SIMD result must match bit for bit.
template <class Q>
std::vector<float> integer_model(const std::vector<float>& x, std::size_t m, const lowbit::quantized_matrix<Q>& w) {
  const std::size_t n = w.rows(), k = w.cols();
  std::vector<float> y(m * n);
  for (std::size_t i = 0; i < m; ++i) {
    const float* xr = x.data() + i * k;
    if constexpr (std::is_same_v<Q, lowbit::int8_per_channel>) {
      float amax = 0.0f;
      for (std::size_t j = 0; j < k; ++j) amax = std::fmax(amax, std::fabs(xr[j]));
      const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
      const float sx = amax / 127.0f;
      for (std::size_t r = 0; r < n; ++r) {
        std::int64_t dot = 0;
        for (std::size_t j = 0; j < k; ++j) {
          dot +=
              static_cast<std::int64_t>(std::nearbyint(xr[j] * inv)) * lowbit::int_code<8, true>::to_int(w.code(r, j));
        }
        y[i * n + r] = static_cast<float>(dot) * (w.scales()[r] * sx);
      }
    } else {
      lowbit::activation_q8 xq;
      lowbit::quantize_activations_reference(matrix_view<const float>(xr, 1, k), xq);
      for (std::size_t r = 0; r < n; ++r) {
        float acc = 0.0f;
        for (std::size_t g = 0; g < k / 32; ++g) {
          std::int32_t dot = 0;
          for (std::size_t j = 0; j < 32; ++j)
            dot += xq.qs[32 * g + j] * static_cast<std::int32_t>(w.code(r, 32 * g + j));
          dot -= w.zero_points()[r * (k / 32) + g] * xq.sum[g];
          acc = std::fma(static_cast<float>(dot), lowbit::fp16_to_f32(w.scales()[r * (k / 32) + g]) * xq.d[g], acc);
        }
        y[i * n + r] = acc;
      }
    }
  }
  return y;
}

template <class Q>
void check_identity(const lowbit::quantized_matrix<Q>& a, const lowbit::quantized_matrix<Q>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  REQUIRE(std::equal(a.codes().begin(), a.codes().end(), b.codes().begin()));
  REQUIRE(std::equal(a.scales().begin(), a.scales().end(), b.scales().begin(),
                     [](auto s, auto t) { return std::memcmp(&s, &t, sizeof(s)) == 0; }));
  REQUIRE(std::equal(a.zero_points().begin(), a.zero_points().end(), b.zero_points().begin()));
}

// |y - y_ref| <= tol (plus one f32 rounding of the epilogue's add), and where the integer model
// exists, y == model + before bit for bit (before: 0, the bias or the residual).
void check_results(const std::vector<float>& y, const std::vector<float>& y_ref, const std::vector<float>& tol,
                   const std::vector<float>& model, const std::vector<float>& before) {
  for (std::size_t e = 0; e < y.size(); ++e) {
    CAPTURE(e, y[e], y_ref[e], tol[e]);
    REQUIRE(std::fabs(static_cast<double>(y[e]) - y_ref[e]) <= tol[e] + 0x1p-23 * std::fabs(y_ref[e]));
    if (!model.empty()) REQUIRE(y[e] == model[e] + before[e]);  // the integer dot is exact: bit for bit
  }
}

template <class B, class Q>
void run_against_reference() {
  if (!arch_available<B>()) {
    lowbit_test::skip(std::string("the CPU lacks ") + B::arch_type::name());  // ctest: Skipped
    return;
  }
  for (std::size_t k : k_values<Q>()) {
    for (std::size_t n : {1, 15, 17, 33, 79}) {
      const auto wf = random_floats(n * k, static_cast<unsigned>(7 * n + k));
      const auto qm = lowbit::quantize<Q>(matrix_view<const float>(wf.data(), n, k));
      const auto packed = lowbit::prepare_weight<B>(qm, lowbit::threads{2});
      check_identity(lowbit::unpack_parametric(packed), qm);
      const auto wd = lowbit::dequantize(qm);
      for (std::size_t m : {1, 3, 17}) {
        const auto x = random_floats(m * k, static_cast<unsigned>(m + 3 * n + 5 * k), 2.0f);
        const auto bias = random_floats(n, 99);
        const auto residual = random_floats(m * n, 98);
        const matrix_view<const float> xv(x.data(), m, k);
        for (epi which : lowbit_test::every_epilogue) {
          CAPTURE(k, n, m, static_cast<int>(which));
          std::vector<float> y_ref = residual, y = residual;
          lowbit::gemm_workspace ws;
          const lowbit::threads t{m == 17 ? 2 : 1};
          lowbit_test::with_epilogue(which, bias.data(), [&](const auto& e) {
            lowbit_test::run_with_reference<B>(xv, packed, qm, y, y_ref,
                                               {.threads = t.count, .reference_threads = t, .ws = &ws}, e);
          });
          std::vector<float> model, before(m * n, 0.0f), tol(m * n);
          if constexpr (Q::code_type::is_integer) model = integer_model(x, m, qm);
          for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
              if (which != epi::store) before[i * n + j] = which == epi::bias_add ? bias[j] : residual[i * n + j];
              tol[i * n + j] = static_cast<float>(tolerance<Q>(x.data() + i * k, wd.data() + j * k, k));
            }
          }
          check_results(y, y_ref, tol, model, before);
        }
      }
      // gemv is gemm with M = 1.
      const auto x1 = random_floats(k, 5);
      std::vector<float> y1(n), y2(n);
      lowbit::gemv<B>(x1.data(), packed, y1.data());
      lowbit::gemm<B>(matrix_view<const float>(x1.data(), 1, k), packed, matrix_view<float>(y2.data(), 1, n));
      REQUIRE(y1 == y2);
    }
  }
}

using formats =
    std::tuple<lowbit::int8_per_channel, lowbit::int4_g32_asym, lowbit::nf4_g64, lowbit::fp8_e4m3_per_channel>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("gemm: parametric simd == reference on odd shapes, every epilogue", "[gemm][parametric][simd]",
                        formats) {
  SECTION("native") { run_against_reference<native, TestType>(); }
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  SECTION("avx2") { run_against_reference<avx2, TestType>(); }
#endif
}

TEST_CASE("gemm: parametric simd errors", "[gemm][parametric][simd]") {
  const std::size_t n = 17, k = 64;
  const auto wf = random_floats(n * k, 1);
  const auto w8 = lowbit::quantize<lowbit::int8_per_channel>(matrix_view<const float>(wf.data(), n, k));
  const auto packed = lowbit::prepare_weight<native>(w8);
  std::vector<float> x(2 * k, 1.0f), y(2 * n);
  SECTION("NaN activation for an integer dot") {
    x[k + 5] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_MATCHES(
        lowbit::gemm<native>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n)),
        lowbit::error, Catch::Matchers::Predicate<lowbit::error>([](const lowbit::error& e) {
          return e.code() == lowbit::errc::invalid_argument;
        }));
  }
  SECTION("shape mismatch") {
    REQUIRE_THROWS_AS(
        lowbit::gemm<native>(matrix_view<const float>(x.data(), 2, k - 1), packed, matrix_view<float>(y.data(), 2, n)),
        lowbit::error);
    REQUIRE_THROWS_AS(
        lowbit::gemm<native>(matrix_view<const float>(x.data(), 2, k), packed, matrix_view<float>(y.data(), 2, n - 1)),
        lowbit::error);
  }
  SECTION("FP8 NaN code is rejected at pack") {
    auto w = lowbit::quantize<lowbit::fp8_e4m3_per_channel>(matrix_view<const float>(wf.data(), n, k));
    w.set_code(3, 7, 0xff);
    REQUIRE_THROWS_AS(lowbit::prepare_weight<native>(w), lowbit::error);
  }
  SECTION("FP8 decode covers every finite code") {
    // One row holding all 254 finite E4M3 codes; x = e_k picks column k exactly.
    lowbit::quantized_matrix<lowbit::fp8_e4m3_per_channel> w(1, 254);
    w.scales()[0] = 1.0f;
    std::size_t c = 0;
    for (unsigned raw = 0; raw < 256; ++raw) {
      if ((raw & 0x7f) != 0x7f) w.set_code(0, c++, static_cast<std::uint8_t>(raw));
    }
    const auto p = lowbit::prepare_weight<native>(w);
    std::vector<float> e(254), out(1);
    for (std::size_t j = 0; j < 254; ++j) {
      std::fill(e.begin(), e.end(), 0.0f);
      e[j] = 1.0f;
      lowbit::gemv<native>(e.data(), p, out.data());
      REQUIRE(out[0] == lowbit::fp8_e4m3::decode(w.code(0, j)));
    }
  }
}
