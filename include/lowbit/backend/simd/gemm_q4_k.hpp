// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// Writes the 6-bit (scale, min) codes of Q4_K / Q5_K's 12 packed bytes, given as byte planes
/// (`s[16 j + r]` = byte j of row r), into `out.sc[j][r]` (8 sub-blocks of 32) and the minimum
/// pairs `out.pair[j][r]` = (m_j, m_j) (both 16-element halves of sub-block j share m_j), for the
/// I::lanes rows of one part of the panel (see k_scales).
/// Source: ggml `get_scale_min_k4` (ggml/src/ggml-quants.c).
template <class I>
[[gnu::always_inline]] inline void decode_scale_min_k4(const std::uint8_t* s, k_scales& out) noexcept {
  using vi = typename I::vi;
  vi byte[12];
  for (int j = 0; j < 12; ++j) byte[j] = I::widen_u8(s + 16 * j);
  const vi m63 = I::splat_i32(63), m15 = I::splat_i32(15);
  for (int j = 0; j < 8; ++j) {
    vi sc, m;
    if (j < 4) {
      sc = I::and_(byte[j], m63);
      m = I::and_(byte[j + 4], m63);
    } else {
      sc = I::or_(I::and_(byte[j + 4], m15), I::template sll32<4>(I::template srl32<6>(byte[j - 4])));
      m = I::or_(I::template srl32<4>(byte[j + 4]), I::template sll32<4>(I::template srl32<6>(byte[j])));
    }
    I::store(out.sc[j], sc);
    I::store(out.pair[j], I::or_(m, I::template sll32<16>(m)));
  }
}

/// Q4_K bytes (ggml `block_q4_K`, ggml/src/ggml-common.h): d @0, dmin @2, scales[12] @4, qs[128] @16.
/// Element e = 64 c + 32 h + l: nibble h of `qs[32 c + l]`; 8 sub-blocks of 32 with 6-bit scale and
/// minimum codes; value = d sc q - dmin m.
template <>
struct plane_traits<ggml::q4_k> {
  using planes = plane_list<plane<4, 0>>;
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t scale_src = 4, scale_bytes = 12, d_src = 0;
  static constexpr int m_src = 2;
  static constexpr int sub_block = 32;
  static constexpr bool has_min = true;
  static constexpr int offset_log2 = 0;
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    return (blk[16 + 32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 0x0fu;
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    std::uint8_t& byte = blk[16 + 32 * (e / 64) + e % 32];
    byte = static_cast<std::uint8_t>(byte | (v << (4 * ((e / 32) % 2))));
  }
  template <class I>
  [[gnu::always_inline]] static void decode_scales(const std::uint8_t* s, k_scales& out) noexcept {
    decode_scale_min_k4<I>(s, out);
  }
};

/// Q4_K accumulates as llama.cpp's repacked Q4_K GEMM does (see k_quant_pairs_microkernel).
template <>
inline constexpr k_quant_order k_quant_order_v<ggml::q4_k> = k_quant_order::sub_block_pairs;

}  // namespace simd_detail

/// Q4_K weights W(N, K) in `k_packed<16, 4>` bit-plane panels (simd_detail::pack_planes). Per
/// (panel, 256-element super-block) 2304 bytes, the file's size: [0, 192) the 12 scale bytes as byte
/// planes (byte j of row r at 16 j + r), [192, 224) d, [224, 256) dmin (16 x fp16 each), then
/// [256, 2304) the 4-bit codes (load L at 256 + 64 L, lane r: codes 8L..8L+3 of row r in the low
/// nibbles, 8L+4..8L+7 in the high nibbles). Decoded in registers by k_quant_microkernel.
using packed_q4_k = simd_detail::plane_packed_t<ggml::q4_k>;

/// Packs Q4_K weights; see packed_q4_k. Threads split the panels.
inline packed_q4_k pack_q4_k(weight_view<ggml::q4_k> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q4_K weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q4_k(const packed_q4_k& w, std::span<ggml::q4_k::block> out) {
  simd_detail::unpack_planes<ggml::q4_k>(w, out);
}

/// Q4_K GEMM on the SIMD backend (simd_detail::k_quant_gemm_kernel): K must be a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::q4_k, backend::simd<Arch>> : simd_detail::k_quant_gemm_kernel<ggml::q4_k, Arch> {};

}  // namespace lowbit
