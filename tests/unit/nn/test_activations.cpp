// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"
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
  const float j =
      std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
               std::fma(0x1.ffffecp-1f, b, 1.0f));
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

namespace {
// ggml_gelu_f32 (ggml-cpu vec.h) restated for one float as GCC compiles it for an FMA target, the
// build llama.cpp ships (-march=native): the inner 1 + 0.044715 x^2 is one fused multiply-add.
float ggml_gelu_f32(float x) {
  const float inner = (0.79788456080286535587989211986876f * x) * std::fma(0.044715f * x, x, 1.0f);
  return (0.5f * x) * (1.0f + std::tanh(inner));
}
float f16(float x) { return lowbit::fp16_to_f32(lowbit::f32_to_fp16(x)); }
// ggml_vec_gelu_f32 with GGML_GELU_FP16 (its default): the table holds f16(ggml_gelu_f32(h)).
float ggml_vec_gelu(float x) { return x <= -10.0f ? 0.0f : x >= 10.0f ? x : f16(ggml_gelu_f32(f16(x))); }
float ggml_vec_geglu(float g, float u) {
  return g <= -10.0f ? 0.0f : g >= 10.0f ? g * u : f16(ggml_gelu_f32(f16(g))) * u;
}
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// Every binary16 value as a float, then random floats over [-12, 12] (both thresholds) and a few edges.
std::vector<float> gelu_inputs() {
  std::vector<float> x;
  for (std::uint32_t h = 0; h < 65536; ++h) x.push_back(lowbit::fp16_to_f32(static_cast<std::uint16_t>(h)));
  const auto r = random_floats(20011, 77, -12.0f, 12.0f);
  x.insert(x.end(), r.begin(), r.end());
  for (float v : {-10.0f, std::nextafter(-10.0f, 0.0f), 10.0f, std::nextafter(10.0f, 0.0f), 1e-30f, -1e-30f, 3e-8f,
                  65519.0f, 65520.0f, 1e30f, -1e30f})
    x.push_back(v);
  return x;
}
}  // namespace

TEST_CASE("gelu_tanh_table: bit-identical to ggml's table GELU restated, table == reference",
          "[nn][activations][ggml]") {
  const auto x = gelu_inputs();
  std::vector<float> table(x.size()), ref(x.size());
  nn::gelu_tanh_table(x, table, lowbit::threads{2});
  nn::reference::gelu_tanh_table(x, ref);
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("x = " << x[i] << " (" << std::hexfloat << x[i] << std::defaultfloat << ")");
    REQUIRE(same_bits(table[i], ggml_vec_gelu(x[i])));
    REQUIRE(same_bits(ref[i], table[i]));
  }
  // In place, odd lengths and one thread give the same bits.
  for (std::size_t n : nn_test::odd_sizes) {
    std::vector<float> v(x.begin() + 1000, x.begin() + 1000 + std::ptrdiff_t(n));
    nn::gelu_tanh_table(v, v, lowbit::threads{1});
    for (std::size_t i = 0; i < n; ++i) REQUIRE(same_bits(v[i], table[1000 + i]));
  }
}

TEST_CASE("gelu_tanh_table: the table is llama.cpp's ggml_table_gelu_f16", "[nn][activations][ggml][golden]") {
  // Golden values read from libggml-cpu.so (llama.cpp as vendored in llama-cpp-python 0.3.36, built
  // with -march=native on an AVX-512 machine) after ggml_cpu_init(): FNV-1a (64-bit, low byte
  // first) over the binary16 entries of every non-NaN input (NaN outputs as 0x7e00), and single entries. Entry 0xbfff
  // (x = -1.99902) is the one where an FMA build and a build without contraction differ.
  const auto& table = nn::detail::gelu_f16_table();
  std::uint64_t fnv = 1469598103934665603ull;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0) continue;  // NaN inputs: payloads are not compared
    std::uint16_t e = lowbit::f32_to_fp16(table[h]);
    // A NaN output (x = -inf) hashed as 0x7e00: its sign is the ISA's (x86 sets it, AArch64 does
    // not), and gelu_tanh never reads that entry (x <= -10 gives 0).
    if ((e & 0x7c00u) == 0x7c00u && (e & 0x3ffu) != 0) e = 0x7e00u;
    for (int b = 0; b < 2; ++b) {
      fnv ^= (e >> (8 * b)) & 0xffu;
      fnv *= 1099511628211ull;
    }
  }
  CHECK(fnv == 0xb4d3591b72ed2416ull);
  CHECK(lowbit::f32_to_fp16(table[0xbfff]) == 0xa9d3);
  CHECK(lowbit::f32_to_fp16(table[0x3c00]) == 0x3abb);  // gelu(1)
  CHECK(lowbit::f32_to_fp16(table[0x4000]) == 0x3fd2);  // gelu(2)
}

