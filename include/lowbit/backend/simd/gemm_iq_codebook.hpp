// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "lowbit/backend/simd/block_dot_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/iq1_m.hpp"
#include "lowbit/formats/ggml/iq1_s.hpp"
#include "lowbit/formats/ggml/iq2_s.hpp"
#include "lowbit/formats/ggml/iq2_xs.hpp"
#include "lowbit/formats/ggml/iq2_xxs.hpp"
#include "lowbit/formats/ggml/iq3_s.hpp"
#include "lowbit/formats/ggml/iq3_xxs.hpp"
#include "lowbit/formats/ggml/iq_grids.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/quant/weight_view.hpp"

// The SIMD GEMM/GEMV of the GGUF codebook i-quants IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S on the
// block_dot_panels framework: the file's bytes in dword-transposed k_packed<16, 4> panels; per
// activation block of 32 the grid entries of I::lanes rows (one register of the ISA layer I) are
// gathered from the grid tables (I::grid8 / I::grid4: `vpgatherdq` / `vpgatherdd` on x86, scalar
// loads on NEON) with indices assembled from the qs/qh bits in registers, the signs applied by a
// byte mask, and the int8 values dotted with the 8-bit activations (I::dot4_s8). All values are
// integers (|v| <= 62) times a per-row f32 scale per 16 or 32 elements that is exact in f32, so
// the integer sums are exact.

namespace lowbit {

namespace simd_detail {

/// The sign byte of a 7-bit sign index k per lane (`iq_grids::sign_mask`): k with bit 7 set to
/// the parity of k, so that the byte has an even number of set bits.
template <class B>
inline B iq_sign_byte(B k) noexcept {
  B p = k ^ (k >> 4);
  p = p ^ (p >> 2);
  p = p ^ (p >> 1);
  return k | ((p & B(1)) << 7);
}

/// Calls f(std::integral_constant<int, I>{}) for I = 0..N-1, unrolled (constant indices keep the
/// operand arrays in registers).
template <int N, class F>
inline void iq_unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

/// Byte `Byte` (0..3) of every dword lane, as an int32 per lane.
template <int Byte, class B>
inline B dword_byte(B v) noexcept {
  return (v >> (8 * Byte)) & B(0xff);
}

/// One group of 8 elements of a codebook i-quant sub-block, per lane (row): the codebook index
/// (`index[0]`; for 4-code entries, the indices of its two halves), and the sign byte (bit j
/// negates element j) or, for the shifted IQ1 codes, the I::lookup16 offset of the shift sign
/// (0 for +, 0x04 in every byte for -).
template <class B>
struct iq_group {
  B index[2];
  B signs;
};

/// 8 g + 1 at index (g & 3), 8 g - 1 at index 4 + (g & 3) (index 2 and 6 unused): the IQ1 value
/// 8 (grid[j] ± 1/8), an integer in {-9, ..., 9}, looked up from the grid byte (0xff, 0, 1 for -1,
/// 0, 1: its low 2 bits) and the shift sign.
inline constexpr std::int8_t iq1_shifted_codes[16] = {1, 9, 0, -7, -1, 7, 0, -9, 0, 0, 0, 0, 0, 0, 0, 0};

/// The base of block_dot_traits<F> for the codebook i-quants: `decode`, written once over what
/// differs by format, and the loads the formats share. EntryCodes: 8 (one 8-code grid entry per
/// group, I::grid8) or 4 (two 4-code entries, I::grid4); Shifted: IQ1's 8 grid ± 1 by
/// I::lookup16, else signed magnitudes (I::apply_signs). The traits (`Codes`) provide `Codes::grid()` (the table),
/// `Codes::load<I>(rec, h, a)` (the registers of sub-block a for part h, any type), `Codes::group<L>(registers)`
/// (iq_group of group L) and `Codes::scales<I>(rec, h, a, registers, dw)` (the f32 weight scales of sub-block a:
/// dw[0], and dw[1] with split_halves).
template <class F, int EntryCodes, bool Shifted>
struct iq_codebook_decode {
  static constexpr bool lut = true;
  static constexpr int entry_codes = EntryCodes;
  static constexpr bool shifted = Shifted;

