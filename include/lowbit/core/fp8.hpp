// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstdint>

#include "lowbit/core/minifloat.hpp"

namespace lowbit {

/// Decodes OCP FP8 E4M3 bits to float; exact for every code.
///
/// Value: s.eeee.mmm with bias 7; e == 0 is subnormal (`m * 2^-9`), otherwise
/// `(1 + m/8) * 2^(e - 7)`. No infinities; S.1111.111 (0x7F, 0xFF) is NaN; max ±448.
/// Source: OCP "8-bit Floating Point Specification (OFP8)" rev 1.0, arXiv:2209.05433 (E4M3).
constexpr float fp8_e4m3_to_f32(std::uint8_t bits) noexcept { return fp8_e4m3_format::to_f32(bits); }

/// Encodes a float as OCP FP8 E4M3, round to nearest, ties to even (also into and out of subnormals).
///
/// `saturate == true`: finite values past ±448 (after rounding) and ±inf become ±448. `false`: they
/// become NaN (E4M3 has no infinity). NaN stays NaN (0x7F, or 0xFF for a negative-signed NaN).
/// Source: OCP OFP8 rev 1.0 §4; ONNX `Cast` / `QuantizeLinear` `saturate` attribute.
constexpr std::uint8_t fp8_e4m3_from_f32(float x, bool saturate = true) noexcept {
  return fp8_e4m3_format::from_f32(x, saturate);
}

/// Decodes OCP FP8 E5M2 bits to float; exact for every code.
///
/// Value: s.eeeee.mm with bias 15, IEEE-like: e == 0 is subnormal (`m * 2^-16`), e == 31 is ±inf
/// (m == 0) or NaN (m != 0); max ±57344.
/// Source: OCP OFP8 rev 1.0, arXiv:2209.05433 (E5M2).
constexpr float fp8_e5m2_to_f32(std::uint8_t bits) noexcept { return fp8_e5m2_format::to_f32(bits); }

/// Encodes a float as OCP FP8 E5M2, round to nearest, ties to even (also into and out of subnormals).
///
/// `saturate == true`: finite values past ±57344 (after rounding) and ±inf become ±57344. `false`:
/// they become ±inf (IEEE overflow). NaN stays NaN (0x7E, or 0xFE for a negative-signed NaN).
/// Source: OCP OFP8 rev 1.0 §4; ONNX `Cast` / `QuantizeLinear` `saturate` attribute.
constexpr std::uint8_t fp8_e5m2_from_f32(float x, bool saturate = true) noexcept {
  return fp8_e5m2_format::from_f32(x, saturate);
}

}  // namespace lowbit
