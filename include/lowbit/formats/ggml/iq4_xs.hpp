// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/iq4_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type IQ4_XS: 256 elements in 136 bytes, the IQ4_NL codebook with 6-bit scales per 32 elements
/// under an fp16 super-block scale.
///
/// Decode: sub-block s (0..7) has `ls = (scales_l[s / 2] >> 4 (s % 2)) & 15 | ((scales_h >> 2 s) & 3) << 4`
/// and `x[32 s + j] = (d * (ls - 32)) * v[q]` with v the IQ4_NL values (`detail::iq4::values`).
/// Bytes: `d` (fp16), `scales_h` (u16 little-endian, 2 high bits per sub-block), `scales_l[4]` (4 low
/// bits per sub-block, even sub-blocks in the low nibble), `qs[128]` (16 bytes per sub-block: element j
/// in the low nibble of byte j, element j + 16 in its high nibble). 4.25 bits per weight.
/// Source: ggml `block_iq4_xs` (ggml/src/ggml-common.h), `dequantize_row_iq4_xs`, `quantize_iq4_xs` and
/// `quantize_row_iq4_nl_impl` (ggml/src/ggml-quants.c), llama.cpp vendored by llama-cpp-python 0.3.36.
struct iq4_xs {
  struct block {
    std::uint16_t d;         ///< super-block scale, IEEE binary16 bits
    std::uint16_t scales_h;  ///< bits 2s..2s+1: high 2 bits of sub-block s's 6-bit scale
    std::uint8_t scales_l[4];
    std::uint8_t qs[128];
  };
  static constexpr type type_id = type::iq4_xs;
  static constexpr std::string_view name = "IQ4_XS";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 136;

  /// Writes the 256 decoded values of `b` to `out[0..256)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t s = 0; s < 8; ++s) {
      const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0x0f) | (((b.scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const std::uint8_t* qs = b.qs + 16 * s;
      float* y = out + 32 * s;
      for (std::size_t j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(detail::iq4::values[qs[j] & 0x0f]);
        y[j + 16] = dl * static_cast<float>(detail::iq4::values[qs[j] >> 4]);
      }
    }
  }

  /// Encodes 256 floats as ggml's reference (`quantize_row_iq4_xs_ref`, the same as
  /// `ggml_quantize_chunk` without an importance matrix): weights `x^2`, a 15-step scale search per
  /// sub-block, sub-block scales rounded to 6 bits under `d = -max_scale / 32`
  /// (`detail::iq4::quantize_super_block`). Precondition: 256 finite floats (`quantize_row` checks).
  static void quantize_block(const float* x, block& out) noexcept {
    detail::iq4::quantize_super_block(x, nullptr, 8, {&out.d, out.qs, &out.scales_h, out.scales_l});
  }

  /// Encodes a row of `n` floats into `n / 256` blocks, byte-exact with ggml's `quantize_iq4_xs`
  /// (`ggml_quantize_chunk`). Without importance every block is `quantize_block`; with importance the
  /// weights are `importance[j] * sqrt(sigma2 + x[j]^2)`, sigma2 = `2 sum(x^2) / 256` over the
  /// super-block.
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 256) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) {
      const float* qw = importance != nullptr ? importance + b * block_size : nullptr;
      detail::iq4::quantize_super_block(x + b * block_size, qw, 8,
                                        {&out[b].d, out[b].qs, &out[b].scales_h, out[b].scales_l});
    }
  }
};
static_assert(sizeof(iq4_xs::block) == iq4_xs::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
