// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>

#include "lowbit/backend/simd/float_panel_gemm.hpp"
#include "lowbit/backend/simd/float_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// F32 weights W(N, K) in k-major panels of 32 columns (`k_packed<32, 1>`): element W(32p + r, k)
/// of panel p at index 32k + r. See float_panels.
using packed_f32 = float_panels<f32, 1>;

/// Packs F32 weights W(N, K) (file layout) into packed_f32 panels. Threads split the panels.
inline packed_f32 pack_f32(weight_view<f32> w, threads t = {}) { return pack_float_panels<packed_f32>(w, t); }

/// Restores the file layout of packed F32 weights into `out` (N * K values): the inverse of
/// pack_f32. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_f32(const packed_f32& w, std::span<f32::block> out) { unpack_float_panels(w, out); }

namespace simd_detail {

/// The F32 register tile: MR rows of x times 32 columns of one panel, xsimd FMAs.
///
/// c_out(i, j) = c_in(i, j) + Σ_{s < steps} a[i * lda + s] · b[32 s + j] for i < MR, j < 32, with
/// c_in = 0 when null. One call covers the 32 columns in 32 / (2 lanes) passes of 2 batches (one
/// pass with AVX-512, two with AVX2), each pass holding MR x 2 accumulators. For MR <= 2 the even
/// and odd k feed separate accumulators (summed at the end), so that decode is not bound by the
/// FMA latency. Preconditions: b 64-byte aligned, MR <= f32_tile<Arch>::mr.
template <class Arch, int MR>
[[gnu::flatten]] inline void f32_microkernel(const float* a, std::size_t lda, const f32::block* b_blocks,
                                             std::size_t steps, const float* c_in, std::size_t ldc_in, float* c_out,
                                             std::size_t ldc_out) noexcept {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  constexpr int nb = 2, ku = MR <= 2 ? 2 : 1, tiles = MR * nb;
  const float* b = &b_blocks->value;
  for (std::size_t j0 = 0; j0 < 32; j0 += nb * lanes) {
    batch acc[ku * tiles];  // acc[(u * MR + i) * nb + j]
    unroll<ku * tiles>([&](auto t) {
      constexpr int u = decltype(t)::value / tiles, i = decltype(t)::value % tiles / nb, j = decltype(t)::value % nb;
      acc[t] = (u == 0 && c_in != nullptr) ? batch::load_unaligned(c_in + i * ldc_in + j0 + j * lanes) : batch(0.0f);
    });
    for (std::size_t s = 0; s < steps; s += ku) {
      unroll<ku>([&](auto u) {
        if (u > 0 && s + u >= steps) return;
        batch bv[nb];
        unroll<nb>([&](auto j) { bv[j] = batch::load_aligned(b + (s + u) * 32 + j0 + j * lanes); });
        unroll<MR>([&](auto i) {
          const batch av(a[i * lda + s + u]);
          unroll<nb>([&](auto j) {
            constexpr int t = (decltype(u)::value * MR + decltype(i)::value) * nb + decltype(j)::value;
            acc[t] = fmadd<Arch>(av, bv[j], acc[t]);
          });
        });
      });
    }
    unroll<tiles>([&](auto t) {
      batch sum = acc[t];
      if constexpr (ku == 2) sum += acc[tiles + t];
      sum.store_unaligned(c_out + (t / nb) * ldc_out + j0 + (t % nb) * lanes);
    });
  }
}

/// The F32 tile policy of run_float_panels: 8 rows with AVX-512 (16 zmm accumulators), 6 with
/// narrower registers (12 of 16 ymm), k blocks of 256 (a 32 KiB weight block per panel).
template <class Arch>
struct f32_tile {
  static constexpr int mr = xsimd::batch<float, Arch>::size >= 16 ? 8 : 6;
  static constexpr std::size_t kr = 1;
  static constexpr std::size_t kc = 256;
  template <int MR>
  static void compute(const float* a, std::size_t lda, const f32::block* b, std::size_t steps, const float* c_in,
                      std::size_t ldc_in, float* c_out, std::size_t ldc_out) noexcept {
    f32_microkernel<Arch, MR>(a, lda, b, steps, c_in, ldc_in, c_out, ldc_out);
  }
};

}  // namespace simd_detail

/// F32 GEMM on the SIMD backend: y = epilogue(x · Wᵀ) with W packed once into packed_f32 panels.
///
/// Register tile f32_tile<Arch> (8 x 32 on AVX-512, 6 x 32 in two halves on AVX2) of fused
/// multiply-adds; cache blocking over K (256) and N (256 columns) for M > the tile's rows, one
/// whole-K stream of the panels for decode (M <= the tile's rows); threads split N; the epilogue
/// runs per 32-column tile. Each output is an f32 sum in k order (for M <= 2, two interleaved
/// partial sums of even and odd k), so it differs from the double-precision reference by f32
/// rounding (at most γ_K Σ_k |x w|, ~ sqrt(K) ulp typically) and not with the thread count.
/// Shapes: x (M, K), y (M, N), row-major f32, strides allowed; x may hold any values (NaN/Inf
/// propagate). throws lowbit::error{errc::invalid_argument} if t.count < 1. Allocation: the packed
/// copy at prepare; per call with M > the tile's rows and K > 256, workspace scratch of
/// threads x 16 MR x 256 floats until it has grown. Blocking after Goto and van de Geijn, "Anatomy
/// of high-performance matrix multiplication" (ACM TOMS 34(3), 2008) and BLIS (Van Zee and van de
/// Geijn, ACM TOMS 41(3), 2015).
template <class Arch>
struct gemm_kernel<f32, backend::simd<Arch>> {
  using weight_type = packed_f32;
  using tile = simd_detail::f32_tile<Arch>;

  static weight_type prepare(weight_view<f32> w, threads t) { return pack_f32(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    check(t.count >= 1, errc::invalid_argument, "gemm: thread count must be >= 1");
    const std::size_t need = simd_detail::float_panels_scratch<tile>(x.rows, w.panels(), w.padded_cols(), t);
    if (ws.scratch.size() < need) ws.scratch.resize(need);
    simd_detail::run_float_panels<tile>(x.data, x.row_stride, x.rows, w, y, t, e, ws.scratch.data());
  }
};

}  // namespace lowbit
