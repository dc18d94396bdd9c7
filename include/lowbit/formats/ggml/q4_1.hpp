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
#include "lowbit/formats/ggml/imatrix_fit.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q4_1: 32 elements in 20 bytes, 4-bit unsigned codes with an fp16 scale and minimum.
///
/// Decode: `x[j] = d * q[j] + m`, q in [0, 15].
/// Bytes: `d` (fp16), `m` (fp16), `qs[16]`; element j (0..15) is the low nibble of `qs[j]`,
/// element j + 16 its high nibble. 5.0 bits per weight.
/// Source: ggml `block_q4_1` (ggml/src/ggml-common.h) and `dequantize_row_q4_1` /
/// `quantize_row_q4_1_ref` (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct q4_1 {
  struct block {
    std::uint16_t d;      ///< scale, IEEE binary16 bits
    std::uint16_t m;      ///< minimum (value of code 0), IEEE binary16 bits
    std::uint8_t qs[16];  ///< codes, two per byte (see above)
  };
  static constexpr type type_id = type::q4_1;
  static constexpr std::string_view name = "Q4_1";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 20;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    const float m = fp16_to_f32(b.m);
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
      out[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }

  /// Min-max round-to-nearest encoding of 32 floats, byte-exact with ggml's reference quantizer:
  /// `d = (max - min) / 15`, `q = min(15, (int)((x - min) / d + 0.5))`.
  static void quantize_block(const float* x, block& out) noexcept {
    float lo = x[0];
    float hi = x[0];
    for (std::size_t j = 1; j < block_size; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    out.m = f32_to_fp16(lo);
    for (std::size_t j = 0; j < 16; ++j) {
      const auto q0 = std::min<std::uint8_t>(15, static_cast<std::uint8_t>((x[j] - lo) * id + 0.5f));
      const auto q1 = std::min<std::uint8_t>(15, static_cast<std::uint8_t>((x[j + 16] - lo) * id + 0.5f));
      out.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
  }

  /// Encodes a row of `n` floats into `n / 32` blocks, byte-exact with ggml's `quantize_q4_1`
  /// (what `ggml_quantize_chunk` and llama-quantize write).
  ///
  /// Without importance (`importance == nullptr`) every block is `quantize_block`. With importance
  /// (`n` per-element weights), each block weighs element j by
  /// `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`, `sigma2 = sum(x^2) / n` over the whole row, and
  /// fits `x ~ d * q + m` (m <= 0) by weighted least squares over 37 trial scales
  /// `(max - min) / (15 - 0.9 + 0.05 t)`, t in [0, 36], keeping the smallest weighted squared error.
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  /// Source: `quantize_q4_1` / `quantize_row_q4_1_impl` / `make_qkx3_quants` (ggml/src/ggml-quants.c).
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    if (importance == nullptr) {
      for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
      return;
    }
    const float sigma2 = detail::imatrix_fit::row_sigma2(x, n);
    float w[32];
    std::uint8_t L[32], Laux[32];
    for (std::size_t b = 0; b < n / block_size; ++b) {
      const float* xb = x + b * block_size;
      detail::imatrix_fit::block_weights(xb, importance + b * block_size, sigma2, w);
      const detail::scale_min fit =
          detail::affine_scale_search(32, 15, xb, w, L, Laux, -0.9f, 0.05f, 36, /*use_abs_error=*/false);
      out[b].d = f32_to_fp16(fit.scale);
      out[b].m = f32_to_fp16(-fit.min);
      for (std::size_t j = 0; j < 16; ++j) out[b].qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
    }
  }
};
static_assert(sizeof(q4_1::block) == q4_1::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
