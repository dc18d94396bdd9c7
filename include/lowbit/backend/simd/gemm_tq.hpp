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
#include "lowbit/formats/ggml/tq1_0.hpp"
#include "lowbit/formats/ggml/tq2_0.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// TQ2_0 (ggml `block_tq2_0`, ggml/src/ggml-common.h): qs[64] @0, d @64 (fp16). Element
/// 128 hh + 32 k + m is bits 2k..2k+1 of qs[32 hh + m]; value = (t - 1) d. Chunk j (qs[4j..4j+3])
/// therefore holds, in its 2-bit field k, dword j % 8 of activation block 4 (j / 8) + k: block a
/// takes field a % 4 of chunks 8 (a / 4) .. 8 (a / 4) + 7. Codes 0..3 with offset 1.
template <>
struct block_dot_traits<ggml::tq2_0> {
  static constexpr std::size_t code_src = 0, code_bytes = 64;
  static constexpr std::array<header_field, 1> fields{{{64, 2, 1}}};
  static constexpr bool lut = false;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t a, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using vi = typename I::vi;
    const std::uint8_t* chunks = rec + 64 * 8 * (a / 4);
    const vi three = I::splat_u8(3);
    const auto field = [&](vi v) {
      switch (a % 4) {
        case 0:
          return I::and_(v, three);
        case 1:
          return I::and_(I::template srl16<2>(v), three);
        case 2:
          return I::and_(I::template srl16<4>(v), three);
        default:
          return I::and_(I::template srl16<6>(v), three);
      }
    };
    for (std::size_t g = 0; g < 8; ++g) op[g] = field(I::load(chunks + chunk_at<I>(g, h)));
    dw[0] = I::f16_to_f32(rec + 1024 + 2 * I::lanes * h);
  }
};

/// TQ1_0 (ggml `block_tq1_0`): qs[48] @0, qh[4] @48, d @52 (fp16). Trit k (0-based) of a byte b is
/// `((uint8)(b 3^k) 3) >> 8`; qs[m] (m < 32) holds elements 32k + m, qs[32 + m'] elements
/// 160 + 16k + m', qh[m] elements 240 + 4k + m (k < 4) (ggml `dequantize_row_tq1_0`). With chunk j =
/// code bytes 4j..4j+3 of each row, activation block a (0..7) and dword g come from (chunk, trit):
/// a < 5: (g, a); a = 5, 6: (8 + g % 4, 2 (a - 5) + g / 4); a = 7: (8 + g, 4) for g < 4, (12, g - 4)
/// after. Codes 0..2 with offset 1, decoded in registers (byte products, two unsigned compares).
template <>
struct block_dot_traits<ggml::tq1_0> {
  static constexpr std::size_t code_src = 0, code_bytes = 52;
  static constexpr std::array<header_field, 1> fields{{{52, 2, 1}}};
  static constexpr bool lut = false;
  static constexpr bool split_halves = false;
  template <class I>
  static typename I::vi trit_of(const std::uint8_t* rec, std::size_t h, std::size_t chunk, std::size_t k) noexcept {
    constexpr std::int16_t pow3[5] = {1, 3, 9, 27, 81};
    typename I::vi v = I::load(rec + chunk_at<I>(chunk, h));
    if (k != 0) v = I::mul_bytes(v, pow3[k]);
    return I::trit(v);
  }
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t a, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    for (std::size_t g = 0; g < 8; ++g) {
      if (a < 5)
        op[g] = trit_of<I>(rec, h, g, a);
      else if (a < 7)
        op[g] = trit_of<I>(rec, h, 8 + g % 4, 2 * (a - 5) + g / 4);
      else
        op[g] = g < 4 ? trit_of<I>(rec, h, 8 + g, 4) : trit_of<I>(rec, h, 12, g - 4);
    }
    dw[0] = I::f16_to_f32(rec + 832 + 2 * I::lanes * h);
  }
};

}  // namespace simd_detail

/// TQ2_0 weights W(N, K) in `k_packed<16, 4>` panels (simd_detail::pack_blocks): per (panel,
/// 256-element block) 1056 bytes, the file's size: [0, 1024) sixteen chunks (lane r of chunk j =
/// qs[4j..4j+3] of row 16p + r), [1024, 1056) the 16 scales d (fp16). 2-bit codes are shifted and
/// masked in registers.
using packed_tq2_0 = simd_detail::block_packed_t<ggml::tq2_0>;

/// TQ1_0 weights in panels: per (panel, 256-element block) 864 bytes, the file's size: [0, 832)
/// thirteen chunks (lane r of chunk j = bytes 4j..4j+3 of row r's qs ++ qh), [832, 864) d (fp16).
/// The base-3 bytes are kept as they are and decoded in registers.
using packed_tq1_0 = simd_detail::block_packed_t<ggml::tq1_0>;

/// Packs TQ2_0 weights; see packed_tq2_0. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_tq2_0 pack_tq2_0(weight_view<ggml::tq2_0> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs TQ1_0 weights; see packed_tq1_0. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_tq1_0 pack_tq1_0(weight_view<ggml::tq1_0> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }

/// Restores the file layout of packed TQ2_0 weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_tq2_0(const packed_tq2_0& w, std::span<ggml::tq2_0::block> out) {
  simd_detail::unpack_blocks<ggml::tq2_0>(w, out);
}
/// Restores the file layout of packed TQ1_0 weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_tq1_0(const packed_tq1_0& w, std::span<ggml::tq1_0::block> out) {
  simd_detail::unpack_blocks<ggml::tq1_0>(w, out);
}

/// TQ2_0 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel), K a multiple of 256:
/// Σ (t - 1) q_x = Σ t q_x - Σ q_x per 32, times d_w d_x. ggml quantizes x per 256 (Q8_K).
template <class Arch>
struct gemm_kernel<ggml::tq2_0, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::tq2_0, Arch> {};

/// TQ1_0 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel), K a multiple of 256.
template <class Arch>
struct gemm_kernel<ggml::tq1_0, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::tq1_0, Arch> {};

}  // namespace lowbit
