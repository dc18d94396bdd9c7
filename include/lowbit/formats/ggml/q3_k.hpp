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
#include "lowbit/formats/ggml/k_quant_layout.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type Q3_K: 256 elements in 110 bytes (3.4375 bits per weight), symmetric 3-bit codes in 16
/// sub-blocks of 16, each with a signed 6-bit scale, under one fp16 super-scale.
///
/// Decode (element e, sub-block j = e / 16): `x[e] = (d * (sc_j - 32)) * (q[e] - 4)`, q in [0, 7]
/// (so q - 4 in [-4, 3]), sc_j in [0, 63]; f32 product as in ggml.
/// Bytes: `hmask[32]` (bit 2 of q: element e is bit e / 32 of `hmask[e % 32]`), `qs[64]` (bits 0-1
/// of q as 2-bit planes: element `128 h + 32 p + m` is bits [2p, 2p+2) of `qs[32 h + m]`),
/// `scales[12]` (sc_j: low nibble of `scales[j]` for j < 8, high nibble of `scales[j - 8]` for
/// j >= 8; bits 4-5 are bits [2 (j / 4), 2 (j / 4) + 2) of `scales[8 + j % 4]`), `d` (fp16).
/// Source: ggml `block_q3_K` (ggml/src/ggml-common.h), `dequantize_row_q3_K`,
/// `quantize_row_q3_K_ref`, `quantize_row_q3_K_impl` (ggml/src/ggml-quants.c), llama.cpp as vendored
/// by llama-cpp-python 0.3.36.
struct q3_k {
  struct block {
    std::uint8_t hmask[32];   ///< bit 2 of each code (see above)
    std::uint8_t qs[64];      ///< bits 0-1 of each code (see above)
    std::uint8_t scales[12];  ///< 16 packed 6-bit scale codes, offset by 32 (see above)
    std::uint16_t d;          ///< real units per scale code step, IEEE binary16 bits
  };
  static constexpr type type_id = type::q3_k;
  static constexpr std::string_view name = "Q3_K";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 110;

