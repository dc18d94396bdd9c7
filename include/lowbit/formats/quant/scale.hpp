// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/minifloat.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// How a scale (real units per code step) is stored.
///
/// A model `S` provides `S::storage_type` (the stored bits), `S::bits`, `S::name`,
/// `S::decode(storage) -> float` (exact) and `S::encode_up(double s) -> storage`: the smallest
/// representable scale >= s for a positive finite s (s is a double so that the ideal scale, e.g.
/// absmax / 127, is not rounded down before it is stored) (the largest finite one when s is beyond the
/// range; the smallest positive one for tiny s), so that a block's absmax never falls past the
/// code range after the scale is stored. `encode_up(0)` is the stored zero where the type has one,
/// else its smallest value.
template <class S>
concept quant_scale = requires(typename S::storage_type st, double d) {
  typename S::storage_type;
  { S::bits } -> std::convertible_to<int>;
  { S::name } -> std::convertible_to<std::string_view>;
  { S::decode(st) } -> std::same_as<float>;
  { S::encode_up(d) } -> std::same_as<typename S::storage_type>;
};

/// f32 scale (IEEE binary32), 32 bits.
struct scale_f32 {
  using storage_type = float;
  static constexpr int bits = 32;
  static constexpr std::string_view name = "f32";
  static constexpr float decode(float s) noexcept { return s; }
  static constexpr float encode_up(double s) noexcept {
    if (!(s < static_cast<double>(std::numeric_limits<float>::max()))) return std::numeric_limits<float>::max();
    float f = static_cast<float>(s);
    if (static_cast<double>(f) < s) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
  }
};

/// f16 scale (IEEE binary16 bits), 16 bits; max 65504.
struct scale_f16 {
  using storage_type = std::uint16_t;
  static constexpr int bits = 16;
  static constexpr std::string_view name = "f16";
  static constexpr float decode(std::uint16_t s) noexcept { return fp16_to_f32(s); }
  static constexpr std::uint16_t encode_up(double s) noexcept {
    if (!(s < 65504.0)) return 0x7bff;  // also NaN (rejected before this by the quantizers)
    if (!(s > 0.0)) return 0;
    std::uint16_t h = f32_to_fp16(static_cast<float>(s));
    while (static_cast<double>(fp16_to_f32(h)) < s) ++h;  // positive: the next code is the next value up
    return h;
  }
};

/// bf16 scale (top half of a binary32), 16 bits.
struct scale_bf16 {
  using storage_type = std::uint16_t;
  static constexpr int bits = 16;
  static constexpr std::string_view name = "bf16";
  static constexpr float decode(std::uint16_t s) noexcept { return bf16_to_f32(s); }
  static constexpr std::uint16_t encode_up(double s) noexcept {
    if (!(s < static_cast<double>(bf16_to_f32(0x7f7f)))) return 0x7f7f;
    if (!(s > 0.0)) return 0;
    std::uint16_t b = f32_to_bf16(static_cast<float>(s));
    while (static_cast<double>(bf16_to_f32(b)) < s) ++b;
    return b;
  }
};

/// E8M0 scale (OCP MX v1.0 §5.4.1): a power of two 2^(e - 127), 8 bits; no zero (code 0 is 2^-127).
struct scale_e8m0 {
  using storage_type = std::uint8_t;
  static constexpr int bits = 8;
  static constexpr std::string_view name = "e8m0";
  static constexpr float decode(std::uint8_t e) noexcept { return e8m0_to_f32(e); }
  /// `2^ceil(log2 s)`, clamped to [2^-127, 2^127].
  static constexpr std::uint8_t encode_up(double s) noexcept {
    if (!(s > 0.0)) return 0;
    if (!(s < 0x1p127)) return 254;
    std::uint8_t e = e8m0_from_f32(static_cast<float>(s));  // floor(log2 s), or one more
    while (e > 0 && static_cast<double>(e8m0_to_f32(static_cast<std::uint8_t>(e - 1))) >= s) --e;
    while (static_cast<double>(e8m0_to_f32(e)) < s) ++e;
    return e;
  }
};

/// FP8 E4M3 scale (as NVFP4's block scales), 8 bits; max 448; positive codes only are written.
struct scale_fp8_e4m3 {
  using storage_type = std::uint8_t;
  static constexpr int bits = 8;
  static constexpr std::string_view name = "fp8_e4m3";
  static constexpr float decode(std::uint8_t s) noexcept { return fp8_e4m3_format::to_f32(s); }
  static constexpr std::uint8_t encode_up(double s) noexcept {
    if (!(s > 0.0)) return 0;
    if (!(s < 448.0)) return fp8_e4m3_format::max_code();
    std::uint8_t c = fp8_e4m3_format::from_f32(static_cast<float>(s), true);
    while (static_cast<double>(fp8_e4m3_format::to_f32(c)) < s) ++c;
    return c;
  }
};

}  // namespace lowbit

LOWBIT_EXACT_FP_END
