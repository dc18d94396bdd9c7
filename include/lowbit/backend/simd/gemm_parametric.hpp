// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "lowbit/backend/simd/gemm_parametric_generic.hpp"
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

// int32 -> f32 conversions use the all-ones masked form: GCC 12's unmasked _mm512_cvtepi32_ps
// passes _mm512_undefined_ps() and warns (-Wuninitialized) wherever it is inlined.

/// Rows of x per parametric microkernel call.
inline constexpr int parametric_tile_rows = 8;

/// Independent accumulator sets for MR rows: a decode (M = 1) microkernel would otherwise wait on
/// the latency of one FMA / vpdpbusd chain per output vector.
template <int MR>
inline constexpr int accumulator_sets = MR >= 4 ? 1 : 4 / MR;

/// int8_per_channel microkernel: MR activation rows x one 16-row panel, all of K.
/// acc[i][r] = s_w[r] s_x[i] Σ_k q_w[r, k] q_x[i, k], the sum exact in int32: VNNI computes
/// Σ (q_w + 128) q_x and subtracts 128 Σ q_x; AVX2 uses |q_w| x (q_x with q_w's sign) in vpmaddubsw
/// (pair sums <= 2 * 128 * 127 < 2^15).
template <class Arch, int MR>
inline void int8_pc_microkernel(const std::uint8_t* panel, std::size_t k, const activation_q8& xq, std::size_t i0,
                                float (*acc_out)[16]) noexcept {
  using layout = parametric_layout<int8_per_channel>;
  const std::size_t chunks = layout::k_pad(k) / 4;
  const std::size_t nb = xq.cols / 32;
  const float* sw = reinterpret_cast<const float*>(panel + layout::scales_offset(k));
  constexpr int U = accumulator_sets<MR>;
  if constexpr (has_vnni_v<Arch>) {
    __m512i acc[U][MR];
    for (int u = 0; u < U; ++u)
      for (int i = 0; i < MR; ++i) acc[u][i] = _mm512_setzero_si512();
    const dword_alias* xw[MR];
    for (int i = 0; i < MR; ++i) xw[i] = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i));
    std::size_t c = 0;
    for (; c + U <= chunks; c += U) {
      for (int u = 0; u < U; ++u) {
        const __m512i w = _mm512_load_si512(panel + 64 * (c + u));
        for (int i = 0; i < MR; ++i) acc[u][i] = _mm512_dpbusd_epi32(acc[u][i], w, _mm512_set1_epi32(xw[i][c + u]));
      }
    }
    for (; c < chunks; ++c) {
      const __m512i w = _mm512_load_si512(panel + 64 * c);
      for (int i = 0; i < MR; ++i) acc[0][i] = _mm512_dpbusd_epi32(acc[0][i], w, _mm512_set1_epi32(xw[i][c]));
    }
    const __m512 scale_w = _mm512_loadu_ps(sw);
    for (int i = 0; i < MR; ++i) {
      const std::size_t row = (i0 + i) * nb;
      for (int u = 1; u < U; ++u) acc[0][i] = _mm512_add_epi32(acc[0][i], acc[u][i]);
      const __m512i dot = _mm512_sub_epi32(acc[0][i], _mm512_set1_epi32(128 * xq.sum[row]));
      _mm512_storeu_ps(acc_out[i], _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xffff, dot),
                                                 _mm512_mul_ps(scale_w, _mm512_set1_ps(xq.d[row]))));
    }
  } else if constexpr (has_avx2_v<Arch>) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2; ++h) {
      __m256i acc[U][MR];
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < MR; ++i) acc[u][i] = _mm256_setzero_si256();
      auto step = [&](std::size_t c, int u) {
        const __m256i wq =
            _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(panel + 64 * c + 32 * h)), flip);
        const __m256i wabs = _mm256_abs_epi8(wq);
        for (int i = 0; i < MR; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i));
          const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(xw[c]), wq);
          acc[u][i] = _mm256_add_epi32(acc[u][i], _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, xs), ones));
        }
      };
      std::size_t c = 0;
      for (; c + U <= chunks; c += U) {
        for (int u = 0; u < U; ++u) step(c + u, u);
      }
      for (; c < chunks; ++c) step(c, 0);
      for (int u = 1; u < U; ++u)
        for (int i = 0; i < MR; ++i) acc[0][i] = _mm256_add_epi32(acc[0][i], acc[u][i]);
      const __m256 scale_w = _mm256_loadu_ps(sw + 8 * h);
      for (int i = 0; i < MR; ++i) {
        const __m256 s = _mm256_mul_ps(scale_w, _mm256_set1_ps(xq.d[(i0 + i) * nb]));
        _mm256_storeu_ps(acc_out[i] + 8 * h, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[0][i]), s));
      }
    }
  } else {
    static_assert(dependent_false<Arch>, "lowbit: the simd parametric kernels need AVX2 or AVX-512 VNNI");
  }
}

