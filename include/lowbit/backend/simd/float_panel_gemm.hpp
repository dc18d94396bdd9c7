// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"

namespace lowbit::simd_detail {

/// Cache blocking of the float GEMMs (f32, bf16) over packed float_panels.
///
/// Per thread: its panels in chunks of at most `nc_panels` (32 * 8 = 256 columns), rows of x in
/// chunks of at most `mc_tiles * Tile::mr` (128 with AVX-512), K in blocks of at most `Tile::kc`,
/// each split into equal parts (balanced_block) so that no thin tail chunk re-streams a block.
/// Inside, one MR x kc tile of x (L1) meets each panel's kc x 32 block (the kc x 256 weight block
/// stays in L2); partial sums of the row chunk live in a per-thread scratch of mc x 256 floats
/// between K blocks (none when K <= kc). With M <= Tile::mr (decode) nothing is blocked: each
/// panel streams once, whole, through the registers.
struct float_blocking {
  static constexpr std::size_t nc_panels = 8;
  static constexpr std::size_t mc_tiles = 16;
};

/// The size of the ceil(total / max_block) equal blocks covering `total`, rounded up to a multiple
/// of `unit` (so at most max_block when max_block is a multiple of unit). total >= 1.
constexpr std::size_t balanced_block(std::size_t total, std::size_t max_block, std::size_t unit) noexcept {
  const std::size_t blocks = (total + max_block - 1) / max_block;
  const std::size_t size = (total + blocks - 1) / blocks;
  return (size + unit - 1) / unit * unit;
}

/// Floats of scratch run_float_panels needs for M rows, `panels` panels of Kp = kp and t threads.
template <class Tile>
constexpr std::size_t float_panels_scratch(std::size_t m, std::size_t panels, std::size_t kp, threads t) noexcept {
  if (m <= static_cast<std::size_t>(Tile::mr) || kp <= Tile::kc || panels == 0) return 0;
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(t.count), panels);
  return workers * float_blocking::mc_tiles * static_cast<std::size_t>(Tile::mr) * float_blocking::nc_panels * 32;
}

/// Calls f(std::integral_constant<int, I>{}) for I = 0, 1, ..., N - 1, unrolled at compile time:
/// the microkernels index their accumulator arrays with constants only, so that GCC at -O2 keeps
/// them in registers instead of on the stack.
template <int N, class F>
inline void unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

/// Calls `f.template operator()<R>()` with R = rows, for 1 <= rows <= MaxRows.
template <int MaxRows, class F>
inline void with_tile_rows(std::size_t rows, F&& f) {
  [&]<int... R>(std::integer_sequence<int, R...>) {
    ((rows == static_cast<std::size_t>(R + 1) ? (f.template operator()<R + 1>(), 0) : 0), ...);
  }
  (std::make_integer_sequence<int, MaxRows>{});
}

/// y = epilogue(x · Wᵀ) over packed float panels with the register tile `Tile`.
///
/// `Tile` provides `mr` (rows per tile), `kr` (k per step), `kc` (k per cache block, a multiple of
/// kr) and `compute<MR>(a, lda, b, steps, c_in, ldc_in, c_out, ldc_out)`:
/// c_out(MR, 32) = c_in (or 0 when c_in is null) + Σ_{s < steps} a(:, s) ⊗ b(s, :).
/// `a`: the activations as Tile reads them, M rows of `lda` slots (one slot per k step; Kp / kr
/// slots hold data). `scratch`: float_panels_scratch<Tile>(M, panels, Kp, t) floats. Threads split
/// the panels (N); each output element's arithmetic does not depend on the thread count.
/// Preconditions (unchecked): y is M x N, t.count >= 1.
template <class Tile, class Packed, class A, class Epilogue>
inline void run_float_panels(const A* a, std::size_t lda, std::size_t m, const Packed& w, matrix_view<float> y,
                             threads t, const Epilogue& e, float* scratch) {
  constexpr std::size_t nr = Packed::nr;
  constexpr std::size_t mr = static_cast<std::size_t>(Tile::mr);
  const std::size_t panels = w.panels();
  if (m == 0 || panels == 0) return;
  const std::size_t kp = w.padded_cols();
  const bool tiled = m > mr;  // several row tiles: chunk N and M so that blocks are reused from cache
  const bool blocked = tiled && kp > Tile::kc;
  const std::size_t kc = blocked ? balanced_block(kp, Tile::kc, Tile::kr) : std::max<std::size_t>(kp, Tile::kr);
  const std::size_t k_blocks = std::max<std::size_t>(1, (kp + kc - 1) / kc);
  const std::size_t mc = tiled ? balanced_block(m, float_blocking::mc_tiles * mr, mr) : m;
  const std::size_t ldc = float_blocking::nc_panels * nr;
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(t.count), panels);
  parallel_for(threads{static_cast<int>(workers)}, workers, 1, [&](std::size_t w_begin, std::size_t w_end) {
    for (std::size_t wk = w_begin; wk < w_end; ++wk) {
      float* c = blocked ? scratch + wk * float_blocking::mc_tiles * mr * ldc : nullptr;  // (mc, 256) partial sums
      const std::size_t p_begin = panels * wk / workers, p_end = panels * (wk + 1) / workers;
      const std::size_t nc = tiled ? balanced_block(p_end - p_begin, float_blocking::nc_panels, 1) : p_end - p_begin;
      for (std::size_t pc = p_begin; pc < p_end; pc += nc) {
        const std::size_t pc_end = std::min(p_end, pc + nc);
        for (std::size_t i0 = 0; i0 < m; i0 += mc) {
          const std::size_t i1 = std::min(m, i0 + mc);
          for (std::size_t kb = 0; kb < k_blocks; ++kb) {
            const std::size_t k0 = kb * kc, steps = (std::min(kp, k0 + kc) - k0) / Tile::kr;
            const bool first = kb == 0, last = kb + 1 == k_blocks;
            for (std::size_t i = i0; i < i1; i += mr) {
              with_tile_rows<Tile::mr>(std::min(mr, i1 - i), [&]<int MR>() {
                alignas(64) float tile[MR][nr];
                for (std::size_t p = pc; p < pc_end; ++p) {
                  float* c_tile = blocked ? c + (i - i0) * ldc + (p - pc) * nr : nullptr;
                  Tile::template compute<MR>(a + i * lda + k0 / Tile::kr, lda, w.panel(p) + k0 * nr, steps,
                                             first ? nullptr : c_tile, ldc, last ? &tile[0][0] : c_tile,
                                             last ? nr : ldc);
                  if (last) {
                    const std::size_t n0 = p * nr, count = std::min(nr, w.rows - n0);
                    for (int r = 0; r < MR; ++r) e(y.row(i + static_cast<std::size_t>(r)), tile[r], n0, count);
                  }
                }
              });
            }
          }
        }
      }
    }
  });
}

}  // namespace lowbit::simd_detail
