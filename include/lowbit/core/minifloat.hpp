// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// Which special values a minifloat encoding reserves.
enum class minifloat_specials {
  ieee,    ///< IEEE-like: the all-ones exponent holds ±inf (mantissa 0) and NaN (mantissa != 0); E5M2
  fn,      ///< "finite, NaN": no infinities, only S.1...1.1...1 is NaN; E4M3 of OCP FP8
  finite,  ///< no infinities and no NaN, every code is a number; the OCP MX FP6 and FP4 elements
};

/// A signed binary minifloat with `ExpBits` exponent bits, `ManBits` mantissa bits and exponent bias
/// `Bias`, stored in the low `1 + ExpBits + ManBits` bits of a byte.
///
/// Code layout: bit `ExpBits + ManBits` is the sign s, the next `ExpBits` bits below it the biased
/// exponent e, the low `ManBits` bits the mantissa m. Value:
/// - e == 0 (subnormal): `(-1)^s * m * 2^(1 - Bias - ManBits)`;
/// - otherwise (normal):  `(-1)^s * (1 + m / 2^ManBits) * 2^(e - Bias)`;
/// except for the codes `Specials` reserves (see `minifloat_specials`).
/// Encoding rounds to nearest with ties to even, also into and out of the subnormal range, as if
/// the exponent range were unbounded; a result beyond `max()` is an overflow (see `from_f32`).
///
/// Sources: OCP "8-bit Floating Point Specification (OFP8)" rev 1.0 (arXiv:2209.05433) for E4M3 and
/// E5M2; OCP "Microscaling Formats (MX) Specification" v1.0 §5.3 for FP6 E2M3 / E3M2 and FP4 E2M1.
template <int ExpBits, int ManBits, int Bias, minifloat_specials Specials>
struct minifloat {
  static_assert(ExpBits >= 1 && ManBits >= 0 && 1 + ExpBits + ManBits <= 8,
                "lowbit: a minifloat needs 1 sign bit, at least 1 exponent bit and at most 8 bits in all");
  static_assert(Specials != minifloat_specials::ieee || ExpBits >= 2,
                "lowbit: an IEEE-like minifloat needs at least 2 exponent bits");

  static constexpr int exp_bits = ExpBits;                  ///< exponent field width
  static constexpr int man_bits = ManBits;                  ///< mantissa field width
  static constexpr int bias = Bias;                         ///< exponent bias
  static constexpr minifloat_specials specials = Specials;  ///< reserved codes
  static constexpr int bits = 1 + ExpBits + ManBits;        ///< code width, sign included
  static constexpr std::uint8_t sign_mask = static_cast<std::uint8_t>(1u << (ExpBits + ManBits));  ///< sign bit
  static constexpr std::uint8_t magnitude_mask = static_cast<std::uint8_t>(sign_mask - 1u);  ///< exponent|mantissa
  static constexpr int exp_max_field = (1 << ExpBits) - 1;                 ///< all-ones exponent field
  static constexpr int man_max_field = (1 << ManBits) - 1;                 ///< all-ones mantissa field
  static constexpr bool has_inf = Specials == minifloat_specials::ieee;    ///< has ±inf codes
  static constexpr bool has_nan = Specials != minifloat_specials::finite;  ///< has NaN codes
  /// Unbiased exponent of the smallest normal number (also the scale of the subnormals).
  static constexpr int emin = 1 - Bias;

  /// The magnitude code of the largest finite value.
  static constexpr std::uint8_t max_code() noexcept {
    switch (Specials) {
      case minifloat_specials::ieee:
        return static_cast<std::uint8_t>(((exp_max_field - 1) << ManBits) | man_max_field);
      case minifloat_specials::fn:
        return static_cast<std::uint8_t>(magnitude_mask - 1u);
      case minifloat_specials::finite:
        break;
    }
    return magnitude_mask;
  }
  /// The positive quiet NaN code (IEEE-like: top mantissa bit set; fn: all ones). Only if has_nan.
  static constexpr std::uint8_t nan_code() noexcept {
    if constexpr (Specials == minifloat_specials::ieee) {
      return static_cast<std::uint8_t>((exp_max_field << ManBits) | (ManBits > 0 ? 1 << (ManBits - 1) : 0));
    } else {
      return magnitude_mask;
    }
  }
  /// The +inf code. Only if has_inf.
  static constexpr std::uint8_t inf_code() noexcept { return static_cast<std::uint8_t>(exp_max_field << ManBits); }

  /// True when `code` (low `bits` bits) is a NaN.
  static constexpr bool is_nan(std::uint8_t code) noexcept {
    const std::uint8_t mag = code & magnitude_mask;
    if constexpr (Specials == minifloat_specials::ieee) {
      return (mag >> ManBits) == exp_max_field && (mag & man_max_field) != 0;
    } else if constexpr (Specials == minifloat_specials::fn) {
      return mag == magnitude_mask;
    } else {
      return false;
    }
  }

