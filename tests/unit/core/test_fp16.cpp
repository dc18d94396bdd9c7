// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// f32 <-> IEEE binary16 conversion (core/fp16.hpp) on every binary16 value and every rounding
// boundary: the exact midpoints between neighbours (ties: to the even one), one f32 ulp either side
// of them, overflow to infinity, subnormals, signed zeros and NaN. The expected values are written
// from the binary16 grid itself, not from another conversion routine.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"

namespace {

bool is_finite_h(std::uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

}  // namespace

TEST_CASE("fp16: every finite binary16 value round-trips exactly", "[core][fp16]") {
  std::uint32_t checked = 0;
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    if (!is_finite_h(static_cast<std::uint16_t>(h))) continue;
    const float f = lowbit::fp16_to_f32(static_cast<std::uint16_t>(h));
    CAPTURE(h, f);
    REQUIRE(lowbit::f32_to_fp16(f) == h);
    ++checked;
  }
  REQUIRE(checked == 2 * 31 * 1024);
  // The grid: 1, the smallest subnormal, the largest finite.
  REQUIRE(lowbit::fp16_to_f32(0x3c00u) == 1.0f);
  REQUIRE(lowbit::fp16_to_f32(0x0001u) == std::ldexp(1.0f, -24));
  REQUIRE(lowbit::fp16_to_f32(0x7bffu) == 65504.0f);
}

TEST_CASE("fp16: midpoints round to even, one f32 ulp off them to the nearer neighbour", "[core][fp16]") {
  for (std::uint32_t sign : {0u, 0x8000u}) {
    for (std::uint32_t h = 0; h < 0x7bffu; ++h) {  // neighbours h, h + 1, both finite
      const auto lo = static_cast<std::uint16_t>(sign | h), hi = static_cast<std::uint16_t>(sign | (h + 1));
      const float a = lowbit::fp16_to_f32(lo), b = lowbit::fp16_to_f32(hi);
      const float mid = (a + b) / 2;  // exact: 12 significant bits
      CAPTURE(h, sign, a, b, mid);
      REQUIRE(static_cast<double>(mid) == (static_cast<double>(a) + b) / 2);
      REQUIRE(lowbit::f32_to_fp16(mid) == ((h & 1u) == 0 ? lo : hi));
      const float toward_a = std::nextafter(mid, a), toward_b = std::nextafter(mid, b);
      REQUIRE(lowbit::f32_to_fp16(toward_a) == lo);
      REQUIRE(lowbit::f32_to_fp16(toward_b) == hi);
    }
  }
}

TEST_CASE("fp16: overflow, underflow, zeros and NaN", "[core][fp16]") {
  // 65520 is the midpoint between 65504 and the next step (65536): ties to even -> infinity.
  REQUIRE(lowbit::f32_to_fp16(65520.0f) == 0x7c00u);
  REQUIRE(lowbit::f32_to_fp16(std::nextafter(65520.0f, 0.0f)) == 0x7bffu);
  REQUIRE(lowbit::f32_to_fp16(-1e10f) == 0xfc00u);
  REQUIRE(lowbit::f32_to_fp16(std::numeric_limits<float>::infinity()) == 0x7c00u);
  // Half the smallest subnormal ties to even (0); just above it rounds up.
  const float half_min = std::ldexp(1.0f, -25);
  REQUIRE(lowbit::f32_to_fp16(half_min) == 0x0000u);
  REQUIRE(lowbit::f32_to_fp16(std::nextafter(half_min, 1.0f)) == 0x0001u);
  REQUIRE(lowbit::f32_to_fp16(-std::nextafter(half_min, 1.0f)) == 0x8001u);
  REQUIRE(lowbit::f32_to_fp16(1e-30f) == 0x0000u);
  REQUIRE(lowbit::f32_to_fp16(-0.0f) == 0x8000u);
  const std::uint16_t nan = lowbit::f32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  REQUIRE((nan & 0x7c00u) == 0x7c00u);
  REQUIRE((nan & 0x03ffu) != 0);
  REQUIRE(std::isnan(lowbit::fp16_to_f32(0x7e00u)));
}
