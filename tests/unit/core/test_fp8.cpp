// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// The OCP FP8 conversions (core/fp8.hpp) and the other minifloats of core/minifloat.hpp (FP6, FP4, E8M0)
// against an independent decoder (std::ldexp on the sign, exponent and mantissa fields) and a
// brute-force nearest-even encoder over all codes.

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp8.hpp"
#include "lowbit/core/minifloat.hpp"

namespace {

// The field definition written out again, independently of the library: subnormal m * 2^(1-bias-M),
// normal (2^M + m) * 2^(e-bias-M). Specials are handled by the callers.
double field_value(unsigned code, int exp_bits, int man_bits, int bias) {
  const unsigned m = code & ((1u << man_bits) - 1u);
  const unsigned e = (code >> man_bits) & ((1u << exp_bits) - 1u);
  const bool negative = ((code >> (exp_bits + man_bits)) & 1u) != 0;
  const double magnitude =
      e == 0 ? std::ldexp(static_cast<double>(m), 1 - bias - man_bits)
             : std::ldexp(static_cast<double>((1u << man_bits) + m), static_cast<int>(e) - bias - man_bits);
  return negative ? -magnitude : magnitude;
}

// Brute force: the code of the value nearest to x among the finite codes; ties go to the code with an
// even least significant bit (the even mantissa). Returns -1 when x lies beyond max.
template <class F>
int nearest_code(float x) {
  int best = -1;
  double best_err = std::numeric_limits<double>::infinity();
  for (unsigned c = 0; c < (1u << F::bits); ++c) {
    const float v = F::to_f32(static_cast<std::uint8_t>(c));
    if (!std::isfinite(v)) continue;
    if (std::signbit(v) != std::signbit(x)) continue;  // keeps the sign of zero
    const double err = std::abs(static_cast<double>(v) - static_cast<double>(x));
    if (err < best_err || (err == best_err && (c & 1u) == 0)) {
      best = static_cast<int>(c);
      best_err = err;
    }
  }
  return best;
}

template <class F>
void check_decode_all(int exp_bits, int man_bits, int bias) {
  for (unsigned c = 0; c < (1u << F::bits); ++c) {
    INFO("code " << c);
    const auto code = static_cast<std::uint8_t>(c);
    const float got = F::to_f32(code);
    const unsigned e = (c >> man_bits) & ((1u << exp_bits) - 1u);
    const unsigned m = c & ((1u << man_bits) - 1u);
    const bool all_ones_exp = e == (1u << exp_bits) - 1u;
    if (F::specials == lowbit::minifloat_specials::fn && all_ones_exp && m == (1u << man_bits) - 1u) {
      CHECK(std::isnan(got));
    } else if (F::specials == lowbit::minifloat_specials::ieee && all_ones_exp) {
      if (m == 0) {
        CHECK(std::isinf(got));
        CHECK(std::signbit(got) == ((c >> (F::bits - 1)) != 0));
      } else {
        CHECK(std::isnan(got));
      }
    } else {
      const double want = field_value(c, exp_bits, man_bits, bias);
      CHECK(static_cast<double>(got) == want);
      CHECK(std::signbit(got) == ((c >> (F::bits - 1)) != 0));
    }
  }
}

template <class F>
void check_round_trip_all() {
  for (unsigned c = 0; c < (1u << F::bits); ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const float v = F::to_f32(code);
    if (std::isnan(v)) continue;
    INFO("code " << c << " value " << v);
    if (std::isinf(v)) {
      CHECK(F::from_f32(v, false) == code);
    } else {
      CHECK(F::from_f32(v, true) == code);
      CHECK(F::from_f32(v, false) == code);
    }
  }
}

// Midpoints between neighbouring finite magnitudes go to the even code; one float step either side
// goes to the nearer code.
template <class F>
void check_midpoints() {
  int ties = 0;
  for (unsigned c = 0; c + 1 <= F::max_code(); ++c) {
    for (const float sign : {1.0f, -1.0f}) {
      const float lo = sign * F::to_f32(static_cast<std::uint8_t>(c));
      const float hi = sign * F::to_f32(static_cast<std::uint8_t>(c + 1));
      const float mid = (lo + hi) / 2;  // exact: both are short binary fractions
      const std::uint8_t s = sign < 0 ? F::sign_mask : 0;
      const auto even = static_cast<std::uint8_t>(s | ((c & 1u) == 0 ? c : c + 1));
      INFO("between codes " << c << " and " << c + 1 << ", sign " << sign << ": " << mid);
      CHECK(F::from_f32(mid) == even);
      CHECK(F::from_f32(std::nextafter(mid, lo)) == static_cast<std::uint8_t>(s | c));
      CHECK(F::from_f32(std::nextafter(mid, hi)) == static_cast<std::uint8_t>(s | (c + 1)));
      ++ties;
    }
  }
  CHECK(ties == 2 * F::max_code());
}

template <class F>
void check_random_against_brute_force(std::uint32_t seed) {
  std::mt19937 rng(seed);
  const float max = F::max();
  std::uniform_real_distribution<float> uniform(-max, max);
  std::uniform_real_distribution<float> log_mag(std::log2(F::min_positive()) - 3.0f, std::log2(max));
  for (int i = 0; i < 20000; ++i) {
    float x = i % 2 == 0 ? uniform(rng) : std::exp2(log_mag(rng)) * (rng() % 2 == 0 ? 1.0f : -1.0f);
    const int want = nearest_code<F>(x);
    INFO("x = " << x);
    REQUIRE(want >= 0);
    CHECK(F::from_f32(x) == static_cast<std::uint8_t>(want));
  }
}

}  // namespace

