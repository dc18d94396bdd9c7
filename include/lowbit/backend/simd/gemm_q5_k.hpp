// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/gemm_q4_k.hpp"
#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q5_k.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q5_K bytes (ggml `block_q5_K`, ggml/src/ggml-common.h): d @0, dmin @2, scales[12] @4, qh[32] @16,
/// qs[128] @48. Element e: low 4 bits as Q4_K (from qs), bit 4 = bit e / 32 of `qh[e % 32]`;
/// scales and minimums as Q4_K; value = d sc q - dmin m.
template <>
struct simd_detail::plane_traits<ggml::q5_k> {
  using planes = plane_list<plane<4, 0>, plane<1, 4>>;
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t scale_src = 4, scale_bytes = 12, d_src = 0;
  static constexpr int m_src = 2;
  static constexpr int sub_block = 32;
  static constexpr bool has_min = true;
  static constexpr int offset_log2 = 0;
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    const unsigned low = (blk[48 + 32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 0x0fu;
    return low | (((blk[16 + e % 32] >> (e / 32)) & 1u) << 4);
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    std::uint8_t& low = blk[48 + 32 * (e / 64) + e % 32];
    low = static_cast<std::uint8_t>(low | ((v & 0x0fu) << (4 * ((e / 32) % 2))));
    std::uint8_t& high = blk[16 + e % 32];
    high = static_cast<std::uint8_t>(high | (((v >> 4) & 1u) << (e / 32)));
  }
  template <class I>
  [[gnu::always_inline]] static void decode_scales(const std::uint8_t* s, k_scales& out) noexcept {
    decode_scale_min_k4<I>(s, out);
  }
};

/// Q5_K accumulates as llama.cpp's CPU backend does: its tiled GEMM from 8 activation rows, ggml's
/// x86 Q5_K x Q8_K dot product below (see simd_detail::k_quant_order::tiled_or_lanes8).
template <>
inline constexpr simd_detail::k_quant_order simd_detail::k_quant_order_v<ggml::q5_k> =
    simd_detail::k_quant_order::tiled_or_lanes8;

/// Q5_K weights W(N, K) in bit-plane panels. Per (panel, super-block) 2816 bytes, the file's size:
/// [0, 192) the scale bytes as byte planes, [192, 224) d, [224, 256) dmin (16 x fp16 each), then 8
/// units of 320 bytes from 256 (unit u, K elements 32u..32u+31: [0, 256) the low 4 bits as
/// packed_q4_k's unit, [256, 320) bit 4: lane r, byte t, bit j = code 32u + 4j + t of row r).
using packed_q5_k = simd_detail::plane_packed_t<ggml::q5_k>;

/// Packs Q5_K weights; see packed_q5_k. Threads split the panels.
inline packed_q5_k pack_q5_k(weight_view<ggml::q5_k> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q5_K weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q5_k(const packed_q5_k& w, std::span<ggml::q5_k::block> out) {
  simd_detail::unpack_planes<ggml::q5_k>(w, out);
}

/// Q5_K GEMM on the SIMD backend (simd_detail::k_quant_gemm_kernel): K must be a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::q5_k, backend::simd<Arch>> : simd_detail::k_quant_gemm_kernel<ggml::q5_k, Arch> {};

}  // namespace lowbit