/// Panels per int8_per_channel prefill microkernel call, and its activation rows.
inline constexpr int int8_prefill_panels = 2;
inline constexpr int int8_prefill_rows = 8;

/// int8_per_channel prefill microkernel (AVX-512 VNNI): MR <= 8 activation rows x NP = 2
/// consecutive 16-row panels (p0, p0 + stride), the same sums as int8_pc_microkernel; both weight
/// vectors share each activation broadcast. acc_out rows hold 16 NP outputs (panel by panel).
/// (Four panels x 6 rows, 24 accumulators, spilled under GCC 12 and ran 2x slower.)
template <int NP, int MR>
[[gnu::noinline]] void int8_pc_multi_microkernel(const std::uint8_t* p0, std::size_t stride, std::size_t k,
                                                 const activation_q8& xq, std::size_t i0,
                                                 float (*acc_out)[16 * int8_prefill_panels]) noexcept {
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  using layout = parametric_layout<int8_per_channel>;
  const std::size_t chunks = layout::k_pad(k) / 4;
  const std::size_t nb = xq.cols / 32;
  static_assert(NP == 2, "the prefill microkernel is written for two panels");
  // Two named accumulator arrays (not one [MR][NP] array): GCC 12 keeps these in registers.
  __m512i acc0[MR], acc1[MR];
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_si512();
  const dword_alias* xw[MR];
  for (int i = 0; i < MR; ++i) xw[i] = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i));
  const std::uint8_t* p1 = p0 + stride;
  for (std::size_t c = 0; c < chunks; ++c) {
    const __m512i w0 = _mm512_load_si512(p0 + 64 * c);
    const __m512i w1 = _mm512_load_si512(p1 + 64 * c);
    for (int i = 0; i < MR; ++i) {
      const __m512i xv = _mm512_set1_epi32(xw[i][c]);
      acc0[i] = _mm512_dpbusd_epi32(acc0[i], w0, xv);
      acc1[i] = _mm512_dpbusd_epi32(acc1[i], w1, xv);
    }
  }
  const __m512 s0 = _mm512_loadu_ps(reinterpret_cast<const float*>(p0 + layout::scales_offset(k)));
  const __m512 s1 = _mm512_loadu_ps(reinterpret_cast<const float*>(p1 + layout::scales_offset(k)));
  for (int i = 0; i < MR; ++i) {
    const std::size_t row = (i0 + i) * nb;
    const __m512i offset = _mm512_set1_epi32(128 * xq.sum[row]);
    const __m512 sx = _mm512_set1_ps(xq.d[row]);
    _mm512_storeu_ps(acc_out[i], _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xffff, _mm512_sub_epi32(acc0[i], offset)),
                                               _mm512_mul_ps(s0, sx)));
    _mm512_storeu_ps(acc_out[i] + 16, _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xffff, _mm512_sub_epi32(acc1[i], offset)),
                                                    _mm512_mul_ps(s1, sx)));
  }
#else
  (void)p0, (void)stride, (void)k, (void)xq, (void)i0, (void)acc_out;
#endif
}

