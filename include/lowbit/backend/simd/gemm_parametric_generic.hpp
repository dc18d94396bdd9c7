// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lowbit/backend/simd/generic_parametric_panels.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/parametric_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/gemm/workspace.hpp"

namespace lowbit {

namespace simd_detail {

/// The vector operations of the generic parametric microkernel for one register width: `rows`
/// output rows per register, `halves` registers per 16-row panel.
template <bool Avx512>
struct generic_isa;

#if defined(__AVX512BW__)
/// AVX-512 BW: one zmm holds a whole chunk (64 codes) and 16 f32 lanes (the panel's rows).
template <>
struct generic_isa<true> {
  using vi = __m512i;
  using vf = __m512;
  static constexpr int halves = 1;
  static constexpr int rows = 16;
  /// The 8w bytes of a plane repeated over the register, each 64-bit lane L shifted right by
  /// L - L % w: byte j then holds code j's field in its low w bits.
  template <int W>
  static vi plane(const std::uint8_t* p, int) noexcept {
    vi v;
    if constexpr (W == 8) {
      v = _mm512_loadu_si512(p);
    } else if constexpr (W == 4) {
      v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    } else if constexpr (W == 2) {
      v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else {
      std::uint64_t q;
      std::memcpy(&q, p, 8);
      v = _mm512_set1_epi64(static_cast<long long>(q));
    }
    if constexpr (W < 8)
      v = _mm512_srlv_epi64(
          v, _mm512_set_epi64(7 - 7 % W, 6 - 6 % W, 5 - 5 % W, 4 - 4 % W, 3 - 3 % W, 2 - 2 % W, 1 - 1 % W, 0));
    return v;
  }
  static vi and_(vi a, vi b) noexcept { return _mm512_and_si512(a, b); }
  static vi xor_(vi a, vi b) noexcept { return _mm512_xor_si512(a, b); }
  static vi as_int(vf a) noexcept { return _mm512_castps_si512(a); }
  static vi or_(vi a, vi b) noexcept { return _mm512_or_si512(a, b); }
  static vi bytes(int b) noexcept { return _mm512_set1_epi8(static_cast<char>(b)); }
  static vi dwords(int d) noexcept { return _mm512_set1_epi32(d); }
  template <int S>
  static vi shl16(vi a) noexcept {
    return _mm512_slli_epi16(a, S);
  }
  template <int S>
  static vi shl32(vi a) noexcept {
    return _mm512_slli_epi32(a, S);
  }
  template <int S>
  static vi shr32(vi a) noexcept {
    return _mm512_srli_epi32(a, S);
  }
  static vf as_float(vi a) noexcept { return _mm512_castsi512_ps(a); }
  static vf sub(vf a, vf b) noexcept { return _mm512_sub_ps(a, b); }
  static vf mul(vf a, vf b) noexcept { return _mm512_mul_ps(a, b); }
  static vf add(vf a, vf b) noexcept { return _mm512_add_ps(a, b); }
  static vf fma(vf a, vf b, vf c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  static vf set1(float f) noexcept { return _mm512_set1_ps(f); }
  static vf zero() noexcept { return _mm512_setzero_ps(); }
  static vf load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static void store(float* p, vf v) noexcept { _mm512_storeu_ps(p, v); }
  /// 16 bytes (rows 0..15) widened to int32 lanes.
  static vi load_u8(const std::uint8_t* p, int) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  /// table[idx & 15] (vpermps reads the low 4 bits of each index).
  static vf lookup(vi idx, const float* table) noexcept { return _mm512_permutexvar_ps(idx, _mm512_loadu_ps(table)); }
  /// table[idx & 31] (vpermt2ps reads the low 5 bits of each index).
  static vf lookup32(vi idx, const float* table) noexcept {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(table), idx, _mm512_loadu_ps(table + 16));
  }
  /// The f16 values whose bits are in the low halves of the int32 lanes, as f32 (exact).
  static vf f16_to_f32(vi h) noexcept { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h)); }
  /// v, with NaN in the lanes where a == b.
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    return _mm512_mask_mov_ps(v, _mm512_cmpeq_epi32_mask(a, b),
                              _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
  }
};
#endif

#if defined(__AVX2__)
/// AVX2: a 16-row panel in two halves of 8 rows (h = 0, 1); half h reads bytes 32h..32h+31 of a
/// chunk (rows 8h..8h+7).
template <>
struct generic_isa<false> {
  using vi = __m256i;
  using vf = __m256;
  static constexpr int halves = 2;
  static constexpr int rows = 8;
  /// Bytes 32h..32h+31 of generic_isa<true>::plane.
  template <int W>
  static vi plane(const std::uint8_t* p, int h) noexcept {
    if constexpr (W == 8) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * h));
    } else {
      vi v;
      if constexpr (W == 4) {
        v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      } else if constexpr (W == 2) {
        v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      } else {
        std::uint64_t q;
        std::memcpy(&q, p, 8);
        v = _mm256_set1_epi64x(static_cast<long long>(q));
      }
      const int l = 4 * h;  // the first 64-bit lane of this half in the 512-bit picture
      return _mm256_srlv_epi64(
          v, _mm256_set_epi64x(l + 3 - (l + 3) % W, l + 2 - (l + 2) % W, l + 1 - (l + 1) % W, l - l % W));
    }
  }
  static vi and_(vi a, vi b) noexcept { return _mm256_and_si256(a, b); }
  static vi or_(vi a, vi b) noexcept { return _mm256_or_si256(a, b); }
  static vi bytes(int b) noexcept { return _mm256_set1_epi8(static_cast<char>(b)); }
  static vi dwords(int d) noexcept { return _mm256_set1_epi32(d); }
  template <int S>
  static vi shl16(vi a) noexcept {
    return _mm256_slli_epi16(a, S);
  }
  template <int S>
  static vi shl32(vi a) noexcept {
    return _mm256_slli_epi32(a, S);
  }
  template <int S>
  static vi shr32(vi a) noexcept {
    return _mm256_srli_epi32(a, S);
  }
  static vf as_float(vi a) noexcept { return _mm256_castsi256_ps(a); }
  static vf sub(vf a, vf b) noexcept { return _mm256_sub_ps(a, b); }
  static vf mul(vf a, vf b) noexcept { return _mm256_mul_ps(a, b); }
  static vf add(vf a, vf b) noexcept { return _mm256_add_ps(a, b); }
  static vf fma(vf a, vf b, vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static vf set1(float f) noexcept { return _mm256_set1_ps(f); }
  static vf zero() noexcept { return _mm256_setzero_ps(); }
  static vf load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void store(float* p, vf v) noexcept { _mm256_storeu_ps(p, v); }
  static vi load_u8(const std::uint8_t* p, int h) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * h)));
  }
  /// table[idx & 15]: two 8-entry permutes, bit 3 (moved to the sign bit) picks the half.
  static vf lookup(vi idx, const float* table) noexcept {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), idx),
                            _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), idx),
                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
  }
  static vf f16_to_f32(vi h) noexcept {
    // packus: words [h0..h3 h0..h3 | h4..h7 h4..h7]; qwords 0 and 2 hold h0..h7.
    const vi w = _mm256_permute4x64_epi64(_mm256_packus_epi32(h, h), 0x08);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(w));
  }
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    return _mm256_or_ps(v, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)));  // all-ones is a NaN
  }
};
#endif

