// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstdint>
#include "lowbit/core/exact_fp.hpp"

// The FP4 E2M1 code values as ggml stores them for MXFP4 and NVFP4 (doubled, so that they are
// integers), and ggml's nearest-code search.
// Source: `kvalues_fp4` / `kvalues_mxfp4` (ggml/src/ggml-common.h), `best_index_mxfp4`
// (ggml/src/ggml-quants.c), llama.cpp vendored by llama-cpp-python 0.3.36; the E2M1 element type of
// the OCP Microscaling Formats (MX) v1.0 spec, §5.3.3.

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail::e2m1 {

/// Twice the E2M1 value of each 4-bit code: bit 3 is the sign, codes 0..7 are
/// {0, 0.5, 1, 1.5, 2, 3, 4, 6} (times 2 here); code 8 is -0.
inline constexpr std::int8_t doubled_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/// The code c minimising `|doubled_values[c] * half_scale - v|`, the lowest code on ties (so 0, never
/// 8, for zero), exactly as ggml computes it in f32.
inline std::uint8_t best_index(float v, float half_scale) noexcept {
  std::uint8_t best = 0;
  float best_err = std::fabs(static_cast<float>(doubled_values[0]) * half_scale - v);
  for (std::uint8_t c = 1; c < 16; ++c) {
    const float err = std::fabs(static_cast<float>(doubled_values[c]) * half_scale - v);
    if (err < best_err) {
      best = c;
      best_err = err;
    }
  }
  return best;
}

}  // namespace lowbit::ggml::detail::e2m1

LOWBIT_EXACT_FP_END
