// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q2_k.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q2_K bytes (ggml `block_q2_K`, ggml/src/ggml-common.h): scales[16] @0, qs[64] @16, d @80,
/// dmin @82. Element e = 128 n + 32 p + l: bits [2p, 2p + 2) of `qs[32 n + l]`; 16 sub-blocks of 16,
/// byte j of `scales` holds the scale code (low nibble) and the minimum code (high nibble);
/// value = d sc q - dmin m. Source: ggml `dequantize_row_q2_K` (ggml/src/ggml-quants.c).
template <>
struct simd_detail::plane_traits<ggml::q2_k> {
  using planes = plane_list<plane<2, 0>>;
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t scale_src = 0, scale_bytes = 16, d_src = 80;
  static constexpr int m_src = 82;
  static constexpr int sub_block = 16;
  static constexpr bool has_min = true;
  static constexpr int offset_log2 = 0;
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    return (blk[16 + 32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3u;
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    std::uint8_t& byte = blk[16 + 32 * (e / 128) + e % 32];
    byte = static_cast<std::uint8_t>(byte | (v << (2 * ((e / 32) % 4))));
  }
  /// sc[j][r] = low nibble of scale byte j; pair[t][r] = (m_2t, m_2t+1), the high nibbles.
  template <class I>
  [[gnu::always_inline]] static void decode_scales(const std::uint8_t* s, k_scales& out) noexcept {
    const auto m15 = I::splat_i32(15);
    for (int t = 0; t < 8; ++t) {
      const auto a = I::widen_u8(s + 32 * t), b = I::widen_u8(s + 32 * t + 16);
      I::store(out.sc[2 * t], I::and_(a, m15));
      I::store(out.sc[2 * t + 1], I::and_(b, m15));
      I::store(out.pair[t], I::or_(I::template srl32<4>(a), I::template sll32<16>(I::template srl32<4>(b))));
    }
  }
};

/// Q2_K weights W(N, K) in bit-plane panels. Per (panel, super-block) 1344 bytes, the file's size:
/// [0, 256) the scale bytes as byte planes, [256, 288) d, [288, 320) dmin (16 x fp16 each), then 8
/// units of 128 bytes from 320 (unit u: load c, lane r, byte t, bits [2j, 2j + 2) = code
/// 32u + 16c + 4j + t of row r).
using packed_q2_k = simd_detail::plane_packed_t<ggml::q2_k>;

/// Packs Q2_K weights; see packed_q2_k. Threads split the panels.
inline packed_q2_k pack_q2_k(weight_view<ggml::q2_k> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q2_K weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q2_k(const packed_q2_k& w, std::span<ggml::q2_k::block> out) {
  simd_detail::unpack_planes<ggml::q2_k>(w, out);
}

/// Q2_K GEMM on the SIMD backend (simd_detail::k_quant_gemm_kernel): K must be a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::q2_k, backend::simd<Arch>> : simd_detail::k_quant_gemm_kernel<ggml::q2_k, Arch> {};

}  // namespace lowbit
