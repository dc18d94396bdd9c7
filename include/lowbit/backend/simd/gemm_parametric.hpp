// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "lowbit/backend/simd/gemm_parametric_generic.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/parametric_activations.hpp"
#include "lowbit/backend/simd/parametric_panels.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/gemm/workspace.hpp"

namespace lowbit {

namespace simd_detail {

// Every microkernel below is written once over the ISA layer `I` (isa/isa.hpp): a 16-row panel is
// processed as I::parts registers of I::lanes rows (part h: rows lanes h .. lanes h + lanes - 1,
// bytes `I::bytes h` of each 64-byte chunk of the k_packed layouts, bytes `lanes h` of each
// 16-byte column of the column-major ones).

/// Rows of x per parametric microkernel call.
inline constexpr int parametric_tile_rows = 8;

/// Independent accumulator sets for MR rows: a decode (M = 1) microkernel would otherwise wait on
/// the latency of one FMA / integer-dot chain per output vector.
template <int MR>
inline constexpr int accumulator_sets = MR >= 4 ? 1 : 4 / MR;

/// int8_per_channel microkernel: MR activation rows x one 16-row panel, all of K.
/// acc[i][r] = s_w[r] s_x[i] Σ_k q_w[r, k] q_x[i, k], the sum exact in int32: the stored
/// q_w ^ 0x80 become s8 operands (I::from_offset_s8), I::dot4_s8 sums (q_w + s8_bias) q_x and the
/// kernel subtracts s8_bias Σ q_x (AVX-512 VNNI: vpdpbusd of q_w + 128; AVX2: vpmaddubsw of |q_w|
/// and q_x with q_w's sign, pair sums <= 2 * 128 * 127 < 2^15; NEON: sdot).
template <class I, int MR>
inline void int8_pc_microkernel(const std::uint8_t* panel, std::size_t k, const activation_q8& xq, std::size_t i0,
                                float (*acc_out)[16]) noexcept {
  using vi = typename I::vi;
  using layout = parametric_layout<int8_per_channel>;
  const std::size_t chunks = layout::k_pad(k) / 4;
  const std::size_t nb = xq.cols / 32;
  const float* sw = reinterpret_cast<const float*>(panel + layout::scales_offset(k));
  constexpr int U = accumulator_sets<MR>;
  const dword_alias* xw[MR];
  for (int i = 0; i < MR; ++i) xw[i] = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i));
  for (std::size_t h = 0; h < I::parts; ++h) {
    vi acc[U][MR];
    for (int u = 0; u < U; ++u)
      for (int i = 0; i < MR; ++i) acc[u][i] = I::zero();
    auto step = [&](std::size_t c, int u) {
      const auto w = I::operand_s8(I::from_offset_s8(I::load(panel + 64 * c + I::bytes * h)));
      for (int i = 0; i < MR; ++i) acc[u][i] = I::dot4_s8(acc[u][i], w, xw[i][c]);
    };
    std::size_t c = 0;
    for (; c + U <= chunks; c += U) {
      for (int u = 0; u < U; ++u) step(c + u, u);
    }
    for (; c < chunks; ++c) step(c, 0);
    const auto scale_w = I::load_f32(sw + I::lanes * h);
    for (int i = 0; i < MR; ++i) {
      const std::size_t row = (i0 + i) * nb;
      for (int u = 1; u < U; ++u) acc[0][i] = I::add32(acc[0][i], acc[u][i]);
      const vi dot = I::sub32(acc[0][i], I::splat_i32(I::s8_bias * xq.sum[row]));
      I::store_f32(acc_out[i] + I::lanes * h, I::mul(I::to_f32(dot), I::mul(scale_w, I::splat_f32(xq.d[row]))));
    }
  }
}

/// Panels per int8_per_channel prefill microkernel call, and its activation rows.
inline constexpr int int8_prefill_panels = 2;
inline constexpr int int8_prefill_rows = 8;

/// Whether the int8_per_channel prefill path (int8_pc_multi_microkernel) runs on ISA I: it keeps
/// 2 x 8 accumulators and two weight registers live, which needs 32 vector registers (AVX-512,
/// NEON; AVX2's 16 would spill).
template <class I>
inline constexpr bool int8_prefill_v = I::vector_registers >= 32;

