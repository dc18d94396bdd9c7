// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q4_1 weights W(N, K) packed in `k_packed<16, 4>` panels for integer-dot microkernels.
///
/// Panel p holds rows [16p, 16p + 16) (the last panel padded with zero rows). For each of the
/// K / 32 blocks a panel stores 320 bytes:
/// - bytes [0, 256): four 64-byte chunks; in chunk c (0..3), the 4 bytes of lane r (row 16p + r)
///   hold codes 8c..8c+3 of that row's block in their low nibbles and codes 8c+4..8c+7 in their
///   high nibbles;
/// - bytes [256, 288): the 16 rows' scales d (fp16 bits), [288, 320): their minimums m (fp16 bits).
/// The same bytes as the file's blocks (5 bits per weight), in an ISA-independent order (the same
/// bytes on every ISA): a 64-byte chunk holds 4 codes of each of 16 rows, so one register of the
/// ISA layer (`lanes` rows, part h = bytes [bytes h, bytes (h + 1)) of the chunk) and a dot product
/// with a broadcast activation dword yield `lanes` row sums at once. `unpack_q4_1` restores the
/// file layout exactly.
using packed_q4_1 = packed_panels<ggml::q4_1, 320>;

/// Q4_0 weights in the same panels as packed_q4_1 without the minimums: per (panel, block) 256
/// bytes of codes then the 16 scales (288 bytes, the file's size).
using packed_q4_0 = packed_panels<ggml::q4_0, 288>;

namespace simd_detail {
template <class F>
inline constexpr bool has_min_v = std::is_same_v<F, ggml::q4_1>;
template <class F>
using packed_q4_t = std::conditional_t<has_min_v<F>, packed_q4_1, packed_q4_0>;
}  // namespace simd_detail

/// Packs W (file layout, Q4_0 or Q4_1) into panels; see packed_q4_1. Threads split the panels.
template <class F>
simd_detail::packed_q4_t<F> pack_q4(weight_view<F> w, threads t = {}) {
  using packed = simd_detail::packed_q4_t<F>;
  packed out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.blocks_per_row();
  out.bytes = simd_detail::aligned_buffer(out.panels() * nb * packed::block_stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * packed::block_stride;
        auto* d = reinterpret_cast<std::uint16_t*>(dst + 256);
        for (std::size_t r = 0; r < 16 && p * 16 + r < w.rows; ++r) {
          const typename F::block& blk = w.row(p * 16 + r)[b];
          d[r] = blk.d;
          if constexpr (simd_detail::has_min_v<F>) reinterpret_cast<std::uint16_t*>(dst + 288)[r] = blk.m;
          for (std::size_t k = 0; k < 32; ++k) {
            const std::size_t c = k / 8, within = k % 8, t4 = within % 4;
            const std::uint8_t q = k < 16 ? (blk.qs[k] & 0x0f) : (blk.qs[k - 16] >> 4);
            std::uint8_t& byte = dst[c * 64 + r * 4 + t4];
            byte = static_cast<std::uint8_t>(within < 4 ? ((byte & 0xf0) | q) : ((byte & 0x0f) | (q << 4)));
          }
        }
      }
    }
  });
  return out;
}

/// Packs Q4_1 weights; see pack_q4.
inline packed_q4_1 pack_q4_1(weight_view<ggml::q4_1> w, threads t = {}) { return pack_q4(w, t); }
/// Packs Q4_0 weights; see pack_q4.
inline packed_q4_0 pack_q4_0(weight_view<ggml::q4_0> w, threads t = {}) { return pack_q4(w, t); }

