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
#include "lowbit/backend/simd/isa/isa.hpp"
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

/// The per-64-bit-lane right shifts of a plane of width W < 8 in the 64-byte picture: lane L
/// (0..7) by L - L % W, so that byte j of the repeated 8W plane bytes holds code j's field in its
/// low W bits (generic_plane).
template <int W>
alignas(64) inline constexpr std::uint64_t generic_plane_shifts[8] = {0,         1 - 1 % W, 2 - 2 % W, 3 - 3 % W,
                                                                      4 - 4 % W, 5 - 5 % W, 6 - 6 % W, 7 - 7 % W};

/// Part h (bytes `I::bytes h` ..) of the 64-byte picture of a W-bit plane at p: its 8W bytes
/// repeated over 64 bytes, 64-bit lane L shifted right by L - L % W (W = 8: the 64 bytes as they are).
template <class I, int W>
inline typename I::vi generic_plane(const std::uint8_t* p, std::size_t h) noexcept {
  if constexpr (W == 8) {
    return I::template repeat<64>(p, h);
  } else {
    return I::srlv64(I::template repeat<8 * W>(p, h), I::load(generic_plane_shifts<W> + I::bytes / 8 * h));
  }
}

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
/// row (group partial and total) stay in registers, 16 of 32 (AVX-512, NEON) or 8 of 16 (AVX2).
template <class Arch>
inline constexpr int generic_tile_rows = isa_ops<Arch>::vector_registers >= 32 ? 8 : 4;