/// int4_g32_asym microkernel: MR activation rows x one 16-row panel, all K / 32 groups.
/// acc[i][r] = Σ_g s_w[r, g] d_x[i, g] (Σ_k q_w[r, k] q_x[i, k] - z[r, g] Σ_k q_x[i, k]), the
/// bracket exact in int32 (activations as activation_q8 quantizes them, blocks of 32 = groups).
template <class Arch, int MR>
inline void int4_g32_microkernel(const std::uint8_t* panel, std::size_t k, const activation_q8& xq, std::size_t i0,
                                 float (*acc_out)[16]) noexcept {
  using layout = parametric_layout<int4_g32_asym>;
  const std::size_t groups = k / 32;
  if constexpr (has_vnni_v<Arch>) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint8_t* blk = panel + g * layout::group_bytes;
      __m512i lo[4], hi[4];
      for (int c = 0; c < 4; ++c) {
        const __m512i v = _mm512_load_si512(blk + 64 * c);
        lo[c] = _mm512_and_si512(v, low_mask);
        hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low_mask);
      }
      const __m512 sw =
          _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk + layout::scales_offset)));
      const __m512i z =
          _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(blk + layout::zero_points_offset)));
      for (int i = 0; i < MR; ++i) {
        const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + 32 * g);
        // Start from -z Σ q_x so that the dot products land on the exact bracket.
        __m512i s0 = _mm512_mullo_epi32(z, _mm512_set1_epi32(-xq.row_sum(i0 + i)[g]));
        __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi[0], _mm512_set1_epi32(xw[1]));
        s0 = _mm512_dpbusd_epi32(s0, lo[0], _mm512_set1_epi32(xw[0]));
        s0 = _mm512_dpbusd_epi32(s0, lo[1], _mm512_set1_epi32(xw[2]));
        s1 = _mm512_dpbusd_epi32(s1, hi[1], _mm512_set1_epi32(xw[3]));
        s0 = _mm512_dpbusd_epi32(s0, lo[2], _mm512_set1_epi32(xw[4]));
        s1 = _mm512_dpbusd_epi32(s1, hi[2], _mm512_set1_epi32(xw[5]));
        s0 = _mm512_dpbusd_epi32(s0, lo[3], _mm512_set1_epi32(xw[6]));
        s1 = _mm512_dpbusd_epi32(s1, hi[3], _mm512_set1_epi32(xw[7]));
        const __m512 scale = _mm512_mul_ps(sw, _mm512_set1_ps(xq.row_d(i0 + i)[g]));
        acc[i] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xffff, _mm512_add_epi32(s0, s1)), scale, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) _mm512_storeu_ps(acc_out[i], acc[i]);
  } else if constexpr (has_avx2_v<Arch>) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2; ++h) {
      __m256 acc[MR];
      for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
      for (std::size_t g = 0; g < groups; ++g) {
        const std::uint8_t* blk = panel + g * layout::group_bytes;
        __m256i lo[4], hi[4];
        for (int c = 0; c < 4; ++c) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 64 * c + 32 * h));
          lo[c] = _mm256_and_si256(v, low_mask);
          hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_mask);
        }
        const __m256 sw =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + layout::scales_offset + 16 * h)));
        const __m256i z = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + layout::zero_points_offset + 8 * h)));
        for (int i = 0; i < MR; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + 32 * g);
          // Eight vpmaddubsw pair sums of at most 2 * 15 * 128 each fit in int16 together.
          __m256i s16 = _mm256_maddubs_epi16(lo[0], _mm256_set1_epi32(xw[0]));
          s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[0], _mm256_set1_epi32(xw[1])));
          for (int c = 1; c < 4; ++c) {
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo[c], _mm256_set1_epi32(xw[2 * c])));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[c], _mm256_set1_epi32(xw[2 * c + 1])));
          }
          const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones),
                                               _mm256_mullo_epi32(z, _mm256_set1_epi32(xq.row_sum(i0 + i)[g])));
          const __m256 scale = _mm256_mul_ps(sw, _mm256_set1_ps(xq.row_d(i0 + i)[g]));
          acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[i]);
        }
      }
      for (int i = 0; i < MR; ++i) _mm256_storeu_ps(acc_out[i] + 8 * h, acc[i]);
    }
  } else {
    static_assert(dependent_false<Arch>, "lowbit: the simd parametric kernels need AVX2 or AVX-512 VNNI");
  }
}

