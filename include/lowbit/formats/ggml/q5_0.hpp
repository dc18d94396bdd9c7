// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/block_helpers.hpp"
#include "lowbit/formats/ggml/imatrix_fit.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

namespace detail {
/// Packs 32 codes in [0, 31] (element order) into Q5_0 / Q5_1's `qs[16]` (low 4 bits: element j in
/// the low nibble of `qs[j]`, element j + 16 in the high nibble) and `qh[4]` (5th bits, little-endian).
template <class Code>
void pack_q5_codes(const Code* L, std::uint8_t* qs, std::uint8_t* qh_bytes) noexcept {
  std::uint32_t qh = 0;
  for (std::size_t j = 0; j < 16; ++j) {
    const auto q0 = static_cast<std::uint32_t>(L[j]);
    const auto q1 = static_cast<std::uint32_t>(L[j + 16]);
    qs[j] = static_cast<std::uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    qh |= ((q0 >> 4) & 1u) << j;
    qh |= ((q1 >> 4) & 1u) << (j + 16);
  }
  write_u32_le(qh_bytes, qh);
}
}  // namespace detail

/// GGUF type Q5_0: 32 elements in 22 bytes, 5-bit codes with an fp16 scale, symmetric around 16.
///
/// Decode: `x[j] = d * (q[j] - 16)`, q in [0, 31]. Bytes: `d` (fp16), `qh[4]` (a little-endian u32
/// whose bit j is the 5th bit of element j), `qs[16]` (low 4 bits: element j in the low nibble of
/// `qs[j]`, element j + 16 in its high nibble). 5.5 bits per weight.
/// Source: ggml `block_q5_0` (ggml/src/ggml-common.h), `dequantize_row_q5_0` and
/// `quantize_row_q5_0_ref` (ggml/src/ggml-quants.c).
struct q5_0 {
  struct block {
    std::uint16_t d;      ///< scale, IEEE binary16 bits
    std::uint8_t qh[4];   ///< 5th bits, little-endian u32
    std::uint8_t qs[16];  ///< low 4 bits, two per byte
  };
  static constexpr type type_id = type::q5_0;
  static constexpr std::string_view name = "Q5_0";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 22;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    const std::uint32_t qh = detail::read_u32_le(b.qh);
    for (std::size_t j = 0; j < 16; ++j) {
      const int q0 = (b.qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      out[j] = static_cast<float>(q0 - 16) * d;
      out[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }

  /// ggml's reference encoding: `d = max / -16` (max: the element of largest magnitude, signed),
  /// `q = min(31, (int8)(x / d + 16.5))`.
  static void quantize_block(const float* x, block& out) noexcept {
    const float max = detail::signed_absmax(x, block_size);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    std::uint32_t qh = 0;
    for (std::size_t j = 0; j < 16; ++j) {
      const auto q0 = static_cast<std::uint32_t>(std::min<int>(31, static_cast<std::int8_t>(x[j] * id + 16.5f)));
      const auto q1 = static_cast<std::uint32_t>(std::min<int>(31, static_cast<std::int8_t>(x[j + 16] * id + 16.5f)));
      out.qs[j] = static_cast<std::uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 >> 4) & 1u) << j;
      qh |= ((q1 >> 4) & 1u) << (j + 16);
    }
    detail::write_u32_le(out.qh, qh);
  }

  /// Encodes a row of `n` floats into `n / 32` blocks, byte-exact with ggml's `quantize_q5_0`
  /// (what `ggml_quantize_chunk` and llama-quantize write).
  ///
  /// Without importance (`importance == nullptr`) every block is `quantize_block`. With importance
  /// (`n` per-element weights), each block weighs element j by
  /// `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`, `sigma2 = sum(x^2) / n` over the whole row, and
  /// picks among the 19 scales `max / -(16 + 0.1 t)`, t in [-9, 9], the weighted least-squares scale
  /// that explains most of `sum w x^2`; codes are `q = clamp(round(x / d), -16, 15) + 16`.
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  /// Source: `quantize_q5_0` / `quantize_row_q5_0_impl` / `make_qx_quants` (ggml/src/ggml-quants.c).
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
      out[b].d = f32_to_fp16(detail::symmetric_scale_search(32, 16, xb, L, w));
      detail::pack_q5_codes(L, out[b].qs, out[b].qh);
    }
  }
};
static_assert(sizeof(q5_0::block) == q5_0::block_bytes);

