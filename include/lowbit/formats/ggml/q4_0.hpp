// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/block_helpers.hpp"
#include "lowbit/formats/ggml/imatrix_fit.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"

LOWBIT_EXACT_FP_BEGIN

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

  /// Encodes a row of `n` floats into `n / 32` blocks, byte-exact with ggml's `quantize_q4_0`
  /// (what `ggml_quantize_chunk` and llama-quantize write).
  ///
  /// Without importance (`importance == nullptr`) every block is `quantize_block`. With importance
  /// (`n` per-element weights, e.g. an imatrix row), each block weighs element j by
  /// `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`, `sigma2 = sum(x^2) / n` over the whole row, and
  /// picks among the 19 scales `max / -(8 + 0.1 t)`, t in [-9, 9], the weighted least-squares scale of
  /// the codes it rounds to that explains most of `sum w x^2`; codes are `q = clamp(round(x / d), -8, 7) + 8`.
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  /// Source: `quantize_q4_0` / `quantize_row_q4_0_impl` / `make_qx_quants` (ggml/src/ggml-quants.c).
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    if (importance == nullptr) {
      for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
      return;
    }
    const float sigma2 = detail::imatrix_fit::row_sigma2(x, n);
    float w[32];
    std::int8_t L[32];
    for (std::size_t b = 0; b < n / block_size; ++b) {
      const float* xb = x + b * block_size;
      detail::imatrix_fit::block_weights(xb, importance + b * block_size, sigma2, w);
      out[b].d = f32_to_fp16(detail::symmetric_scale_search(32, 8, xb, L, w));
      for (std::size_t j = 0; j < 16; ++j) out[b].qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
    }
  }
};
static_assert(sizeof(q4_0::block) == q4_0::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