/// Restores the file layout of a packed Q4_0 or Q4_1 matrix into `out` (N * K / 32 blocks): the
/// inverse of pack_q4. throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class F>
void unpack_q4(const simd_detail::packed_q4_t<F>& w, std::span<typename F::block> out) {
  using packed = simd_detail::packed_q4_t<F>;
  const std::size_t nb = w.blocks_per_row();
  check(out.size() == w.rows * nb, errc::shape_mismatch, [&] {
    return "unpack_q4: output holds " + std::to_string(out.size()) + " blocks, the matrix " +
           std::to_string(w.rows * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const std::size_t p = n / 16, r = n % 16;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(p) + b * packed::block_stride;
      typename F::block& blk = out[n * nb + b];
      std::memcpy(&blk.d, src + 256 + 2 * r, 2);
      if constexpr (simd_detail::has_min_v<F>) std::memcpy(&blk.m, src + 288 + 2 * r, 2);
      for (std::size_t k = 0; k < 32; ++k) {
        const std::size_t c = k / 8, within = k % 8;
        const std::uint8_t byte = src[c * 64 + r * 4 + within % 4];
        const std::uint8_t q = within < 4 ? (byte & 0x0f) : (byte >> 4);
        if (k < 16)
          blk.qs[k] = static_cast<std::uint8_t>((blk.qs[k] & 0xf0) | q);
        else
          blk.qs[k - 16] = static_cast<std::uint8_t>((blk.qs[k - 16] & 0x0f) | (q << 4));
      }
    }
  }
}

/// Restores the file layout of a packed Q4_1 matrix; see unpack_q4.
inline void unpack_q4_1(const packed_q4_1& w, std::span<ggml::q4_1::block> out) { unpack_q4<ggml::q4_1>(w, out); }
/// Restores the file layout of a packed Q4_0 matrix; see unpack_q4.
inline void unpack_q4_0(const packed_q4_0& w, std::span<ggml::q4_0::block> out) { unpack_q4<ggml::q4_0>(w, out); }

namespace simd_detail {

/// Q4_0 microkernel: MR activation rows x one 16-row panel, all K blocks:
/// acc[i][r] = Σ_b d_w[r] d_x[i,b] (Σ_k q_w[r,k] q_x[i,k] - 8 Σ_k q_x[i,k])  (ggml's Q4_0·Q8_0),
/// the offset subtracted exactly in int32. One pass over the panel per ISA part (rows
/// `I::lanes h` .. `I::lanes (h + 1) - 1`, bytes `I::bytes h` .. of each 64-byte chunk); codes <= 15
/// keep every `dot8_u8` exact. Where the ISA has 2x2 int8 tiles (I::has_int8_tiles: AArch64 I8MM `smmla`)
/// pairs of activation rows take them instead, with the same int32 sums and float operations.
template <class Arch, int MR>
inline void q4_0_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                             float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t stride = packed_q4_0::block_stride;
  const vi low_mask = I::splat_u8(0x0f);
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = panel + b * stride;
      vi lo[4], hi[4];
      for (int c = 0; c < 4; ++c) {
        const vi v = I::load(blk + 64 * c + I::bytes * h);
        lo[c] = I::and_(v, low_mask);
        hi[c] = I::and_(I::template srl16<4>(v), low_mask);
      }
      const vf dw = I::f16_to_f32(blk + 256 + 2 * I::lanes * h);
      auto accumulate = [&](int i, vi sum) {
        const vi isum = I::sub32(sum, I::splat_i32(8 * xq.row_sum(i0 + i)[b]));
        const vf scale = I::mul(dw, I::splat_f32(xq.row_d(i0 + i)[b]));
        acc[i] = I::fmadd(I::to_f32(isum), scale, acc[i]);
      };
      int i = 0;
      if constexpr (I::has_int8_tiles) {
        // Two activation rows at a time in 2x2 int8 tiles (`smmla`): chunk c's low and high
        // nibbles are elements 8c..8c+7 of each row. The same exact int32 sums as the dot path.
        for (; i + 2 <= MR; i += 2) {
          const std::int8_t* x0 = xq.row_qs(i0 + i) + b * 32;
          const std::int8_t* x1 = xq.row_qs(i0 + i + 1) + b * 32;
          vi t01 = I::zero(), t23 = I::zero();
          for (int c = 0; c < 4; ++c) {
            const vi xa = I::act_pairs8(x0 + 8 * c, x1 + 8 * c);
            t01 = I::mmla_s8(t01, xa, I::template row_pairs8<0>(lo[c], hi[c]));
            t23 = I::mmla_s8(t23, xa, I::template row_pairs8<1>(lo[c], hi[c]));
          }
          accumulate(i, I::template tile_row<0>(t01, t23));
          accumulate(i + 1, I::template tile_row<1>(t01, t23));
        }
      }
      for (; i < MR; ++i) {
        const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + b * 32);
        // Low nibbles take the even activation dwords, high nibbles the odd ones; two chains.
        vi s0 = I::dot8_u8(I::zero(), lo[0], hi[0], xw[0], xw[1]);
        vi s1 = I::dot8_u8(I::zero(), lo[1], hi[1], xw[2], xw[3]);
        s0 = I::dot8_u8(s0, lo[2], hi[2], xw[4], xw[5]);
        s1 = I::dot8_u8(s1, lo[3], hi[3], xw[6], xw[7]);
        accumulate(i, I::add32(s0, s1));
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + I::lanes * h, acc[i]);
  }
}

