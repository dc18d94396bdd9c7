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

/// GGUF type IQ4_NL: 32 elements in 18 bytes, 4-bit indices into a fixed non-linear codebook with an
/// fp16 scale.
///
/// Decode: `x[j] = d * v[q[j]]`, q in [0, 15], v = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13,
/// 25, 38, 53, 69, 89, 113} (`detail::iq4::values`). Bytes: `d` (fp16), `qs[16]`; element j (0..15)
/// is the low nibble of `qs[j]`, element j + 16 its high nibble. 4.5 bits per weight.
/// Source: ggml `block_iq4_nl` and `kvalues_iq4nl` (ggml/src/ggml-common.h), `dequantize_row_iq4_nl`,
/// `quantize_iq4_nl` and `quantize_row_iq4_nl_impl` (ggml/src/ggml-quants.c), llama.cpp vendored by
/// llama-cpp-python 0.3.36.
struct iq4_nl {
  struct block {
    std::uint16_t d;      ///< scale, IEEE binary16 bits
    std::uint8_t qs[16];  ///< codebook indices, two per byte
  };
  static constexpr type type_id = type::iq4_nl;
  static constexpr std::string_view name = "IQ4_NL";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 18;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = d * static_cast<float>(detail::iq4::values[b.qs[j] & 0x0f]);
      out[j + 16] = d * static_cast<float>(detail::iq4::values[b.qs[j] >> 4]);
    }
  }

  /// Encodes 32 floats as `ggml_quantize_chunk` does without an importance matrix (what llama-quantize
  /// writes): weights `x^2`, a 15-step scale search (`detail::iq4::quantize_super_block`).
  /// Note: ggml's `quantize_row_iq4_nl_ref` (its `from_float_ref`) runs a cheaper one-pass search
  /// (ntry = -1) and can give other bytes; this function follows `quantize_iq4_nl`.
  /// Precondition: 32 finite floats (`quantize_row` checks).
  static void quantize_block(const float* x, block& out) noexcept {
    detail::iq4::quantize_super_block(x, nullptr, 1, {&out.d, out.qs, nullptr, nullptr});
  }

  /// Encodes a row of `n` floats into `n / 32` blocks, byte-exact with ggml's `quantize_iq4_nl`
  /// (`ggml_quantize_chunk`). Without importance every block is `quantize_block`; with importance the
  /// weights are `importance[j] * sqrt(sigma2 + x[j]^2)`, sigma2 = `2 sum(x^2) / 32` over the block
  /// (ggml computes it per block, not per row, for this type).
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) {
      const float* qw = importance != nullptr ? importance + b * block_size : nullptr;
      detail::iq4::quantize_super_block(x + b * block_size, qw, 1, {&out[b].d, out[b].qs, nullptr, nullptr});
    }
  }
};
static_assert(sizeof(iq4_nl::block) == iq4_nl::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