/// int8_per_channel prefill microkernel: MR <= 8 activation rows x NP = 2 consecutive 16-row
/// panels (p0, p0 + stride), the same sums as int8_pc_microkernel; both weight vectors share each
/// activation broadcast. acc_out rows hold 16 NP outputs (panel by panel).
/// (Four panels x 6 rows, 24 accumulators, spilled under GCC 12 and ran 2x slower on AVX-512.)
template <class I, int NP, int MR>
[[gnu::noinline]] void int8_pc_multi_microkernel(const std::uint8_t* p0, std::size_t stride, std::size_t k,
                                                 const activation_q8& xq, std::size_t i0,
                                                 float (*acc_out)[16 * int8_prefill_panels]) noexcept {
  using vi = typename I::vi;
  using vf = typename I::vf;
  using layout = parametric_layout<int8_per_channel>;
  const std::size_t chunks = layout::k_pad(k) / 4;
  const std::size_t nb = xq.cols / 32;
  static_assert(NP == 2, "the prefill microkernel is written for two panels");
  const dword_alias* xw[MR];
  for (int i = 0; i < MR; ++i) xw[i] = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i));
  const std::uint8_t* p1 = p0 + stride;
  for (std::size_t h = 0; h < I::parts; ++h) {
    // Two named accumulator arrays (not one [MR][NP] array): GCC 12 keeps these in registers.
    vi acc0[MR], acc1[MR];
    for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = I::zero();
    for (std::size_t c = 0; c < chunks; ++c) {
      const auto w0 = I::operand_s8(I::from_offset_s8(I::load(p0 + 64 * c + I::bytes * h)));
      const auto w1 = I::operand_s8(I::from_offset_s8(I::load(p1 + 64 * c + I::bytes * h)));
      for (int i = 0; i < MR; ++i) {
        acc0[i] = I::dot4_s8(acc0[i], w0, xw[i][c]);
        acc1[i] = I::dot4_s8(acc1[i], w1, xw[i][c]);
      }
    }
    const vf s0 = I::load_f32(reinterpret_cast<const float*>(p0 + layout::scales_offset(k)) + I::lanes * h);
    const vf s1 = I::load_f32(reinterpret_cast<const float*>(p1 + layout::scales_offset(k)) + I::lanes * h);
    for (int i = 0; i < MR; ++i) {
      const std::size_t row = (i0 + i) * nb;
      const vi offset = I::splat_i32(I::s8_bias * xq.sum[row]);
      const vf sx = I::splat_f32(xq.d[row]);
      I::store_f32(acc_out[i] + I::lanes * h, I::mul(I::to_f32(I::sub32(acc0[i], offset)), I::mul(s0, sx)));
      I::store_f32(acc_out[i] + 16 + I::lanes * h, I::mul(I::to_f32(I::sub32(acc1[i], offset)), I::mul(s1, sx)));
    }
  }
}

/// int4_g32_asym microkernel: MR activation rows x one 16-row panel, all K / 32 groups.
/// acc[i][r] = Σ_g s_w[r, g] d_x[i, g] (Σ_k q_w[r, k] q_x[i, k] - z[r, g] Σ_k q_x[i, k]), the
/// bracket exact in int32 (activations as activation_q8 quantizes them, blocks of 32 = groups),
/// then acc = fma(f32(bracket), s_w d_x, acc) group by group.
template <class I, int MR>
inline void int4_g32_microkernel(const std::uint8_t* panel, std::size_t k, const activation_q8& xq, std::size_t i0,
                                 float (*acc_out)[16]) noexcept {
  using vi = typename I::vi;
  using vf = typename I::vf;
  using layout = parametric_layout<int4_g32_asym>;
  const std::size_t groups = k / 32;
  const vi low_mask = I::splat_u8(0x0f);
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint8_t* blk = panel + g * layout::group_bytes;
      // codes[2c]: codes 8c..8c+3 (low nibbles), codes[2c + 1]: 8c+4..8c+7 (high nibbles).
      vi codes[8];
      for (int c = 0; c < 4; ++c) {
        const vi v = I::load(blk + 64 * c + I::bytes * h);
        codes[2 * c] = I::and_(v, low_mask);
        codes[2 * c + 1] = I::and_(I::template srl16<4>(v), low_mask);
      }
      const vf sw = I::f16_to_f32(blk + layout::scales_offset + 2 * I::lanes * h);
      const vi z = I::widen_u8(blk + layout::zero_points_offset + I::lanes * h);
      for (int i = 0; i < MR; ++i) {
        // Start from -z Σ q_x so that the dot products land on the exact bracket.
        const vi dot =
            I::dot32_u4(I::mullo32(z, I::splat_i32(-xq.row_sum(i0 + i)[g])), codes, xq.row_qs(i0 + i) + 32 * g);
        const vf scale = I::mul(sw, I::splat_f32(xq.row_d(i0 + i)[g]));
        acc[i] = I::fmadd(I::to_f32(dot), scale, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + I::lanes * h, acc[i]);
  }
}

