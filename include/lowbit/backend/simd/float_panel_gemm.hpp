// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <utility>

#include "lowbit/backend/simd/float_panels.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit::simd_detail {

/// Cache blocking of the float GEMMs (f32, f16, bf16) over packed float_panels.
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

/// What float_microkernel needs of a packed B operand (a `k_packed<32, 1>` float panel): the
/// element type of the panel and `load<Arch>(p)`, one batch of f32 widened exactly from the
/// `batch<float, Arch>::size` consecutive elements at p (p 64-byte aligned for AVX-512, 32-byte for
/// AVX2: a multiple of 16 elements past a panel's start).
template <class L, class Arch>
concept float_b_loader = requires(const typename L::element_type* p) {
  { L::template load<Arch>(p) } -> std::same_as<xsimd::batch<float, Arch>>;
};

/// The register tile of the f32-activation float formats (F32, F16): MR rows of x times 32 columns
/// of one panel, xsimd FMAs; `Loader` widens B to f32 (float_b_loader).
///
/// c_out(i, j) = c_in(i, j) + Σ_{s < steps} a[i * lda + s] · B(s, j) for i < MR, j < 32, with
/// B(s, j) = Loader's value of element 32 s + j of b and c_in = 0 when null. One call covers the 32
/// columns in 32 / (2 lanes) passes of 2 batches (one pass with AVX-512, two with AVX2, four with
/// NEON), each pass holding MR x 2 accumulators. For MR <= 2 the even and odd k feed separate
/// accumulators (summed at the end), so that decode is not bound by the FMA latency. Preconditions: b 64-byte aligned,
/// MR <= float_tile<Arch, Loader, KC>::mr.
template <class Arch, class Loader, int MR>
requires float_b_loader<Loader, Arch>
[[gnu::flatten]] inline void float_microkernel(const float* a, std::size_t lda, const typename Loader::element_type* b,
                                               std::size_t steps, const float* c_in, std::size_t ldc_in, float* c_out,
                                               std::size_t ldc_out) noexcept {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  constexpr int nb = 2, ku = MR <= 2 ? 2 : 1, tiles = MR * nb;
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
        unroll<nb>([&](auto j) { bv[j] = Loader::template load<Arch>(b + (s + u) * 32 + j0 + j * lanes); });
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

/// The x operand of run_float_panels as float_tile reads it: `data` holds M rows of `stride` floats.
struct float_activations {
  const float* data = nullptr;
  std::size_t stride = 0;
};

/// The tile policy of run_float_panels for the f32-activation formats: float_microkernel with
/// `Loader`, 8 rows with AVX-512 (16 zmm accumulators), 6 with narrower registers (12 of 16 ymm),
/// k blocks of KC (chosen so that a panel's kc x 32 weight block is 32 KiB). x is read in place
/// (no activation scratch).
template <class Arch, class Loader, std::size_t KC>
requires float_b_loader<Loader, Arch>
struct float_tile {
  using element_type = typename Loader::element_type;
  static constexpr int mr = xsimd::batch<float, Arch>::size >= 16 ? 8 : 6;
  static constexpr std::size_t kr = 1;
  static constexpr std::size_t kc = KC;
  /// Floats of workspace the activations need: none.
  static constexpr std::size_t activation_floats(std::size_t, std::size_t) noexcept { return 0; }
  /// x itself, one slot per k.
  static float_activations activations(matrix_view<const float> x, std::size_t, float*) noexcept {
    return {x.data, x.row_stride};
  }
  template <int MR>
  static void compute(const float* a, std::size_t lda, const element_type* b, std::size_t steps, const float* c_in,
                      std::size_t ldc_in, float* c_out, std::size_t ldc_out) noexcept {
    float_microkernel<Arch, Loader, MR>(a, lda, b, steps, c_in, ldc_in, c_out, ldc_out);
  }
};

/// The gemm_kernel of a float format F on float_panels<F, Tile::kr> (F32, F16, BF16): prepare packs
/// W into panels; run checks the thread count, grows the workspace to the tile's activation slots
/// (`Tile::activation_floats(M, Kp)`, filled by `Tile::activations(x, Kp, scratch)`, which returns
/// the operand as `data` and `stride`, as float_activations) plus the
/// K-blocking partial sums (float_panels_scratch), then runs run_float_panels<Tile>.
/// throws lowbit::error{errc::invalid_argument} if t.count < 1.
template <class F, class Tile>
struct float_panel_kernel {
  using weight_type = float_panels<F, Tile::kr>;
  using tile = Tile;

  static weight_type prepare(weight_view<F> w, threads t) { return pack_float_panels<weight_type>(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    check(t.count >= 1, errc::invalid_argument, "gemm: thread count must be >= 1");
    const std::size_t kp = w.padded_cols();
    const std::size_t a_floats = Tile::activation_floats(x.rows, kp);
    const std::size_t need = a_floats + float_panels_scratch<Tile>(x.rows, w.panels(), kp, t);
    if (ws.scratch.size() < need) ws.scratch.resize(need);
    const auto a = Tile::activations(x, kp, ws.scratch.data());
    run_float_panels<Tile>(a.data, a.stride, x.rows, w, y, t, e, ws.scratch.data() + a_floats);
  }
};

}  // namespace lowbit::simd_detail