/// Generic parametric microkernel: MR activation rows (f32) x one 16-row panel of a
/// packed_generic_parametric, all of K; decode policy D (generic_decode), the ISA layer of Arch
/// (I = isa_ops<Arch>: the panel as I::parts registers of I::lanes rows).
///
/// Per group g and chunk c of 4 columns, the chunk's bit planes are repeated, shifted and OR-ed
/// into one 64-byte picture of 64 codes (int32 lane r = row r's 4 codes; part h: rows lanes h..);
/// column t is lane >> 8t, decoded in registers to v = value (integer: u - z', exact through the
/// f32 bits of 2^23 + u; table: a 16-entry f32 lookup; FP6: a 32-entry magnitude lookup and the
/// sign bit; FP8: f16 bits, converted, value * 2^(bias - 15)); then
///   part[i][r] += x[i, k] v[r]              (f32 FMA over the group's columns)
///   acc[i][r]  += part[i][r] * scale[r, g]  (once per group; FP8: part * 2^(15 - bias) first)
/// MR < 4 spreads the columns over 4 / MR partial sets. Padding columns of a group are skipped
/// (x is read only inside [0, K)). acc_out[i][r] = Σ_g scale Σ_k x[i, k] value[r, k], within f32
/// summation error (~K ulps of Σ_k |x w|) of the reference's Σ_k x[i, k] w[r, k].
template <class Arch, class D, int MR>
[[gnu::noinline]] void generic_parametric_microkernel(const std::uint8_t* panel, generic_panel_geometry geo,
                                                      const float* table, matrix_view<const float> x, std::size_t i0,
                                                      float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr int U = generic_accumulator_sets<MR>;
  constexpr int bits = D::bits;
  constexpr generic_planes planes = generic_planes_of(bits);
  constexpr std::size_t chunk_bytes = 8 * bits;
  constexpr int code_mask = (1 << bits) - 1;
  constexpr int magic = 0x4b000000;  // the f32 bits of 2^23: (magic | u) reads 2^23 + u for u < 2^23
  // FP6: |value| from a 32-entry table and the sign bit moved to bit 31 (fewer instructions than
  // the f16 route, and no 2^(15 - bias) rescaling).
  constexpr bool fp6_table = D::kind == generic_code_kind::minifloat && bits == 6;
  const std::size_t chunks = (geo.group_size + 3) / 4;
  const std::size_t full = geo.group_size / 4, rest = geo.group_size % 4;
  const float* xr[MR];
  for (int i = 0; i < MR; ++i) xr[i] = x.row(i0 + i);

  for (std::size_t h = 0; h < I::parts; ++h) {
    // The 64 codes of a chunk, int32 lane r = bytes (4 codes) of row lanes h + r.
    auto load_codes = [&](const std::uint8_t* chunk) {
      vi v = generic_plane<I, planes.width[0]>(chunk, h);
      if constexpr (planes.count > 1) {
        v = I::and_(v, I::splat_u8((1 << planes.width[0]) - 1));
        [&]<int... Q>(std::integer_sequence<int, Q...>) {
          ((v = I::or_(v, I::template sll16<planes.offset[Q + 1]>(
                              I::and_(generic_plane<I, planes.width[Q + 1]>(chunk + 8 * planes.offset[Q + 1], h),
                                      I::splat_u8((1 << planes.width[Q + 1]) - 1))))),
           ...);
        }
        (std::make_integer_sequence<int, planes.count - 1>{});
      }
      return v;
    };
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t g = 0; g < geo.groups; ++g) {
      const std::uint8_t* blk = panel + g * geo.group_stride;
      vf zero_point{};  // integer codes: 2^23 + z'
      if constexpr (D::kind == generic_code_kind::integer) {
        zero_point =
            I::as_f32(I::or_(I::widen_u8(blk + chunks * chunk_bytes + 64 + I::lanes * h), I::splat_i32(magic)));
      }
      // Column T of the chunk in v: its I::lanes code values.
      auto decode = [&]<int T>(vi v) -> vf {
        vi c = I::template srl32<8 * T>(v);
        if constexpr (D::kind == generic_code_kind::table) {
          if constexpr (bits < 4) c = I::and_(c, I::splat_i32(code_mask));  // the lookup reads 4 bits
          return I::lookup16_f32_low4(c, table);
        } else {
          // Lane bytes above column T, and (one plane narrower than a byte) bits above the code.
          if constexpr (!fp6_table && (T < 3 || (planes.count == 1 && bits < 8))) {
            c = I::and_(c, I::splat_i32(code_mask));
          }
          if constexpr (D::kind == generic_code_kind::integer) {
            return I::sub(I::as_f32(I::or_(c, I::splat_i32(magic))), zero_point);  // (2^23 + u) - (2^23 + z')
          } else if constexpr (fp6_table) {
            // The lookup reads c's low 5 bits; bit 5 (the sign) moves to bit 31, c's bits above it
            // beyond bit 31.
            const vi sign = I::and_(I::template sll32<31 - 5>(c), I::splat_i32(std::numeric_limits<int>::min()));
            return I::as_f32(I::xor_(I::as_i32(I::lookup32_f32_low5(c, table)), sign));
          } else {
            constexpr int em = D::exp_bits + D::man_bits;
            // Sign to f16 bit 15, exponent and mantissa to the top of f16's: the f16 reads
            // value * 2^(bias - 15) exactly (subnormals included), as the conversion converts it.
            vi f16;
            if constexpr (10 - D::man_bits == 15 - em) {
              f16 = I::template sll32<10 - D::man_bits>(c);  // E5M2: the upper byte of an f16
            } else {
              f16 = I::or_(I::template sll32<10 - D::man_bits>(I::and_(c, I::splat_i32((1 << em) - 1))),
                           I::template sll32<15 - em>(I::and_(c, I::splat_i32(1 << em))));
            }
            vf value = I::f16_lanes_to_f32(f16);
            if constexpr (D::nan_all_ones) {
              value = I::nan_where_equal(value, I::and_(c, I::splat_i32((1 << em) - 1)), I::splat_i32((1 << em) - 1));
            }
            return value;
          }
        }
      };
      vf part[U][MR];
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < MR; ++i) part[u][i] = I::zero_f32();
      auto step = [&]<int T>(vi v, std::size_t col) {
        const vf w = decode.template operator()<T>(v);
        for (int i = 0; i < MR; ++i) part[T % U][i] = I::fmadd(I::splat_f32(xr[i][col]), w, part[T % U][i]);
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
      const vf scale = I::load_f32(reinterpret_cast<const float*>(blk + chunks * chunk_bytes) + I::lanes * h);
      for (int i = 0; i < MR; ++i) {
        for (int u = 1; u < U; ++u) part[0][i] = I::add(part[0][i], part[u][i]);
        if constexpr (D::kind == generic_code_kind::minifloat && D::bias != 15 && !fp6_table) {
          part[0][i] = I::mul(part[0][i], I::splat_f32(static_cast<float>(1 << (15 - D::bias))));  // exact
        }
        acc[i] = I::fmadd(part[0][i], scale, acc[i]);
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + I::lanes * h, acc[i]);
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
/// group, by the microkernel of the code's decode policy (generic_parametric_microkernel, written
/// once over the ISA layer: AVX-512, AVX2, NEON); formats differing only in scale type or
/// granularity share that microkernel.
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