/// nf4_g64 microkernel: MR activation rows (f32) x one 16-row panel, all K / 64 groups.
/// Per group: gacc[i][r] = Σ_k x[i, k] nf4_values[q[r, k]] (f32 FMAs, the codes decoded through a
/// 16-entry table lookup, no multiply), then acc[i][r] += gacc[i][r] * f32(s_w[r, g]) (one FMA).
/// NF4 has no exact int8 form, so no integer dot.
template <class I, int MR>
inline void nf4_g64_microkernel(const std::uint8_t* panel, std::size_t k, matrix_view<const float> x, std::size_t i0,
                                float (*acc_out)[16]) noexcept {
  using vi = typename I::vi;
  using vf = typename I::vf;
  using layout = parametric_layout<nf4_g64>;
  const std::size_t groups = k / 64;
  constexpr int U = accumulator_sets<MR>;
  const float* table = nf4_values.data();
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint8_t* blk = panel + g * layout::group_bytes;
      vf gacc[U][MR];
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < MR; ++i) gacc[u][i] = I::zero_f32();
      // Column pair j feeds accumulator sets (2 JJ) % U and (2 JJ + 1) % U, JJ = j % 2.
      auto step = [&]<int JJ>(std::size_t j) {
        constexpr int u0 = (2 * JJ) % U, u1 = (2 * JJ + 1) % U;
        const vi v = I::widen_u8(blk + 16 * j + I::lanes * h);
        const vf w0 = I::lookup16_f32_low4(v, table);  // the low nibble: the lookup reads 4 bits
        const vf w1 = I::lookup16_f32_low4(I::template srl32<4>(v), table);
        for (int i = 0; i < MR; ++i) {
          const float* xr = x.row(i0 + i) + 64 * g + 2 * j;
          gacc[u0][i] = I::fmadd(I::splat_f32(xr[0]), w0, gacc[u0][i]);
          gacc[u1][i] = I::fmadd(I::splat_f32(xr[1]), w1, gacc[u1][i]);
        }
      };
      for (std::size_t j = 0; j < 32; j += 2) {
        step.template operator()<0>(j);
        step.template operator()<1>(j + 1);
      }
      const vf sw = I::f16_to_f32(blk + layout::scales_offset + 2 * I::lanes * h);
      for (int i = 0; i < MR; ++i) {
        for (int u = 1; u < U; ++u) gacc[0][i] = I::add(gacc[0][i], gacc[u][i]);
        acc[i] = I::fmadd(gacc[0][i], sw, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + I::lanes * h, acc[i]);
  }
}