/// Geometry of a packed_generic_parametric, as the microkernel reads it.
struct generic_panel_geometry {
  std::size_t group_size;    ///< G
  std::size_t groups;        ///< K / G
  std::size_t group_stride;  ///< bytes per group block
};

/// Independent accumulator sets for MR rows (one FMA chain per set and row).
template <int MR>
inline constexpr int generic_accumulator_sets = MR >= 4 ? 1 : 4 / MR;

/// Rows of x per generic microkernel call (the rest in tiles of 4, 2, 1): two accumulators per
/// row (group partial and total) stay in registers, 16 zmm or (AVX2) 8 ymm.
template <class Arch>
inline constexpr int generic_tile_rows = has_avx512bw_v<Arch> ? 8 : 4;

/// Generic parametric microkernel: MR activation rows (f32) x one 16-row panel of a
/// packed_generic_parametric, all of K; decode policy D (generic_decode), Arch's registers.
///
/// Per group g and chunk c of 4 columns, the chunk's bit planes are broadcast, shifted and
/// OR-ed into one register of 64 codes (int32 lane r = row r's 4 codes); column t is lane >> 8t,
/// decoded in registers to v = value (integer: u - z', exact through the f32 bits of 2^23 + u;
/// table: vpermps; minifloat: f16 bits, vcvtph2ps, value * 2^(bias - 15), except FP6 on AVX-512:
/// a 32-entry magnitude table by vpermt2ps and the sign bit); then
///   part[i][r] += x[i, k] v[r]              (f32 FMA over the group's columns)
///   acc[i][r]  += part[i][r] * scale[r, g]  (once per group; minifloat: part * 2^(15 - bias) first)
/// MR < 4 spreads the columns over 4 / MR partial sets. Padding columns of a group are skipped
/// (x is read only inside [0, K)). acc_out[i][r] = Σ_g scale Σ_k x[i, k] value[r, k], within f32
/// summation error (~K ulps of Σ_k |x w|) of the reference's Σ_k x[i, k] w[r, k].
template <class Arch, class D, int MR>
[[gnu::noinline]] void generic_parametric_microkernel(const std::uint8_t* panel, generic_panel_geometry geo,
                                                      const float* table, matrix_view<const float> x, std::size_t i0,
                                                      float (*acc_out)[16]) noexcept {
  static_assert(has_avx512bw_v<Arch> || has_avx2_v<Arch>, "lowbit: the simd parametric kernels need AVX2 or AVX-512");
  using isa = generic_isa<has_avx512bw_v<Arch>>;
  using vi = typename isa::vi;
  using vf = typename isa::vf;
  constexpr int U = generic_accumulator_sets<MR>;
  constexpr int bits = D::bits;
  constexpr generic_planes planes = generic_planes_of(bits);
  constexpr std::size_t chunk_bytes = 8 * bits;
  constexpr int code_mask = (1 << bits) - 1;
  constexpr int magic = 0x4b000000;  // the f32 bits of 2^23: (magic | u) reads 2^23 + u for u < 2^23
  // FP6 on AVX-512: |value| from a 32-entry table (one vpermt2ps) and the sign bit moved to bit 31,
  // fewer instructions than the f16 route.
  constexpr bool fp6_table = D::kind == generic_code_kind::minifloat && bits == 6 && has_avx512bw_v<Arch>;
  const std::size_t chunks = (geo.group_size + 3) / 4;
  const std::size_t full = geo.group_size / 4, rest = geo.group_size % 4;
  const float* xr[MR];
  for (int i = 0; i < MR; ++i) xr[i] = x.row(i0 + i);

  for (int h = 0; h < isa::halves; ++h) {
    // The 64 codes of a chunk, int32 lane r = bytes (4 codes) of row r of this half.
    auto load_codes = [&](const std::uint8_t* chunk) {
      vi v = isa::template plane<planes.width[0]>(chunk, h);
      if constexpr (planes.count > 1) {
        v = isa::and_(v, isa::bytes((1 << planes.width[0]) - 1));
        [&]<int... Q>(std::integer_sequence<int, Q...>) {
          ((v = isa::or_(v, isa::template shl16<planes.offset[Q + 1]>(
                                isa::and_(isa::template plane<planes.width[Q + 1]>(chunk + 8 * planes.offset[Q + 1], h),
                                          isa::bytes((1 << planes.width[Q + 1]) - 1))))),
           ...);
        }
        (std::make_integer_sequence<int, planes.count - 1>{});
      }
      return v;
    };
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = isa::zero();
    for (std::size_t g = 0; g < geo.groups; ++g) {
      const std::uint8_t* blk = panel + g * geo.group_stride;
      vf zero_point{};  // integer codes: 2^23 + z'
      if constexpr (D::kind == generic_code_kind::integer) {
        zero_point = isa::as_float(isa::or_(isa::load_u8(blk + chunks * chunk_bytes + 64, h), isa::dwords(magic)));
      }
      // Column T of the chunk in v: its 16 (8) code values.
      auto decode = [&]<int T>(vi v) -> vf {
        vi c = isa::template shr32<8 * T>(v);
        if constexpr (D::kind == generic_code_kind::table) {
          if constexpr (bits < 4) c = isa::and_(c, isa::dwords(code_mask));  // vpermps reads 4 bits
          return isa::lookup(c, table);
        } else {
          // Lane bytes above column T, and (one plane narrower than a byte) bits above the code.
          if constexpr (!fp6_table && (T < 3 || (planes.count == 1 && bits < 8))) {
            c = isa::and_(c, isa::dwords(code_mask));
          }
          if constexpr (D::kind == generic_code_kind::integer) {
            return isa::sub(isa::as_float(isa::or_(c, isa::dwords(magic))), zero_point);  // (2^23 + u) - (2^23 + z')
          } else if constexpr (fp6_table) {
            // c's bits above bit 5 are 0 (two masked planes) or beyond bit 31 after the shift.
            const vi sign = isa::and_(isa::template shl32<31 - 5>(c), isa::dwords(std::numeric_limits<int>::min()));
            return isa::as_float(isa::xor_(isa::as_int(isa::lookup32(c, table)), sign));
          } else {
            constexpr int em = D::exp_bits + D::man_bits;
            // Sign to f16 bit 15, exponent and mantissa to the top of f16's: the f16 reads
            // value * 2^(bias - 15) exactly (subnormals included), as vcvtph2ps converts it.
            vi f16;
            if constexpr (10 - D::man_bits == 15 - em) {
              f16 = isa::template shl32<10 - D::man_bits>(c);  // E5M2: the upper byte of an f16
            } else {
              f16 = isa::or_(isa::template shl32<10 - D::man_bits>(isa::and_(c, isa::dwords((1 << em) - 1))),
                             isa::template shl32<15 - em>(isa::and_(c, isa::dwords(1 << em))));
            }
            vf value = isa::f16_to_f32(f16);
            if constexpr (D::nan_all_ones) {
              value = isa::nan_where_equal(value, isa::and_(c, isa::dwords((1 << em) - 1)), isa::dwords((1 << em) - 1));
            }
            return value;
          }
        }
      };
      vf part[U][MR];
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < MR; ++i) part[u][i] = isa::zero();
      auto step = [&]<int T>(vi v, std::size_t col) {
        const vf w = decode.template operator()<T>(v);
        for (int i = 0; i < MR; ++i) part[T % U][i] = isa::fma(isa::set1(xr[i][col]), w, part[T % U][i]);
      };
      const std::uint8_t* chunk = blk;
      std::size_t col = g * geo.group_size;
      for (std::size_t c = 0; c < full; ++c, chunk += chunk_bytes, col += 4) {
        const vi v = load_codes(chunk);
        step.template operator()<0>(v, col);
        step.template operator()<1>(v, col + 1);
        step.template operator()<2>(v, col + 2);
        step.template operator()<3>(v, col + 3);
      }
      if (rest != 0) {  // the group's last, partial chunk
        const vi v = load_codes(chunk);
        step.template operator()<0>(v, col);
        if (rest > 1) step.template operator()<1>(v, col + 1);
        if (rest > 2) step.template operator()<2>(v, col + 2);
      }
      const vf scale = isa::load(reinterpret_cast<const float*>(blk + chunks * chunk_bytes) + isa::rows * h);
      for (int i = 0; i < MR; ++i) {
        for (int u = 1; u < U; ++u) part[0][i] = isa::add(part[0][i], part[u][i]);
        if constexpr (D::kind == generic_code_kind::minifloat && D::bias != 15 && !fp6_table) {
          part[0][i] = isa::mul(part[0][i], isa::set1(static_cast<float>(1 << (15 - D::bias))));  // exact
        }
        acc[i] = isa::fma(part[0][i], scale, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) isa::store(acc_out[i] + isa::rows * h, acc[i]);
  }
}

/// Calls `tile.template operator()<MR>(i)` for rows [i_begin, i_end): tiles of TileRows (8 or 4),
/// then at most one tile each of 4 (TileRows 8), 2 and 1 rows.
template <int TileRows, class Tile>
inline void for_each_generic_row_tile(std::size_t i_begin, std::size_t i_end, const Tile& tile) {
  std::size_t i = i_begin;
  for (; i + TileRows <= i_end; i += TileRows) tile.template operator()<TileRows>(i);
  const std::size_t rest = i_end - i;
  if constexpr (TileRows > 4) {
    if (rest & 4) tile.template operator()<4>(i), i += 4;
  }
  if (rest & 2) tile.template operator()<2>(i), i += 2;
  if (rest & 1) tile.template operator()<1>(i);
}

}  // namespace simd_detail

