// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q6_K: 256 elements in 210 bytes (6.5625 bits per weight), symmetric 6-bit codes in
/// 16 sub-blocks of 16, each with a signed 8-bit scale, under one fp16 super-scale.
///
/// Decode (element e, sub-block j = e / 16): `x[e] = (d * sc_j) * (q[e] - 32)`, q in [0, 63],
/// sc_j in [-128, 127]; f32 products in that order, as in ggml.
/// Bytes: `ql[128]` (bits 0-3 of q), `qh[64]` (bits 4-5 of q), `scales[16]` (int8), `d` (fp16).
/// Element `e = 128 h + 32 p + m` (h in {0,1}, p in 0..3, m in 0..31): bits 0-3 are nibble p / 2
/// (low for p < 2) of `ql[64 h + 32 (p % 2) + m]`, bits 4-5 are bits [2p, 2p+2) of `qh[32 h + m]`.
/// Source: ggml `block_q6_K` (ggml/src/ggml-common.h), `dequantize_row_q6_K`,
/// `quantize_row_q6_K_ref`, `quantize_row_q6_K_impl` (ggml/src/ggml-quants.c), llama.cpp as vendored
/// by llama-cpp-python 0.3.36.
struct q6_k {
  struct block {
    std::uint8_t ql[128];    ///< bits 0-3 of each code (see above)
    std::uint8_t qh[64];     ///< bits 4-5 of each code (see above)
    std::int8_t scales[16];  ///< sub-block scale codes
    std::uint16_t d;         ///< real units per scale code step, IEEE binary16 bits
  };
  static constexpr type type_id = type::q6_k;
  static constexpr std::string_view name = "Q6_K";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 210;

  /// The 6-bit code (0..63) of element e (0..255) of `b`.
  static constexpr unsigned code(const block& b, std::size_t e) noexcept {
    const std::size_t h = e / 128, p = (e / 32) % 4, m = e % 32;
    const unsigned low = (b.ql[64 * h + 32 * (p % 2) + m] >> (4 * (p / 2))) & 0x0f;
    const unsigned high = (b.qh[32 * h + m] >> (2 * p)) & 3u;
    return low | (high << 4);
  }

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exact with ggml's
  /// `dequantize_row_q6_K`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t e = 0; e < 256; ++e) {
      const int q = static_cast<int>(code(b, e)) - 32;
      out[e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(q);
    }
  }

  /// ggml's reference encoder (`quantize_row_q6_K_ref`) for 256 floats.
  ///
  /// Each sub-block's scale comes from `detail::symmetric_scale_search` (nmax 32, weights x^2);
  /// the signed scale of largest magnitude s_max gives `d = s_max / -128` and
  /// `sc_j = min(127, round(-128 s_j / s_max))`; then every code is re-rounded against the decoded
  /// scale: `q = clamp(round(x / (d sc_j)), -32, 31) + 32`. A super-block whose scales are all
  /// below 1e-15 in magnitude is stored as all zero bytes.
  /// throws lowbit::error{errc::invalid_argument} if an input is NaN or infinite.
  static void quantize_block(const float* x, block& out) {
    detail::check_quantize_block_input(name, x);
    encode(x, nullptr, out);
  }

  /// Encodes n floats (n % 256 == 0) into n / 256 blocks, byte-exact with ggml's
  /// `ggml_quantize_chunk(GGML_TYPE_Q6_K, ...)` for one row of n elements with imatrix
  /// `importance` (n weights, or nullptr: then `quantize_block` on each block).
  /// With importance (`quantize_row_q6_K_impl`) the sub-block scale search weighs element i by
  /// `importance[i]` itself instead of x^2; the rest is as in `quantize_block`.
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
    std::int8_t codes[256];
    float scales[16];
    float max_scale = 0.0f;
    float max_abs_scale = 0.0f;
    for (std::size_t j = 0; j < 16; ++j) {
      scales[j] = detail::symmetric_scale_search(16, 32, x + 16 * j, codes + 16 * j,
                                                 importance ? importance + 16 * j : nullptr);
      const float a = std::fabs(scales[j]);
      if (a > max_abs_scale) {
        max_abs_scale = a;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < detail::group_max_eps) {
      std::memset(&out, 0, sizeof out);
      return;
    }
    const float iscale = -128.0f / max_scale;
    out.d = f32_to_fp16(1.0f / iscale);
    for (std::size_t j = 0; j < 16; ++j) {
      out.scales[j] = static_cast<std::int8_t>(std::min(127, detail::round_nearest(iscale * scales[j])));
    }
    const float d_all = fp16_to_f32(out.d);
    for (std::size_t j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(out.scales[j]);
      if (d == 0.0f) continue;
      for (std::size_t l = 0; l < 16; ++l) {
        const int q = detail::round_nearest(x[16 * j + l] / d);
        codes[16 * j + l] = static_cast<std::int8_t>(std::clamp(q, -32, 31) + 32);
      }
    }
    for (std::size_t h = 0; h < 2; ++h) {
      const std::int8_t* c = codes + 128 * h;
      for (std::size_t m = 0; m < 32; ++m) {
        const auto q0 = static_cast<unsigned>(c[m]), q1 = static_cast<unsigned>(c[m + 32]);
        const auto q2 = static_cast<unsigned>(c[m + 64]), q3 = static_cast<unsigned>(c[m + 96]);
        out.ql[64 * h + m] = static_cast<std::uint8_t>((q0 & 0x0f) | ((q2 & 0x0f) << 4));
        out.ql[64 * h + 32 + m] = static_cast<std::uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
        out.qh[32 * h + m] =
            static_cast<std::uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
      }
    }
  }
};
static_assert(sizeof(q6_k::block) == q6_k::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
