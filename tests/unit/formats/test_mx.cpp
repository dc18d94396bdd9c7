// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// OCP MX formats (MXFP4, MXFP6 E2M3/E3M2, MXFP8 E4M3/E5M2, MXINT8) and NVFP4 as lowbit::format models:
// element tables, blocks worked out by hand from the definitions, the spec's quantization against a
// brute-force re-implementation, saturation, zeros, NaN input, and the reference GEMM.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp8.hpp"
#include "lowbit/formats/mx/mx_format.hpp"
#include "lowbit/formats/mx/nvfp4.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/quantize.hpp"

namespace {

using lowbit::errc;

template <class F>
errc error_code_of(F&& f) {
  try {
    f();
  } catch (const lowbit::error& e) {
    return e.code();
  }
  FAIL("no lowbit::error thrown");
  return errc::unsupported;
}

template <class F>
std::vector<float> round_trip(const std::vector<float>& v, std::uint8_t* e_out = nullptr) {
  REQUIRE(v.size() == F::block_size);
  typename F::block b;
  F::quantize_block(v.data(), b);
  if (e_out != nullptr) std::memcpy(e_out, &b, 1);
  std::vector<float> out(F::block_size);
  F::dequantize_block(b, out.data());
  return out;
}

std::vector<float> block_of(std::initializer_list<float> head, float fill = 0.0f, std::size_t n = 32) {
  std::vector<float> v(n, fill);
  std::copy(head.begin(), head.end(), v.begin());
  return v;
}

// Element value by the field formula (bias, exponent and mantissa widths), independent of minifloat.hpp.
double element_formula(unsigned code, int e_bits, int m_bits, int bias) {
  const unsigned m = code & ((1u << m_bits) - 1u);
  const unsigned e = (code >> m_bits) & ((1u << e_bits) - 1u);
  const double mag = e == 0 ? std::ldexp(static_cast<double>(m), 1 - bias - m_bits)
                            : std::ldexp(static_cast<double>((1u << m_bits) + m), static_cast<int>(e) - bias - m_bits);
  return ((code >> (e_bits + m_bits)) & 1u) != 0 ? -mag : mag;
}

// Decodes an MX block whose element i holds `code` for all i, with scale e = 127 (X = 1).
template <class F>
float decode_element(unsigned code) {
  std::vector<std::uint8_t> codes(32, static_cast<std::uint8_t>(code));
  typename F::block b;
  b.e = 127;
  lowbit::pack_codes(codes, F::element_bits, b.qs);
  float out[32];
  F::dequantize_block(b, out);
  for (int i = 1; i < 32; ++i) REQUIRE((out[i] == out[0] || (std::isnan(out[i]) && std::isnan(out[0]))));
  return out[0];
}

// The spec's quantization re-done by brute force: X = 2^(floor(log2 amax) - emax), each element the
// nearest finite element value of V / X (ties: even code), saturating.
template <class F>
std::vector<float> brute_force_block(const std::vector<float>& v) {
  float amax = 0.0f;
  for (const float x : v) amax = std::max(amax, std::abs(x));
  std::vector<float> out(v.size(), 0.0f);
  if (amax == 0.0f) return out;
  int exp2 = 0;
  std::frexp(amax, &exp2);  // amax = f * 2^exp2, f in [0.5, 1)
  const int shared = std::clamp(exp2 - 1 - F::emax_elem, -127, 127);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double y = std::ldexp(static_cast<double>(v[i]), -shared);
    double best = 0.0;
    double best_err = std::numeric_limits<double>::infinity();
    bool best_even = false;
    for (unsigned c = 0; c < (1u << F::element_bits); ++c) {
      const double val = F::element_type::to_f32(static_cast<std::uint8_t>(c));
      if (!std::isfinite(val)) continue;
      const double err = std::abs(val - y);
      const bool even = (c & 1u) == 0;
      if (err < best_err || (err == best_err && even && !best_even)) {
        best = val;
        best_err = err;
        best_even = even;
      }
    }
    out[i] = static_cast<float>(std::ldexp(best, shared));
  }
  return out;
}

template <class F>
void check_against_brute_force(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-20.0f, 20.0f);
  for (int t = 0; t < 300; ++t) {
    std::vector<float> v(32);
    const float s = std::exp2(std::round(log_scale(rng)));
    for (auto& x : v) x = normal(rng) * s;
    if (t % 3 == 0) v[t % 32] *= 50.0f;  // an outlier
    const std::vector<float> got = round_trip<F>(v);
    const std::vector<float> want = brute_force_block<F>(v);
    for (std::size_t i = 0; i < 32; ++i) {
      INFO(F::name << " trial " << t << " element " << i << ": " << v[i]);
      REQUIRE(got[i] == want[i]);
    }
  }
}

}  // namespace

