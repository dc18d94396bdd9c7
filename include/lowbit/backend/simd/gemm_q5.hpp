// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/k_quant_panels.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

namespace simd_detail {

/// Q5_0 / Q5_1 in bit-plane panels: the low 4 bits of each code in a 4-bit plane, the 5th bit in a
/// 1-bit plane. Element e of a block: low bits in nibble e / 16 of `qs[e % 16]`, 5th bit = bit e of
/// the little-endian u32 `qh` (ggml `block_q5_0` / `block_q5_1`, ggml/src/ggml-common.h).
template <std::size_t DSrc, int MSrc, std::size_t QhSrc, std::size_t QsSrc>
struct q5_plane_traits {
  using planes = plane_list<plane<4, 0>, plane<1, 4>>;
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t scale_src = 0, scale_bytes = 0;
  static constexpr std::size_t d_src = DSrc;
  static constexpr int m_src = MSrc;
  static unsigned code(const std::uint8_t* blk, std::size_t e) noexcept {
    const unsigned low = (blk[QsSrc + e % 16] >> (4 * (e / 16))) & 0x0fu;
    const unsigned high = (blk[QhSrc + e / 8] >> (e % 8)) & 1u;
    return low | (high << 4);
  }
  static void set_code(std::uint8_t* blk, std::size_t e, unsigned v) noexcept {
    blk[QsSrc + e % 16] = static_cast<std::uint8_t>(blk[QsSrc + e % 16] | ((v & 0x0fu) << (4 * (e / 16))));
    blk[QhSrc + e / 8] = static_cast<std::uint8_t>(blk[QhSrc + e / 8] | (((v >> 4) & 1u) << (e % 8)));
  }
};

}  // namespace simd_detail

/// Q5_0 bytes: d @0, qh[4] @2, qs[16] @6 (ggml `block_q5_0`).
template <>
struct simd_detail::plane_traits<ggml::q5_0> : simd_detail::q5_plane_traits<0, -1, 2, 6> {};
/// Q5_1 bytes: d @0, m @2, qh[4] @4, qs[16] @8 (ggml `block_q5_1`).
template <>
struct simd_detail::plane_traits<ggml::q5_1> : simd_detail::q5_plane_traits<0, 2, 4, 8> {};

/// Q5_0 weights W(N, K) in `k_packed<16, 4>` bit-plane panels (see simd_detail::pack_planes). Per
/// (panel, 32-element block) 352 bytes, the file's size: [0, 32) the 16 rows' scales d (fp16), then
/// [32, 288) the low 4 bits (chunk c, lane r: codes 8c..8c+3 in the low nibbles, 8c+4..8c+7 in the
/// high nibbles, as packed_q4_0) and [288, 352) the 5th bits (lane r, byte t, bit j: code 4j + t).
using packed_q5_0 = simd_detail::plane_packed_t<ggml::q5_0>;
/// Q5_1 weights: [0, 32) d, [32, 64) the 16 rows' minimums m (fp16), then the codes as packed_q5_0
/// from 64 (384 bytes).
using packed_q5_1 = simd_detail::plane_packed_t<ggml::q5_1>;

/// Packs Q5_0 weights; see packed_q5_0. Threads split the panels.
inline packed_q5_0 pack_q5_0(weight_view<ggml::q5_0> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Packs Q5_1 weights; see packed_q5_1. Threads split the panels.
inline packed_q5_1 pack_q5_1(weight_view<ggml::q5_1> w, threads t = {}) { return simd_detail::pack_planes(w, t); }
/// Restores the file layout of packed Q5_0 weights into `out` (N * K / 32 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q5_0(const packed_q5_0& w, std::span<ggml::q5_0::block> out) {
  simd_detail::unpack_planes<ggml::q5_0>(w, out);
}
/// Restores the file layout of packed Q5_1 weights; see unpack_q5_0.
inline void unpack_q5_1(const packed_q5_1& w, std::span<ggml::q5_1::block> out) {
  simd_detail::unpack_planes<ggml::q5_1>(w, out);
}

