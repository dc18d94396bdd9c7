// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Q8_0 weights W(N, K) packed in `k_packed<16, 4>` panels for integer-dot microkernels.
///
/// Panel p holds rows [16p, 16p + 16) (the last panel padded with zero rows). For each of the
/// K / 32 blocks a panel stores 544 bytes: eight 64-byte chunks, where lane r (bytes 4r..4r+3) of
/// chunk c holds codes 4c..4c+3 of row 16p + r as unsigned bytes q + 128 (`q ^ 0x80`), then the
/// 16 rows' scales d (fp16 bits, 32 bytes). Same size as the file's blocks. The layout is
/// ISA-independent (the same bytes on every target): the +128 is the s8 operand form of AVX-512
/// VNNI (`vpdpbusd`, unsigned x signed, computes Σ (q_w + 128) q_x and the kernel subtracts
/// 128 Σ q_x exactly), and the kernels of the other ISAs (s8_bias 0: AVX2, NEON) take 128 off
/// each byte after the load (q8_0_operand).
using packed_q8_0 = packed_panels<ggml::q8_0, 544>;

/// Packs W (file layout) into panels; see packed_q8_0. Threads split the panels.
inline packed_q8_0 pack_q8_0(weight_view<ggml::q8_0> w, threads t = {}) {
  packed_q8_0 out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.blocks_per_row();
  out.bytes = simd_detail::aligned_buffer(out.panels() * nb * packed_q8_0::block_stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * packed_q8_0::block_stride;
        auto* d = reinterpret_cast<std::uint16_t*>(dst + 512);
        for (std::size_t r = 0; r < 16; ++r) {
          if (p * 16 + r >= w.rows) {
            // Padding rows: code 0 (stored 0x80) and scale 0, so they contribute exactly 0.
            for (std::size_t k = 0; k < 32; ++k) dst[(k / 4) * 64 + r * 4 + k % 4] = 0x80;
            continue;
          }
          const ggml::q8_0::block& blk = w.row(p * 16 + r)[b];
          d[r] = blk.d;
          for (std::size_t k = 0; k < 32; ++k) {
            dst[(k / 4) * 64 + r * 4 + k % 4] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(blk.qs[k]) ^ 0x80u);
          }
        }
      }
    }
  });
  return out;
}

/// Restores the file layout of a packed Q8_0 matrix into `out` (N * K / 32 blocks): the inverse
/// of pack_q8_0. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q8_0(const packed_q8_0& w, std::span<ggml::q8_0::block> out) {
  const std::size_t nb = w.blocks_per_row();
  check(out.size() == w.rows * nb, errc::shape_mismatch, [&] {
    return "unpack_q8_0: output holds " + std::to_string(out.size()) + " blocks, the matrix " +
           std::to_string(w.rows * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const std::size_t p = n / 16, r = n % 16;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(p) + b * packed_q8_0::block_stride;
      ggml::q8_0::block& blk = out[n * nb + b];
      std::memcpy(&blk.d, src + 512 + 2 * r, 2);
      for (std::size_t k = 0; k < 32; ++k) {
        blk.qs[k] = static_cast<std::int8_t>(src[(k / 4) * 64 + r * 4 + k % 4] ^ 0x80u);
      }
    }
  }
}