TEST_CASE("mx: sizes and bits per weight", "[mx]") {
  STATIC_REQUIRE(lowbit::mx::mxfp4::block_bytes * 8 == 136);  // 4.25 bits per weight
  STATIC_REQUIRE(lowbit::mx::mxfp6_e2m3::block_bytes == 25);
  STATIC_REQUIRE(lowbit::mx::mxfp6_e3m2::block_bytes == 25);
  STATIC_REQUIRE(lowbit::mx::mxfp8_e4m3::block_bytes == 33);
  STATIC_REQUIRE(lowbit::mx::mxfp8_e5m2::block_bytes == 33);
  STATIC_REQUIRE(lowbit::mx::mxint8::block_bytes == 33);
  STATIC_REQUIRE(lowbit::mx::nvfp4::block_bytes * 8 == 72);  // 4.5 bits per weight (+ one f32 per tensor)
  STATIC_REQUIRE(lowbit::format<lowbit::mx::nvfp4>);
}

TEST_CASE("mx: element tables", "[mx][elements]") {
  const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};  // OCP MX v1.0 §5.3.3
  for (unsigned c = 0; c < 16; ++c) {
    CHECK(decode_element<lowbit::mx::mxfp4>(c) == (c < 8 ? e2m1[c] : -e2m1[c - 8]));
  }
  for (unsigned c = 0; c < 64; ++c) {
    INFO("code " << c);
    CHECK(decode_element<lowbit::mx::mxfp6_e2m3>(c) == element_formula(c, 2, 3, 1));
    CHECK(decode_element<lowbit::mx::mxfp6_e3m2>(c) == element_formula(c, 3, 2, 3));
  }
  for (unsigned c = 0; c < 256; ++c) {
    INFO("code " << c);
    const float e4 = decode_element<lowbit::mx::mxfp8_e4m3>(c);
    if ((c & 0x7f) == 0x7f) {
      CHECK(std::isnan(e4));
    } else {
      CHECK(e4 == element_formula(c, 4, 3, 7));
    }
    const float e5 = decode_element<lowbit::mx::mxfp8_e5m2>(c);
    if ((c & 0x7c) == 0x7c) {
      CHECK(!std::isfinite(e5));
    } else {
      CHECK(e5 == element_formula(c, 5, 2, 15));
    }
    const int twos = c >= 128 ? static_cast<int>(c) - 256 : static_cast<int>(c);
    CHECK(decode_element<lowbit::mx::mxint8>(c) == std::ldexp(static_cast<float>(twos), -6));
  }
  CHECK(lowbit::mx::mxfp6_e2m3::element_type::max() == 7.5f);
  CHECK(lowbit::mx::mxfp6_e3m2::element_type::max() == 28.0f);
  CHECK(lowbit::mx::mxint8::element_type::max() == 127.0f / 64.0f);
}

TEST_CASE("mx: the shared scale applies to every element, an E8M0 NaN scale decodes to NaN", "[mx]") {
  lowbit::mx::mxfp4::block b{};
  const std::vector<std::uint8_t> codes = {0x1, 0x7, 0xf, 0x3};
  std::vector<std::uint8_t> all(32, 0);
  std::copy(codes.begin(), codes.end(), all.begin());
  lowbit::pack_codes(all, 4, b.qs);
  CHECK(b.qs[0] == 0x71);  // element 0 in the low nibble of byte 0, element 1 in its high nibble
  CHECK(b.qs[1] == 0x3f);
  b.e = 127 + 3;  // X = 8
  float out[32];
  lowbit::mx::mxfp4::dequantize_block(b, out);
  CHECK(out[0] == 4.0f);
  CHECK(out[1] == 48.0f);
  CHECK(out[2] == -48.0f);
  CHECK(out[3] == 12.0f);
  CHECK(out[4] == 0.0f);
  b.e = 0xff;
  lowbit::mx::mxfp4::dequantize_block(b, out);
  for (const float v : out) CHECK(std::isnan(v));
}

