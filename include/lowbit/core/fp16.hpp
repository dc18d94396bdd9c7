// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace lowbit {

/// Converts IEEE 754 binary16 bits to float; exact for every input (subnormals, infinities, NaN
/// payload kept in the top mantissa bits).
///
/// Source: IEEE 754-2008 §3.6 (binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits).
constexpr float fp16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // 112 = 127 - 15
  } else if (mantissa != 0) {
    // Subnormal: value = mantissa * 2^-24; normalise it into a binary32 normal.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | (mantissa << 13);
  } else {
    bits = sign;  // signed zero
  }
  return std::bit_cast<float>(bits);
}

/// Converts a float to IEEE 754 binary16 bits with round-to-nearest-even, as the F16C
/// `vcvtps2ph` instruction (imm 0) and ggml's `GGML_FP32_TO_FP16` do. Values beyond the
/// binary16 range become infinity; NaN stays NaN (quiet).
constexpr std::uint16_t f32_to_fp16(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs >= 0x38800000u) {                                                   // normal binary16
    const std::uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);          // nearest-even at bit 13
    return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
  // Subnormal binary16: shift the full 24-bit significand and round to nearest-even.
  const std::uint32_t exponent = abs >> 23;
  const std::uint32_t significand = (abs & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - exponent;  // 113 - exponent + 13
  const std::uint32_t half_ulp = 1u << (shift - 1);
  std::uint32_t result = significand >> shift;
  const std::uint32_t remainder = significand & ((1u << shift) - 1u);
  if (remainder > half_ulp || (remainder == half_ulp && (result & 1u))) ++result;
  return static_cast<std::uint16_t>(sign | result);
}

/// Converts bfloat16 bits (the top half of a binary32) to float; exact.
constexpr float bf16_to_f32(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// Converts a float to bfloat16 bits with round-to-nearest-even; NaN stays a quiet NaN.
/// Source: the bfloat16 definition (Google Brain float, as in ggml's `GGML_FP32_TO_BF16`).
constexpr std::uint16_t f32_to_bf16(float value) noexcept {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

}  // namespace lowbit