TEST_CASE("fp8: e4m3 decodes all 256 codes as the field formula", "[fp8][e4m3]") {
  check_decode_all<lowbit::fp8_e4m3_format>(4, 3, 7);
  for (unsigned c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const float a = lowbit::fp8_e4m3_to_f32(code);
    const float b = lowbit::fp8_e4m3_format::to_f32(code);
    CHECK((a == b || (std::isnan(a) && std::isnan(b))));
  }
  CHECK(lowbit::fp8_e4m3_to_f32(0x7e) == 448.0f);
  CHECK(lowbit::fp8_e4m3_to_f32(0xfe) == -448.0f);
  CHECK(std::isnan(lowbit::fp8_e4m3_to_f32(0x7f)));
  CHECK(std::isnan(lowbit::fp8_e4m3_to_f32(0xff)));
  CHECK(lowbit::fp8_e4m3_to_f32(0x78) == 256.0f);  // S.1111.000 is a number in E4M3
  CHECK(lowbit::fp8_e4m3_to_f32(0x01) == std::ldexp(1.0f, -9));
  CHECK(lowbit::fp8_e4m3_to_f32(0x08) == std::ldexp(1.0f, -6));
  CHECK(lowbit::fp8_e4m3_to_f32(0x38) == 1.0f);
  CHECK(lowbit::fp8_e4m3_format::max() == 448.0f);
}

TEST_CASE("fp8: e5m2 decodes all 256 codes as the field formula", "[fp8][e5m2]") {
  check_decode_all<lowbit::fp8_e5m2_format>(5, 2, 15);
  CHECK(lowbit::fp8_e5m2_to_f32(0x7b) == 57344.0f);
  CHECK(lowbit::fp8_e5m2_to_f32(0x7c) == std::numeric_limits<float>::infinity());
  CHECK(lowbit::fp8_e5m2_to_f32(0xfc) == -std::numeric_limits<float>::infinity());
  for (std::uint8_t c : {0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff}) CHECK(std::isnan(lowbit::fp8_e5m2_to_f32(c)));
  CHECK(lowbit::fp8_e5m2_to_f32(0x01) == std::ldexp(1.0f, -16));
  CHECK(lowbit::fp8_e5m2_to_f32(0x3c) == 1.0f);
  CHECK(lowbit::fp8_e5m2_format::max() == 57344.0f);
}

