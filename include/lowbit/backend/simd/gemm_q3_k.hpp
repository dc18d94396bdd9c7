// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q3_k.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q3_K bytes (ggml `block_q3_K`, ggml/src/ggml-common.h): hmask[32] @0, qs[64] @32, scales[12] @96,
/// d @108. Element e: bits 0-1 as Q2_K's codes (from qs), bit 2 = bit e / 32 of `hmask[e % 32]`
/// (stored code u = low + 4 hbit, value u - 4); 16 sub-blocks of 16 with 6-bit scale codes (low 4
/// bits: nibble j / 8 of byte j % 8; high 2 bits: bits [2 (j / 4), 2 (j / 4) + 2) of byte 8 + j % 4),
/// value = d (sc - 32) (u - 4). Source: ggml `dequantize_row_q3_K` (ggml/src/ggml-quants.c).
template <>
struct simd_detail::plane_traits<ggml::q3_k> {
  using planes = plane_list<plane<2, 0>, plane<1, 2>>;
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t scale_src = 96, scale_bytes = 12, d_src = 108;
  static constexpr int m_src = -1;
  static constexpr int sub_block = 16;
  static constexpr bool has_min = false;
  static constexpr int offset_log2 = 2;  // stored codes u in [0, 7], value u - 4
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    const unsigned low = (blk[32 + 32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3u;
    return low | (((blk[e % 32] >> (e / 32)) & 1u) << 2);
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    std::uint8_t& low = blk[32 + 32 * (e / 128) + e % 32];
    low = static_cast<std::uint8_t>(low | ((v & 3u) << (2 * ((e / 32) % 4))));
    blk[e % 32] = static_cast<std::uint8_t>(blk[e % 32] | (((v >> 2) & 1u) << (e / 32)));
  }
  /// sc[j][r] = the 6-bit code of sub-block j minus 32; pair[t][r] = (sc[2t], sc[2t + 1]).
  template <class I>
  [[gnu::always_inline]] static void decode_scales(const std::uint8_t* s, k_scales& out) noexcept {
    using vi = typename I::vi;
    vi byte[12];
    for (int j = 0; j < 12; ++j) byte[j] = I::widen_u8(s + 16 * j);
    const vi m15 = I::splat_i32(15), m3 = I::splat_i32(3), bias = I::splat_i32(32);
    vi sc[16];
    [&]<int... J>(std::integer_sequence<int, J...>) {
      (
          [&] {
            constexpr int low_byte = J % 8, low_shift = 4 * (J / 8), high_byte = 8 + J % 4, high_shift = 2 * (J / 4);
            const vi low = I::and_(I::template srl32<low_shift>(byte[low_byte]), m15);
            const vi high = I::and_(I::template srl32<high_shift>(byte[high_byte]), m3);
            sc[J] = I::sub32(I::or_(low, I::template sll32<4>(high)), bias);
            I::store(out.sc[J], sc[J]);
          }(),
          ...);
    }
    (std::make_integer_sequence<int, 16>{});
    for (int t = 0; t < 8; ++t) I::store(out.pair[t], pack_pair<I>(sc[2 * t], sc[2 * t + 1]));
  }
};

/// Q3_K weights W(N, K) in bit-plane panels. Per (panel, super-block) 1760 bytes, the file's size:
/// [0, 192) the scale bytes as byte planes, [192, 224) d (fp16), then 8 units of 192 bytes from 224
/// (unit u, K elements 32u..32u+31: [0, 128) bits 0-1, load c, lane r, byte t, bits [2j, 2j + 2) =
/// code 32u + 16c + 4j + t; [128, 192) bit 2, lane r, byte t, bit j = code 32u + 4j + t).
using packed_q3_k = simd_detail::plane_packed_t<ggml::q3_k>;

/// Packs Q3_K weights; see packed_q3_k. Threads split the panels.
inline packed_q3_k pack_q3_k(weight_view<ggml::q3_k> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q3_K weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q3_k(const packed_q3_k& w, std::span<ggml::q3_k::block> out) {
  simd_detail::unpack_planes<ggml::q3_k>(w, out);
}

/// Q3_K GEMM on the SIMD backend (simd_detail::k_quant_gemm_kernel): K must be a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::q3_k, backend::simd<Arch>> : simd_detail::k_quant_gemm_kernel<ggml::q3_k, Arch> {};

}  // namespace lowbit