/// fp8_e4m3_per_channel microkernel: MR activation rows (f32) x one 16-row panel, all of K.
/// acc[i][r] = s_w[r] Σ_k x[i, k] e4m3(q[r, k]): codes decoded in registers by bit manipulation
/// to e4m3 / 2^8 (I::e4m3_to_f32_over_256: through f16, exact), f32 FMAs over U accumulator sets,
/// the 2^8 folded into the scale.
template <class I, int MR>
inline void fp8_pc_microkernel(const std::uint8_t* panel, std::size_t k, matrix_view<const float> x, std::size_t i0,
                               float (*acc_out)[16]) noexcept {
  using vf = typename I::vf;
  using layout = parametric_layout<fp8_e4m3_per_channel>;
  const float* sw = reinterpret_cast<const float*>(panel + layout::scales_offset(k));
  constexpr int U = accumulator_sets<MR>;
  const float* xr[MR];
  for (int i = 0; i < MR; ++i) xr[i] = x.row(i0 + i);
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[U][MR];
    for (int u = 0; u < U; ++u)
      for (int i = 0; i < MR; ++i) acc[u][i] = I::zero_f32();
    auto step = [&]<int u>(std::size_t c) {
      const vf w = I::e4m3_to_f32_over_256(panel + 16 * c + I::lanes * h);
      for (int i = 0; i < MR; ++i) acc[u][i] = I::fmadd(I::splat_f32(xr[i][c]), w, acc[u][i]);
    };
    std::size_t c = 0;
    for (; c + U <= k; c += U) {
      [&]<int... u>(std::integer_sequence<int, u...>) { (step.template operator()<u>(c + u), ...); }
      (std::make_integer_sequence<int, U>{});
    }
    for (; c < k; ++c) step.template operator()<0>(c);
    const vf scale = I::mul(I::load_f32(sw + I::lanes * h), I::splat_f32(256.0f));
    for (int i = 0; i < MR; ++i) {
      for (int u = 1; u < U; ++u) acc[0][i] = I::add(acc[0][i], acc[u][i]);
      I::store_f32(acc_out[i] + I::lanes * h, I::mul(acc[0][i], scale));
    }
  }
}

/// Calls `tile.template operator()<MR>(i)` for rows [i_begin, i_end) in tiles of TileRows rows,
/// the rest as one tile of its own size.
template <int TileRows = parametric_tile_rows, class Tile>
inline void for_each_row_tile(std::size_t i_begin, std::size_t i_end, const Tile& tile) {
  constexpr std::size_t mr = TileRows;
  std::size_t i = i_begin;
  for (; i + mr <= i_end; i += mr) tile.template operator()<TileRows>(i);
  const std::size_t rest = i_end - i;
  [&]<std::size_t... R>(std::index_sequence<R...>) {
    ((rest == R + 1 ? (tile.template operator()<static_cast<int>(R + 1)>(i), 0) : 0), ...);
  }
  (std::make_index_sequence<mr - 1>{});
}

/// The microkernel of format Q for MR rows starting at i0 against panel `panel`. Kept out of line:
/// one call covers all of K, and inlining it into every epilogue's driver only multiplies code.
template <class Arch, class Q, int MR>
[[gnu::noinline]] void parametric_microkernel(const std::uint8_t* panel, std::size_t k, matrix_view<const float> x,
                                              const activation_q8& xq, std::size_t i0, float (*acc)[16]) noexcept {
  using I = isa_ops<Arch>;
  if constexpr (std::is_same_v<Q, int8_per_channel>) {
    int8_pc_microkernel<I, MR>(panel, k, xq, i0, acc);
  } else if constexpr (std::is_same_v<Q, int4_g32_asym>) {
    int4_g32_microkernel<I, MR>(panel, k, xq, i0, acc);
  } else if constexpr (std::is_same_v<Q, nf4_g64>) {
    nf4_g64_microkernel<I, MR>(panel, k, x, i0, acc);
  } else {
    fp8_pc_microkernel<I, MR>(panel, k, x, i0, acc);
  }
}

}  // namespace simd_detail