TEST_CASE("mx: blocks worked out by hand from the spec", "[mx][quantize]") {
  std::uint8_t e = 0;
  // MXFP4, amax 6: shared exp floor(log2 6) - 2 = 0; 0.25 and 0.75 are ties (0 | 0.5 and 0.5 | 1).
  auto a = round_trip<lowbit::mx::mxfp4>(block_of({6.0f, -3.0f, 1.5f, 0.25f, 0.75f, -0.5f, 4.0f, 2.0f}), &e);
  CHECK(e == 127);
  CHECK(a == block_of({6.0f, -3.0f, 1.5f, 0.0f, 1.0f, -0.5f, 4.0f, 2.0f}));
  // MXFP4, amax 100: shared exp 6 - 2 = 4 (X = 16). 100/16 = 6.25 saturates to 6; 40/16 = 2.5 ties
  // to 2; 7/16 = 0.4375 -> 0.5; -13/16 = -0.8125 -> -1; 1/16 -> 0.
  a = round_trip<lowbit::mx::mxfp4>(block_of({100.0f, 40.0f, 7.0f, -100.0f, -13.0f}, 1.0f), &e);
  CHECK(e == 131);
  CHECK(a == block_of({96.0f, 32.0f, 8.0f, -96.0f, -16.0f}, 0.0f));
  // MXFP8 E4M3, amax 1000: shared exp 9 - 8 = 1 (X = 2); 500 saturates to 448; -0.0005 is below half
  // the smallest subnormal (2^-10) and becomes -0.
  a = round_trip<lowbit::mx::mxfp8_e4m3>(block_of({1000.0f, -0.001f, 3.0f}), &e);
  CHECK(e == 128);
  CHECK(a[0] == 896.0f);
  CHECK(a[1] == 0.0f);
  CHECK(std::signbit(a[1]));
  CHECK(a[2] == 3.0f);
  // MXFP8 E5M2, amax 1: shared exp 0 - 15 = -15; 1e-6 * 2^15 = 0.0328 = 1.0486 * 2^-5 -> 2^-5.
  a = round_trip<lowbit::mx::mxfp8_e5m2>(block_of({1.0f, 1e-6f}), &e);
  CHECK(e == 112);
  CHECK(a[0] == 1.0f);
  CHECK(a[1] == std::ldexp(1.0f, -20));
  // MXINT8, amax 1.999: shared exp 0; 0.3 * 64 = 19.2 -> 19; 1.999 * 64 = 127.94 -> 128 saturates to 127.
  a = round_trip<lowbit::mx::mxint8>(block_of({1.0f, 0.3f, -1.0f, 1.999f}), &e);
  CHECK(e == 127);
  CHECK(a == block_of({1.0f, 19.0f / 64.0f, -1.0f, 127.0f / 64.0f}));
  // MXFP6 E2M3, amax 30: shared exp 4 - 2 = 2 (X = 4); 30/4 = 7.5 exact; 1.1/4 = 0.275 -> 0.25.
  a = round_trip<lowbit::mx::mxfp6_e2m3>(block_of({30.0f, 1.1f}), &e);
  CHECK(e == 129);
  CHECK(a == block_of({30.0f, 1.0f}));
  // MXFP6 E3M2, amax 28: shared exp 4 - 4 = 0; 0.3 -> 0.3125; -26 = -1.625 * 16 ties to -1.5 * 16.
  a = round_trip<lowbit::mx::mxfp6_e3m2>(block_of({28.0f, 0.3f, -26.0f}), &e);
  CHECK(e == 127);
  CHECK(a == block_of({28.0f, 0.3125f, -24.0f}));
}

TEST_CASE("mx: quantization equals the spec's algorithm by brute force", "[mx][quantize]") {
  check_against_brute_force<lowbit::mx::mxfp4>(1);
  check_against_brute_force<lowbit::mx::mxfp6_e2m3>(2);
  check_against_brute_force<lowbit::mx::mxfp6_e3m2>(3);
  check_against_brute_force<lowbit::mx::mxfp8_e4m3>(4);
  check_against_brute_force<lowbit::mx::mxfp8_e5m2>(5);
  check_against_brute_force<lowbit::mx::mxint8>(6);
}

TEST_CASE("mx: zeros, tiny blocks and huge blocks", "[mx][quantize]") {
  std::uint8_t e = 1;
  auto z = round_trip<lowbit::mx::mxfp4>(std::vector<float>(32, 0.0f), &e);
  CHECK(e == 0);
  for (const float v : z) CHECK(v == 0.0f);
  z = round_trip<lowbit::mx::mxint8>(std::vector<float>(32, 0.0f), &e);
  for (const float v : z) CHECK(v == 0.0f);
  // amax = 2^-140: the shared exponent clamps at -127.
  auto tiny = round_trip<lowbit::mx::mxfp8_e4m3>(block_of({std::ldexp(1.0f, -140)}), &e);
  CHECK(e == 0);
  CHECK(tiny == brute_force_block<lowbit::mx::mxfp8_e4m3>(block_of({std::ldexp(1.0f, -140)})));
  // The largest float: shared exp 127 - 2 = 125; 3.4e38 / 2^125 = 7.99 saturates to 6.
  const float big = std::numeric_limits<float>::max();
  auto h = round_trip<lowbit::mx::mxfp4>(block_of({big, -big}), &e);
  CHECK(e == 127 + 125);
  CHECK(h[0] == std::ldexp(6.0f, 125));
  CHECK(h[1] == -std::ldexp(6.0f, 125));
}

