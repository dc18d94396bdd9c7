// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

namespace detail {

/// Decodes an 8-bit "fnuz" minifloat (finite, NaN, unsigned zero): 1 sign bit, `ExpBits` exponent
/// bits with bias `Bias`, `ManBits` mantissa bits; 0x80 (the would-be -0) is the only NaN and
/// decodes to a negative-signed quiet NaN (as ml_dtypes does); there are no infinities.
template <int ExpBits, int ManBits, int Bias>
constexpr float fnuz_to_f32(std::uint8_t code) noexcept {
  static_assert(1 + ExpBits + ManBits == 8, "lowbit: fnuz minifloats are 8 bits wide");
  if (code == 0x80u) return -std::numeric_limits<float>::quiet_NaN();
  const int e = (code & 0x7f) >> ManBits;
  const int m = code & ((1 << ManBits) - 1);
  // value = significand * 2^exponent, with an integer significand so both products are exact.
  const int significand = e == 0 ? m : (1 << ManBits) + m;
  const int exponent = (e == 0 ? 1 : e) - Bias - ManBits;
  float magnitude = static_cast<float>(significand);
  for (int k = 0; k < exponent; ++k) magnitude *= 2.0f;
  for (int k = 0; k > exponent; --k) magnitude *= 0.5f;
  return (code & 0x80u) != 0 ? -magnitude : magnitude;
}

/// Encodes a float as an 8-bit fnuz minifloat, round to nearest with ties to even (also into the
/// subnormals), following the ONNX `Cast` table for the FNUZ columns:
/// NaN -> 0x80; +-0 and every value that rounds to zero -> 0x00 (there is no -0);
/// |x| rounding past the largest finite value, or +-inf: `saturate` ? +-max (0x7F / 0xFF) : 0x80.
template <int ExpBits, int ManBits, int Bias>
constexpr std::uint8_t fnuz_from_f32(float x, bool saturate) noexcept {
  static_assert(1 + ExpBits + ManBits == 8, "lowbit: fnuz minifloats are 8 bits wide");
  constexpr std::uint8_t nan_code = 0x80;
  constexpr std::uint32_t max_magnitude_code = 0x7f;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint8_t sign = (bits >> 31) != 0 ? std::uint8_t{0x80} : std::uint8_t{0};
  const std::uint32_t abs = bits & 0x7fffffffu;
  const std::uint8_t overflow = saturate ? static_cast<std::uint8_t>(sign | max_magnitude_code) : nan_code;
  if (abs > 0x7f800000u) return nan_code;
  if (abs == 0x7f800000u) return overflow;
  if (abs == 0) return 0;
  // |x| = sig * 2^(e - 23) with a 24-bit sig (binary32 normal) or a smaller one (binary32 subnormal).
  const bool normal = abs >= 0x00800000u;
  const int e = normal ? static_cast<int>(abs >> 23) - 127 : -126;
  const std::uint32_t sig = normal ? (abs & 0x7fffffu) | 0x800000u : abs;
  // Round sig to the quantum of the target binade of |x| (or of the subnormals, below emin).
  constexpr int emin = 1 - Bias;
  const int eq = e < emin ? emin : e;
  const int shift = 23 - ManBits + (eq - e);  // >= 23 - ManBits >= 20
  if (shift > 25) return 0;                   // |x| < a quarter of the smallest subnormal
  std::uint32_t n = sig >> shift;
  const std::uint32_t rest = sig & ((std::uint32_t{1} << shift) - 1u);
  const std::uint32_t half = std::uint32_t{1} << (shift - 1);
  if (rest > half || (rest == half && (n & 1u) != 0)) ++n;
  if (n == 0) return 0;
  // n is the significand on the quantum 2^(eq - ManBits): n < 2^ManBits only for subnormals and
  // n == 2^(ManBits + 1) when rounding carried into the next binade; one formula covers all three.
  const std::uint32_t code = (static_cast<std::uint32_t>(eq + Bias - 1) << ManBits) + n;
  if (code > max_magnitude_code) return overflow;
  return static_cast<std::uint8_t>(sign | code);
}

}  // namespace detail

/// Decodes FLOAT8E4M3FNUZ bits to float; exact for every code.
///
/// Value: s.eeee.mmm with bias 8; e == 0 is subnormal (`m * 2^-10`), otherwise
/// `(1 + m/8) * 2^(e - 8)`; max +-240. No infinities, no -0: 0x80 is the only NaN (decoded with the
/// sign bit set, as ml_dtypes does).
/// Source: ONNX `TensorProto.FLOAT8E4M3FNUZ` and the `Cast` operator's float 8 table (onnx/onnx
/// docs/Operators.md); the format of Graphcore and AMD,
/// "8-bit Numerical Formats for Deep Neural Networks", arXiv:2206.02915.
constexpr float fp8_e4m3fnuz_to_f32(std::uint8_t bits) noexcept { return detail::fnuz_to_f32<4, 3, 8>(bits); }

/// Encodes a float as FLOAT8E4M3FNUZ, round to nearest, ties to even.
///
/// NaN -> 0x80; values rounding to zero (either sign) -> 0x00. Past +-240 after rounding (|x| >= 248)
/// and +-inf: `saturate` ? +-240 (0x7F / 0xFF) : NaN (0x80). Never throws.
/// Source: the ONNX `Cast` / `QuantizeLinear` `saturate` tables (E4M3FNUZ column).
constexpr std::uint8_t fp8_e4m3fnuz_from_f32(float x, bool saturate = true) noexcept {
  return detail::fnuz_from_f32<4, 3, 8>(x, saturate);
}

/// Decodes FLOAT8E5M2FNUZ bits to float; exact for every code.
///
/// Value: s.eeeee.mm with bias 16; e == 0 is subnormal (`m * 2^-17`), otherwise
/// `(1 + m/4) * 2^(e - 16)`; max +-57344. No infinities, no -0: 0x80 is the only NaN.
/// Source: ONNX `TensorProto.FLOAT8E5M2FNUZ` and the `Cast` operator's float 8 table; arXiv:2206.02915.
constexpr float fp8_e5m2fnuz_to_f32(std::uint8_t bits) noexcept { return detail::fnuz_to_f32<5, 2, 16>(bits); }

/// Encodes a float as FLOAT8E5M2FNUZ, round to nearest, ties to even.
///
/// NaN -> 0x80; values rounding to zero (either sign) -> 0x00. Past +-57344 after rounding
/// (|x| >= 61440) and +-inf: `saturate` ? +-57344 (0x7F / 0xFF) : NaN (0x80). Never throws.
/// Source: the ONNX `Cast` / `QuantizeLinear` `saturate` tables (E5M2FNUZ column).
constexpr std::uint8_t fp8_e5m2fnuz_from_f32(float x, bool saturate = true) noexcept {
  return detail::fnuz_from_f32<5, 2, 16>(x, saturate);
}

}  // namespace lowbit

LOWBIT_EXACT_FP_END