TEST_CASE("fp8: encode(decode(c)) == c for every non-NaN code", "[fp8]") {
  check_round_trip_all<lowbit::fp8_e4m3_format>();
  check_round_trip_all<lowbit::fp8_e5m2_format>();
  for (unsigned c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    if (!std::isnan(lowbit::fp8_e4m3_to_f32(code)))
      CHECK(lowbit::fp8_e4m3_from_f32(lowbit::fp8_e4m3_to_f32(code)) == code);
    const float v = lowbit::fp8_e5m2_to_f32(code);
    if (std::isfinite(v)) CHECK(lowbit::fp8_e5m2_from_f32(v) == code);
  }
}

TEST_CASE("fp8: ties to even at every midpoint, normal and subnormal", "[fp8][rounding]") {
  check_midpoints<lowbit::fp8_e4m3_format>();
  check_midpoints<lowbit::fp8_e5m2_format>();
  // Hand-picked cases: half the smallest subnormal ties to zero; the midpoint between the largest
  // subnormal (7 * 2^-9) and the smallest normal (2^-6) ties to the normal (even mantissa 000).
  CHECK(lowbit::fp8_e4m3_from_f32(std::ldexp(1.0f, -10)) == 0x00);
  CHECK(lowbit::fp8_e4m3_from_f32(-std::ldexp(1.0f, -10)) == 0x80);
  CHECK(lowbit::fp8_e4m3_from_f32(std::ldexp(3.0f, -10)) == 0x02);  // 1.5 * 2^-9 -> 2 * 2^-9
  CHECK(lowbit::fp8_e4m3_from_f32(std::ldexp(7.5f, -9)) == 0x08);
  CHECK(lowbit::fp8_e4m3_from_f32(1.0625f) == 0x38);  // 1 + 1/16: tie between 1.000 and 1.001
  CHECK(lowbit::fp8_e4m3_from_f32(1.1875f) == 0x3a);  // tie between 1.001 and 1.010
  CHECK(lowbit::fp8_e5m2_from_f32(1.125f) == 0x3c);
  CHECK(lowbit::fp8_e5m2_from_f32(1.375f) == 0x3e);
  CHECK(lowbit::fp8_e4m3_from_f32(std::ldexp(1.0f, -140)) == 0x00);  // binary32 subnormal input
  CHECK(lowbit::fp8_e4m3_from_f32(std::numeric_limits<float>::denorm_min()) == 0x00);
}

TEST_CASE("fp8: encode is the nearest code (brute force over all codes)", "[fp8][rounding]") {
  check_random_against_brute_force<lowbit::fp8_e4m3_format>(1);
  check_random_against_brute_force<lowbit::fp8_e5m2_format>(2);
}

TEST_CASE("fp8: saturation and overflow", "[fp8][saturate]") {
  const float inf = std::numeric_limits<float>::infinity();
  // E4M3: 464 is the tie between 448 (mantissa 110) and the missing 480: it rounds to the even 448.
  CHECK(lowbit::fp8_e4m3_from_f32(464.0f, false) == 0x7e);
  CHECK(lowbit::fp8_e4m3_from_f32(std::nextafter(464.0f, 0.0f), false) == 0x7e);
  CHECK(lowbit::fp8_e4m3_from_f32(std::nextafter(464.0f, 1000.0f), false) == 0x7f);
  CHECK(lowbit::fp8_e4m3_from_f32(-500.0f, false) == 0xff);
  CHECK(lowbit::fp8_e4m3_from_f32(inf, false) == 0x7f);
  CHECK(lowbit::fp8_e4m3_from_f32(-inf, false) == 0xff);
  CHECK(lowbit::fp8_e4m3_from_f32(500.0f) == 0x7e);
  CHECK(lowbit::fp8_e4m3_from_f32(-1e30f) == 0xfe);
  CHECK(lowbit::fp8_e4m3_from_f32(inf) == 0x7e);
  CHECK(lowbit::fp8_e4m3_from_f32(-inf) == 0xfe);
  CHECK(lowbit::fp8_e4m3_from_f32(std::numeric_limits<float>::max()) == 0x7e);
  // E5M2: 61440 ties between 57344 (mantissa 11) and 65536 (= inf, mantissa 00): overflow.
  CHECK(lowbit::fp8_e5m2_from_f32(61440.0f, false) == 0x7c);
  CHECK(lowbit::fp8_e5m2_from_f32(std::nextafter(61440.0f, 0.0f), false) == 0x7b);
  CHECK(lowbit::fp8_e5m2_from_f32(-61440.0f, false) == 0xfc);
  CHECK(lowbit::fp8_e5m2_from_f32(61440.0f) == 0x7b);
  CHECK(lowbit::fp8_e5m2_from_f32(1e10f) == 0x7b);
  CHECK(lowbit::fp8_e5m2_from_f32(-1e10f) == 0xfb);
  CHECK(lowbit::fp8_e5m2_from_f32(inf) == 0x7b);
  CHECK(lowbit::fp8_e5m2_from_f32(-inf) == 0xfb);
  CHECK(lowbit::fp8_e5m2_from_f32(inf, false) == 0x7c);
  CHECK(lowbit::fp8_e5m2_from_f32(-inf, false) == 0xfc);
}