  /// Decodes the low `bits` bits of `code` to float; exact (every value is a binary32 value).
  /// NaN codes give a quiet NaN with the code's sign, inf codes ±inf. Higher bits are ignored.
  static constexpr float to_f32(std::uint8_t code) noexcept {
    code = static_cast<std::uint8_t>(code & (sign_mask | magnitude_mask));
    const bool negative = (code & sign_mask) != 0;
    const int e = (code & magnitude_mask) >> ManBits;
    const int m = code & man_max_field;
    float magnitude = 0.0f;
    if (is_nan(code)) {
      magnitude = std::numeric_limits<float>::quiet_NaN();
    } else if (has_inf && e == exp_max_field) {
      magnitude = std::numeric_limits<float>::infinity();
    } else if (e == 0) {
      magnitude = static_cast<float>(m) * exp2i(emin - ManBits);
    } else {
      magnitude = static_cast<float>((1 << ManBits) + m) * exp2i(e - Bias - ManBits);
    }
    return negative ? -magnitude : magnitude;
  }

  /// The largest finite value.
  static constexpr float max() noexcept { return to_f32(max_code()); }
  /// The smallest positive (subnormal, or normal when ManBits == 0) value.
  static constexpr float min_positive() noexcept { return to_f32(1); }

  /// Encodes `x` with round-to-nearest, ties to even.
  ///
  /// Overflow (|x| rounds past `max()`, or x = ±inf): with `saturate` the result is ±max; without it
  /// ±inf (IEEE-like), NaN (fn), or ±max anyway (finite formats have nothing else). NaN input gives
  /// the NaN code with x's sign bit; finite formats have no NaN and give +0 (callers that can see NaN
  /// must reject it first: the public quantizers throw lowbit::error). Signed zeros are kept.
  /// Source: OCP OFP8 rev 1.0 §4 (saturation modes), as ONNX `Cast`/`QuantizeLinear` `saturate`.
  static constexpr std::uint8_t from_f32(float x, bool saturate = true) noexcept {
    const std::uint32_t xbits = std::bit_cast<std::uint32_t>(x);
    const std::uint8_t sign = (xbits >> 31) != 0 ? sign_mask : std::uint8_t{0};
    const std::uint32_t abs_bits = xbits & 0x7fffffffu;
    if (abs_bits > 0x7f800000u) {  // NaN
      if constexpr (has_nan) {
        return static_cast<std::uint8_t>(sign | nan_code());
      } else {
        return 0;
      }
    }
    const std::uint8_t overflow = overflow_code(saturate);
    const double a = static_cast<double>(std::bit_cast<float>(abs_bits));
    const double max_value = static_cast<double>(max());
    if (abs_bits == 0x7f800000u || a >= 2.0 * max_value) return static_cast<std::uint8_t>(sign | overflow);
    // Quantum of the binade of a (or of the subnormals): a / quantum is exact in double and below
    // 2^(ManBits + 2), so its integer part is a plain truncation.
    const int ea = static_cast<int>(abs_bits >> 23) - 127;  // floor(log2 a) for binary32 normals
    const int quantum_exp = (abs_bits < 0x00800000u || ea < emin) ? emin - ManBits : ea - ManBits;
    const double r = a * exp2i_d(-quantum_exp);
    auto n = static_cast<std::int64_t>(r);
    const double frac = r - static_cast<double>(n);
    if (frac > 0.5 || (frac == 0.5 && (n & 1) != 0)) ++n;
    const double v = static_cast<double>(n) * exp2i_d(quantum_exp);
    if (v > max_value) return static_cast<std::uint8_t>(sign | overflow);
    return static_cast<std::uint8_t>(sign | encode_exact(v));
  }

 private:
  // 2^e for the normal double range, built from its bits (exact, constexpr).
  static constexpr double exp2i_d(int e) noexcept {
    return std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52);
  }
  static constexpr float exp2i(int e) noexcept { return static_cast<float>(exp2i_d(e)); }

  static constexpr std::uint8_t overflow_code(bool saturate) noexcept {
    if (saturate) return max_code();
    if constexpr (Specials == minifloat_specials::ieee) {
      return inf_code();
    } else if constexpr (Specials == minifloat_specials::fn) {
      return nan_code();
    } else {
      return max_code();
    }
  }

  // The magnitude code of v, a representable non-negative value.
  static constexpr std::uint8_t encode_exact(double v) noexcept {
    const double smallest_normal = exp2i_d(emin);
    if (v < smallest_normal) return static_cast<std::uint8_t>(v * exp2i_d(ManBits - emin));
    const int e = static_cast<int>((std::bit_cast<std::uint64_t>(v) >> 52) & 0x7ffu) - 1023;  // floor(log2 v)
    const auto m = static_cast<int>((v * exp2i_d(-e) - 1.0) * exp2i_d(ManBits));
    return static_cast<std::uint8_t>(((e + Bias) << ManBits) | m);
  }
};

