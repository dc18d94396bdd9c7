// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit::simd_detail {

// ---------------------------------------------------------------------------------------------
// Bit-plane panels: the packed layout shared by the SIMD kernels of Q5_0, Q5_1 and the K-quants.
// ---------------------------------------------------------------------------------------------

/// One bit plane of a code: `Bits` bits of every code, which the decoder places at bit `Shift` of
/// the unsigned code (code = Σ over planes of plane_value << Shift).
template <int Bits, int Shift>
struct plane {
  static constexpr int bits = Bits;
  static constexpr int shift = Shift;
  /// K groups of 4 codes held by one 64-byte load of this plane.
  static constexpr int groups_per_load = 8 / Bits;
};

/// The planes of a format's code, in storage order.
template <class... Planes>
struct plane_list {};

/// Per format F, `plane_traits<F>` (specialised next to each kernel) says how F's blocks are cut
/// into planes and header bytes:
/// - `planes`: a plane_list; `block_size`: elements per block;
/// - `code(const uint8_t* block, e)` / `set_code(uint8_t* block, e, v)`: the unsigned code of element
///   e, read from / OR-ed into the block's bytes (ggml's byte layout);
/// - `scale_src`, `scale_bytes`: a run of header bytes stored as byte planes (16 rows each);
/// - `d_src`, `m_src` (or -1): fp16 fields stored as 16-row fp16 vectors.
template <class F>
struct plane_traits;

/// Byte offsets inside one (panel, block) record of F's panels:
/// `[scale byte planes: byte j of row r at 16 j + r][d: 16 x fp16][m: 16 x fp16][units]`, where the
/// codes come in `block_size / 32` units of 32 K elements, unit u at `units_off + u * unit_bytes`,
/// each holding its 64 x bits bytes of every plane in order. The header comes first because the
/// kernels read it first: a record, and so a whole panel, is then read strictly front to back, the
/// one access pattern the hardware stream prefetchers follow at full memory bandwidth (with the
/// header last, every record began with a jump forward then back, and a cold K-quant GEMV lost
/// 20 to 35 % of the bandwidth).
template <class F>
struct plane_layout {
  using traits = plane_traits<F>;
  template <class... P>
  static constexpr std::size_t sum_bits(plane_list<P...>) {
    return (std::size_t{0} + ... + static_cast<std::size_t>(P::bits));
  }
  static constexpr std::size_t units = traits::block_size / 32;
  static constexpr std::size_t unit_bytes = 64 * sum_bits(typename traits::planes{});
  static constexpr bool has_m = traits::m_src >= 0;
  static constexpr std::size_t scales_off = 0;
  static constexpr std::size_t d_off = scales_off + 16 * traits::scale_bytes;
  static constexpr std::size_t m_off = d_off + 32;
  static constexpr std::size_t units_off = m_off + (has_m ? 32 : 0);
  static constexpr std::size_t stride = units_off + units * unit_bytes;
  static_assert(stride == 16 * F::block_bytes, "bit-plane panels hold exactly the file's bytes");
};

/// The panels of F: packed_panels with plane_layout<F>::stride bytes per (panel, block).
template <class F>
using plane_packed_t = packed_panels<F, plane_layout<F>::stride>;

/// Byte offset of plane number `Index` inside a unit: 64 x the bits of the planes before it.
template <class F, std::size_t Index, class... P>
constexpr std::size_t plane_offset(plane_list<P...>) {
  std::size_t off = 0, i = 0;
  ((i++ < Index ? off += 64 * static_cast<std::size_t>(P::bits) : 0), ...);
  return off;
}

/// Calls f(plane, offset) for each plane of F, in storage order.
template <class F, class Fn>
constexpr void for_each_plane(Fn&& f) {
  [&]<class... P>(plane_list<P...> list) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(P{}, std::integral_constant<std::size_t, plane_offset<F, I>(list)>{}), ...);
    }
    (std::index_sequence_for<P...>{});
  }(typename plane_traits<F>::planes{});
}

