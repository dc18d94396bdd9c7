// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/block_dot_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/iq4_nl.hpp"
#include "lowbit/formats/ggml/iq4_xs.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// IQ4_NL (ggml `block_iq4_nl`, ggml/src/ggml-common.h): d @0 (fp16), qs[16] @2; element j in the
/// low nibble of qs[j], j + 16 in its high nibble. Chunk c (qs bytes 4c..4c+3) gives elements
/// 4c..4c+3 (low nibbles, op[c]) and 16 + 4c.. (high nibbles, op[4 + c]); value = d kvalues_iq4nl[q].
template <>
struct block_dot_traits<ggml::iq4_nl> {
  static constexpr std::size_t code_src = 2, code_bytes = 16;
  static constexpr std::array<header_field, 1> fields{{{0, 2, 1}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    constexpr int lo[4] = {0, 1, 2, 3};
    decode_nibbles<I>(rec, h, I::table_s8(ggml::detail::iq4::values), lo, 4, op);
    dw[0] = I::f16_to_f32(rec + 256 + 2 * I::lanes * h);
  }
};

/// IQ4_XS (ggml `block_iq4_xs`): d @0 (fp16), scales_h @2 (u16), scales_l[4] @4, qs[128] @8 (16
/// bytes per 32-element sub-block, nibbles as IQ4_NL). Sub-block a has the 6-bit scale
/// `ls = (scales_l[a / 2] >> 4 (a % 2)) & 15 | ((scales_h >> 2a) & 3) << 4` and value
/// `d (ls - 32) kvalues_iq4nl[q]` (ggml `dequantize_row_iq4_xs`, ggml/src/ggml-quants.c).
template <>
struct block_dot_traits<ggml::iq4_xs> {
  static constexpr std::size_t code_src = 8, code_bytes = 128;
  static constexpr std::array<header_field, 3> fields{{{0, 2, 1}, {2, 2, 1}, {4, 1, 4}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t a, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using ib = lanes32<I>;
    constexpr int lo[4] = {0, 1, 2, 3};
    decode_nibbles<I>(rec + 4 * 64 * a, h, I::table_s8(ggml::detail::iq4::values), lo, 4, op);
    const ib low = I::widen_u8(rec + 2048 + 64 + 16 * (a / 2) + I::lanes * h);
    const ib high = I::widen_u16(rec + 2048 + 32 + 2 * I::lanes * h);
    const ib ls =
        ((low >> static_cast<int>(4 * (a % 2))) & ib(15)) | (((high >> static_cast<int>(2 * a)) & ib(3)) << 4);
    const typename I::vf d = I::f16_to_f32(rec + 2048 + 2 * I::lanes * h);
    dw[0] = I::mul(d, I::to_f32(ls - ib(32)));
  }
};

}  // namespace simd_detail

/// IQ4_NL weights W(N, K) in `k_packed<16, 4>` panels (simd_detail::pack_blocks): per (panel,
/// 32-element block) 288 bytes, the file's size: [0, 256) four 64-byte chunks, lane r of chunk c =
/// qs[4c..4c+3] of row 16p + r (the file's bytes, dword-transposed); [256, 288) the 16 scales d
/// (fp16). The kernel looks the nibbles up in a 16-byte table (I::lookup16: `vpshufb`, `tbl`) in registers.
using packed_iq4_nl = simd_detail::block_packed_t<ggml::iq4_nl>;

/// IQ4_XS weights in panels: per (panel, 256-element super-block) 2176 bytes, the file's size:
/// [0, 2048) 32 chunks (chunk j, lane r = qs[4j..4j+3] of row r; sub-block a in chunks 4a..4a+3),
/// [2048, 2080) d (16 x fp16), [2080, 2112) scales_h (16 x u16), [2112, 2176) scales_l as byte
/// planes (byte q of row r at 2112 + 16 q + r).
using packed_iq4_xs = simd_detail::block_packed_t<ggml::iq4_xs>;

/// Packs IQ4_NL weights; see packed_iq4_nl. Threads split the panels.
/// throws lowbit::error{errc::shape_mismatch} if K % 32 != 0.
inline packed_iq4_nl pack_iq4_nl(weight_view<ggml::iq4_nl> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs IQ4_XS weights; see packed_iq4_xs. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq4_xs pack_iq4_xs(weight_view<ggml::iq4_xs> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }

/// Restores the file layout of packed IQ4_NL weights into `out` (N * K / 32 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_iq4_nl(const packed_iq4_nl& w, std::span<ggml::iq4_nl::block> out) {
  simd_detail::unpack_blocks<ggml::iq4_nl>(w, out);
}
/// Restores the file layout of packed IQ4_XS weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_iq4_xs(const packed_iq4_xs& w, std::span<ggml::iq4_xs::block> out) {
  simd_detail::unpack_blocks<ggml::iq4_xs>(w, out);
}

/// IQ4_NL GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel): y = x · Wᵀ with x
/// quantized per 32 to 8 bits (ggml's IQ4_NL · Q8_0 `ggml_vec_dot_iq4_nl_q8_0`).
template <class Arch>
struct gemm_kernel<ggml::iq4_nl, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq4_nl, Arch> {};

/// IQ4_XS GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel), K a multiple of 256. The
/// activations are quantized per 32 (ggml quantizes them per 256, Q8_K: other rounding, same formula).
template <class Arch>
struct gemm_kernel<ggml::iq4_xs, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq4_xs, Arch> {};

}  // namespace lowbit