/// OCP FP8 E4M3 ("E4M3FN"): bias 7, no infinities, NaN = S.1111.111, max 448, min subnormal 2^-9.
using fp8_e4m3_format = minifloat<4, 3, 7, minifloat_specials::fn>;
/// OCP FP8 E5M2: bias 15, IEEE-like (±inf, NaN), max 57344, min subnormal 2^-16.
using fp8_e5m2_format = minifloat<5, 2, 15, minifloat_specials::ieee>;
/// OCP MX FP6 E2M3: bias 1, no inf/NaN, max 7.5, min subnormal 0.125.
using fp6_e2m3_format = minifloat<2, 3, 1, minifloat_specials::finite>;
/// OCP MX FP6 E3M2: bias 3, no inf/NaN, max 28, min subnormal 0.0625.
using fp6_e3m2_format = minifloat<3, 2, 3, minifloat_specials::finite>;
/// OCP MX FP4 E2M1: bias 1, no inf/NaN, values {0, 0.5, 1, 1.5, 2, 3, 4, 6} and their negatives.
using fp4_e2m1_format = minifloat<2, 1, 1, minifloat_specials::finite>;

/// Decodes FP4 E2M1 (low 4 bits of `code`); exact. Source: OCP MX v1.0 §5.3.3.
constexpr float fp4_e2m1_to_f32(std::uint8_t code) noexcept { return fp4_e2m1_format::to_f32(code); }
/// Encodes to FP4 E2M1, round to nearest even, saturating at ±6 (the MX conversion rule); NaN gives +0.
constexpr std::uint8_t fp4_e2m1_from_f32(float x) noexcept { return fp4_e2m1_format::from_f32(x, true); }
/// Decodes FP6 E2M3 (low 6 bits of `code`); exact. Source: OCP MX v1.0 §5.3.2.
constexpr float fp6_e2m3_to_f32(std::uint8_t code) noexcept { return fp6_e2m3_format::to_f32(code); }
/// Encodes to FP6 E2M3, round to nearest even, saturating at ±7.5; NaN gives +0.
constexpr std::uint8_t fp6_e2m3_from_f32(float x) noexcept { return fp6_e2m3_format::from_f32(x, true); }
/// Decodes FP6 E3M2 (low 6 bits of `code`); exact. Source: OCP MX v1.0 §5.3.2.
constexpr float fp6_e3m2_to_f32(std::uint8_t code) noexcept { return fp6_e3m2_format::to_f32(code); }
/// Encodes to FP6 E3M2, round to nearest even, saturating at ±28; NaN gives +0.
constexpr std::uint8_t fp6_e3m2_from_f32(float x) noexcept { return fp6_e3m2_format::from_f32(x, true); }

/// The E8M0 NaN code (OCP MX v1.0 §5.4.1).
inline constexpr std::uint8_t e8m0_nan = 0xff;

/// Decodes an OCP MX E8M0 scale: `2^(e - 127)` for e in [0, 254]; 0xFF is NaN. Exact (2^-127 is a
/// binary32 subnormal). Source: OCP MX v1.0 §5.4.1.
constexpr float e8m0_to_f32(std::uint8_t e) noexcept {
  if (e == e8m0_nan) return std::numeric_limits<float>::quiet_NaN();
  if (e == 0) return std::bit_cast<float>(std::uint32_t{0x00400000u});  // 2^-127
  return std::bit_cast<float>(static_cast<std::uint32_t>(e) << 23);
}

/// Encodes the power of two `2^exponent` as E8M0, clamping the exponent to [-127, 127].
constexpr std::uint8_t e8m0_from_exponent(int exponent) noexcept {
  if (exponent < -127) exponent = -127;
  if (exponent > 127) exponent = 127;
  return static_cast<std::uint8_t>(exponent + 127);
}

/// Encodes a positive float as E8M0 by rounding its exponent down: `floor(log2 x)` clamped to
/// [-127, 127]. NaN, negative numbers and ±inf give NaN (0xFF); +-0 gives 2^-127 (code 0).
/// Use `e8m0_from_exponent` when the exponent is already known.
constexpr std::uint8_t e8m0_from_f32(float x) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) == 0) return 0;
  if ((bits >> 31) != 0 || (bits & 0x7f800000u) == 0x7f800000u) return e8m0_nan;
  int exponent = static_cast<int>(bits >> 23) - 127;
  if ((bits >> 23) == 0) {  // binary32 subnormal: exponent of the leading mantissa bit
    exponent = -127 - (std::countl_zero(bits & 0x7fffffu) - 9);
  }
  return e8m0_from_exponent(exponent);
}

}  // namespace lowbit

LOWBIT_EXACT_FP_END
