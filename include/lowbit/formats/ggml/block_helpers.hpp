// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail {

/// The element of largest magnitude, with its sign (the first one on ties), as ggml's symmetric
/// quantizers pick it (`quantize_row_q4_0_ref`, `quantize_row_q5_0_ref`).
inline float signed_absmax(const float* x, std::size_t n) noexcept {
  float amax = 0.0f, max = 0.0f;
  for (std::size_t j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

/// Absmax 8-bit codes of 32 floats as ggml's Q8_0/Q8_1 reference: `d = max|x| / 127`,
/// `q = roundf(x / d)`. Writes qs, returns d (unrounded) and the code sum.
struct q8_codes {
  float d;
  int sum;
};
inline q8_codes quantize_q8_codes(const float* x, std::int8_t* qs) noexcept {
  float amax = 0.0f;
  for (std::size_t j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) {
    qs[j] = static_cast<std::int8_t>(std::roundf(x[j] * id));
    sum += qs[j];
  }
  return {d, sum};
}

/// A little-endian u32 from 4 bytes (the `qh` field of Q5_0 / Q5_1: bit j is element j's 5th bit).
inline std::uint32_t read_u32_le(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

/// Writes a u32 as 4 little-endian bytes.
inline void write_u32_le(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace lowbit::ggml::detail

LOWBIT_EXACT_FP_END
