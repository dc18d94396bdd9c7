// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp8.hpp"
#include "lowbit/core/minifloat.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// A code of a parametric format: the set of values one `bits`-wide field can hold, before scaling.
///
/// A model `C` provides
/// - `C::bits`: the width of a stored code (1..8); a raw code is an integer in [0, 2^bits);
/// - `C::decode(raw) -> float`: the value of a raw code, in code units (real = scale * value);
/// - `C::encode(v) -> raw`: the raw code whose value is nearest to `v` (v already divided by the
///   scale); values past the ends saturate; ties go to the even raw code (least significant bit 0),
///   which for integer and float codes is round-half-to-even;
/// - `C::min_value()`, `C::max_value()`: the extreme finite values;
/// - `C::is_integer`: whether the values are consecutive integers (only those take a zero point);
/// - `C::name`.
/// `encode` takes a finite v (the quantizers reject NaN/Inf before they get here); a NaN v gives an
/// unspecified valid code, never undefined behaviour.
template <class C>
concept quant_code = requires(std::uint8_t raw, float v) {
  { C::bits } -> std::convertible_to<int>;
  { C::decode(raw) } -> std::same_as<float>;
  { C::encode(v) } -> std::same_as<std::uint8_t>;
  { C::min_value() } -> std::same_as<float>;
  { C::max_value() } -> std::same_as<float>;
  { C::is_integer } -> std::convertible_to<bool>;
  { C::name } -> std::convertible_to<std::string_view>;
}
&&(C::bits >= 1 && C::bits <= 8);

namespace detail {

// Round half to even of a finite float already clamped to a small range (|v| < 2^24).
constexpr float round_half_even(float v) noexcept {
  float f = static_cast<float>(static_cast<std::int32_t>(v));  // toward zero
  if (f > v) f -= 1.0f;                                        // floor
  const float frac = v - f;
  if (frac > 0.5f || (frac == 0.5f && static_cast<std::int32_t>(f) % 2 != 0)) f += 1.0f;
  return f;
}

}  // namespace detail

/// Integer code of `Bits` bits: values [0, 2^Bits - 1] (unsigned) or [-2^(Bits-1), 2^(Bits-1) - 1]
/// (signed, stored as the low `Bits` bits of the two's complement).
///
/// encode: round half to even, then clamp to the range. Source: gemmlowp doc/quantization.md;
/// integer-only inference, arXiv:1712.05877.
template <int Bits, bool Signed>
struct int_code {
  static_assert(Bits >= 2 && Bits <= 8,
                "lowbit: int_code<Bits, Signed> is too wide for its storage or too narrow: Bits must be 2..8 "
                "(use binary for 1 bit)");
  static constexpr int bits = Bits;                                  ///< code width
  static constexpr bool is_signed = Signed;                          ///< two's complement codes
  static constexpr bool is_integer = true;                           ///< takes a zero point
  static constexpr std::string_view name = Signed ? "int" : "uint";  ///< family name
  /// The smallest and largest code values.
  static constexpr int min_int = Signed ? -(1 << (Bits - 1)) : 0;
  static constexpr int max_int = Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;

  /// The smallest and largest values, as floats.
  static constexpr float min_value() noexcept { return static_cast<float>(min_int); }
  static constexpr float max_value() noexcept { return static_cast<float>(max_int); }

  /// The integer value of a raw code (sign-extended when signed). Bits above `Bits` are ignored.
  static constexpr int to_int(std::uint8_t raw) noexcept {
    const int u = raw & ((1 << Bits) - 1);
    return Signed && u > max_int ? u - (1 << Bits) : u;
  }
  /// The raw code of an integer value in [min_int, max_int].
  static constexpr std::uint8_t from_int(int value) noexcept {
    return static_cast<std::uint8_t>(static_cast<unsigned>(value) & ((1u << Bits) - 1u));
  }
  /// The value of a raw code.
  static constexpr float decode(std::uint8_t raw) noexcept { return static_cast<float>(to_int(raw)); }
  /// The nearest code: round half to even, then clamp to [min_int, max_int] (NaN gives min_int).
  static constexpr std::uint8_t encode(float v) noexcept {
    if (!(v >= min_value())) v = min_value();  // also NaN
    if (v > max_value()) v = max_value();
    return from_int(static_cast<int>(detail::round_half_even(v)));
  }
};

/// 1-bit sign code: raw 0 is +1, raw 1 is -1. encode: v < 0 gives -1, everything else +1 (0 is the
/// tie, it goes to the even raw code 0). Source: BinaryConnect, arXiv:1511.00363.
struct binary {
  static constexpr int bits = 1;
  static constexpr bool is_integer = false;  // {-1, +1} are not consecutive: no zero point
  static constexpr std::string_view name = "binary";
  static constexpr float min_value() noexcept { return -1.0f; }
  static constexpr float max_value() noexcept { return 1.0f; }
  static constexpr float decode(std::uint8_t raw) noexcept { return (raw & 1u) != 0 ? -1.0f : 1.0f; }
  static constexpr std::uint8_t encode(float v) noexcept { return v < 0.0f ? 1 : 0; }
};