/// Q4_1 microkernel rows [i, i + R) x one 16-row panel, in ggml's operation order: for every
/// row n and block b, the 32 products split into eight 4-element groups (group j: codes 4j..4j+3),
/// each group's int32 sum converted to f32 and accumulated in its own lane,
/// `acc_j = fma(d_w * d_x, sum_j, acc_j)`, and the minimum term apart, `mins = fma(m_w, s_x, mins)`;
/// the result is `((acc_4 + acc_0) + (acc_6 + acc_2)) + ((acc_5 + acc_1) + (acc_7 + acc_3)) + mins`.
/// That is `ggml_vec_dot_q4_1_q8_1` on x86 (ggml-cpu arch/x86/quants.c: `vpdpbusd` or
/// `vpmaddubsw` lanes, one `vfmadd` per lane, the `summs` fma that the compiler contracts, and
/// `hsum_float_8`), so every output is bit-identical to llama.cpp's, on every ISA of the layer
/// (the same per-lane float operations). Panel group j is chunk j / 2, low nibbles for even j,
/// high for odd (see packed_q4_1); one pass over the panel per ISA part, as q4_0_microkernel.
template <class I, int R>
inline void q4_1_rows(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i,
                      float (*acc_out)[16]) noexcept {
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t stride = packed_q4_1::block_stride;
  const vi low_mask = I::splat_u8(0x0f);
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[R][8], mins[R];
    for (int r = 0; r < R; ++r) {
      mins[r] = I::zero_f32();
      for (int j = 0; j < 8; ++j) acc[r][j] = I::zero_f32();
    }
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = panel + b * stride;
      const vf dw = I::f16_to_f32(blk + 256 + 2 * I::lanes * h);
      const vf mw = I::f16_to_f32(blk + 288 + 2 * I::lanes * h);
      vi plane[8];
      for (int c = 0; c < 4; ++c) {
        const vi v = I::load(blk + 64 * c + I::bytes * h);
        plane[2 * c] = I::and_(v, low_mask);
        plane[2 * c + 1] = I::and_(I::template srl16<4>(v), low_mask);
      }
      for (int r = 0; r < R; ++r) {
        const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i + r) + b * 32);
        const vf scale = I::mul(dw, I::splat_f32(xq.row_d(i + r)[b]));
        mins[r] = I::fmadd(mw, I::splat_f32(xq.row_s(i + r)[b]), mins[r]);
        for (int j = 0; j < 8; ++j) {
          const vi sum = I::dot4_u8(I::zero(), plane[j], xw[j]);
          acc[r][j] = I::fmadd(scale, I::to_f32(sum), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const vf even = I::add(I::add(acc[r][4], acc[r][0]), I::add(acc[r][6], acc[r][2]));
      const vf odd = I::add(I::add(acc[r][5], acc[r][1]), I::add(acc[r][7], acc[r][3]));
      I::store_f32(acc_out[r] + I::lanes * h, I::add(I::add(even, odd), mins[r]));
    }
  }
}

/// Q4_1 microkernel: MR activation rows x one panel, rows_per_pass_v rows at a time (two where
/// the ISA has 32 vector registers), see q4_1_rows.
template <class Arch, int MR>
inline void q4_1_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                             float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  constexpr int R = rows_per_pass_v<I>;
  int r = 0;
  for (; r + R <= MR; r += R) q4_1_rows<I, R>(panel, nb, xq, i0 + r, acc_out + r);
  if constexpr (MR % R != 0) q4_1_rows<I, MR % R>(panel, nb, xq, i0 + r, acc_out + r);
}

}  // namespace simd_detail

namespace simd_detail {

/// The SIMD GEMM of the 4-bit formats Q4_0 and Q4_1: activations quantized on the fly
/// (activation_q8, ggml's Q8_0 / Q8_1 rules), weights in packed_q4_0 / packed_q4_1 panels, exact
/// integer dot products of the ISA layer (isa_ops<Arch>: AVX-512 VNNI, AVX2, AArch64 NEON), f32
/// accumulation of the per-block scaled sums (Q4_1: in ggml's order, bit-identical to llama.cpp,
/// see q4_1_rows), fused epilogue.
template <class F, class Arch>
struct q4_gemm_kernel {
  using weight_type = packed_q4_t<F>;
  struct microkernel {
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      if constexpr (has_min_v<F>) {
        q4_1_microkernel<Arch, MR>(panel, nb, xq, i0, acc);
      } else {
        q4_0_microkernel<Arch, MR>(panel, nb, xq, i0, acc);
      }
    }
  };

  static weight_type prepare(weight_view<F> w, threads t) { return pack_q4(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    run_packed_gemm<Arch>(x, w, y, t, e, ws, microkernel{});
  }
};

}  // namespace simd_detail

/// Q4_1 GEMM on the SIMD backend (see simd_detail::q4_gemm_kernel).
template <class Arch>
struct gemm_kernel<ggml::q4_1, backend::simd<Arch>> : simd_detail::q4_gemm_kernel<ggml::q4_1, Arch> {};

/// Q4_0 GEMM on the SIMD backend (see simd_detail::q4_gemm_kernel).
template <class Arch>
struct gemm_kernel<ggml::q4_0, backend::simd<Arch>> : simd_detail::q4_gemm_kernel<ggml::q4_0, Arch> {};

}  // namespace lowbit