/// Packs W (file layout) into bit-plane panels. K group g (codes 4g..4g+3 of the block) lies in
/// unit u = g / 8; in a plane of b bits, within-unit group q = g % 8 lies in the plane's 64-byte load
/// q / (8 / b) of that unit: lane r (bytes 4r..4r+3) holds the plane bits of row 16p + r, byte t
/// bits [b j, b j + b) the bits of code 4g + t with j = q % (8 / b). One
/// 64-byte load thus yields, after a shift and a mask, 4 codes of each of 16 rows: the operand of a
/// 4-byte dot product with a broadcast activation dword (k_packed<16, 4>; on ISAs with narrower
/// registers, I::parts loads of I::lanes rows). Padding rows are zero bytes
/// (codes 0, scales 0), contributing exactly 0. Threads split the panels. ISA-independent bytes.
template <class F>
plane_packed_t<F> pack_planes(weight_view<F> w, threads t = {}) {
  using traits = plane_traits<F>;
  using layout = plane_layout<F>;
  plane_packed_t<F> out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.blocks_per_row();
  out.bytes = aligned_buffer(out.panels() * nb * layout::stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * layout::stride;
        for (std::size_t r = 0; r < 16 && p * 16 + r < w.rows; ++r) {
          const auto* blk = reinterpret_cast<const std::uint8_t*>(&w.row(p * 16 + r)[b]);
          std::memcpy(dst + layout::d_off + 2 * r, blk + traits::d_src, 2);
          if constexpr (layout::has_m) std::memcpy(dst + layout::m_off + 2 * r, blk + traits::m_src, 2);
          for (std::size_t j = 0; j < traits::scale_bytes; ++j)
            dst[layout::scales_off + 16 * j + r] = blk[traits::scale_src + j];
          for (std::size_t e = 0; e < traits::block_size; ++e) {
            const unsigned code = traits::code(blk, e);
            const std::size_t g = e / 4, unit = layout::units_off + layout::unit_bytes * (g / 8),
                              lane_byte = 4 * r + e % 4;
            for_each_plane<F>([&](auto pl, auto off) {
              using P = decltype(pl);
              const unsigned v = (code >> P::shift) & ((1u << P::bits) - 1u);
              const std::size_t load = (g % 8) / P::groups_per_load, j = (g % 8) % P::groups_per_load;
              dst[unit + off + 64 * load + lane_byte] |= static_cast<std::uint8_t>(v << (P::bits * j));
            });
          }
        }
      }
    }
  });
  return out;
}