TEST_CASE("mx: NaN or Inf input is an error through quantize_row", "[mx][errors]") {
  std::vector<float> x(64, 1.0f);
  std::vector<std::byte> dst(2 * lowbit::mx::mxfp4::block_bytes);
  lowbit::quantize_row<lowbit::mx::mxfp4>(x, dst);
  x[40] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_code_of([&] { lowbit::quantize_row<lowbit::mx::mxfp4>(x, dst); }) == errc::invalid_argument);
  x[40] = std::numeric_limits<float>::infinity();
  std::vector<std::byte> dst8(2 * lowbit::mx::mxfp8_e4m3::block_bytes);
  CHECK(error_code_of([&] { lowbit::quantize_row<lowbit::mx::mxfp8_e4m3>(x, dst8); }) == errc::invalid_argument);
  std::vector<float> odd(48, 1.0f);
  CHECK(error_code_of([&] { lowbit::quantize_row<lowbit::mx::mxfp4>(odd, dst); }) == errc::shape_mismatch);
}

TEST_CASE("nvfp4: tensor scale, block scale and elements by hand", "[nvfp4]") {
  std::vector<float> x(32, 0.0f);
  x[0] = 2688.0f;  // amax: tensor scale 2688 / (6 * 448) = 1
  x[1] = -1344.0f;
  x[2] = 100.0f;
  x[16] = 1.0f;
  x[17] = 0.5f;
  x[18] = -0.25f;
  x[19] = 0.1f;
  const float ts = lowbit::mx::nvfp4_tensor_scale(x);
  CHECK(ts == 1.0f);
  std::vector<lowbit::mx::nvfp4::block> blocks(2);
  lowbit::mx::nvfp4_quantize_row(x, ts, blocks);
  // Block 0: scale e4m3(2688 / 6 = 448) = 448 (0x7e); 2688/448 = 6, -1344/448 = -3, 100/448 = 0.223 -> 0.
  CHECK(blocks[0].s == 0x7e);
  // Block 1: 1/6 = 0.1667 -> e4m3 1.375 * 2^-3 = 0.171875; 1/d = 5.82 -> 6, 0.5/d = 2.91 -> 3,
  // -0.25/d = -1.45 -> -1.5, 0.1/d = 0.58 -> 0.5.
  CHECK(lowbit::fp8_e4m3_to_f32(blocks[1].s) == 0.171875f);
  std::vector<float> out(32);
  lowbit::mx::nvfp4_dequantize_row(blocks, ts, out);
  CHECK(out[0] == 2688.0f);
  CHECK(out[1] == -1344.0f);
  CHECK(out[2] == 0.0f);
  CHECK(out[16] == 6.0f * 0.171875f);
  CHECK(out[17] == 3.0f * 0.171875f);
  CHECK(out[18] == -1.5f * 0.171875f);
  CHECK(out[19] == 0.5f * 0.171875f);
  for (std::size_t i = 20; i < 32; ++i) CHECK(out[i] == 0.0f);

  // A tensor scale that is not 1: everything scales with it, block scales are unchanged.
  std::vector<float> y(x);
  for (auto& v : y) v *= 0.001f;
  const float ts2 = lowbit::mx::nvfp4_tensor_scale(y);
  CHECK(ts2 == y[0] / (6.0f * 448.0f));
  std::vector<lowbit::mx::nvfp4::block> b2(2);
  lowbit::mx::nvfp4_quantize_row(y, ts2, b2);
  std::vector<float> o2(32);
  lowbit::mx::nvfp4_dequantize_row(b2, ts2, o2);
  for (std::size_t i = 0; i < 32; ++i) {
    float block_value[16];
    lowbit::mx::nvfp4::dequantize_block(b2[i / 16], block_value);
    CHECK(o2[i] == block_value[i % 16] * ts2);
    // Within half the largest E2M1 gap (1, between 4 and 6) of the block's step.
    CHECK(std::abs(o2[i] - y[i]) <= lowbit::fp8_e4m3_to_f32(b2[i / 16].s) * ts2 * 1.0001f);
  }
  CHECK(lowbit::mx::nvfp4_tensor_scale(std::vector<float>(16, 0.0f)) == 1.0f);
}