namespace simd_detail {

/// The packed Q8_0 code bytes `v` (q + 128, see packed_q8_0) in the s8 operand form of the ISA
/// layer I, q + I::s8_bias: the bytes themselves where s8_bias is 128 (AVX-512 VNNI), else
/// shifted back by s8_bias - 128 (AVX2, NEON: q itself).
template <class I>
inline typename I::s8_operand q8_0_operand(typename I::vi v) noexcept {
  if constexpr (I::s8_bias == 128) {
    return I::operand_s8(v);
  } else {
    return I::operand_s8(I::add8(v, I::splat_u8(I::s8_bias - 128)));
  }
}

/// Q8_0 microkernel rows [i, i + R) x one 16-row panel, in llama.cpp's operation order: for every
/// row n and block b, the 32 products split into eight 4-element groups (group j: codes 4j..4j+3),
/// each group's int32 sum converted to f32 and accumulated in its own lane,
/// `acc_j = fma(d_w * d_x, sum_j, acc_j)`; the result is
/// `((acc_4 + acc_0) + (acc_6 + acc_2)) + ((acc_5 + acc_1) + (acc_7 + acc_3))`. That is the Q8_0 x
/// Q8_0 tile of llamafile's `tinyBLAS_Q0_AVX` (ggml-cpu/llamafile/sgemm.cpp: `updot` lanes, `madd`,
/// `hsum`), which llama.cpp's CPU backend runs for Q8_0 weights, so every output is bit-identical
/// to llama.cpp's, on every ISA of the layer (the same per-lane float operations). Group j is
/// chunk j of the panel (see packed_q8_0); one pass over the panel per ISA part (rows
/// `I::lanes h` .., bytes `I::bytes h` .. of each chunk). The group sums are exact in int32:
/// `dot4_s8` gives Σ (q_w + s8_bias) q_x, and where s8_bias is not 0 the kernel subtracts
/// s8_bias Σ q_x (the dot product of code 0's operand form).
template <class I, int R>
inline void q8_0_rows(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i,
                      float (*acc_out)[16]) noexcept {
  using vf = typename I::vf;
  const typename I::s8_operand zero_code = I::operand_s8(I::splat_u8(I::s8_bias));
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[R][8];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 8; ++j) acc[r][j] = I::zero_f32();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = panel + b * packed_q8_0::block_stride;
      // The weight stream runs strictly forward: ask for the block 8 ahead (4.3 KiB; measured on
      // the tied 262144 x 640 output projection of Gemma 3, where the hardware prefetcher alone
      // falls short of the read limit at M = 1). Once per block: the first pass over the panel.
      if (h == 0) {
        for (int c = 0; c < 9; ++c) __builtin_prefetch(blk + 8 * packed_q8_0::block_stride + 64 * c, 0, 3);
      }
      const vf dw = I::f16_to_f32(blk + 512 + 2 * I::lanes * h);
      const dword_alias* xw[R];
      vf scale[R];
      for (int r = 0; r < R; ++r) {
        xw[r] = reinterpret_cast<const dword_alias*>(xq.row_qs(i + r) + b * 32);
        scale[r] = I::mul(dw, I::splat_f32(xq.row_d(i + r)[b]));
      }
      for (int j = 0; j < 8; ++j) {
        const typename I::s8_operand wq = q8_0_operand<I>(I::load(blk + 64 * j + I::bytes * h));
        for (int r = 0; r < R; ++r) {
          typename I::vi sum = I::dot4_s8(I::zero(), wq, xw[r][j]);
          if constexpr (I::s8_bias != 0) sum = I::sub32(sum, I::dot4_s8(I::zero(), zero_code, xw[r][j]));
          acc[r][j] = I::fmadd(scale[r], I::to_f32(sum), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const vf even = I::add(I::add(acc[r][4], acc[r][0]), I::add(acc[r][6], acc[r][2]));
      const vf odd = I::add(I::add(acc[r][5], acc[r][1]), I::add(acc[r][7], acc[r][3]));
      I::store_f32(acc_out[r] + I::lanes * h, I::add(even, odd));
    }
  }
}

/// Q8_0 microkernel: MR activation rows x one panel, rows_per_pass_v rows at a time (two where
/// the ISA has 32 vector registers), see q8_0_rows.
template <class Arch, int MR>
inline void q8_0_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                             float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  constexpr int R = rows_per_pass_v<I>;
  int r = 0;
  for (; r + R <= MR; r += R) q8_0_rows<I, R>(panel, nb, xq, i0 + r, acc_out + r);
  if constexpr (MR % R != 0) q8_0_rows<I, MR % R>(panel, nb, xq, i0 + r, acc_out + r);
}

}  // namespace simd_detail

/// Q8_0 GEMM on the SIMD backend: activations quantized on the fly (activation_q8, ggml's Q8_0
/// rules), weights in packed_q8_0 panels, exact int32 dot products of 4-element groups (the ISA
/// layer isa_ops<Arch>: AVX-512 VNNI, AVX2, AArch64 NEON), f32 accumulation in llama.cpp's order
/// (bit-identical to it, see simd_detail::q8_0_rows).
template <class Arch>
struct gemm_kernel<ggml::q8_0, backend::simd<Arch>> {
  using weight_type = packed_q8_0;
  struct microkernel {
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      simd_detail::q8_0_microkernel<Arch, MR>(panel, nb, xq, i0, acc);
    }
  };

  static weight_type prepare(weight_view<ggml::q8_0> w, threads t) { return pack_q8_0(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    simd_detail::run_packed_gemm<Arch>(x, w, y, t, e, ws, microkernel{});
  }
};

}  // namespace lowbit