/// Restores the file layout of bit-plane panels into `out` (N * K / block_size blocks): the inverse
/// of pack_planes. throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class F>
void unpack_planes(const plane_packed_t<F>& w, std::span<typename F::block> out) {
  using traits = plane_traits<F>;
  using layout = plane_layout<F>;
  const std::size_t nb = w.blocks_per_row();
  check(out.size() == w.rows * nb, errc::shape_mismatch, [&] {
    return std::string("unpack ") + std::string(F::name) + ": output holds " + std::to_string(out.size()) +
           " blocks, the matrix " + std::to_string(w.rows * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const std::size_t p = n / 16, r = n % 16;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(p) + b * layout::stride;
      auto* blk = reinterpret_cast<std::uint8_t*>(&out[n * nb + b]);
      std::memset(blk, 0, F::block_bytes);
      std::memcpy(blk + traits::d_src, src + layout::d_off + 2 * r, 2);
      if constexpr (layout::has_m) std::memcpy(blk + traits::m_src, src + layout::m_off + 2 * r, 2);
      for (std::size_t j = 0; j < traits::scale_bytes; ++j)
        blk[traits::scale_src + j] = src[layout::scales_off + 16 * j + r];
      for (std::size_t e = 0; e < traits::block_size; ++e) {
        const std::size_t g = e / 4, unit = layout::units_off + layout::unit_bytes * (g / 8), lane_byte = 4 * r + e % 4;
        unsigned code = 0;
        for_each_plane<F>([&](auto pl, auto off) {
          using P = decltype(pl);
          const std::size_t load = (g % 8) / P::groups_per_load, j = (g % 8) % P::groups_per_load;
          const unsigned v = (src[unit + off + 64 * load + lane_byte] >> (P::bits * j)) & ((1u << P::bits) - 1u);
          code |= v << P::shift;
        });
        traits::set_code(blk, e, code);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding the bit planes in registers, on the ISA layer (isa/isa.hpp): part h of a 16-row panel
// is bytes [I::bytes h, I::bytes (h + 1)) of each 64-byte load, the I::lanes rows I::lanes h + r.
// ---------------------------------------------------------------------------------------------

/// v shifted by R bits to the right (R > 0) or -R bits to the left, in 16-bit lanes.
template <class I, int R>
[[gnu::always_inline]] inline typename I::vi shift_bits(typename I::vi v) noexcept {
  if constexpr (R > 0) {
    return I::template srl16<R>(v);
  } else if constexpr (R < 0) {
    return I::template sll16<-R>(v);
  } else {
    return v;
  }
}

/// ORs (or, for the first plane, assigns) group G's bits of plane P into code[G]; `base` points at
/// the plane's first load of the unit.
template <class I, class P, bool First, int G>
[[gnu::always_inline]] inline void decode_group(const std::uint8_t* base, typename I::vi mask,
                                                typename I::vi (&code)[8]) noexcept {
  constexpr int per_load = P::groups_per_load;
  const auto bits =
      I::and_(shift_bits<I, P::bits*(G % per_load) - P::shift>(I::load(base + 64 * (G / per_load))), mask);
  if constexpr (First) {
    code[G] = bits;
  } else {
    code[G] = I::or_(code[G], bits);
  }
}

/// Adds plane P's bits (at byte offset Off of each unit) to the 8 code registers of unit u; the
/// first plane (First) assigns them. Fully unrolled, so that the codes stay in registers.
template <class I, class F, class P, std::size_t Off, bool First, int... G>
[[gnu::always_inline]] inline void decode_plane(const std::uint8_t* record, std::size_t u, std::size_t h,
                                                typename I::vi (&code)[8], std::integer_sequence<int, G...>) noexcept {
  const std::uint8_t* base = record + plane_layout<F>::units_off + plane_layout<F>::unit_bytes * u + Off + I::bytes * h;
  const auto mask = I::splat_u8(((1 << P::bits) - 1) << P::shift);
  (decode_group<I, P, First, G>(base, mask, code), ...);
}

/// Decodes unit u of a record, plane after plane (see decode_unit).
template <class I, class F, class Planes = typename plane_traits<F>::planes>
struct unit_decoder;

template <class I, class F, class... P>
struct unit_decoder<I, F, plane_list<P...>> {
  template <std::size_t... J>
  [[gnu::always_inline]] static void run(const std::uint8_t* record, std::size_t u, std::size_t h,
                                         typename I::vi (&code)[8], std::index_sequence<J...>) noexcept {
    (decode_plane<I, F, P, plane_offset<F, J>(plane_list<P...>{}), J == 0>(record, u, h, code,
                                                                           std::make_integer_sequence<int, 8>{}),
     ...);
  }
  [[gnu::always_inline]] static void run(const std::uint8_t* record, std::size_t u, std::size_t h,
                                         typename I::vi (&code)[8]) noexcept {
    run(record, u, h, code, std::index_sequence_for<P...>{});
  }
};

/// Decodes the 8 K groups [8u, 8u + 8) (32 codes of each row) of one record into unsigned bytes:
/// code[j] holds codes 32u + 4j .. 32u + 4j + 3 of the record's rows (part h: rows I::lanes h ..
/// I::lanes h + I::lanes - 1).
template <class I, class F>
[[gnu::always_inline]] inline void decode_unit(const std::uint8_t* record, std::size_t u, std::size_t h,
                                               typename I::vi (&code)[8]) noexcept {
  unit_decoder<I, F>::run(record, u, h, code);
}

// ---------------------------------------------------------------------------------------------
// K-quants: activations and the microkernel.
// ---------------------------------------------------------------------------------------------

/// Elements per K-quant super-block (ggml QK_K).
inline constexpr std::size_t k_block = 256;

/// Quantizes x(M, K) for the K-quant kernels: 8-bit codes in blocks of 256 along K with an
/// unrounded f32 scale, as ggml's Q8_K (ggml-common.h `block_q8_K`), so the error per element is at
/// most max|x over the 256-block| / 254, as in ggml.
/// Stored in an activation_q8 (the workspace's buffer): `qs` the codes (M, K);
/// `row_d(i)[b]` = 1 / (127 / max|x|) of super-block b (ggml's rounding; the first K / 256 entries of
/// the row);
/// `row_sum(i)[8 b + t]` = the sums of codes 32t..32t+15 and 32t+16..32t+31 of super-block b as an
/// int16 pair (low, high half of the int32), the operand of `dot_pairs_i16`; `s` is unused.
/// Codes are `round(x * 127 / max|x|)` (ties to even), like activation_q8.
/// throws lowbit::error{errc::shape_mismatch} if K % 256 != 0; {errc::invalid_argument} naming the
/// row and columns of a NaN or infinity.
/// Source: ggml `block_q8_K`, `quantize_row_q8_K_ref` (ggml/src/ggml-quants.c).
template <class Arch>
void quantize_activations_k(matrix_view<const float> x, activation_q8& out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  check(x.cols % k_block == 0, errc::shape_mismatch, [&] {
    return "K-quant gemm: K = " + std::to_string(x.cols) + " is not a multiple of the super-block size 256";
  });
  out.resize(x.rows, x.cols);
  const std::size_t nb = x.cols / k_block, nb32 = x.cols / 32;
  alignas(64) std::int32_t codes[k_block];
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t b = 0; b < nb; ++b) {
      const float* src = x.row(i) + b * k_block;
      batch amax(0.0f), probe(0.0f);  // x - x is 0 for finite x and NaN for NaN or infinity
      for (std::size_t j = 0; j < k_block; j += lanes) {
        const batch v = batch::load_unaligned(src + j);
        amax = xsimd::max(amax, xsimd::abs(v));
        probe += v - v;
      }
      check(reduce_add(probe) == 0.0f, errc::invalid_argument, [&] {
        return "activation row " + std::to_string(i) + ", columns [" + std::to_string(b * k_block) + ", " +
               std::to_string(b * k_block + k_block) + "): NaN or infinity";
      });
      const float max_abs = reduce_max(amax);
      const batch inv(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
      for (std::size_t j = 0; j < k_block; j += lanes) {
        xsimd::nearbyint_as_int(batch::load_unaligned(src + j) * inv).store_aligned(codes + j);
      }
      std::int8_t* dst = out.qs.data() + i * x.cols + b * k_block;
      std::int32_t sums[16];
      for (std::size_t g = 0; g < 16; ++g) {
        std::int32_t s = 0;
        for (std::size_t j = 0; j < 16; ++j) {
          dst[16 * g + j] = static_cast<std::int8_t>(codes[16 * g + j]);
          s += codes[16 * g + j];
        }
        sums[g] = s;
      }
      // ggml stores d = 1 / iscale with |iscale| = 127 / max|x| (quantize_row_q8_K_ref), which can
      // differ from max|x| / 127 by an ulp.
      out.d[i * nb32 + b] = max_abs != 0.0f ? 1.0f / (127.0f / max_abs) : 0.0f;
      for (std::size_t t = 0; t < 8; ++t) {
        const auto lo = static_cast<std::uint32_t>(static_cast<std::uint16_t>(sums[2 * t]));
        const auto hi = static_cast<std::uint32_t>(static_cast<std::uint16_t>(sums[2 * t + 1]));
        out.sum[i * nb32 + 8 * b + t] = static_cast<std::int32_t>(lo | (hi << 16));
        out.s[i * nb32 + 8 * b + t] = 0.0f;
      }
    }
  }
}

/// An int16 pair packed in an int32 lane (low, high), the operand layout of `dot_pairs_i16`.
constexpr std::int32_t int16_pair(std::int32_t lo, std::int32_t hi) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint16_t>(lo)) |
                                   (static_cast<std::uint32_t>(static_cast<std::uint16_t>(hi)) << 16));
}

/// int16 pairs (a, b) per lane from int32 lanes a, b in [-32768, 32767]: (a & 0xffff) | (b << 16).
template <class I>
inline typename I::vi pack_pair(typename I::vi a, typename I::vi b) noexcept {
  return I::or_(I::and_(a, I::splat_i32(0xffff)), I::template sll32<16>(b));
}

/// The decoded scales of one (panel, super-block) record for the I::lanes rows of one part of the
/// panel (entries [0, I::lanes) of each array): `sc[s][r]` the integer scale of sub-block s of row
/// r; `pair[t][r]` the int16 pair multiplying the activation sums of the 16-element groups 2t, 2t + 1
/// in the correction term (the minimums for Q2_K/Q4_K/Q5_K, the scales for the offset formats
/// Q3_K/Q6_K). Each traits' `decode_scales<I>(s, out)` fills it with vector code from the byte
/// planes at s (byte j of the part's row r at s[16 j + r]).
struct k_scales {
  alignas(64) std::int32_t sc[16][16];
  alignas(64) std::int32_t pair[8][16];
};

/// The order in which a K-quant kernel accumulates its f32 partial sums, chosen per format to be
/// llama.cpp's CPU order for it (so that results are bit-identical to llama.cpp's).
enum class k_quant_order {
  /// one f32 fma per super-block (the integer parts of all sub-blocks summed exactly first)
  super_block,
  /// llama.cpp's repacked Q4_K GEMM: one f32 fma per pair of 32-element sub-blocks, the minimum
  /// terms accumulated apart and subtracted at the end (see k_quant_pairs_microkernel)
  sub_block_pairs,
  /// Q5_K and Q6_K as llama.cpp runs them: with M >= 8 activation rows its tiled K-quant GEMM, one f32
  /// `acc = fma(sum * d_w, d_x, acc)` per super-block (see k_quant_microkernel); with fewer, ggml's
  /// x86 vec_dot, eight lanes of 4-element groups per output (see k_quant_lanes_microkernel)
  tiled_or_lanes8,
};
/// The fewest activation rows for which llama.cpp's CPU backend takes its tiled K-quant GEMM
/// (ggml-cpu/tiled/tiled.cpp `ggml_tiled_min_batch`).
inline constexpr std::size_t tiled_min_rows = 8;
/// The accumulation order of format F's K-quant kernel (specialized next to its plane_traits).
template <class F>
inline constexpr k_quant_order k_quant_order_v = k_quant_order::super_block;

/// K-quant microkernel with minimums and 32-element sub-blocks (Q4_K) in the order of llama.cpp's
/// repacked Q4_K x Q8_K GEMM (ggml-cpu/arch/x86/repack.cpp `ggml_gemm_q4_K_8x8_q8_K`, which llama.cpp
/// runs for Q4_K weights on AVX2 / AVX-512 CPUs when M is a multiple of 4): per super-block b and
/// pair p of sub-blocks (2p, 2p + 1) of row r,
/// `acc = fma(sc_2p Σ q q_x + sc_2p+1 Σ q q_x, d_w d_x, acc)` and
/// `mins = fma(m_2p Σ q_x + m_2p+1 Σ q_x, dmin_w d_x, mins)` (integer parts exact in int32), and the
/// result is `acc - mins`. The last M % 4 activation rows, which llama.cpp multiplies with its GEMV
/// (`ggml_gemv_q4_K_8x8_q8_K`), take one fma of each kind per super-block instead of per pair.
template <class I, int MR, class F>
[[gnu::noinline]] void k_quant_pairs_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                                 std::size_t i0, float (*acc_out)[16]) noexcept {
  using traits = plane_traits<F>;
  using layout = plane_layout<F>;
  static_assert(traits::has_min && traits::sub_block == 32);
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t lanes = I::lanes;
  k_scales scales;
  const std::size_t gemm_rows = xq.rows - xq.rows % 4;  // the rest go through llama.cpp's GEMV
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR], mins[MR];
    for (int i = 0; i < MR; ++i) acc[i] = mins[i] = I::zero_f32();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* record = panel + b * layout::stride;
      traits::template decode_scales<I>(record + layout::scales_off + lanes * h, scales);
      const vf dw = I::f16_to_f32(record + layout::d_off + 2 * lanes * h);
      const vf dm = I::f16_to_f32(record + layout::m_off + 2 * lanes * h);
      vi block_sum[MR], block_corr[MR];
      for (int i = 0; i < MR; ++i) block_sum[i] = block_corr[i] = I::zero();
      for (std::size_t p = 0; p < 4; ++p) {
        vi isum[MR];
        for (int i = 0; i < MR; ++i) isum[i] = I::zero();
        for (std::size_t u = 2 * p; u < 2 * p + 2; ++u) {
          vi code[8];
          decode_unit<I, F>(record, u, h, code);
          for (int i = 0; i < MR; ++i) {
            const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + b * k_block + 32 * u);
            vi dot = I::dot8_u8(I::zero(), code[0], code[1], xw[0], xw[1]);
            dot = I::dot8_u8(dot, code[2], code[3], xw[2], xw[3]);
            dot = I::dot8_u8(dot, code[4], code[5], xw[4], xw[5]);
            dot = I::dot8_u8(dot, code[6], code[7], xw[6], xw[7]);
            isum[i] = I::add32(isum[i], I::mullo32(dot, I::load(scales.sc[u])));
          }
        }
        for (int i = 0; i < MR; ++i) {
          const std::int32_t* xs = xq.row_sum(i0 + i) + 8 * b;
          const vi corr = I::dot_pairs_i16(I::dot_pairs_i16(I::zero(), I::load(scales.pair[2 * p]), xs[2 * p]),
                                           I::load(scales.pair[2 * p + 1]), xs[2 * p + 1]);
          if (i0 + i >= gemm_rows) {
            block_sum[i] = I::add32(block_sum[i], isum[i]);
            block_corr[i] = I::add32(block_corr[i], corr);
          } else {
            const vf dx = I::splat_f32(xq.row_d(i0 + i)[b]);
            acc[i] = I::fmadd(I::to_f32(isum[i]), I::mul(dw, dx), acc[i]);
            mins[i] = I::fmadd(I::to_f32(corr), I::mul(dm, dx), mins[i]);
          }
        }
      }
      for (int i = 0; i < MR; ++i) {
        if (i0 + i >= gemm_rows) {
          const vf dx = I::splat_f32(xq.row_d(i0 + i)[b]);
          acc[i] = I::fmadd(I::to_f32(block_sum[i]), I::mul(dw, dx), acc[i]);
          mins[i] = I::fmadd(I::to_f32(block_corr[i]), I::mul(dm, dx), mins[i]);
        }
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + lanes * h, I::sub(acc[i], mins[i]));
  }
}

