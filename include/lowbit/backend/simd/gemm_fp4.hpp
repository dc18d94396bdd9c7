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
#include "lowbit/formats/ggml/mxfp4.hpp"
#include "lowbit/formats/ggml/nvfp4.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// Half the E8M0 scale, `2^(e - 128)` as f32 bits, per lane (ggml `ggml_e8m0_to_fp32_half`,
/// ggml/src/ggml-impl.h): `(e - 1) << 23` for e >= 2, the subnormals 2^-127, 2^-128 for e = 1, 0.
template <class I>
inline typename I::vf e8m0_half(lanes32<I> e) noexcept {
  using ib = lanes32<I>;
  const ib small = select32<I>(I::cmpeq32(e, ib(0)), ib(0x00200000), ib(0x00400000));
  return I::as_f32(select32<I>(I::cmpgt32(ib(2), e), small, (e - ib(1)) << 23));
}

/// MXFP4 (ggml `block_mxfp4`, ggml/src/ggml-common.h): e @0 (E8M0), qs[16] @1; nibbles as IQ4_NL;
/// value = kvalues_mxfp4[q] 2^(e - 128) (the doubled E2M1 values, ggml `dequantize_row_mxfp4`).
template <>
struct block_dot_traits<ggml::mxfp4> {
  static constexpr std::size_t code_src = 1, code_bytes = 16;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 1}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    constexpr int lo[4] = {0, 1, 2, 3};
    decode_nibbles<I>(rec, h, I::table_s8(ggml::detail::e2m1::doubled_values), lo, 4, op);
    dw[0] = e8m0_half<I>(I::widen_u8(rec + 256 + I::lanes * h));
  }
};

/// NVFP4 (ggml `block_nvfp4`): d[4] @0 (UE4M3, one per 16 elements), qs[32] @4; sub-block s uses
/// qs[8s..8s+8), element j in the low nibble, j + 8 in the high one; value = kvalues_mxfp4[q]
/// ue4m3(d[s]) / 2 (ggml `dequantize_row_nvfp4`). Activation block a (elements 32a..32a+31) is in
/// chunks 4a..4a+3: chunk c's low nibbles are dword lo[c] = {0, 1, 4, 5}[c], high ones lo[c] + 2;
/// dwords 0..3 carry scale d[2a], 4..7 scale d[2a + 1].
template <>
struct block_dot_traits<ggml::nvfp4> {
  static constexpr std::size_t code_src = 4, code_bytes = 32;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 4}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = true;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t a, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    constexpr int lo[4] = {0, 1, 4, 5};
    decode_nibbles<I>(rec + 4 * 64 * a, h, I::table_s8(ggml::detail::e2m1::doubled_values), lo, 2, op);
    dw[0] = I::ue4m3_half(rec + 512 + 16 * (2 * a) + I::lanes * h);
    dw[1] = I::ue4m3_half(rec + 512 + 16 * (2 * a + 1) + I::lanes * h);
  }
};

}  // namespace simd_detail

/// MXFP4 weights W(N, K) in `k_packed<16, 4>` panels (simd_detail::pack_blocks): per (panel,
/// 32-element block) 272 bytes, the file's size: [0, 256) four chunks (lane r of chunk c = qs[4c..4c+3]
/// of row 16p + r), [256, 272) the 16 E8M0 exponents. E2M1 codes decode in registers through a
/// 16-byte table (I::lookup16: `vpshufb`, `tbl`).
using packed_mxfp4 = simd_detail::block_packed_t<ggml::mxfp4>;

/// NVFP4 weights in panels: per (panel, 64-element block) 576 bytes, the file's size: [0, 512) eight
/// chunks (lane r of chunk j = qs[4j..4j+3] of row r), [512, 576) the UE4M3 scales as byte planes
/// (scale s of row r at 512 + 16 s + r).
using packed_nvfp4 = simd_detail::block_packed_t<ggml::nvfp4>;

/// Packs MXFP4 weights; see packed_mxfp4. throws lowbit::error{errc::shape_mismatch} if K % 32 != 0.
inline packed_mxfp4 pack_mxfp4(weight_view<ggml::mxfp4> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs NVFP4 weights; see packed_nvfp4. throws lowbit::error{errc::shape_mismatch} if K % 64 != 0.
inline packed_nvfp4 pack_nvfp4(weight_view<ggml::nvfp4> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }

/// Restores the file layout of packed MXFP4 weights into `out` (N * K / 32 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_mxfp4(const packed_mxfp4& w, std::span<ggml::mxfp4::block> out) {
  simd_detail::unpack_blocks<ggml::mxfp4>(w, out);
}
/// Restores the file layout of packed NVFP4 weights into `out` (N * K / 64 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_nvfp4(const packed_nvfp4& w, std::span<ggml::nvfp4::block> out) {
  simd_detail::unpack_blocks<ggml::nvfp4>(w, out);
}

/// MXFP4 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel): x quantized per 32 to 8
/// bits, Σ kvalues[q] q_x in int32, times 2^(e - 128) d_x (ggml `ggml_vec_dot_mxfp4_q8_0`).
template <class Arch>
struct gemm_kernel<ggml::mxfp4, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::mxfp4, Arch> {};

/// NVFP4 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel), K a multiple of 64: the two
/// 16-element halves of each activation block carry their own weight scale.
template <class Arch>
struct gemm_kernel<ggml::nvfp4, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::nvfp4, Arch> {};

}  // namespace lowbit