TEST_CASE("nvfp4: saturation, zeros and bad input", "[nvfp4][errors]") {
  // Block values past 6 * 448 (tensor scale too small) saturate: scale 448, elements 6.
  std::vector<float> x(16, 0.0f);
  x[0] = 1e6f;
  x[1] = -1e6f;
  std::vector<lowbit::mx::nvfp4::block> b(1);
  lowbit::mx::nvfp4_quantize_row(x, 1.0f, b);
  CHECK(b[0].s == 0x7e);
  std::vector<float> out(16);
  lowbit::mx::nvfp4_dequantize_row(b, 1.0f, out);
  CHECK(out[0] == 2688.0f);
  CHECK(out[1] == -2688.0f);
  // A block whose scale underflows E4M3 stores zeros.
  std::vector<float> tiny(16, 1e-9f);
  lowbit::mx::nvfp4_quantize_row(tiny, 1.0f, b);
  CHECK(b[0].s == 0);
  lowbit::mx::nvfp4_dequantize_row(b, 1.0f, out);
  for (const float v : out) CHECK(v == 0.0f);

  x[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_code_of([&] { lowbit::mx::nvfp4_quantize_row(x, 1.0f, b); }) == errc::invalid_argument);
  CHECK(error_code_of([&] { (void)lowbit::mx::nvfp4_tensor_scale(x); }) == errc::invalid_argument);
  x[3] = 0.0f;
  CHECK(error_code_of([&] { lowbit::mx::nvfp4_quantize_row(x, 0.0f, b); }) == errc::invalid_argument);
  CHECK(error_code_of([&] { lowbit::mx::nvfp4_quantize_row(x, std::numeric_limits<float>::infinity(), b); }) ==
        errc::invalid_argument);
  std::vector<float> x17(17, 1.0f);
  CHECK(error_code_of([&] { lowbit::mx::nvfp4_quantize_row(x17, 1.0f, b); }) == errc::shape_mismatch);
  CHECK(error_code_of([&] { lowbit::mx::nvfp4_dequantize_row(b, 1.0f, std::span<float>(out).first(8)); }) ==
        errc::shape_mismatch);
  std::vector<std::byte> dst(lowbit::mx::nvfp4::block_bytes);
  x[5] = -std::numeric_limits<float>::infinity();
  CHECK(error_code_of([&] { lowbit::quantize_row<lowbit::mx::nvfp4>(x, dst); }) == errc::invalid_argument);
}

namespace {

// Reference GEMM through the lowbit::format path == double-accumulated GEMM of the decoded blocks.
template <class F>
void check_gemm(std::size_t n, std::size_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(n * k);
  for (auto& v : w) v = normal(rng);
  std::vector<typename F::block> blocks(n * k / F::block_size);
  lowbit::quantize_rows<F>(w, k, std::as_writable_bytes(std::span(blocks)));
  std::vector<float> wd(n * k);
  for (std::size_t b = 0; b < blocks.size(); ++b) F::dequantize_block(blocks[b], wd.data() + b * F::block_size);
  const std::size_t m = 3;
  std::vector<float> x(m * k);
  for (auto& v : x) v = normal(rng);
  std::vector<float> y(m * n);
  const lowbit::weight_view<F> view{blocks.data(), n, k};
  lowbit::gemm<lowbit::backend::reference>(lowbit::matrix_view<const float>(x.data(), m, k), view,
                                           lowbit::matrix_view<float>(y.data(), m, n));
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double want = 0.0;
      double mag = 0.0;
      for (std::size_t kk = 0; kk < k; ++kk) {
        want += static_cast<double>(x[i * k + kk]) * wd[j * k + kk];
        mag += std::abs(static_cast<double>(x[i * k + kk]) * wd[j * k + kk]);
      }
      INFO(F::name << " y(" << i << ", " << j << ")");
      CHECK(std::abs(y[i * n + j] - want) <= 1e-5 * mag);
    }
  }
}

}  // namespace

TEST_CASE("mx: reference gemm on MX and NVFP4 weights == f32 gemm on the decoded weights", "[mx][gemm]") {
  check_gemm<lowbit::mx::mxfp4>(5, 96, 1);
  check_gemm<lowbit::mx::mxfp6_e3m2>(3, 64, 2);
  check_gemm<lowbit::mx::mxfp8_e4m3>(4, 32, 3);
  check_gemm<lowbit::mx::mxint8>(2, 64, 4);
  check_gemm<lowbit::mx::nvfp4>(7, 48, 5);
}