  /// The signed scale code `sc_j - 32` (in [-32, 31]) of sub-block j (0..15).
  static constexpr int scale_code(const block& b, std::size_t j) noexcept {
    const int low = j < 8 ? (b.scales[j] & 0x0f) : (b.scales[j - 8] >> 4);
    const int high = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
  }

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exact with ggml's
  /// `dequantize_row_q3_K`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(scale_code(b, j));
      for (std::size_t e = 16 * j; e < 16 * j + 16; ++e) {
        const int high = (b.hmask[e % 32] >> (e / 32)) & 1;
        const int q = static_cast<int>(detail::code_2bit(b.qs, e)) - (high ? 0 : 4);
        out[e] = dl * static_cast<float>(q);
      }
    }
  }

  /// ggml's reference encoder (`quantize_row_q3_K_ref`) for 256 floats.
  ///
  /// Each sub-block's scale comes from `detail::symmetric_scale_descent` (nmax 4, weights x^2);
  /// the signed scale of largest magnitude s_max gives `d = s_max / -32` and
  /// `sc_j = clamp(round(-32 s_j / s_max), -32, 31) + 32`; then every code is re-rounded against the
  /// decoded scale: `q = clamp(round(x / (d (sc_j - 32))), -4, 3) + 4`.
  /// throws lowbit::error{errc::invalid_argument} if an input is NaN or infinite.
  static void quantize_block(const float* x, block& out) {
    detail::check_quantize_block_input(name, x);
    encode(x, nullptr, out);
  }

  /// Encodes n floats (n % 256 == 0) into n / 256 blocks, byte-exact with ggml's
  /// `ggml_quantize_chunk(GGML_TYPE_Q3_K, ...)` for one row of n elements with imatrix
  /// `importance` (n weights, or nullptr: then `quantize_block` on each block).
  ///
  /// With importance w (`quantize_row_q3_K_impl`): weights `w * sqrt(sigma2 + x^2)`,
  /// `sigma2 = 2 Σ x^2 / 256` over the super-block; each sub-block's scale by
  /// `detail::symmetric_scale_search` (nmax 4); the 16 scales coded on 6 bits by
  /// `detail::symmetric_scale_search` (nmax 32) weighted by the sub-block weight sums, its scale
  /// becoming `d`; then the codes are re-rounded as in `quantize_block`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a
  /// NaN or infinite input or a NaN, infinite or negative importance. `out` must not alias `x`.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    for (std::size_t i = 0; i < n / block_size; ++i) {
      encode(x + i * block_size, importance ? importance + i * block_size : nullptr, out[i]);
    }
  }

 private:
  // Stores the 6-bit code `l` (0..63) of sub-block j in the packed scale bytes (zeroed first).
  static void put_scale_code(block& out, int j, int l) noexcept {
    if (j < 8) {
      out.scales[j] = static_cast<std::uint8_t>(l & 0x0f);
    } else {
      out.scales[j - 8] = static_cast<std::uint8_t>(out.scales[j - 8] | ((l & 0x0f) << 4));
    }
    l >>= 4;
    out.scales[j % 4 + 8] = static_cast<std::uint8_t>(out.scales[j % 4 + 8] | (l << (2 * (j / 4))));
  }

  static void encode(const float* x, const float* importance, block& out) noexcept {
    std::int8_t codes[256];
    float scales[16];
    std::memset(out.scales, 0, sizeof out.scales);
    if (importance == nullptr) {
      float max_scale = 0.0f;
      float amax = 0.0f;
      for (int j = 0; j < 16; ++j) {
        scales[j] = detail::symmetric_scale_descent(16, 4, x + 16 * j, codes + 16 * j);
        const float a = std::fabs(scales[j]);
        if (a > amax) {
          amax = a;
          max_scale = scales[j];
        }
      }
      if (max_scale != 0.0f) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; ++j) {
          // ggml keeps the rounded value in an int8_t before clamping.
          const auto l8 = static_cast<std::int8_t>(detail::round_nearest(iscale * scales[j]));
          put_scale_code(out, j, std::clamp<int>(l8, -32, 31) + 32);
        }
        out.d = f32_to_fp16(1.0f / iscale);
      } else {
        out.d = f32_to_fp16(0.0f);
      }
    } else {
      float sumx2 = 0.0f;
      for (int l = 0; l < 256; ++l) sumx2 += x[l] * x[l];
      const float sigma2 = 2.0f * sumx2 / 256.0f;
      float weights[16];
      float sub_block_weight[16];
      for (int j = 0; j < 16; ++j) {
        const float* q = importance + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = q[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sum_w = 0.0f;
        for (int l = 0; l < 16; ++l) sum_w += weights[l];
        sub_block_weight[j] = sum_w;
        scales[j] = detail::symmetric_scale_search(16, 4, x + 16 * j, codes + 16 * j, weights);
      }
      std::int8_t ls[16];
      const float d_block = detail::symmetric_scale_search(16, 32, scales, ls, sub_block_weight);
      for (int j = 0; j < 16; ++j) put_scale_code(out, j, ls[j]);
      out.d = f32_to_fp16(d_block);
    }
    const float d_all = fp16_to_f32(out.d);
    for (std::size_t j = 0; j < 16; ++j) {
      const auto sc = static_cast<std::int8_t>(scale_code(out, j));
      const float d = d_all * static_cast<float>(sc);
      if (d == 0.0f) continue;
      for (std::size_t l = 0; l < 16; ++l) {
        const int q = detail::round_nearest(x[16 * j + l] / d);
        codes[16 * j + l] = static_cast<std::int8_t>(std::clamp(q, -4, 3) + 4);
      }
    }
    std::memset(out.hmask, 0, sizeof out.hmask);
    std::uint8_t low[256];
    for (std::size_t e = 0; e < 256; ++e) {
      auto c = static_cast<std::uint8_t>(codes[e]);
      if (c > 3) {
        out.hmask[e % 32] = static_cast<std::uint8_t>(out.hmask[e % 32] | (1u << (e / 32)));
        c = static_cast<std::uint8_t>(c - 4);
      }
      low[e] = c;
    }
    detail::pack_2bit_planes(low, out.qs);
  }
};
static_assert(sizeof(q3_k::block) == q3_k::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