/// GEMM of the parametric formats int8_per_channel, int4_g32_asym, nf4_g64 and
/// fp8_e4m3_per_channel on the SIMD backend: y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ). Every other
/// quant<...> takes the generic kernel of gemm_parametric_generic.hpp (included above).
///
/// Weights: packed_parametric<Q> (pack_parametric, once at load). Activations:
/// - int8_per_channel: quantized per row to int8 (quantize_activations_per_row), int32 dot
///   (the ISA layer's dot4_s8: AVX-512 VNNI vpdpbusd, AVX2 vpmaddubsw, NEON sdot), y = s_w s_x dot;
/// - int4_g32_asym: quantized per block of 32 (activation_q8, ggml's Q8_0 rules), int32 dot per
///   group with the zero point subtracted exactly, f32 accumulation over groups;
/// - nf4_g64, fp8_e4m3_per_channel: f32 as given, weights decoded in registers to f32, f32 FMA.
/// Error against the reference (double dot of the dequantized W): integer formats
/// <= Σ_k |w(n, k)| step_x(i, k) / 2 (the activation rounding) plus f32 rounding; float formats
/// f32 rounding only (~K ulps of Σ |x w|).
/// Threads split panels (and row blocks for few panels; for_each_panel_tile).
/// throws lowbit::error{errc::invalid_argument} for NaN/Inf activations in the integer formats.
/// Allocation: none once `ws` has grown (the integer formats keep their codes in ws.x_q8).
/// Sources: gemmlowp doc/quantization.md; integer-only inference arXiv:1712.05877; QLoRA
/// arXiv:2305.14314; FP8 arXiv:2209.05433.
template <quant_format Q, class Arch>
requires simd_detail::parametric_simd_v<Q>
struct quantized_gemm_kernel<Q, backend::simd<Arch>> {
  using weight_type = packed_parametric<Q>;

  static weight_type prepare(const quantized_matrix<Q>& w, threads t) { return pack_parametric(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    if constexpr (std::is_same_v<Q, int8_per_channel>) {
      simd_detail::quantize_activations_per_row<Arch>(x, simd_detail::parametric_layout<Q>::k_pad(w.k), ws.x_q8);
    } else if constexpr (std::is_same_v<Q, int4_g32_asym>) {
      simd_detail::quantize_activations<Arch>(x, ws.x_q8);
    }
    const activation_q8& xq = ws.x_q8;
    if constexpr (std::is_same_v<Q, int8_per_channel> && simd_detail::int8_prefill_v<simd_detail::isa_ops<Arch>>) {
      constexpr std::size_t np = simd_detail::int8_prefill_panels;
      if (x.rows >= simd_detail::parametric_tile_rows && w.panels() >= np) {
        // Prefill: pairs of panels (the last one alone when their number is odd).
        const std::size_t groups = (w.panels() + np - 1) / np;
        simd_detail::for_each_panel_tile(t, groups, x.rows, [&](std::size_t pg, std::size_t i0, std::size_t i1) {
          const std::size_t p = np * pg;
          if (p + np > w.panels()) {
            for (std::size_t q = p; q < w.panels(); ++q) run_panel(x, xq, w, q, i0, i1, y, e);
            return;
          }
          float acc[simd_detail::int8_prefill_rows][16 * np];
          simd_detail::for_each_row_tile<simd_detail::int8_prefill_rows>(i0, i1, [&]<int MR>(std::size_t i) {
            simd_detail::int8_pc_multi_microkernel<simd_detail::isa_ops<Arch>, np, MR>(w.panel(p), w.panel_stride, w.k,
                                                                                       xq, i, acc);
            for (int r = 0; r < MR; ++r) {
              for (std::size_t q = 0; q < np; ++q) {
                const std::size_t n0 = (p + q) * 16;
                e(y.row(i + r), acc[r] + 16 * q, n0, std::min<std::size_t>(16, w.n - n0));
              }
            }
          });
        });
        return;
      }
    }
    simd_detail::for_each_panel_tile(t, w.panels(), x.rows, [&](std::size_t p, std::size_t i0, std::size_t i1) {
      run_panel(x, xq, w, p, i0, i1, y, e);
    });
  }

 private:
  // Rows [i0, i1) of x against panel p, through the epilogue.
  template <epilogue::stage E>
  static void run_panel(matrix_view<const float> x, const activation_q8& xq, const weight_type& w, std::size_t p,
                        std::size_t i0, std::size_t i1, matrix_view<float> y, const E& e) {
    float acc[simd_detail::parametric_tile_rows][16];
    const std::size_t n0 = p * 16;
    const std::size_t count = std::min<std::size_t>(16, w.n - n0);
    simd_detail::for_each_row_tile(i0, i1, [&]<int MR>(std::size_t i) {
      simd_detail::parametric_microkernel<Arch, Q, MR>(w.panel(p), w.k, x, xq, i, acc);
      for (int r = 0; r < MR; ++r) e(y.row(i + r), acc[r], n0, count);
    });
  }
};

}  // namespace lowbit