TEST_CASE("gelu_tanh_table: within two binary16 roundings of the tanh and erf GELUs", "[nn][activations]") {
  const auto x = gelu_inputs();
  std::vector<float> y(x.size());
  nn::gelu_tanh_table(x, y);
  double worst_tanh = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || std::fabs(x[i]) > 1e4f) continue;
    INFO("x = " << x[i] << " y = " << y[i]);
    const double g = gelu_tanh_d(x[i]);
    // Rounding x to binary16 moves g by at most |x| 2^-11 max|g'| (max|g'| < 1.13), rounding the
    // result adds 2^-11 |g|; 2^-24 covers the binary16 subnormal steps; 1e-6 relative the f32
    // formula and tanhf.
    const double bound = std::ldexp(1.0, -11) * (std::fabs(g) + 1.13 * std::fabs(double(x[i]))) + std::ldexp(1.0, -24) +
                         1e-6 * std::fabs(g);
    REQUIRE(std::fabs(double(y[i]) - g) <= bound);
    if (std::fabs(x[i]) >= 1e-3f) {  // binary16 normal range: relative to |g| + |x|, within about 2 * 2^-11
      worst_tanh = std::max(worst_tanh, std::fabs(double(y[i]) - g) / (std::fabs(g) + std::fabs(double(x[i]))));
    }
    // The tanh form itself is within 4.74e-4 of the erf form (max at x = +-2.70).
    REQUIRE(std::fabs(double(y[i]) - gelu_erf_d(x[i])) <= bound + 4.74e-4);
  }
  CHECK(worst_tanh < 1.1e-3);
}

TEST_CASE("gelu_tanh_table and geglu: NaN and infinities as ggml", "[nn][activations][ggml]") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{nan, inf, -inf, -10.0f, 10.0f, 0.0f, -0.0f};
  std::vector<float> y(x.size());
  nn::gelu_tanh_table(x, y);
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == inf);
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 0.0f);
  CHECK(y[4] == 10.0f);
  CHECK(y[5] == 0.0f);
  CHECK(y[6] == 0.0f);
  // geglu: a gate <= -10 gives 0 whatever up holds; otherwise NaN / inf in up propagate.
  const std::vector<float> gate{-11.0f, -11.0f, 1.0f, 1.0f, nan, -inf, inf, 12.0f};
  const std::vector<float> up{nan, inf, nan, inf, 1.0f, nan, 2.0f, -inf};
  std::vector<float> out(gate.size());
  nn::geglu(gate, up, out);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
  CHECK(std::isnan(out[2]));
  CHECK(out[3] == inf);
  CHECK(std::isnan(out[4]));
  CHECK(out[5] == 0.0f);
  CHECK(out[6] == inf);
  CHECK(out[7] == -inf);
}

TEST_CASE("geglu: bit-identical to ggml's geglu restated, simd == reference, aliasing and threads",
          "[nn][activations][geglu][ggml]") {
  const auto gate = gelu_inputs();
  const auto up = random_floats(gate.size(), 901, -4.0f, 4.0f);
  std::vector<float> out(gate.size()), ref(gate.size());
  nn::geglu(gate, up, out, lowbit::threads{2});
  nn::reference::geglu(gate, up, ref);
  for (std::size_t i = 0; i < gate.size(); ++i) {
    INFO("gate = " << gate[i] << " up = " << up[i]);
    REQUIRE(same_bits(out[i], ggml_vec_geglu(gate[i], up[i])));
    REQUIRE(same_bits(ref[i], out[i]));
  }
  for (std::size_t n : nn_test::odd_sizes) {
    const std::span<const float> g(gate.data() + 4000, n), u(up.data() + 4000, n);
    std::vector<float> in_gate(g.begin(), g.end()), in_up(u.begin(), u.end()), fresh(n);
    nn::geglu(g, u, fresh, lowbit::threads{1});
    nn::geglu(in_gate, u, in_gate);  // out == gate
    nn::geglu(g, in_up, in_up);      // out == up
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(same_bits(fresh[i], out[4000 + i]));
      REQUIRE(same_bits(in_gate[i], fresh[i]));
      REQUIRE(same_bits(in_up[i], fresh[i]));
    }
  }
  std::vector<float> a(8), c(7);
  auto msg = nn_test::error_message([&] { nn::geglu(a, c, a); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("geglu: gate has 8 elements but up has 7") != std::string::npos);
  msg = nn_test::error_message([&] { nn::reference::geglu(a, a, c); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("out has 7") != std::string::npos);
  msg = nn_test::error_message([&] { nn::gelu_tanh_table(a, c); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("gelu_tanh_table: x has 8 elements but y has 7") != std::string::npos);
  nn_test::error_message([&] { nn::geglu(a, a, a, lowbit::threads{0}); }, lowbit::errc::invalid_argument);
}
