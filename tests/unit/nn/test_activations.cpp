// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/activations.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::close;
using nn_test::random_floats;

namespace {

using unary_fn = std::function<void(std::span<const float>, std::span<float>)>;

struct unary_case {
  std::string name;
  unary_fn fast;
  unary_fn reference;
  double (*exact)(double);
  double rel_tol;  // vs the double formula
};

double silu_d(double x) { return x / (1.0 + std::exp(-x)); }
double gelu_tanh_d(double x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double gelu_erf_d(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double relu_d(double x) { return x > 0.0 ? x : 0.0; }

std::vector<unary_case> unary_cases() {
  return {
      {"silu", [](auto x, auto y) { nn::silu(x, y); }, [](auto x, auto y) { nn::reference::silu(x, y); }, silu_d, 2e-6},
      {"gelu_tanh", [](auto x, auto y) { nn::gelu_tanh(x, y); }, [](auto x, auto y) { nn::reference::gelu_tanh(x, y); },
       gelu_tanh_d, 1e-5},
      {"gelu_erf", [](auto x, auto y) { nn::gelu_erf(x, y); }, [](auto x, auto y) { nn::reference::gelu_erf(x, y); },
       gelu_erf_d, 1e-5},
      {"relu", [](auto x, auto y) { nn::relu(x, y); }, [](auto x, auto y) { nn::reference::relu(x, y); }, relu_d, 0.0},
  };
}

}  // namespace

TEST_CASE("activations: simd == reference == double math on odd sizes", "[nn][activations][simd]") {
  for (const auto& c : unary_cases()) {
    for (std::size_t n : nn_test::odd_sizes) {
      const auto x = random_floats(n, 300 + unsigned(n), -9.0f, 9.0f);
      std::vector<float> fast(n), ref(n);
      c.fast(x, fast);
      c.reference(x, ref);
      for (std::size_t i = 0; i < n; ++i) {
        INFO(c.name << " n " << n << " x " << x[i]);
        // Absolute floor: near the zero of the GELUs, 1 - erf/tanh cancels.
        REQUIRE(close(fast[i], ref[i], 2 * c.rel_tol + 1e-6, 1e-6));
        REQUIRE(close(fast[i], c.exact(x[i]), c.rel_tol, 1e-6));
        REQUIRE(close(ref[i], c.exact(x[i]), c.rel_tol, 1e-6));
      }
    }
  }
}

namespace {
// ggml_v_expf (ggml-cpu vec.h, AVX-512 form) restated for one float: n = rint(x / ln 2) by the
// 1.5 * 2^23 shifter, b = x - n ln 2 (two parts), j = degree-5 polynomial, result j * 2^n
// (vscalefps: one rounding) or, for |n| > 192, 0 / +inf.
float ggml_expf(float x) {
  const float shifter = 0x1.8p23f;
  const float n = std::fma(x, 0x1.715476p+0f, shifter) - shifter;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : std::numeric_limits<float>::infinity();
  return std::ldexp(j, static_cast<int>(n));  // exact scaling, one rounding for subnormal results
}
}  // namespace

TEST_CASE("activations: silu's exp is bit-identical to ggml's vectorised expf", "[nn][activations][ggml]") {
  std::vector<float> x;
  for (float v = -110.0f; v <= 110.0f; v += 0.0137f) x.push_back(v);  // subnormal, normal and overflowing exp(-x)
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.73f, -87.33f, -103.97f, -104.0f, 300.0f, -300.0f})
    x.push_back(v);
  std::vector<float> got(x.size());
  nn::silu(x, got);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = x[i] / (1.0f + ggml_expf(0.0f - x[i]));
    INFO("x = " << x[i]);
    REQUIRE(std::memcmp(&got[i], &want, sizeof want) == 0);
    // and the polynomial itself is exp to within 2 ulp where exp is a normal float
    if (std::fabs(x[i]) < 87.0f) REQUIRE(close(ggml_expf(x[i]), std::exp(double(x[i])), 2.4e-7, 0.0));
  }
  const std::vector<float> nan_in{std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> nan_out(1);
  nn::silu(nan_in, nan_out);
  CHECK(std::isnan(nan_out[0]));
}

TEST_CASE("activations: extreme inputs stay finite", "[nn][activations]") {
  const std::vector<float> x{-100.0f, -30.0f, 0.0f, 30.0f, 100.0f};
  std::vector<float> y(x.size());
  nn::silu(x, y);
  CHECK(std::abs(y[0]) < 1e-30f);
  CHECK(close(y[1], silu_d(-30.0), 1e-5, 1e-30));
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 30.0f);
  CHECK(y[4] == 100.0f);
  nn::gelu_tanh(x, y);
  CHECK(y[0] == 0.0f);
  CHECK(y[4] == 100.0f);
  nn::gelu_erf(x, y);
  CHECK(y[0] == 0.0f);
  CHECK(y[4] == 100.0f);
}

TEST_CASE("swiglu: simd == reference == double math on odd sizes", "[nn][activations][swiglu][simd]") {
  for (std::size_t n : nn_test::odd_sizes) {
    const auto gate = random_floats(n, 400 + unsigned(n), -8.0f, 8.0f);
    const auto up = random_floats(n, 500 + unsigned(n), -3.0f, 3.0f);
    std::vector<float> fast(n), ref(n);
    nn::swiglu(gate, up, fast);
    nn::reference::swiglu(gate, up, ref);
    for (std::size_t i = 0; i < n; ++i) {
      INFO("n " << n << " i " << i);
      const double want = silu_d(gate[i]) * double(up[i]);
      REQUIRE(close(fast[i], ref[i], 4e-6, 1e-30));
      REQUIRE(close(fast[i], want, 3e-6, 1e-30));
    }
  }
}

TEST_CASE("activations: threads and in place give identical results", "[nn][activations]") {
  const std::size_t n = 3 * 16384 + 5;  // several parallel grains and a tail
  const auto gate = random_floats(n, 11, -6.0f, 6.0f);
  const auto up = random_floats(n, 12);
  std::vector<float> one(n), two(n), inplace = gate;
  nn::swiglu(gate, up, one, lowbit::threads{1});
  nn::swiglu(gate, up, two, lowbit::threads{2});
  nn::swiglu(inplace, up, inplace);
  REQUIRE(one == two);
  REQUIRE(one == inplace);
  nn::silu(gate, one, lowbit::threads{1});
  nn::silu(gate, two, lowbit::threads{2});
  REQUIRE(one == two);
}

TEST_CASE("activations: wrong sizes throw naming the argument", "[nn][activations][errors]") {
  std::vector<float> a(8), b(8), c(7);
  auto msg = nn_test::error_message([&] { nn::swiglu(a, c, b); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("swiglu: gate has 8 elements but up has 7") != std::string::npos);
  msg = nn_test::error_message([&] { nn::swiglu(a, b, c); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("out has 7") != std::string::npos);
  msg = nn_test::error_message([&] { nn::silu(a, c); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("silu: x has 8 elements but y has 7") != std::string::npos);
  nn_test::error_message([&] { nn::reference::gelu_erf(a, c); }, lowbit::errc::shape_mismatch);
  nn_test::error_message([&] { nn::relu(a, b, lowbit::threads{0}); }, lowbit::errc::invalid_argument);
}