namespace simd_detail {

/// Q5_0 / Q5_1 microkernel rows [i, i + R) x one 16-row panel, in llama.cpp's operation order: for
/// every row n and block b, the 32 products split into eight 4-element groups (group j: codes
/// 4j..4j+3), each group's int32 sum converted to f32 and accumulated in its own lane,
/// `acc_j = fma(d_w * d_x, sum_j, acc_j)`; Q5_1 keeps the minimum term apart,
/// `mins = fma(m_w, s_x, mins)`. The result is
/// `((acc_4 + acc_0) + (acc_6 + acc_2)) + ((acc_5 + acc_1) + (acc_7 + acc_3))` (+ mins for Q5_1).
/// Q5_0: the products are (q_w - 16) q_x, the Q5_0 x Q8_0 tile of llamafile's `tinyBLAS_Q0_AVX`
/// (ggml-cpu/llamafile/sgemm.cpp), which llama.cpp's CPU backend runs for Q5_0 weights. Q5_1: the
/// products are q_w q_x; tinyBLAS does not take Q5_1, so llama.cpp runs `ggml_vec_dot_q5_1_q8_1`
/// (ggml-cpu arch/x86/quants.c: the same lanes, the `summs` fma and `hsum_float_8`), the order of
/// q4_1_rows. Either way every output is bit-identical to llama.cpp's on x86.
template <class I, int R, class F>
[[gnu::noinline]] void q5_rows(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i,
                               float (*acc_out)[16]) noexcept {
  using layout = plane_layout<F>;
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t lanes = I::lanes;
  const vi sixteen = I::splat_u8(16);
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[R][8], mins[R];
    for (int r = 0; r < R; ++r) {
      mins[r] = I::zero_f32();
      for (int j = 0; j < 8; ++j) acc[r][j] = I::zero_f32();
    }
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* record = panel + b * layout::stride;
      for (std::size_t l = 0; l < (layout::stride + 63) / 64; ++l) {
        __builtin_prefetch(record + 16 * layout::stride + 64 * l, 0, 3);  // prefetcht0 / prfm pldl1keep
      }
      vi code[8];
      decode_unit<I, F>(record, 0, h, code);
      const vf dw = I::f16_to_f32(record + layout::d_off + 2 * lanes * h);
      for (int r = 0; r < R; ++r) {
        const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i + r) + b * 32);
        const vf scale = I::mul(dw, I::splat_f32(xq.row_d(i + r)[b]));
        if constexpr (layout::has_m) {
          const vf mw = I::f16_to_f32(record + layout::m_off + 2 * lanes * h);
          mins[r] = I::fmadd(mw, I::splat_f32(xq.row_s(i + r)[b]), mins[r]);
        }
        for (int j = 0; j < 8; ++j) {
          vi sum = I::dot4_u8(I::zero(), code[j], xw[j]);
          // Q5_0: Σ q_w q_x - 16 Σ q_x = Σ (q_w - 16) q_x over the group, exactly in int32.
          if constexpr (!layout::has_m) sum = I::sub32(sum, I::dot4_u8(I::zero(), sixteen, xw[j]));
          acc[r][j] = I::fmadd(scale, I::to_f32(sum), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const vf even = I::add(I::add(acc[r][4], acc[r][0]), I::add(acc[r][6], acc[r][2]));
      const vf odd = I::add(I::add(acc[r][5], acc[r][1]), I::add(acc[r][7], acc[r][3]));
      vf sum = I::add(even, odd);
      if constexpr (layout::has_m) sum = I::add(sum, mins[r]);
      I::store_f32(acc_out[r] + lanes * h, sum);
    }
  }
}

/// Q5_0 / Q5_1 microkernel: MR activation rows x one panel, in pairs of rows where one register
/// holds the whole panel (I::parts == 1, AVX-512), else one row at a time; see q5_rows.
template <class I, int MR, class F>
inline void q5_ggml_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                                float (*acc_out)[16]) noexcept {
  constexpr int R = I::parts == 1 ? 2 : 1;
  int r = 0;
  for (; r + R <= MR; r += R) q5_rows<I, R, F>(panel, nb, xq, i0 + r, acc_out + r);
  if constexpr (MR % R != 0) q5_rows<I, MR % R, F>(panel, nb, xq, i0 + r, acc_out + r);
}

/// The SIMD GEMM of Q5_0 and Q5_1: activations quantized on the fly (activation_q8, ggml's Q8_0 /
/// Q8_1 rules), weights in packed_q5_0 / packed_q5_1 panels, integer dot products (the ISA layer's
/// dot4_u8: AVX-512 VNNI `vpdpbusd`, AVX2 `vpmaddubsw`, NEON `sdot`), f32 accumulation in llama.cpp's
/// order (see q5_rows), fused epilogue.
template <class F, class Arch>
struct q5_gemm_kernel {
  using weight_type = plane_packed_t<F>;
  struct microkernel {
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      q5_ggml_microkernel<isa_ops<Arch>, MR, F>(panel, nb, xq, i0, acc);
    }
  };

  static weight_type prepare(weight_view<F> w, threads t) { return pack_planes(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    run_packed_gemm<Arch>(x, w, y, t, e, ws, microkernel{});
  }
};

}  // namespace simd_detail

/// Q5_0 GEMM on the SIMD backend (see simd_detail::q5_gemm_kernel).
template <class Arch>
struct gemm_kernel<ggml::q5_0, backend::simd<Arch>> : simd_detail::q5_gemm_kernel<ggml::q5_0, Arch> {};

/// Q5_1 GEMM on the SIMD backend (see simd_detail::q5_gemm_kernel).
template <class Arch>
struct gemm_kernel<ggml::q5_1, backend::simd<Arch>> : simd_detail::q5_gemm_kernel<ggml::q5_1, Arch> {};

}  // namespace lowbit
