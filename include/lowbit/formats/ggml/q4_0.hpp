// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/block_helpers.hpp"
#include "lowbit/formats/ggml/type.hpp"

namespace lowbit::ggml {

/// GGUF type Q4_0: 32 elements in 18 bytes, 4-bit codes with an fp16 scale, symmetric around 8.
///
/// Decode: `x[j] = d * (q[j] - 8)`, q in [0, 15]. Bytes: `d` (fp16), `qs[16]`; element j (0..15) is
/// the low nibble of `qs[j]`, element j + 16 its high nibble. 4.5 bits per weight.
/// Source: ggml `block_q4_0` (ggml/src/ggml-common.h), `dequantize_row_q4_0` and
/// `quantize_row_q4_0_ref` (ggml/src/ggml-quants.c), llama.cpp vendored by llama-cpp-python 0.3.36.
struct q4_0 {
  struct block {
    std::uint16_t d;      ///< scale, IEEE binary16 bits
    std::uint8_t qs[16];  ///< codes, two per byte
  };
  static constexpr type type_id = type::q4_0;
  static constexpr std::string_view name = "Q4_0";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 18;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
      out[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }

  /// ggml's reference encoding: the element of largest magnitude, with its sign, maps to code 0:
  /// `d = max / -8`, `q = min(15, (int8)(x / d + 8.5))`.
  static void quantize_block(const float* x, block& out) noexcept {
    const float max = detail::signed_absmax(x, block_size);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    for (std::size_t j = 0; j < 16; ++j) {
      const auto q0 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x[j] * id + 8.5f)));
      const auto q1 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x[j + 16] * id + 8.5f)));
      out.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
  }
};
static_assert(sizeof(q4_0::block) == q4_0::block_bytes);

}  // namespace lowbit::ggml