TEST_CASE("fp8: NaN stays NaN in both modes", "[fp8][nan]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const bool saturate : {true, false}) {
    CHECK(lowbit::fp8_e4m3_from_f32(nan, saturate) == 0x7f);
    CHECK(lowbit::fp8_e4m3_from_f32(-nan, saturate) == 0xff);
    CHECK(std::isnan(lowbit::fp8_e5m2_to_f32(lowbit::fp8_e5m2_from_f32(nan, saturate))));
    CHECK(lowbit::fp8_e5m2_from_f32(nan, saturate) == 0x7e);
    CHECK(lowbit::fp8_e5m2_from_f32(-nan, saturate) == 0xfe);
    CHECK(std::isnan(
        lowbit::fp8_e4m3_to_f32(lowbit::fp8_e4m3_from_f32(std::numeric_limits<float>::signaling_NaN(), saturate))));
  }
}

TEST_CASE("fp8: signed zeros and subnormals", "[fp8][subnormal]") {
  CHECK(lowbit::fp8_e4m3_from_f32(0.0f) == 0x00);
  CHECK(lowbit::fp8_e4m3_from_f32(-0.0f) == 0x80);
  CHECK(lowbit::fp8_e5m2_from_f32(-0.0f) == 0x80);
  CHECK(std::signbit(lowbit::fp8_e4m3_to_f32(0x80)));
  for (unsigned m = 1; m < 8; ++m) {
    const float v = std::ldexp(static_cast<float>(m), -9);
    CHECK(lowbit::fp8_e4m3_to_f32(static_cast<std::uint8_t>(m)) == v);
    CHECK(lowbit::fp8_e4m3_from_f32(v) == m);
    CHECK(lowbit::fp8_e4m3_from_f32(-v) == (0x80u | m));
  }
  for (unsigned m = 1; m < 4; ++m) {
    const float v = std::ldexp(static_cast<float>(m), -16);
    CHECK(lowbit::fp8_e5m2_to_f32(static_cast<std::uint8_t>(m)) == v);
    CHECK(lowbit::fp8_e5m2_from_f32(v) == m);
  }
}

