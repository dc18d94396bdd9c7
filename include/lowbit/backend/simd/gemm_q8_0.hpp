// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "lowbit/backend/simd/aligned_buffer.hpp"
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
/// chunk c holds codes 4c..4c+3 of row 16p + r stored with their sign bit flipped (`q ^ 0x80`,
/// i.e. q + 128 as an unsigned byte), then the 16 rows' scales d (fp16 bits, 32 bytes). Same size
/// as the file's blocks. The +128 offset lets `vpdpbusd` (unsigned x signed) compute
/// Σ (q_w + 128) q_x, from which the kernel subtracts 128 Σ q_x exactly.
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

/// Q8_0 microkernel rows [i, i + R) x one 16-row panel, in llama.cpp's operation order: for every
/// row n and block b, the 32 products split into eight 4-element groups (group j: codes 4j..4j+3),
/// each group's int32 sum converted to f32 and accumulated in its own lane,
/// `acc_j = fma(d_w * d_x, sum_j, acc_j)`; the result is
/// `((acc_4 + acc_0) + (acc_6 + acc_2)) + ((acc_5 + acc_1) + (acc_7 + acc_3))`. That is the Q8_0 x
/// Q8_0 tile of llamafile's `tinyBLAS_Q0_AVX` (ggml-cpu/llamafile/sgemm.cpp: `updot` lanes, `madd`,
/// `hsum`), which llama.cpp's CPU backend runs for Q8_0 weights, so every output is bit-identical
/// to llama.cpp's. Group j is chunk j of the panel (see packed_q8_0).
template <class Arch, int R>
inline void q8_0_rows(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i,
                      float (*acc_out)[16]) noexcept {
  if constexpr (has_vnni_v<Arch>) {
    const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512 acc[R][8];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 8; ++j) acc[r][j] = _mm512_setzero_ps();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = panel + b * packed_q8_0::block_stride;
      // The weight stream runs strictly forward: ask for the block 8 ahead (4.3 KiB; measured on
      // the tied 262144 x 640 output projection of Gemma 3, where the hardware prefetcher alone
      // falls short of the read limit at M = 1).
      for (int c = 0; c < 9; ++c)
        _mm_prefetch(reinterpret_cast<const char*>(blk + 8 * packed_q8_0::block_stride + 64 * c), _MM_HINT_T0);
      __m512i wq[8];
      for (int c = 0; c < 8; ++c) wq[c] = _mm512_loadu_si512(blk + 64 * c);
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 512)));
      for (int r = 0; r < R; ++r) {
        const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i + r) + b * 32);  // {1to16} broadcasts
        const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(xq.row_d(i + r)[b]));
        for (int j = 0; j < 8; ++j) {
          const __m512i x = _mm512_set1_epi32(xw[j]);
          // Σ (q_w + 128) q_x - 128 Σ q_x = Σ q_w q_x over the group, exactly in int32.
          const __m512i sum = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[j], x),
                                               _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, x));
          acc[r][j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sum), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 even = _mm512_add_ps(_mm512_add_ps(acc[r][4], acc[r][0]), _mm512_add_ps(acc[r][6], acc[r][2]));
      const __m512 odd = _mm512_add_ps(_mm512_add_ps(acc[r][5], acc[r][1]), _mm512_add_ps(acc[r][7], acc[r][3]));
      _mm512_storeu_ps(acc_out[r], _mm512_add_ps(even, odd));
    }
  } else if constexpr (has_avx2_v<Arch>) {
    static_assert(R == 1, "the AVX2 Q8_0 rows take one activation row (16 registers)");
    // Sign trick: |q_w| (unsigned) x (q_x with q_w's sign) keeps vpmaddubsw pair sums <= 32258.
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2; ++h) {  // rows 8h..8h+7 of the panel
      __m256 acc[8];
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
      for (std::size_t b = 0; b < nb; ++b) {
        const std::uint8_t* blk = panel + b * packed_q8_0::block_stride;
        std::int32_t xw[8];
        std::memcpy(xw, xq.row_qs(i) + b * 32, 32);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 512 + 16 * h)));
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(xq.row_d(i)[b]));
        for (int j = 0; j < 8; ++j) {
          const __m256i wq =
              _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * j + 32 * h)), flip);
          const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(xw[j]), wq);
          const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wq), xs), ones);
          acc[j] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum), acc[j]);
        }
      }
      const __m256 even = _mm256_add_ps(_mm256_add_ps(acc[4], acc[0]), _mm256_add_ps(acc[6], acc[2]));
      const __m256 odd = _mm256_add_ps(_mm256_add_ps(acc[5], acc[1]), _mm256_add_ps(acc[7], acc[3]));
      _mm256_storeu_ps(acc_out[0] + 8 * h, _mm256_add_ps(even, odd));
    }
  } else {
    static_assert(dependent_false<Arch>, "lowbit: the simd Q8_0 kernel needs AVX2 or AVX-512 VNNI");
  }
}

/// Q8_0 microkernel: MR activation rows x one panel, in pairs of rows (AVX-512) or one row at a
/// time (AVX2), see q8_0_rows.
template <class Arch, int MR>
inline void q8_0_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                             float (*acc_out)[16]) noexcept {
  constexpr int R = has_vnni_v<Arch> ? 2 : 1;
  int r = 0;
  for (; r + R <= MR; r += R) q8_0_rows<Arch, R>(panel, nb, xq, i0 + r, acc_out + r);
  if constexpr (MR % R != 0) q8_0_rows<Arch, MR % R>(panel, nb, xq, i0 + r, acc_out + r);
}

}  // namespace simd_detail

/// Q8_0 GEMM on the SIMD backend: activations quantized on the fly (activation_q8, ggml's Q8_0
/// rules), weights in packed_q8_0 panels, exact int32 dot products of 4-element groups, f32
/// accumulation in llama.cpp's order (bit-identical to it, see simd_detail::q8_0_rows).
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
