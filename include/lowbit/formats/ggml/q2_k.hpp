// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/k_quant_layout.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q2_K: 256 elements in 84 bytes (2.625 bits per weight), 2-bit unsigned codes in 16
/// sub-blocks of 16, each with a 4-bit scale and a 4-bit minimum, under fp16 super-scales.
///
/// Decode (element e, sub-block j = e / 16): `x[e] = (d * sc_j) * q[e] - (dmin * m_j)`, with
/// `sc_j = scales[j] & 15`, `m_j = scales[j] >> 4`, q in [0, 3]; f32 products as in ggml.
/// Bytes: `scales[16]`, `qs[64]` (2-bit planes: element `128 h + 32 p + m` is bits [2p, 2p+2) of
/// `qs[32 h + m]`), `d` (fp16), `dmin` (fp16).
/// Source: ggml `block_q2_K` (ggml/src/ggml-common.h), `dequantize_row_q2_K`,
/// `quantize_row_q2_K_ref`, `quantize_row_q2_K_impl` (ggml/src/ggml-quants.c), llama.cpp as vendored
/// by llama-cpp-python 0.3.36.
struct q2_k {
  struct block {
    std::uint8_t scales[16];  ///< per sub-block: scale code (low nibble), minimum code (high nibble)
    std::uint8_t qs[64];      ///< 2-bit codes (see above)
    std::uint16_t d;          ///< real units per scale code step, IEEE binary16 bits
    std::uint16_t dmin;       ///< real units per minimum code step, IEEE binary16 bits
  };
  static constexpr type type_id = type::q2_k;
  static constexpr std::string_view name = "Q2_K";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 84;

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exact with ggml's
  /// `dequantize_row_q2_K`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    for (std::size_t j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(b.scales[j] & 0x0f);
      const float ml = dmin * static_cast<float>(b.scales[j] >> 4);
      for (std::size_t e = 16 * j; e < 16 * j + 16; ++e) {
        out[e] = dl * static_cast<float>(detail::code_2bit(b.qs, e)) - ml;
      }
    }
  }

  /// ggml's reference encoder (`quantize_row_q2_K_ref`) for 256 floats.
  ///
  /// Each sub-block's (scale, min) comes from `detail::affine_scale_search` (nmax 3, weights |x|,
  /// absolute error, candidates -0.5 + 0.1 k, k = 0..15); `d = max scale / 15`,
  /// `sc_j = round(15 scale_j / max scale)` (the minimums alike), then every code is re-rounded
  /// against the decoded scales: `q = clamp(round((x + dmin m_j) / (d sc_j)), 0, 3)`.
  /// throws lowbit::error{errc::invalid_argument} if an input is NaN or infinite. Super-scales
  /// beyond the fp16 range become infinite, as in ggml.
  static void quantize_block(const float* x, block& out) {
    detail::check_quantize_block_input(name, x);
    encode(x, nullptr, out);
  }

  /// Encodes n floats (n % 256 == 0) into n / 256 blocks, byte-exact with ggml's
  /// `ggml_quantize_chunk(GGML_TYPE_Q2_K, ...)` for one row of n elements with imatrix
  /// `importance` (n weights, or nullptr: then `quantize_block` on each block).
  ///
  /// With importance w (`quantize_row_q2_K_impl`): sub-block weights
  /// `w * sqrt(sigma2 + x^2)`, `sigma2 = Σ x^2 / 256` over the super-block; (scale, min) by
  /// `detail::affine_scale_search` (squared error, candidates -0.9 + 0.05 k, k = 0..36); the 16
  /// scales and the 16 minimums are each coded on 4 bits by `detail::positive_scale_search`
  /// weighted by the sub-block weight sums; then the codes are re-rounded as in `quantize_block`.
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
    std::uint8_t codes[256];
    std::uint8_t scratch[16];
    float weights[16];
    float scales[16];
    float mins[16];
    if (importance == nullptr) {
      float max_scale = 0.0f;
      float max_min = 0.0f;
      for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        const auto r =
            detail::affine_scale_search(16, 3, x + 16 * j, weights, codes + 16 * j, scratch, -0.5f, 0.1f, 15, true);
        scales[j] = r.scale;
        mins[j] = r.min;
        if (r.scale > max_scale) max_scale = r.scale;
        if (r.min > max_min) max_min = r.min;
      }
      if (max_scale > 0.0f) {
        const float iscale = 15.0f / max_scale;
        for (int j = 0; j < 16; ++j)
          out.scales[j] = static_cast<std::uint8_t>(detail::round_nearest(iscale * scales[j]));
        out.d = f32_to_fp16(max_scale / 15.0f);
      } else {
        std::fill(out.scales, out.scales + 16, std::uint8_t{0});
        out.d = f32_to_fp16(0.0f);
      }
      if (max_min > 0.0f) {
        const float iscale = 15.0f / max_min;
        for (int j = 0; j < 16; ++j) {
          const int l = detail::round_nearest(iscale * mins[j]);
          out.scales[j] = static_cast<std::uint8_t>(out.scales[j] | (l << 4));
        }
        out.dmin = f32_to_fp16(max_min / 15.0f);
      } else {
        out.dmin = f32_to_fp16(0.0f);
      }
    } else {
      float sumx2 = 0.0f;
      for (int l = 0; l < 256; ++l) sumx2 += x[l] * x[l];
      const float sigma2 = sumx2 / 256.0f;
      float sub_block_weight[16];
      for (int j = 0; j < 16; ++j) {
        const float* q = importance + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = q[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sum_w = 0.0f;
        for (int l = 0; l < 16; ++l) sum_w += weights[l];
        sub_block_weight[j] = sum_w;
        const auto r =
            detail::affine_scale_search(16, 3, x + 16 * j, weights, codes + 16 * j, scratch, -0.9f, 0.05f, 36, false);
        scales[j] = r.scale;
        mins[j] = r.min;
      }
      std::uint8_t ls[16];
      std::uint8_t lm[16];
      const float dm = detail::positive_scale_search(16, 15, scales, ls, sub_block_weight);
      const float mm = detail::positive_scale_search(16, 15, mins, lm, sub_block_weight);
      out.d = f32_to_fp16(dm);
      out.dmin = f32_to_fp16(mm);
      for (int j = 0; j < 16; ++j) out.scales[j] = static_cast<std::uint8_t>(ls[j] | (lm[j] << 4));
    }
    const float d_all = fp16_to_f32(out.d);
    const float dmin_all = fp16_to_f32(out.dmin);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(out.scales[j] & 0x0f);
      if (d == 0.0f) continue;
      const float m = dmin_all * static_cast<float>(out.scales[j] >> 4);
      for (int l = 0; l < 16; ++l) {
        const int q = detail::round_nearest((x[16 * j + l] + m) / d);
        codes[16 * j + l] = static_cast<std::uint8_t>(std::clamp(q, 0, 3));
      }
    }
    detail::pack_2bit_planes(codes, out.qs);
  }
};
static_assert(sizeof(q2_k::block) == q2_k::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