/// K-quant microkernel in the order of ggml's x86 vec_dot (ggml-cpu/arch/x86/quants.c, its AVX2
/// code, also run on AVX-512 CPUs): per output, eight lanes accumulated as
/// `acc_l = fma(d_x d_w, L_l, acc_l)`, the result
/// `((acc_4 + acc_0) + (acc_6 + acc_2)) + ((acc_5 + acc_1) + (acc_7 + acc_3))` (+ mins). Lane l of
/// super-block b holds the exact int32 (u over the 8 units of 32 elements, groups of 16 elements)
/// - with an offset and 16-element sub-blocks (Q6_K, `ggml_vec_dot_q6_K_q8_K`):
///   `L_l = Σ_u sc_{2u + (l >= 4)} Σ_{e < 4} q[32u + 4l + e] q_x[32u + 4l + e] - 32 o_l`, with
///   `o_l = sc_2l Σ q_x over group 2l + sc_2l+1 Σ q_x over group 2l+1`;
/// - with minimums and 32-element sub-blocks (Q5_K, `ggml_vec_dot_q5_K_q8_K`):
///   `L_l = Σ_u sc_u Σ_{e < 4} q[32u + 4l + e] q_x[32u + 4l + e]`, and the minimum term kept apart
///   in one scalar per output, `mins = fma(-d_x dmin_w, Σ_s m_s Σ q_x over sub-block s, mins)`.
template <class I, int R, class F>
[[gnu::noinline]] void k_quant_lanes_rows(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                          std::size_t i0, float (*acc_out)[16]) noexcept {
  using traits = plane_traits<F>;
  using layout = plane_layout<F>;
  static_assert(traits::has_min ? traits::sub_block == 32 : traits::sub_block == 16);
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t lanes = I::lanes;
  k_scales scales;
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[R][8], mins[R];
    for (int i = 0; i < R; ++i) {
      mins[i] = I::zero_f32();
      for (int l = 0; l < 8; ++l) acc[i][l] = I::zero_f32();
    }
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* record = panel + b * layout::stride;
      traits::template decode_scales<I>(record + layout::scales_off + lanes * h, scales);
      const vf dw = I::f16_to_f32(record + layout::d_off + 2 * lanes * h);
      vi isum[R][8];
      for (int i = 0; i < R; ++i) {
        const std::int32_t* xs = xq.row_sum(i0 + i) + 8 * b;
        if constexpr (traits::has_min) {
          vi corr = I::zero();
          for (int t = 0; t < 8; ++t) corr = I::dot_pairs_i16(corr, I::load(scales.pair[t]), xs[t]);
          const vf dm =
              I::mul(I::splat_f32(-xq.row_d(i0 + i)[b]), I::f16_to_f32(record + layout::m_off + 2 * lanes * h));
          mins[i] = I::fmadd(dm, I::to_f32(corr), mins[i]);
          for (int l = 0; l < 8; ++l) isum[i][l] = I::zero();
        } else {
          for (int l = 0; l < 8; ++l) {
            const vi corr = I::dot_pairs_i16(I::zero(), I::load(scales.pair[l]), xs[l]);
            isum[i][l] = I::sub32(I::zero(), I::template sll32<traits::offset_log2>(corr));
          }
        }
      }
      for (std::size_t u = 0; u < 8; ++u) {
        vi code[8];
        decode_unit<I, F>(record, u, h, code);
        const vi sc_lo = I::load(scales.sc[traits::has_min ? u : 2 * u]);
        const vi sc_hi = traits::has_min ? sc_lo : I::load(scales.sc[2 * u + 1]);
        for (int i = 0; i < R; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + b * k_block + 32 * u);
          for (int l = 0; l < 8; ++l) {
            const vi dot = I::dot4_u8(I::zero(), code[l], xw[l]);
            isum[i][l] = I::add32(isum[i][l], I::mullo32(dot, l < 4 ? sc_lo : sc_hi));
          }
        }
      }
      for (int i = 0; i < R; ++i) {
        const vf d = I::mul(I::splat_f32(xq.row_d(i0 + i)[b]), dw);
        for (int l = 0; l < 8; ++l) acc[i][l] = I::fmadd(d, I::to_f32(isum[i][l]), acc[i][l]);
      }
    }
    for (int i = 0; i < R; ++i) {
      const vf even = I::add(I::add(acc[i][4], acc[i][0]), I::add(acc[i][6], acc[i][2]));
      const vf odd = I::add(I::add(acc[i][5], acc[i][1]), I::add(acc[i][7], acc[i][3]));
      vf sum = I::add(even, odd);
      if constexpr (traits::has_min) sum = I::add(sum, mins[i]);
      I::store_f32(acc_out[i] + lanes * h, sum);
    }
  }
}

