// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// GCC 12 reports -Wuninitialized inside its own AVX-512 headers (the `__Y = __Y` idiom of
// _mm512_undefined_*) once kernels inline them; the state at the first inclusion decides (as in
// block_dot_panels.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>
#include <cstdint>
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

/// F16 weights W(N, K) in k-major panels of 32 columns (`k_packed<32, 1>`): element W(32p + r, k)
/// of panel p at index 32k + r (IEEE binary16 bits); one k is 64 bytes, one cache line. See
/// float_panels.
using packed_f16 = float_panels<f16, 1>;

/// Packs F16 weights W(N, K) (file layout) into packed_f16 panels. Threads split the panels.
inline packed_f16 pack_f16(weight_view<f16> w, threads t = {}) { return pack_float_panels<packed_f16>(w, t); }

/// Restores the file layout of packed F16 weights into `out` (N * K values): the inverse of
/// pack_f16. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_f16(const packed_f16& w, std::span<f16::block> out) { unpack_float_panels(w, out); }

namespace simd_detail {

/// One batch of f32 from the binary16 values at p (`vcvtph2ps`, exact): 16 with AVX-512, 8 with
/// AVX2 + F16C. p: batch::size halves, 16-byte aligned (AVX2) or 32-byte aligned (AVX-512).
template <class Arch>
inline xsimd::batch<float, Arch> load_f16(const std::uint16_t* p) noexcept {
  if constexpr (xsimd::batch<float, Arch>::size == 16) {
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    static_assert(xsimd::batch<float, Arch>::size == 8, "lowbit: the simd F16 kernel needs AVX2 (F16C) or AVX-512");
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
  }
}

/// The F16 register tile: MR rows of x (f32) times 32 columns of one F16 panel, the weights
/// widened in registers by `vcvtph2ps` and multiplied by FMA.
///
/// c_out(i, j) = c_in(i, j) + Σ_{s < steps} a[i * lda + s] · f32(b[32 s + j]) for i < MR, j < 32,
/// c_in = 0 when null. The same register blocking as f32_microkernel (MR x 2 accumulators per
/// pass; for MR <= 2 even and odd k in separate accumulators, summed at the end).
/// Preconditions: b 64-byte aligned, MR <= f16_tile<Arch>::mr.
template <class Arch, int MR>
[[gnu::flatten]] inline void f16_microkernel(const float* a, std::size_t lda, const f16::block* b_blocks,
                                             std::size_t steps, const float* c_in, std::size_t ldc_in, float* c_out,
                                             std::size_t ldc_out) noexcept {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  constexpr int nb = 2, ku = MR <= 2 ? 2 : 1, tiles = MR * nb;
  const std::uint16_t* b = &b_blocks->bits;
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
        unroll<nb>([&](auto j) { bv[j] = load_f16<Arch>(b + (s + u) * 32 + j0 + j * lanes); });
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

/// The F16 tile policy of run_float_panels: as f32_tile (8 rows with AVX-512, 6 with AVX2), k
/// blocks of 512 (a 32 KiB weight block per panel, the same bytes as F32's 256).
template <class Arch>
struct f16_tile {
  static constexpr int mr = xsimd::batch<float, Arch>::size >= 16 ? 8 : 6;
  static constexpr std::size_t kr = 1;
  static constexpr std::size_t kc = 512;
  template <int MR>
  static void compute(const float* a, std::size_t lda, const f16::block* b, std::size_t steps, const float* c_in,
                      std::size_t ldc_in, float* c_out, std::size_t ldc_out) noexcept {
    f16_microkernel<Arch, MR>(a, lda, b, steps, c_in, ldc_in, c_out, ldc_out);
  }
};

}  // namespace simd_detail

/// F16 GEMM on the SIMD backend: y = epilogue(x · Wᵀ) with W packed once into packed_f16 panels,
/// widened to f32 in registers (`vcvtph2ps`, exact) and multiplied with the f32 activations by FMA
/// in the register tile f16_tile<Arch>, blocked as the F32 kernel (run_float_panels). Each output
/// is an f32 sum in k order (for M <= 2 two interleaved partial sums), so it differs from the
/// double-precision reference by f32 rounding only, and not with the thread count.
/// Shapes: x (M, K), y (M, N), row-major f32, strides allowed; x may hold any values (NaN/Inf
/// propagate). throws lowbit::error{errc::invalid_argument} if t.count < 1. Allocation: the packed
/// copy at prepare; per call with M > the tile's rows and K > 512, workspace scratch.
/// Source of the format: IEEE 754-2008 binary16 (GGUF type F16).
template <class Arch>
struct gemm_kernel<f16, backend::simd<Arch>> {
  using weight_type = packed_f16;
  using tile = simd_detail::f16_tile<Arch>;

  static weight_type prepare(weight_view<f16> w, threads t) { return pack_f16(w, t); }

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
