// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/k_quant_layout.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q5_K: 256 elements in 176 bytes (5.5 bits per weight), 5-bit unsigned codes in 8
/// sub-blocks of 32, each with a 6-bit scale and a 6-bit minimum, under fp16 super-scales.
///
/// Decode (element e, sub-block j = e / 32): `x[e] = (d * sc_j) * q[e] - (dmin * m_j)`, q in
/// [0, 31], (sc_j, m_j) in [0, 63] from `detail::unpack_scale_min_k4`; f32 products as in ggml.
/// Bytes: `d` (fp16), `dmin` (fp16), `scales[12]` (packed as in Q4_K), `qh[32]` (bit 4 of q:
/// element e is bit e / 32 of `qh[e % 32]`), `qs[128]` (bits 0-3 of q, nibbles as in Q4_K:
/// element `64 c + m`, m < 32, is the low nibble of `qs[32 c + m]`, `64 c + 32 + m` the high one).
/// Source: ggml `block_q5_K` (ggml/src/ggml-common.h), `dequantize_row_q5_K`,
/// `quantize_row_q5_K_ref`, `quantize_row_q5_K_impl` (ggml/src/ggml-quants.c), llama.cpp as vendored
/// by llama-cpp-python 0.3.36.
struct q5_k {
  struct block {
    std::uint16_t d;          ///< real units per scale code step, IEEE binary16 bits
    std::uint16_t dmin;       ///< real units per minimum code step, IEEE binary16 bits
    std::uint8_t scales[12];  ///< 8 packed 6-bit (scale, min) code pairs (as Q4_K)
    std::uint8_t qh[32];      ///< bit 4 of each code (see above)
    std::uint8_t qs[128];     ///< bits 0-3 of each code (see above)
  };
  static constexpr type type_id = type::q5_k;
  static constexpr std::string_view name = "Q5_K";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 176;

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exact with ggml's
  /// `dequantize_row_q5_K`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    for (std::size_t j = 0; j < 8; ++j) {
      const detail::scale_min_codes c = detail::unpack_scale_min_k4(j, b.scales);
      const float dl = d * static_cast<float>(c.scale);
      const float ml = dmin * static_cast<float>(c.min);
      const std::uint8_t* q = b.qs + 32 * (j / 2);
      const unsigned shift = 4 * (j % 2);
      for (std::size_t m = 0; m < 32; ++m) {
        const unsigned code = ((q[m] >> shift) & 0x0f) | (((b.qh[m] >> j) & 1u) << 4);
        out[32 * j + m] = dl * static_cast<float>(code) - ml;
      }
    }
  }

  /// ggml's reference encoder (`quantize_row_q5_K_ref`) for 256 floats: see
  /// `detail::quantize_scale_min_super_block` (nmax 31, candidates -0.5 + 0.1 k, k = 0..15).
  /// throws lowbit::error{errc::invalid_argument} if an input is NaN or infinite. Super-scales
  /// beyond the fp16 range become infinite, as in ggml.
  static void quantize_block(const float* x, block& out) {
    detail::check_quantize_block_input(name, x);
    encode(x, nullptr, out);
  }

  /// Encodes n floats (n % 256 == 0) into n / 256 blocks, byte-exact with ggml's
  /// `ggml_quantize_chunk(GGML_TYPE_Q5_K, ...)` for one row of n elements with imatrix
  /// `importance` (n weights, or nullptr: then `quantize_block` on each block); the importance path
  /// is ggml's `quantize_row_q5_K_impl` (see `detail::quantize_scale_min_super_block`).
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a
  /// NaN or infinite input or a NaN, infinite or negative importance. `out` must not alias `x`.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    for (std::size_t i = 0; i < n / block_size; ++i) {
      encode(x + i * block_size, importance ? importance + i * block_size : nullptr, out[i]);
    }
  }

 private:
  static void encode(const float* x, const float* importance, block& out) noexcept {
    detail::scale_min_super_block s;
    detail::quantize_scale_min_super_block(x, importance, 31, {.rmin = -0.5f, .nsteps = 15}, true, s);
    out.d = s.d;
    out.dmin = s.dmin;
    for (std::size_t k = 0; k < 12; ++k) out.scales[k] = s.scales[k];
    std::memset(out.qh, 0, sizeof out.qh);
    for (std::size_t e = 0; e < 256; ++e) {
      if (s.codes[e] > 15) out.qh[e % 32] = static_cast<std::uint8_t>(out.qh[e % 32] | (1u << (e / 32)));
    }
    for (std::size_t c = 0; c < 4; ++c) {
      for (std::size_t m = 0; m < 32; ++m) {
        const unsigned lo = s.codes[64 * c + m] & 0x0f;
        const unsigned hi = s.codes[64 * c + 32 + m] & 0x0f;
        out.qs[32 * c + m] = static_cast<std::uint8_t>(lo | (hi << 4));
      }
    }
  }
};
static_assert(sizeof(q5_k::block) == q5_k::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