/// MR activation rows x one panel through k_quant_lanes_rows, in pairs of rows where one register
/// holds the whole panel (I::parts == 1, AVX-512), else one row at a time.
template <class I, int MR, class F>
inline void k_quant_lanes_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                      std::size_t i0, float (*acc_out)[16]) noexcept {
  constexpr int R = I::parts == 1 ? 2 : 1;
  int i = 0;
  for (; i + R <= MR; i += R) k_quant_lanes_rows<I, R, F>(panel, nb, xq, i0 + i, acc_out + i);
  if constexpr (MR % R != 0) k_quant_lanes_rows<I, MR % R, F>(panel, nb, xq, i0 + i, acc_out + i);
}

/// Microkernel of the K-quants: MR activation rows x one 16-row panel, all K super-blocks.
/// Per super-block b and row r (sub-blocks s of 16 or 32 elements, x̂ = d_x q_x, Q8_K-style):
/// - with minimums (Q2_K, Q4_K, Q5_K): y += d d_x Σ_s sc_s Σ q q_x - dmin d_x Σ_s m_s Σ q_x;
/// - with an offset o (Q3_K: 4, Q6_K: 32): y += d d_x Σ_s sc_s (Σ q q_x - o Σ q_x),
/// where the integer parts are exact in int32 (dot8_u8 for the codes, dot_pairs_i16 for the
/// activation-sum terms, mullo32 for the sub-block scales).
///
/// Tiled: the f32 steps of llama.cpp's tiled K-quant GEMM (ggml-cpu/tiled/tiled-kernel.cpp, as GCC
/// compiles it): `acc = fma(sum * d_w - dmin_w * msum, d_x, acc)` per super-block (the minimum
/// term one fnmadd), instead of `acc = fma(sum, d_w d_x, acc)` (and `acc = fnma(msum, dmin_w d_x, acc)`).
template <class I, int MR, class F, bool Tiled = false>
[[gnu::noinline]] void k_quant_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                           std::size_t i0, float (*acc_out)[16]) noexcept {
  using traits = plane_traits<F>;
  using layout = plane_layout<F>;
  using vi = typename I::vi;
  using vf = typename I::vf;
  constexpr std::size_t lanes = I::lanes;
  k_scales scales;
  const std::int8_t* x_qs[MR];
  const float* x_d[MR];
  const std::int32_t* x_sum[MR];
  for (int i = 0; i < MR; ++i) {
    x_qs[i] = xq.row_qs(i0 + i);
    x_d[i] = xq.row_d(i0 + i);
    x_sum[i] = xq.row_sum(i0 + i);
  }
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* record = panel + b * layout::stride;
      traits::template decode_scales<I>(record + layout::scales_off + lanes * h, scales);
      const vf dw = I::f16_to_f32(record + layout::d_off + 2 * lanes * h);
      vi isum[MR];
      [[maybe_unused]] vi msum[MR];
      for (int i = 0; i < MR; ++i) {
        const std::int32_t* xs = x_sum[i] + 8 * b;
        vi corr = I::zero();
        for (int t = 0; t < 8; ++t) corr = I::dot_pairs_i16(corr, I::load(scales.pair[t]), xs[t]);
        if constexpr (traits::has_min) {
          if constexpr (Tiled) {
            msum[i] = corr;
          } else {
            const vf dm = I::f16_to_f32(record + layout::m_off + 2 * lanes * h);
            acc[i] = I::fnmadd(I::to_f32(corr), I::mul(dm, I::splat_f32(x_d[i][b])), acc[i]);
          }
          isum[i] = I::zero();
        } else {
          isum[i] = I::sub32(I::zero(), I::template sll32<traits::offset_log2>(corr));
        }
      }
      for (std::size_t u = 0; u < 8; ++u) {
        vi code[8];
        decode_unit<I, F>(record, u, h, code);
        for (int i = 0; i < MR; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(x_qs[i] + b * k_block + 32 * u);
          if constexpr (traits::sub_block == 32) {
            vi dot = I::dot8_u8(I::zero(), code[0], code[1], xw[0], xw[1]);
            dot = I::dot8_u8(dot, code[2], code[3], xw[2], xw[3]);
            dot = I::dot8_u8(dot, code[4], code[5], xw[4], xw[5]);
            dot = I::dot8_u8(dot, code[6], code[7], xw[6], xw[7]);
            isum[i] = I::add32(isum[i], I::mullo32(dot, I::load(scales.sc[u])));
          } else {
            vi d0 = I::dot8_u8(I::zero(), code[0], code[1], xw[0], xw[1]);
            vi d1 = I::dot8_u8(I::zero(), code[4], code[5], xw[4], xw[5]);
            d0 = I::dot8_u8(d0, code[2], code[3], xw[2], xw[3]);
            d1 = I::dot8_u8(d1, code[6], code[7], xw[6], xw[7]);
            isum[i] = I::add32(isum[i], I::mullo32(d0, I::load(scales.sc[2 * u])));
            isum[i] = I::add32(isum[i], I::mullo32(d1, I::load(scales.sc[2 * u + 1])));
          }
        }
      }
      for (int i = 0; i < MR; ++i) {
        if constexpr (Tiled) {
          vf r = I::mul(I::to_f32(isum[i]), dw);
          if constexpr (traits::has_min) {
            r = I::fnmadd(I::f16_to_f32(record + layout::m_off + 2 * lanes * h), I::to_f32(msum[i]), r);
          }
          // ggml writes `buf + result * d_x` with intrinsics that GCC contracts into one fma.
          acc[i] = I::fmadd(r, I::splat_f32(x_d[i][b]), acc[i]);
        } else {
          acc[i] = I::fmadd(I::to_f32(isum[i]), I::mul(dw, I::splat_f32(x_d[i][b])), acc[i]);
        }
      }
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + lanes * h, acc[i]);
  }
}