/// GGUF type Q5_1: 32 elements in 24 bytes, 5-bit unsigned codes with an fp16 scale and minimum.
///
/// Decode: `x[j] = d * q[j] + m`, q in [0, 31]. Bytes: `d` (fp16), `m` (fp16), `qh[4]` and `qs[16]`
/// laid out as in Q5_0. 6.0 bits per weight.
/// Source: ggml `block_q5_1` (ggml/src/ggml-common.h), `dequantize_row_q5_1` and
/// `quantize_row_q5_1_ref` (ggml/src/ggml-quants.c).
struct q5_1 {
  struct block {
    std::uint16_t d;      ///< scale, IEEE binary16 bits
    std::uint16_t m;      ///< minimum, IEEE binary16 bits
    std::uint8_t qh[4];   ///< 5th bits, little-endian u32
    std::uint8_t qs[16];  ///< low 4 bits, two per byte
  };
  static constexpr type type_id = type::q5_1;
  static constexpr std::string_view name = "Q5_1";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 24;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    const float m = fp16_to_f32(b.m);
    const std::uint32_t qh = detail::read_u32_le(b.qh);
    for (std::size_t j = 0; j < 16; ++j) {
      const int q0 = (b.qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      out[j] = static_cast<float>(q0) * d + m;
      out[j + 16] = static_cast<float>(q1) * d + m;
    }
  }

  /// ggml's reference min-max encoding: `d = (max - min) / 31`, `q = (uint8)((x - min) / d + 0.5)`.
  static void quantize_block(const float* x, block& out) noexcept {
    float lo = x[0], hi = x[0];
    for (std::size_t j = 1; j < block_size; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    out.m = f32_to_fp16(lo);
    std::uint32_t qh = 0;
    for (std::size_t j = 0; j < 16; ++j) {
      const auto q0 = static_cast<std::uint32_t>(static_cast<std::uint8_t>((x[j] - lo) * id + 0.5f));
      const auto q1 = static_cast<std::uint32_t>(static_cast<std::uint8_t>((x[j + 16] - lo) * id + 0.5f));
      out.qs[j] = static_cast<std::uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 >> 4) & 1u) << j;
      qh |= ((q1 >> 4) & 1u) << (j + 16);
    }
    detail::write_u32_le(out.qh, qh);
  }

  /// Encodes a row of `n` floats into `n / 32` blocks, byte-exact with ggml's `quantize_q5_1`
  /// (what `ggml_quantize_chunk` and llama-quantize write).
  ///
  /// Without importance (`importance == nullptr`) every block is `quantize_block`. With importance
  /// (`n` per-element weights), each block weighs element j by
  /// `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`, `sigma2 = sum(x^2) / n` over the whole row, and
  /// fits `x ~ d * q + m` (m <= 0) by weighted least squares over 37 trial scales
  /// `(max - min) / (31 - 0.9 + 0.05 t)`, t in [0, 36], keeping the smallest weighted squared error.
  /// `x`: (n), `importance`: (n) or null, `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input, a negative or non-finite importance, or a null pointer with n > 0.
  /// Source: `quantize_q5_1` / `quantize_row_q5_1_impl` / `make_qkx3_quants` (ggml/src/ggml-quants.c).
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
          detail::affine_scale_search(32, 31, xb, w, L, Laux, -0.9f, 0.05f, 36, /*use_abs_error=*/false);
      out[b].d = f32_to_fp16(fit.scale);
      out[b].m = f32_to_fp16(-fit.min);
      detail::pack_q5_codes(L, out[b].qs, out[b].qh);
    }
  }
};
static_assert(sizeof(q5_1::block) == q5_1::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
