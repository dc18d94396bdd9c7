// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/block_helpers.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q8_0: 32 elements in 34 bytes, signed 8-bit codes with an fp16 scale.
///
/// Decode: `x[j] = d * q[j]`, q in [-127, 127]. Bytes: `d` (fp16), `qs[32]` (int8, element order).
/// 8.5 bits per weight.
/// Source: ggml `block_q8_0` (ggml/src/ggml-common.h), `dequantize_row_q8_0` and
/// `quantize_row_q8_0_ref` (ggml/src/ggml-quants.c).
struct q8_0 {
  struct block {
    std::uint16_t d;  ///< scale, IEEE binary16 bits
    std::int8_t qs[32];
  };
  static constexpr type type_id = type::q8_0;
  static constexpr std::string_view name = "Q8_0";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 34;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t j = 0; j < block_size; ++j) out[j] = static_cast<float>(b.qs[j]) * d;
  }

  /// Absmax round-to-nearest encoding, byte-exact with ggml's reference quantizer:
  /// `d = max|x| / 127`, `q = roundf(x / d)` (ties away from zero).
  static void quantize_block(const float* x, block& out) noexcept {
    out.d = f32_to_fp16(detail::quantize_q8_codes(x, out.qs).d);
  }

  /// Encodes a row of `n` floats into `n / 32` blocks with `quantize_block`, byte-exact with ggml's
  /// `quantize_q8_0` (what `ggml_quantize_chunk` writes). ggml ignores the importance for Q8_0, and so
  /// does this function: `importance` is neither read nor checked.
  /// `x`: (n), `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input or a null pointer with n > 0.
  /// Source: `quantize_q8_0` (ggml/src/ggml-quants.c).
  static void quantize_row(const float* x, [[maybe_unused]] const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
  }
};
static_assert(sizeof(q8_0::block) == q8_0::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