/// The SIMD GEMM of a K-quant F: activations quantized per 256 (quantize_activations_k), weights
/// in bit-plane panels (pack_planes), k_quant_microkernel over (panel, row tile) units split over
/// threads, fused epilogue.
template <class F, class Arch>
struct k_quant_gemm_kernel {
  using weight_type = plane_packed_t<F>;
  struct microkernel {
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      using isa = isa_ops<Arch>;
      if constexpr (k_quant_order_v<F> == k_quant_order::sub_block_pairs) {
        k_quant_pairs_microkernel<isa, MR, F>(panel, nb, xq, i0, acc);
      } else if constexpr (k_quant_order_v<F> == k_quant_order::tiled_or_lanes8) {
        if (xq.rows >= tiled_min_rows) {
          k_quant_microkernel<isa, MR, F, true>(panel, nb, xq, i0, acc);
        } else {
          k_quant_lanes_microkernel<isa, MR, F>(panel, nb, xq, i0, acc);
        }
      } else {
        k_quant_microkernel<isa, MR, F>(panel, nb, xq, i0, acc);
      }
    }
  };

  static weight_type prepare(weight_view<F> w, threads t) { return pack_planes(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    quantize_activations_k<Arch>(x, ws.x_q8);
    const activation_q8& xq = ws.x_q8;
    for_each_panel_tile(t, w.panels(), x.rows, [&](std::size_t p, std::size_t i0, std::size_t i1) {
      run_panel(w, p, xq, i0, i1, y, e, microkernel{});
    });
  }
};

}  // namespace lowbit::simd_detail
