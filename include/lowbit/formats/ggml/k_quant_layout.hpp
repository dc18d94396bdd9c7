// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail {

// Bit layouts shared by several K-quant super-blocks (256 elements).
// Source: ggml/src/ggml-common.h (`block_q2_K` .. `block_q5_K`) and the packing loops of
// `quantize_row_q2_K_ref`, `quantize_row_q3_K_ref`, `quantize_row_q4_K_ref` and `get_scale_min_k4`
// in ggml/src/ggml-quants.c (llama.cpp as vendored by llama-cpp-python 0.3.36).

/// Elements per K-quant super-block (ggml `QK_K`).
inline constexpr std::size_t k_super_block = 256;

/// The 2-bit code of element e (0..255) from 64 bytes of 2-bit planes (Q2_K `qs`, Q3_K low bits):
/// element `e = 128 h + 32 p + m` (h in {0,1}, p in 0..3, m in 0..31) is bits [2p, 2p + 2) of
/// byte `32 h + m`.
constexpr unsigned code_2bit(const std::uint8_t* qs, std::size_t e) noexcept {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3u;
}

/// Packs 256 codes in [0, 3] into the 64-byte 2-bit plane layout read by `code_2bit`.
inline void pack_2bit_planes(const std::uint8_t* codes, std::uint8_t* qs) noexcept {
  for (std::size_t h = 0; h < 2; ++h) {
    const std::uint8_t* c = codes + 128 * h;
    for (std::size_t m = 0; m < 32; ++m) {
      qs[32 * h + m] = static_cast<std::uint8_t>(c[m] | (c[m + 32] << 2) | (c[m + 64] << 4) | (c[m + 96] << 6));
    }
  }
}

/// A 6-bit sub-block scale and minimum code pair of Q4_K / Q5_K.
struct scale_min_codes {
  std::uint8_t scale;
  std::uint8_t min;
};

/// Reads the 6-bit (scale, min) codes of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K:
/// for j < 4, scale = `s[j] & 63`, min = `s[j + 4] & 63`; for j >= 4, the low 4 bits are the
/// nibbles of `s[j + 4]` (scale low, min high) and the high 2 bits are the top 2 bits of
/// `s[j - 4]` (scale) and `s[j]` (min).
/// Source: ggml `get_scale_min_k4`.
constexpr scale_min_codes unpack_scale_min_k4(std::size_t j, const std::uint8_t* s) noexcept {
  if (j < 4) return {static_cast<std::uint8_t>(s[j] & 63), static_cast<std::uint8_t>(s[j + 4] & 63)};
  return {static_cast<std::uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4)),
          static_cast<std::uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4))};
}

/// Packs 8 (scale, min) code pairs into the 12 bytes read by `unpack_scale_min_k4`. Codes are
/// expected in [0, 63]; larger ones are stored as ggml stores them (the j < 4 codes as whole bytes,
/// the others truncated), so the bytes stay identical to ggml's for any input.
inline void pack_scale_min_k4(const std::uint8_t* ls, const std::uint8_t* lm, std::uint8_t* s) noexcept {
  std::memset(s, 0, 12);
  for (std::size_t j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<std::uint8_t>((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
      s[j - 4] = static_cast<std::uint8_t>(s[j - 4] | ((ls[j] >> 4) << 6));
      s[j] = static_cast<std::uint8_t>(s[j] | ((lm[j] >> 4) << 6));
    }
  }
}

}  // namespace lowbit::ggml::detail

LOWBIT_EXACT_FP_END
