// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/block_helpers.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGML type Q8_1: 32 elements in 36 bytes, signed 8-bit codes with an fp16 scale and the fp16
/// product `s = d * sum(q)`; ggml's activation format for dot products with Q4_1 and Q5_1.
///
/// Decode: `x[j] = d * q[j]`. Bytes: `d` (fp16), `s` (fp16), `qs[32]` (int8).
/// Source: ggml `block_q8_1` (ggml/src/ggml-common.h), `quantize_row_q8_1_ref` (ggml-quants.c).
/// (gguf-py 0.19 lists Q8_1 as 40 bytes, an older float layout; ggml's struct is 36 bytes.)
struct q8_1 {
  struct block {
    std::uint16_t d;  ///< scale, IEEE binary16 bits
    std::uint16_t s;  ///< d * sum(qs), IEEE binary16 bits
    std::int8_t qs[32];
  };
  static constexpr type type_id = type::q8_1;
  static constexpr std::string_view name = "Q8_1";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 36;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t j = 0; j < block_size; ++j) out[j] = static_cast<float>(b.qs[j]) * d;
  }

  /// Absmax encoding as ggml's reference: `d = max|x| / 127`, `q = roundf(x / d)`,
  /// `s = fp16(d * sum(q))` with the unrounded f32 `d`.
  static void quantize_block(const float* x, block& out) noexcept {
    const auto codes = detail::quantize_q8_codes(x, out.qs);
    out.d = f32_to_fp16(codes.d);
    out.s = f32_to_fp16(static_cast<float>(codes.sum) * codes.d);
  }
};
static_assert(sizeof(q8_1::block) == q8_1::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