/// Ternary code {-1, 0, +1} in 2 bits: value = raw - 1 (raw 0, 1, 2), as ggml's TQ2_0 stores it;
/// raw 3 is never written and decodes to 0. encode: |v| >= 0.5 rounds away from zero (the ties go
/// to the even raw codes 0 and 2). Source: ternary weights, BitNet b1.58 arXiv:2402.17764.
struct ternary {
  static constexpr int bits = 2;
  static constexpr bool is_integer = false;  // symmetric only: a zero point would leave {-1, 0, 1}
  static constexpr std::string_view name = "ternary";
  static constexpr float min_value() noexcept { return -1.0f; }
  static constexpr float max_value() noexcept { return 1.0f; }
  static constexpr float decode(std::uint8_t raw) noexcept {
    const int r = raw & 3;
    return r == 3 ? 0.0f : static_cast<float>(r - 1);
  }
  static constexpr std::uint8_t encode(float v) noexcept {
    if (v >= 0.5f) return 2;
    if (v <= -0.5f) return 0;
    return 1;
  }
};

/// The 16 NF4 values in raw-code order (ascending), QLoRA's 4-bit NormalFloat.
/// Source: QLoRA arXiv:2305.14314 (Appendix E) as bitsandbytes lists them (functional.py,
/// `get_4bit_type("nf4")`); each is the float nearest to the published decimal.
inline constexpr std::array<float, 16> nf4_values = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

/// 4-bit NormalFloat code: raw code i has value `nf4_values[i]` in [-1, 1] (scale = absmax).
/// encode: the nearest value; an exact midpoint goes to the even raw code.
struct nf4 {
  static constexpr int bits = 4;
  static constexpr bool is_integer = false;
  static constexpr std::string_view name = "nf4";
  static constexpr float min_value() noexcept { return -1.0f; }
  static constexpr float max_value() noexcept { return 1.0f; }
  static constexpr float decode(std::uint8_t raw) noexcept { return nf4_values[raw & 15u]; }
  static constexpr std::uint8_t encode(float v) noexcept {
    // The values ascend: the answer is i or i + 1 where nf4_values[i] <= v < nf4_values[i + 1].
    if (!(v > nf4_values[0])) return 0;  // also NaN
    std::uint8_t i = 0;
    while (i < 15 && nf4_values[i + 1] <= v) ++i;
    if (i == 15) return 15;
    const float below = v - nf4_values[i];
    const float above = nf4_values[i + 1] - v;
    if (below < above) return i;
    if (above < below) return static_cast<std::uint8_t>(i + 1);
    return (i & 1u) == 0 ? i : static_cast<std::uint8_t>(i + 1);
  }
};

/// A minifloat code: raw code = the minifloat's bits (core/minifloat.hpp); encode rounds to
/// nearest even and saturates at ±max (never produces inf or NaN codes).
template <class Minifloat>
struct float_code {
  using format_type = Minifloat;
  static constexpr int bits = Minifloat::bits;
  static constexpr bool is_integer = false;
  static constexpr std::string_view name = "float";
  static constexpr float min_value() noexcept { return -Minifloat::max(); }
  static constexpr float max_value() noexcept { return Minifloat::max(); }
  static constexpr float decode(std::uint8_t raw) noexcept { return Minifloat::to_f32(raw); }
  static constexpr std::uint8_t encode(float v) noexcept {
    return v == v ? Minifloat::from_f32(v, true) : std::uint8_t{0};  // NaN: +0, never a NaN code
  }
};

/// FP4 E2M1 code {0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6} (OCP MX v1.0 §5.3.3).
using fp4_e2m1 = float_code<fp4_e2m1_format>;
/// FP6 E2M3 code, max ±7.5 (OCP MX v1.0 §5.3.2).
using fp6_e2m3 = float_code<fp6_e2m3_format>;
/// FP6 E3M2 code, max ±28 (OCP MX v1.0 §5.3.2).
using fp6_e3m2 = float_code<fp6_e3m2_format>;
/// FP8 E4M3 code, max ±448 (OCP OFP8 rev 1.0, arXiv:2209.05433).
using fp8_e4m3 = float_code<fp8_e4m3_format>;
/// FP8 E5M2 code, max ±57344 (OCP OFP8 rev 1.0, arXiv:2209.05433).
using fp8_e5m2 = float_code<fp8_e5m2_format>;

}  // namespace lowbit

LOWBIT_EXACT_FP_END