/// nf4_g64 microkernel: MR activation rows (f32) x one 16-row panel, all K / 64 groups.
/// The weights are decoded in registers exactly as quantized_matrix::dequantize_row does
/// (`w = f32(s_w) * nf4_values[q]`, one rounding, through a 16-entry permute), then
/// acc[i][r] = Σ_k x[i, k] w[r, k] with f32 FMAs. NF4 has no exact int8 form, so no integer dot.
template <class Arch, int MR>
inline void nf4_g64_microkernel(const std::uint8_t* panel, std::size_t k, matrix_view<const float> x, std::size_t i0,
                                float (*acc_out)[16]) noexcept {
  using layout = parametric_layout<nf4_g64>;
  const std::size_t groups = k / 64;
  constexpr int U = accumulator_sets<MR>;
  if constexpr (has_avx512bw_v<Arch>) {
    const __m512 table = _mm512_loadu_ps(nf4_values.data());
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint8_t* blk = panel + g * layout::group_bytes;
      // Σ_k x nf4(q) over the group in gacc, then one multiply-add by the group's scale: the
      // decode costs two permutes per 32 weights and no multiply.
      __m512 gacc[U][MR];
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < MR; ++i) gacc[u][i] = _mm512_setzero_ps();
      // Column pair j feeds accumulator sets (2 JJ) % U and (2 JJ + 1) % U, JJ = j % 2.
      auto step = [&]<int JJ>(std::size_t j) {
        constexpr int u0 = (2 * JJ) % U, u1 = (2 * JJ + 1) % U;
        const __m512i v = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(blk + 16 * j)));
        // vpermps reads the low 4 bits of each index: the low nibble needs no mask.
        const __m512 w0 = _mm512_permutexvar_ps(v, table);
        const __m512 w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
        for (int i = 0; i < MR; ++i) {
          const float* xr = x.row(i0 + i) + 64 * g + 2 * j;
          gacc[u0][i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[0]), w0, gacc[u0][i]);
          gacc[u1][i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[1]), w1, gacc[u1][i]);
        }
      };
      for (std::size_t j = 0; j < 32; j += 2) {
        step.template operator()<0>(j);
        step.template operator()<1>(j + 1);
      }
      const __m512 sw =
          _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk + layout::scales_offset)));
      for (int i = 0; i < MR; ++i) {
        for (int u = 1; u < U; ++u) gacc[0][i] = _mm512_add_ps(gacc[0][i], gacc[u][i]);
        acc[i] = _mm512_fmadd_ps(gacc[0][i], sw, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) _mm512_storeu_ps(acc_out[i], acc[i]);
  } else if constexpr (has_avx2_v<Arch>) {
    const __m256 table_lo = _mm256_loadu_ps(nf4_values.data());
    const __m256 table_hi = _mm256_loadu_ps(nf4_values.data() + 8);
    // nf4_values[idx & 15]: bit 3 of the index, moved to the sign bit, picks the table half.
    auto decode = [&](__m256i idx) {
      return _mm256_blendv_ps(_mm256_permutevar8x32_ps(table_lo, idx), _mm256_permutevar8x32_ps(table_hi, idx),
                              _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    };
    for (int h = 0; h < 2; ++h) {
      __m256 acc[MR];
      for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
      for (std::size_t g = 0; g < groups; ++g) {
        const std::uint8_t* blk = panel + g * layout::group_bytes;
        const __m256 sw =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + layout::scales_offset + 16 * h)));
        for (std::size_t j = 0; j < 32; ++j) {
          const __m256i v =
              _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 16 * j + 8 * h)));
          const __m256 w0 = _mm256_mul_ps(decode(_mm256_and_si256(v, _mm256_set1_epi32(15))), sw);
          const __m256 w1 = _mm256_mul_ps(decode(_mm256_srli_epi32(v, 4)), sw);
          for (int i = 0; i < MR; ++i) {
            const float* xr = x.row(i0 + i) + 64 * g + 2 * j;
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(xr[0]), w0, acc[i]);
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(xr[1]), w1, acc[i]);
          }
        }
      }
      for (int i = 0; i < MR; ++i) _mm256_storeu_ps(acc_out[i] + 8 * h, acc[i]);
    }
  } else {
    static_assert(dependent_false<Arch>, "lowbit: the simd parametric kernels need AVX2 or AVX-512 VNNI");
  }
}

/// FP8 E4M3 bytes (in the low byte of 16-bit lanes) to the f16 bits of e4m3 / 2^8, exactly:
/// sign to bit 15, exponent and mantissa shifted so that the E4M3 exponent (bias 7) reads as an
/// f16 exponent (bias 15); E4M3 subnormals land on f16 subnormals, which vcvtph2ps converts
/// exactly (no DAZ for half-precision inputs). NaN codes are rejected at pack.
inline __m128i e4m3_to_f16_over_256(__m128i b) noexcept {
  return _mm_and_si128(_mm_srai_epi16(_mm_slli_epi16(b, 8), 1), _mm_set1_epi16(static_cast<short>(0xbfff)));
}