TEST_CASE("minifloat: OCP MX FP6 and FP4 elements", "[minifloat][mx]") {
  check_decode_all<lowbit::fp6_e2m3_format>(2, 3, 1);
  check_decode_all<lowbit::fp6_e3m2_format>(3, 2, 3);
  check_decode_all<lowbit::fp4_e2m1_format>(2, 1, 1);
  check_round_trip_all<lowbit::fp6_e2m3_format>();
  check_round_trip_all<lowbit::fp6_e3m2_format>();
  check_round_trip_all<lowbit::fp4_e2m1_format>();
  check_midpoints<lowbit::fp6_e2m3_format>();
  check_midpoints<lowbit::fp6_e3m2_format>();
  check_midpoints<lowbit::fp4_e2m1_format>();
  check_random_against_brute_force<lowbit::fp4_e2m1_format>(3);
  check_random_against_brute_force<lowbit::fp6_e3m2_format>(4);

  const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};  // OCP MX v1.0 table 5.3.3
  for (std::uint8_t c = 0; c < 8; ++c) {
    CHECK(lowbit::fp4_e2m1_to_f32(c) == e2m1[c]);
    CHECK(lowbit::fp4_e2m1_to_f32(static_cast<std::uint8_t>(c | 8)) == -e2m1[c]);
  }
  CHECK(lowbit::fp6_e2m3_format::max() == 7.5f);
  CHECK(lowbit::fp6_e2m3_format::min_positive() == 0.125f);
  CHECK(lowbit::fp6_e3m2_format::max() == 28.0f);
  CHECK(lowbit::fp6_e3m2_format::min_positive() == 0.0625f);
  // No inf/NaN encodings: overflow saturates in both modes, NaN (a precondition breach) gives +0.
  CHECK(lowbit::fp4_e2m1_from_f32(7.0f) == 0x7);
  CHECK(lowbit::fp4_e2m1_from_f32(-1e9f) == 0xf);
  CHECK(lowbit::fp4_e2m1_format::from_f32(std::numeric_limits<float>::infinity(), false) == 0x7);
  CHECK(lowbit::fp6_e2m3_from_f32(100.0f) == 0x1f);
  CHECK(lowbit::fp6_e3m2_from_f32(-30.0f) == 0x3f);
  CHECK(lowbit::fp4_e2m1_from_f32(5.0f) == 0x6);   // tie 4 | 6 -> 4 (mantissa 0)
  CHECK(lowbit::fp4_e2m1_from_f32(2.5f) == 0x4);   // tie 2 | 3 -> 2
  CHECK(lowbit::fp4_e2m1_from_f32(0.25f) == 0x0);  // tie 0 | 0.5 -> 0
  CHECK(lowbit::fp4_e2m1_from_f32(0.75f) == 0x2);  // tie 0.5 | 1 -> 1
  CHECK(lowbit::fp4_e2m1_from_f32(std::numeric_limits<float>::quiet_NaN()) == 0x0);
}

TEST_CASE("minifloat: OCP MX E8M0 scale", "[minifloat][e8m0]") {
  for (unsigned e = 0; e < 255; ++e) {
    INFO("e = " << e);
    CHECK(lowbit::e8m0_to_f32(static_cast<std::uint8_t>(e)) == std::ldexp(1.0f, static_cast<int>(e) - 127));
    CHECK(lowbit::e8m0_from_f32(std::ldexp(1.0f, static_cast<int>(e) - 127)) == e);
    CHECK(lowbit::e8m0_from_exponent(static_cast<int>(e) - 127) == e);
  }
  CHECK(std::isnan(lowbit::e8m0_to_f32(0xff)));
  CHECK(lowbit::e8m0_from_f32(3.0f) == 128);   // floor(log2 3) = 1
  CHECK(lowbit::e8m0_from_f32(0.75f) == 126);  // floor(log2 0.75) = -1
  CHECK(lowbit::e8m0_from_f32(1e-44f) == 0);   // below 2^-127: clamped
  CHECK(lowbit::e8m0_from_f32(0.0f) == 0);
  CHECK(lowbit::e8m0_from_f32(std::numeric_limits<float>::max()) == 254);
  CHECK(lowbit::e8m0_from_f32(-1.0f) == 0xff);
  CHECK(lowbit::e8m0_from_f32(std::numeric_limits<float>::quiet_NaN()) == 0xff);
  CHECK(lowbit::e8m0_from_f32(std::numeric_limits<float>::infinity()) == 0xff);
  CHECK(lowbit::e8m0_from_exponent(-200) == 0);
  CHECK(lowbit::e8m0_from_exponent(200) == 254);
}

TEST_CASE("fp8: conversions are constexpr", "[fp8]") {
  static_assert(lowbit::fp8_e4m3_to_f32(0x7e) == 448.0f);
  static_assert(lowbit::fp8_e4m3_from_f32(448.0f) == 0x7e);
  static_assert(lowbit::fp8_e5m2_from_f32(-57344.0f) == 0xfb);
  static_assert(lowbit::fp4_e2m1_to_f32(0x7) == 6.0f);
  SUCCEED("evaluated at compile time");
}