/// GEMM of every parametric format `quant<Code, Scale, Granularity, ZeroPoint>` that has no
/// specialised kernel in gemm_parametric.hpp, on the SIMD backend: y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ).
///
/// Weights: packed_generic_parametric<Q> (pack_generic_parametric, once at load). Activations:
/// f32 as given (not quantized). Codes are decoded in registers to their exact values
/// (`decode(q) - zero_point`), dotted with x by f32 FMAs over each scale group and scaled once per
/// group, by the microkernel of the code's decode policy (generic_parametric_microkernel: AVX-512
/// BW, or AVX2); formats differing only in scale type or granularity share that microkernel.
/// Error against the reference (double dot of the f32 dequantized weights): f32 rounding only,
/// |y - y_ref| <= ~(K + 2) ulps of Σ_k |x(i, k) w(n, k)| (the test's bound: 2 K eps Σ |x w|).
/// NaN/Inf in x (and E4M3 NaN, E5M2 Inf/NaN codes) propagate as in the reference.
/// Threads split panels (and row blocks for few panels; for_each_panel_tile).
/// Allocation: none. Sources: gemmlowp doc/quantization.md; QLoRA arXiv:2305.14314; FP8
/// arXiv:2209.05433; OCP MX v1.0 (FP6/FP4 codes).
template <quant_format Q, class Arch>
requires(!simd_detail::parametric_simd_v<Q>) struct quantized_gemm_kernel<Q, backend::simd<Arch>> {
  using weight_type = packed_generic_parametric<Q>;

  static weight_type prepare(const quantized_matrix<Q>& w, threads t) { return pack_generic_parametric(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace&) {
    using decode = typename weight_type::decode_type;
    const simd_detail::generic_panel_geometry geo{w.group_size, w.groups(), w.group_stride};
    simd_detail::for_each_panel_tile(t, w.panels(), x.rows, [&](std::size_t p, std::size_t i0, std::size_t i1) {
      constexpr int tile_rows = simd_detail::generic_tile_rows<Arch>;
      float acc[tile_rows][16];
      const std::size_t n0 = p * 16;
      const std::size_t count = std::min<std::size_t>(16, w.n - n0);
      simd_detail::for_each_generic_row_tile<tile_rows>(i0, i1, [&]<int MR>(std::size_t i) {
        simd_detail::generic_parametric_microkernel<Arch, decode, MR>(w.panel(p), geo, w.table.data(), x, i, acc);
        for (int r = 0; r < MR; ++r) e(y.row(i + r), acc[r], n0, count);
      });
    });
  }
};

}  // namespace lowbit
