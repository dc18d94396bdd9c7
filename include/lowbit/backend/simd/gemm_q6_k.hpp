// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q6_k.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q6_K bytes (ggml `block_q6_K`, ggml/src/ggml-common.h): ql[128] @0, qh[64] @128, scales[16]
/// (int8) @192, d @208. Element e = 128 n + 32 q + l: low 4 bits = nibble q / 2 of
/// `ql[64 n + 32 (q % 2) + l]`, bits 4-5 = bits [2q, 2q + 2) of `qh[32 n + l]`; 16 sub-blocks of 16;
/// value = d sc (q - 32). Source: ggml `dequantize_row_q6_K` (ggml/src/ggml-quants.c).
template <>
struct simd_detail::plane_traits<ggml::q6_k> {
  using planes = plane_list<plane<4, 0>, plane<2, 4>>;
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t scale_src = 192, scale_bytes = 16, d_src = 208;
  static constexpr int m_src = -1;
  static constexpr int sub_block = 16;
  static constexpr bool has_min = false;
  static constexpr int offset_log2 = 5;  // codes are stored as q in [0, 63], value q - 32
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    const std::size_t n = e / 128, q = (e % 128) / 32, l = e % 32;
    const unsigned low = (blk[64 * n + 32 * (q % 2) + l] >> (4 * (q / 2))) & 0x0fu;
    const unsigned high = (blk[128 + 32 * n + l] >> (2 * q)) & 3u;
    return low | (high << 4);
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    const std::size_t n = e / 128, q = (e % 128) / 32, l = e % 32;
    std::uint8_t& low = blk[64 * n + 32 * (q % 2) + l];
    low = static_cast<std::uint8_t>(low | ((v & 0x0fu) << (4 * (q / 2))));
    std::uint8_t& high = blk[128 + 32 * n + l];
    high = static_cast<std::uint8_t>(high | (((v >> 4) & 3u) << (2 * q)));
  }
  /// sc[j][r]: the int8 scale of sub-block j; pair[t][r] = (sc[2t], sc[2t + 1]).
  template <class I>
  [[gnu::always_inline]] static void decode_scales(const std::uint8_t* s, k_scales& out) noexcept {
    for (int t = 0; t < 8; ++t) {
      const auto a = I::widen_s8(s + 32 * t), b = I::widen_s8(s + 32 * t + 16);
      I::store(out.sc[2 * t], a);
      I::store(out.sc[2 * t + 1], b);
      I::store(out.pair[t], pack_pair<I>(a, b));
    }
  }
};

/// Q6_K accumulates as llama.cpp's CPU backend does: its tiled GEMM from 8 activation rows, ggml's
/// x86 Q6_K x Q8_K dot product below (see simd_detail::k_quant_order::tiled_or_lanes8).
template <>
inline constexpr simd_detail::k_quant_order simd_detail::k_quant_order_v<ggml::q6_k> =
    simd_detail::k_quant_order::tiled_or_lanes8;

/// Q6_K weights W(N, K) in bit-plane panels. Per (panel, super-block) 3360 bytes, the file's size:
/// [0, 256) the int8 scales as byte planes, [256, 288) d (fp16), then 8 units of 384 bytes from 288
/// (unit u, K elements 32u..32u+31: [0, 256) the low 4 bits, load c, lane r: codes 32u+8c..+3 in
/// the low nibbles, 32u+8c+4..+7 in the high nibbles; [256, 384) bits 4-5, load c, lane r, byte t,
/// bits [2j, 2j + 2) = code 32u + 16c + 4j + t).
using packed_q6_k = simd_detail::plane_packed_t<ggml::q6_k>;

/// Packs Q6_K weights; see packed_q6_k. Threads split the panels.
inline packed_q6_k pack_q6_k(weight_view<ggml::q6_k> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q6_K weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q6_k(const packed_q6_k& w, std::span<ggml::q6_k::block> out) {
  simd_detail::unpack_planes<ggml::q6_k>(w, out);
}

/// Q6_K GEMM on the SIMD backend (simd_detail::k_quant_gemm_kernel): K must be a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::q6_k, backend::simd<Arch>> : simd_detail::k_quant_gemm_kernel<ggml::q6_k, Arch> {};

}  // namespace lowbit