/// fp8_e4m3_per_channel microkernel: MR activation rows (f32) x one 16-row panel, all of K.
/// acc[i][r] = s_w[r] Σ_k x[i, k] e4m3(q[r, k]): codes decoded in registers by bit manipulation
/// (e4m3_to_f16_over_256, vcvtph2ps), f32 FMAs, the 2^8 folded into the scale.
template <class Arch, int MR>
inline void fp8_pc_microkernel(const std::uint8_t* panel, std::size_t k, matrix_view<const float> x, std::size_t i0,
                               float (*acc_out)[16]) noexcept {
  using layout = parametric_layout<fp8_e4m3_per_channel>;
  const float* sw = reinterpret_cast<const float*>(panel + layout::scales_offset(k));
  constexpr int U = accumulator_sets<MR>;
  if constexpr (has_avx512bw_v<Arch>) {
    __m512 acc[U][MR];
    for (int u = 0; u < U; ++u)
      for (int i = 0; i < MR; ++i) acc[u][i] = _mm512_setzero_ps();
    const float* xr[MR];
    for (int i = 0; i < MR; ++i) xr[i] = x.row(i0 + i);
    auto step = [&]<int u>(std::size_t c) {
      const __m256i b = _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(panel + 16 * c)));
      const __m256i h = _mm256_and_si256(_mm256_srai_epi16(_mm256_slli_epi16(b, 8), 1),
                                         _mm256_set1_epi16(static_cast<short>(0xbfff)));
      const __m512 w = _mm512_cvtph_ps(h);
      for (int i = 0; i < MR; ++i) acc[u][i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[i][c]), w, acc[u][i]);
    };
    std::size_t c = 0;
    for (; c + U <= k; c += U) {
      [&]<int... u>(std::integer_sequence<int, u...>) { (step.template operator()<u>(c + u), ...); }
      (std::make_integer_sequence<int, U>{});
    }
    for (; c < k; ++c) step.template operator()<0>(c);
    const __m512 scale = _mm512_mul_ps(_mm512_loadu_ps(sw), _mm512_set1_ps(256.0f));
    for (int i = 0; i < MR; ++i) {
      for (int u = 1; u < U; ++u) acc[0][i] = _mm512_add_ps(acc[0][i], acc[u][i]);
      _mm512_storeu_ps(acc_out[i], _mm512_mul_ps(acc[0][i], scale));
    }
  } else if constexpr (has_avx2_v<Arch>) {
    for (int h = 0; h < 2; ++h) {
      __m256 acc[MR];
      for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
      for (std::size_t c = 0; c < k; ++c) {
        const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(panel + 16 * c + 8 * h)));
        const __m256 w = _mm256_cvtph_ps(e4m3_to_f16_over_256(b));
        for (int i = 0; i < MR; ++i) acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(x.row(i0 + i)[c]), w, acc[i]);
      }
      const __m256 scale = _mm256_mul_ps(_mm256_loadu_ps(sw + 8 * h), _mm256_set1_ps(256.0f));
      for (int i = 0; i < MR; ++i) _mm256_storeu_ps(acc_out[i] + 8 * h, _mm256_mul_ps(acc[i], scale));
    }
  } else {
    static_assert(dependent_false<Arch>, "lowbit: the simd parametric kernels need AVX2 or AVX-512 VNNI");
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
  if constexpr (std::is_same_v<Q, int8_per_channel>) {
    int8_pc_microkernel<Arch, MR>(panel, k, xq, i0, acc);
  } else if constexpr (std::is_same_v<Q, int4_g32_asym>) {
    int4_g32_microkernel<Arch, MR>(panel, k, xq, i0, acc);
  } else if constexpr (std::is_same_v<Q, nf4_g64>) {
    nf4_g64_microkernel<Arch, MR>(panel, k, x, i0, acc);
  } else {
    fp8_pc_microkernel<Arch, MR>(panel, k, x, i0, acc);
  }
}

}  // namespace simd_detail

/// GEMM of the parametric formats int8_per_channel, int4_g32_asym, nf4_g64 and
/// fp8_e4m3_per_channel on the SIMD backend: y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ). Every other
/// quant<...> takes the generic kernel of gemm_parametric_generic.hpp (included above).
///
/// Weights: packed_parametric<Q> (pack_parametric, once at load). Activations:
/// - int8_per_channel: quantized per row to int8 (quantize_activations_per_row), int32 dot
///   (AVX-512 VNNI vpdpbusd, AVX2 vpmaddubsw), y = s_w s_x dot;
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
    if constexpr (std::is_same_v<Q, int8_per_channel> && simd_detail::has_vnni_v<Arch>) {
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
            simd_detail::int8_pc_multi_microkernel<np, MR>(w.panel(p), w.panel_stride, w.k, xq, i, acc);
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