  /// Chunk j of the panel record (lane r: code bytes 4j..4j+3 of row I::lanes h + r).
  template <class I>
  static lanes32<I> chunk(const std::uint8_t* rec, std::size_t h, std::size_t j) noexcept {
    return I::load(rec + chunk_at<I>(j, h));
  }
  /// The fp16 header field `field` of every row, as f32.
  template <class I>
  static typename I::vf fp16_field(const std::uint8_t* rec, std::size_t h, std::size_t field) noexcept {
    return I::f16_to_f32(rec + block_record<F>::field_offset(field) + 2 * I::lanes * h);
  }
  /// Byte `at` of the byte-plane header field `field` of every row, widened to int32.
  template <class I>
  static lanes32<I> byte_field(const std::uint8_t* rec, std::size_t h, std::size_t field, std::size_t at) noexcept {
    return I::widen_u8(rec + block_record<F>::field_offset(field) + 16 * at + I::lanes * h);
  }

  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t a, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using ib = lanes32<I>;
    using Codes = block_dot_traits<F>;
    const auto regs = Codes::template load<I>(rec, h, a);
    const auto table = [] {
      if constexpr (Codes::shifted) {
        return I::table_s8(iq1_shifted_codes);
      } else {
        return 0;
      }
    }();
    iq_unroll<4>([&](auto lc) {
      constexpr int l = decltype(lc)::value;
      const iq_group<ib> g = Codes::template group<l>(regs);
      if constexpr (Codes::entry_codes == 4) {
        op[2 * l] = I::template apply_signs<0>(I::grid4(Codes::grid(), g.index[0]), g.signs);
        op[2 * l + 1] = I::template apply_signs<1>(I::grid4(Codes::grid(), g.index[1]), g.signs);
      } else {
        typename I::vi lo, hi;
        I::grid8(Codes::grid(), g.index[0], lo, hi);
        if constexpr (Codes::shifted) {
          op[2 * l] = I::lookup16(table, (ib(lo) & ib(0x03030303)) | g.signs);
          op[2 * l + 1] = I::lookup16(table, (ib(hi) & ib(0x03030303)) | g.signs);
        } else {
          op[2 * l] = I::template apply_signs<0>(lo, g.signs);
          op[2 * l + 1] = I::template apply_signs<1>(hi, g.signs);
        }
      }
    });
    Codes::template scales<I>(rec, h, a, regs, dw);
  }
};

/// The f32 weight scale d (0.5 + ls) / 4 of the IQ2 formats, per lane.
template <class I>
inline typename I::vf iq2_scale(typename I::vf d, lanes32<I> ls) noexcept {
  return I::mul(I::mul(d, I::add(I::to_f32(ls), I::splat_f32(0.5f))), I::splat_f32(0.25f));
}

/// IQ2_XS and IQ2_S: the scales of the two halves of a sub-block, from the nibbles of `sc`.
template <class I>
inline void iq2_half_scales(typename I::vf d, lanes32<I> sc, typename I::vf* dw) noexcept {
  using ib = lanes32<I>;
  dw[0] = iq2_scale<I>(d, sc & ib(15));
  dw[1] = iq2_scale<I>(d, (sc >> 4) & ib(15));
}

/// IQ2_XXS (ggml `block_iq2_xxs`, ggml/src/ggml-common.h): d @0 (fp16), qs @2 (64 bytes). Sub-block
/// a (32 elements) is chunk 2a (byte l = grid index of group l) and chunk 2a + 1 (bits 7l..7l+6 the
/// sign index of group l, bits 28..31 the scale code ls); value = d (0.5 + ls) / 4 grid[j] sign_j
/// (ggml `dequantize_row_iq2_xxs`, ggml/src/ggml-quants.c).
template <>
struct block_dot_traits<ggml::iq2_xxs> : iq_codebook_decode<ggml::iq2_xxs, 8, false> {
  static constexpr std::size_t code_src = 2, code_bytes = 64;
  static constexpr std::array<header_field, 1> fields{{{0, 2, 1}}};
  static constexpr bool split_halves = false;
  static const std::uint64_t* grid() noexcept { return ggml::iq_grids::iq2xxs_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 2>{chunk<I>(rec, h, 2 * a), chunk<I>(rec, h, 2 * a + 1)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 2>& r) noexcept {  // r: indices, aux
    return {{dword_byte<L>(r[0]), B(0)}, iq_sign_byte((r[1] >> (7 * L)) & B(127))};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t, const std::array<B, 2>& r,
                     typename I::vf* dw) noexcept {
    const auto d = fp16_field<I>(rec, h, 0);
    dw[0] = iq2_scale<I>(d, (r[1] >> 28) & B(15));
  }
};

/// IQ2_XS (ggml `block_iq2_xs`): d @0, qs @2 (32 u16: grid index bits 0..8, sign index bits
/// 9..15), scales @66 (8 bytes: per sub-block, low nibble for its first 16 elements, high nibble
/// for its last 16). Sub-block a is chunks 2a, 2a + 1 (group l in u16 l % 2 of chunk 2a + l / 2);
/// value = d (0.5 + ls) / 4 grid[j] sign_j (ggml `dequantize_row_iq2_xs`).
template <>
struct block_dot_traits<ggml::iq2_xs> : iq_codebook_decode<ggml::iq2_xs, 8, false> {
  static constexpr std::size_t code_src = 2, code_bytes = 64;
  static constexpr std::array<header_field, 2> fields{{{0, 2, 1}, {66, 1, 8}}};
  static constexpr bool split_halves = true;
  static const std::uint64_t* grid() noexcept { return ggml::iq_grids::iq2xs_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 2>{chunk<I>(rec, h, 2 * a), chunk<I>(rec, h, 2 * a + 1)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 2>& pair) noexcept {
    const B q = (pair[L / 2] >> (16 * (L % 2))) & B(0xffff);
    return {{q & B(511), B(0)}, iq_sign_byte((q >> 9) & B(127))};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t a, const std::array<B, 2>&,
                     typename I::vf* dw) noexcept {
    const auto d = fp16_field<I>(rec, h, 0);
    const B sc = byte_field<I>(rec, h, 1, a);
    iq2_half_scales<I>(d, sc, dw);
  }
};

/// IQ2_S (ggml `block_iq2_s`): d @0, qs @2 (32 low index bytes, then 32 sign bytes), qh @66 (bits
/// 2l, 2l + 1 of byte a: index bits 8, 9 of group l of sub-block a), scales @74 (as IQ2_XS).
/// Sub-block a: chunk a (index bytes), chunk 8 + a (sign bytes, all 8 signs free); value =
/// d (0.5 + ls) / 4 grid[j] sign_j (ggml `dequantize_row_iq2_s`).
template <>
struct block_dot_traits<ggml::iq2_s> : iq_codebook_decode<ggml::iq2_s, 8, false> {
  static constexpr std::size_t code_src = 2, code_bytes = 64;
  static constexpr std::array<header_field, 3> fields{{{0, 2, 1}, {66, 1, 8}, {74, 1, 8}}};
  static constexpr bool split_halves = true;
  static const std::uint64_t* grid() noexcept { return ggml::iq_grids::iq2s_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 3>{chunk<I>(rec, h, a), chunk<I>(rec, h, 8 + a), byte_field<I>(rec, h, 1, a)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 3>& r) noexcept {  // r: low index bytes, sign bytes, qh
    return {{dword_byte<L>(r[0]) | (((r[2] >> (2 * L)) & B(3)) << 8), B(0)}, dword_byte<L>(r[1])};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t a, const std::array<B, 3>&,
                     typename I::vf* dw) noexcept {
    const auto d = fp16_field<I>(rec, h, 0);
    const B sc = byte_field<I>(rec, h, 2, a);
    iq2_half_scales<I>(d, sc, dw);
  }
};

/// IQ3_XXS (ggml `block_iq3_xxs`): d @0, qs @2 (64 grid index bytes, then 8 u32 of sign indices
/// and scale code as IQ2_XXS). Sub-block a: index chunks 2a, 2a + 1 (byte q % 4 of chunk 2a + q / 4
/// indexes elements 4q..4q+3), aux chunk 16 + a; value = d (0.5 + ls) / 2 grid[j] sign_j (ggml
/// `dequantize_row_iq3_xxs`).
template <>
struct block_dot_traits<ggml::iq3_xxs> : iq_codebook_decode<ggml::iq3_xxs, 4, false> {
  static constexpr std::size_t code_src = 2, code_bytes = 96;
  static constexpr std::array<header_field, 1> fields{{{0, 2, 1}}};
  static constexpr bool split_halves = false;
  static const std::uint32_t* grid() noexcept { return ggml::iq_grids::iq3xxs_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 3>{chunk<I>(rec, h, 2 * a), chunk<I>(rec, h, 2 * a + 1), chunk<I>(rec, h, 16 + a)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 3>& r) noexcept {  // r: index words 0, 1, aux
    return {{dword_byte<(2 * L) % 4>(r[L / 2]), dword_byte<(2 * L + 1) % 4>(r[L / 2])},
            iq_sign_byte((r[2] >> (7 * L)) & B(127))};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t, const std::array<B, 3>& r,
                     typename I::vf* dw) noexcept {
    const typename I::vf d = fp16_field<I>(rec, h, 0);
    dw[0] = I::mul(I::mul(d, I::add(I::to_f32((r[2] >> 28) & B(15)), I::splat_f32(0.5f))), I::splat_f32(0.5f));
  }
};

/// IQ3_S (ggml `block_iq3_s`): d @0, then code bytes @2: qs (64 low index bytes, chunks 0..15), qh
/// (8 bytes, chunks 16, 17: bit q of byte a is index bit 8 of quad q of sub-block a), signs (32
/// bytes, chunks 18..25: byte l of chunk 18 + a for group l of sub-block a); scales @106 (4 bytes:
/// low nibble for sub-block 2s, high for 2s + 1). value = d (1 + 2 ls) grid[j] sign_j (ggml
/// `dequantize_row_iq3_s`).
template <>
struct block_dot_traits<ggml::iq3_s> : iq_codebook_decode<ggml::iq3_s, 4, false> {
  static constexpr std::size_t code_src = 2, code_bytes = 104;
  static constexpr std::array<header_field, 2> fields{{{0, 2, 1}, {106, 1, 4}}};
  static constexpr bool split_halves = false;
  static const std::uint32_t* grid() noexcept { return ggml::iq_grids::iq3s_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 4>{chunk<I>(rec, h, 2 * a), chunk<I>(rec, h, 2 * a + 1),
                            (B(chunk<I>(rec, h, 16 + a / 4)) >> static_cast<int>(8 * (a % 4))) & B(0xff),
                            chunk<I>(rec, h, 18 + a)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 4>& r) noexcept {  // r: index words 0, 1, qh, sign bytes
    return {{dword_byte<(2 * L) % 4>(r[L / 2]) | (((r[2] >> (2 * L)) & B(1)) << 8),
             dword_byte<(2 * L + 1) % 4>(r[L / 2]) | (((r[2] >> (2 * L + 1)) & B(1)) << 8)},
            dword_byte<L>(r[3])};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t a, const std::array<B, 4>&,
                     typename I::vf* dw) noexcept {
    const auto d = fp16_field<I>(rec, h, 0);
    const B sc = byte_field<I>(rec, h, 1, (a / 2));
    const B ls = (sc >> static_cast<int>(4 * (a % 2))) & B(15);
    dw[0] = I::mul(d, I::to_f32(B(1) + (ls << 1)));
  }
};

/// IQ1_S (ggml `block_iq1_s`): d @0, then code bytes @2: qs (32 low index bytes, chunks 0..7:
/// chunk a = sub-block a's 4 groups), qh (8 u16, chunks 8..11: u16 a % 2 of chunk 8 + a / 2: bits
/// 3l..3l+2 index bits 8..10 of group l, bits 12..14 ls, bit 15 the shift sign). value =
/// d (2 ls + 1) (grid[j] ± 1/8) = d (2 ls + 1) / 8 (8 grid[j] ± 1), the integer in {-9, ..., 9}
/// looked up by I::lookup16 (iq1_shifted_codes) (ggml `dequantize_row_iq1_s`, IQ1S_DELTA = 0.125).
template <>
struct block_dot_traits<ggml::iq1_s> : iq_codebook_decode<ggml::iq1_s, 8, true> {
  static constexpr std::size_t code_src = 2, code_bytes = 48;
  static constexpr std::array<header_field, 1> fields{{{0, 2, 1}}};
  static constexpr bool split_halves = false;
  static const std::uint64_t* grid() noexcept { return ggml::iq_grids::iq1s_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    const B qh = (B(chunk<I>(rec, h, 8 + a / 2)) >> static_cast<int>(16 * (a % 2))) & B(0xffff);
    return std::array<B, 3>{chunk<I>(rec, h, a), qh, ((qh >> 15) & B(1)) * B(0x04040404)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 3>& r) noexcept {  // r: low index bytes, qh, shift offset
    return {{dword_byte<L>(r[0]) | (((r[1] >> (3 * L)) & B(7)) << 8), B(0)}, r[2]};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t, const std::array<B, 3>& r,
                     typename I::vf* dw) noexcept {
    const typename I::vf d = fp16_field<I>(rec, h, 0);
    dw[0] = I::mul(I::mul(d, I::to_f32(B(1) + (((r[1] >> 12) & B(7)) << 1))), I::splat_f32(0.125f));
  }
};

/// IQ1_M (ggml `block_iq1_m`): all 56 bytes are chunks: qs (chunks 0..7, chunk a = sub-block a's
/// 4 index bytes), qh (chunks 8..11: u16 a % 2 of chunk 8 + a / 2, nibble l = index bits 8..10 and
/// shift sign of group l), scales (chunks 12, 13: the four u16 words, 3-bit codes per 16 elements
/// and the fp16 super-scale d in their top nibbles). value = d (2 ls + 1) / 8 (8 grid[j] ± 1) with
/// one shift sign per group of 8 and one ls per 16 elements (ggml `dequantize_row_iq1_m`, IQ1M_DELTA
/// = 0.125).
template <>
struct block_dot_traits<ggml::iq1_m> : iq_codebook_decode<ggml::iq1_m, 8, true> {
  static constexpr std::size_t code_src = 0, code_bytes = 56;
  static constexpr std::array<header_field, 0> fields{};
  static constexpr bool split_halves = true;
  static const std::uint64_t* grid() noexcept { return ggml::iq_grids::iq1s_grid.data(); }
  template <class I, class B = lanes32<I>>
  static auto load(const std::uint8_t* rec, std::size_t h, std::size_t a) noexcept {
    return std::array<B, 2>{chunk<I>(rec, h, a),
                            (B(chunk<I>(rec, h, 8 + a / 2)) >> static_cast<int>(16 * (a % 2))) & B(0xffff)};
  }
  template <int L, class B>
  static iq_group<B> group(const std::array<B, 2>& r) noexcept {  // r: low index bytes, qh
    const B nibble = (r[1] >> (4 * L)) & B(15);
    return {{dword_byte<L>(r[0]) | ((nibble & B(7)) << 8), B(0)}, (nibble >> 3) * B(0x04040404)};
  }
  template <class I, class B>
  static void scales(const std::uint8_t* rec, std::size_t h, std::size_t a, const std::array<B, 2>&,
                     typename I::vf* dw) noexcept {
    const B w01 = chunk<I>(rec, h, 12);  // sc[0] | sc[1] << 16
    const B w23 = chunk<I>(rec, h, 13);  // sc[2] | sc[3] << 16
    const B d_bits =
        ((w01 >> 12) & B(0xf)) | ((w01 >> 24) & B(0xf0)) | ((w23 >> 4) & B(0xf00)) | ((w23 >> 16) & B(0xf000));
    const typename I::vf d = I::f16_lanes_to_f32(d_bits);
    const std::size_t k = a / 2;  // scale word sc[k] covers sub-blocks 2k, 2k + 1
    const B sc = ((k < 2 ? w01 : w23) >> static_cast<int>(16 * (k % 2))) & B(0xffff);
    const int shift = static_cast<int>(6 * (a % 2));
    dw[0] = I::mul(I::mul(d, I::to_f32(B(1) + (((sc >> shift) & B(7)) << 1))), I::splat_f32(0.125f));
    dw[1] = I::mul(I::mul(d, I::to_f32(B(1) + (((sc >> (shift + 3)) & B(7)) << 1))), I::splat_f32(0.125f));
  }
};

}  // namespace simd_detail

/// IQ2_XXS weights W(N, K) in `k_packed<16, 4>` panels (simd_detail::pack_blocks): per (panel,
/// 256-element super-block) 1056 bytes, the file's size: [0, 1024) 16 chunks (lane r of chunk j =
/// code bytes 4j..4j+3 of row 16p + r: sub-block a's grid indices in chunk 2a, its signs and scale
/// in chunk 2a + 1), [1024, 1056) the 16 d (fp16).
using packed_iq2_xxs = simd_detail::block_packed_t<ggml::iq2_xxs>;
/// IQ2_XS weights in panels: per (panel, super-block) 1184 bytes: [0, 1024) 16 chunks of the qs
/// u16 (sub-block a in chunks 2a, 2a + 1), [1024, 1056) d, [1056, 1184) scales as byte planes.
using packed_iq2_xs = simd_detail::block_packed_t<ggml::iq2_xs>;
/// IQ2_S weights in panels: per (panel, super-block) 1312 bytes: [0, 1024) 16 chunks (index bytes
/// in chunks 0..7, sign bytes in 8..15), [1024, 1056) d, [1056, 1184) qh and [1184, 1312) scales
/// as byte planes.
using packed_iq2_s = simd_detail::block_packed_t<ggml::iq2_s>;
/// IQ3_XXS weights in panels: per (panel, super-block) 1568 bytes: [0, 1536) 24 chunks (grid
/// indices in chunks 0..15, sign/scale words in 16..23), [1536, 1568) d.
using packed_iq3_xxs = simd_detail::block_packed_t<ggml::iq3_xxs>;
/// IQ3_S weights in panels: per (panel, super-block) 1760 bytes: [0, 1664) 26 chunks (qs in 0..15,
/// qh in 16..17, signs in 18..25), [1664, 1696) d, [1696, 1760) scales as byte planes.
using packed_iq3_s = simd_detail::block_packed_t<ggml::iq3_s>;

/// IQ1_S weights in panels: per (panel, super-block) 800 bytes: [0, 768) 12 chunks (index bytes in
/// chunks 0..7, qh words in 8..11), [768, 800) d.
using packed_iq1_s = simd_detail::block_packed_t<ggml::iq1_s>;

/// IQ1_M weights in panels: per (panel, super-block) 896 bytes, all 14 chunks (qs in 0..7, qh in
/// 8..11, the scale words in 12..13).
using packed_iq1_m = simd_detail::block_packed_t<ggml::iq1_m>;

/// Packs IQ1_M weights; see packed_iq1_m. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq1_m pack_iq1_m(weight_view<ggml::iq1_m> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs IQ1_S weights; see packed_iq1_s. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq1_s pack_iq1_s(weight_view<ggml::iq1_s> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs IQ2_XXS weights; see packed_iq2_xxs. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq2_xxs pack_iq2_xxs(weight_view<ggml::iq2_xxs> w, threads t = {}) {
  return simd_detail::pack_blocks(w, t);
}
/// Packs IQ2_XS weights; see packed_iq2_xs. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq2_xs pack_iq2_xs(weight_view<ggml::iq2_xs> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs IQ2_S weights; see packed_iq2_s. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq2_s pack_iq2_s(weight_view<ggml::iq2_s> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }
/// Packs IQ3_XXS weights; see packed_iq3_xxs. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq3_xxs pack_iq3_xxs(weight_view<ggml::iq3_xxs> w, threads t = {}) {
  return simd_detail::pack_blocks(w, t);
}
/// Packs IQ3_S weights; see packed_iq3_s. throws lowbit::error{errc::shape_mismatch} if K % 256 != 0.
inline packed_iq3_s pack_iq3_s(weight_view<ggml::iq3_s> w, threads t = {}) { return simd_detail::pack_blocks(w, t); }

/// Restores the file layout of packed IQ2_XXS weights into `out` (N * K / 256 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_iq2_xxs(const packed_iq2_xxs& w, std::span<ggml::iq2_xxs::block> out) {
  simd_detail::unpack_blocks<ggml::iq2_xxs>(w, out);
}
/// Restores the file layout of packed IQ1_M weights; see unpack_iq2_xxs.
inline void unpack_iq1_m(const packed_iq1_m& w, std::span<ggml::iq1_m::block> out) {
  simd_detail::unpack_blocks<ggml::iq1_m>(w, out);
}
/// Restores the file layout of packed IQ1_S weights; see unpack_iq2_xxs.
inline void unpack_iq1_s(const packed_iq1_s& w, std::span<ggml::iq1_s::block> out) {
  simd_detail::unpack_blocks<ggml::iq1_s>(w, out);
}
/// Restores the file layout of packed IQ2_XS weights; see unpack_iq2_xxs.
inline void unpack_iq2_xs(const packed_iq2_xs& w, std::span<ggml::iq2_xs::block> out) {
  simd_detail::unpack_blocks<ggml::iq2_xs>(w, out);
}
/// Restores the file layout of packed IQ2_S weights; see unpack_iq2_xxs.
inline void unpack_iq2_s(const packed_iq2_s& w, std::span<ggml::iq2_s::block> out) {
  simd_detail::unpack_blocks<ggml::iq2_s>(w, out);
}
/// Restores the file layout of packed IQ3_XXS weights; see unpack_iq2_xxs.
inline void unpack_iq3_xxs(const packed_iq3_xxs& w, std::span<ggml::iq3_xxs::block> out) {
  simd_detail::unpack_blocks<ggml::iq3_xxs>(w, out);
}
/// Restores the file layout of packed IQ3_S weights; see unpack_iq2_xxs.
inline void unpack_iq3_s(const packed_iq3_s& w, std::span<ggml::iq3_s::block> out) {
  simd_detail::unpack_blocks<ggml::iq3_s>(w, out);
}

/// IQ2_XXS GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel), K a multiple of 256: x
/// quantized per 32 to 8 bits (ggml quantizes per 256, Q8_K: other rounding, same formula), grid
/// entries gathered and signed in registers, Σ grid sign q_x exact in int32, times d_w d_x in f32
/// (ggml `ggml_vec_dot_iq2_xxs_q8_K`).
template <class Arch>
struct gemm_kernel<ggml::iq2_xxs, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq2_xxs, Arch> {};
/// IQ1_M GEMM on the SIMD backend; see the IQ1_S kernel (a shift sign per 8, a scale per 16 elements).
template <class Arch>
struct gemm_kernel<ggml::iq1_m, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq1_m, Arch> {};
/// IQ1_S GEMM on the SIMD backend; see the IQ2_XXS kernel (8 grid ± 1 as int8, scale d (2 ls + 1) / 8).
template <class Arch>
struct gemm_kernel<ggml::iq1_s, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq1_s, Arch> {};
/// IQ2_XS GEMM on the SIMD backend; see the IQ2_XXS kernel (one weight scale per 16 elements).
template <class Arch>
struct gemm_kernel<ggml::iq2_xs, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq2_xs, Arch> {};
/// IQ2_S GEMM on the SIMD backend; see the IQ2_XXS kernel (one weight scale per 16 elements).
template <class Arch>
struct gemm_kernel<ggml::iq2_s, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq2_s, Arch> {};
/// IQ3_XXS GEMM on the SIMD backend; see the IQ2_XXS kernel (4-code grid entries, I::grid4).
template <class Arch>
struct gemm_kernel<ggml::iq3_xxs, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq3_xxs, Arch> {};
/// IQ3_S GEMM on the SIMD backend; see the IQ2_XXS kernel (4-code grid entries, I::grid4).
template <class Arch>
struct gemm_kernel<ggml::iq3_s, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<ggml::iq3_s, Arch> {};

}  // namespace lowbit
